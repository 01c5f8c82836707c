//! Response head (answering a request from the input) and the 101 check.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/h1.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::response(data));
