//! A pipelined client stream read in pieces by a connection loop (stateful).
#![no_main]

#[allow(dead_code)]
#[path = "../checks/h1.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::pipeline(data));
