//! Head rewriting: the output re-parses to the same request.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/h1.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::rewrite(data));
