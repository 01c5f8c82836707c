//! Chunked tracker fed in pseudo-random splits, whole and byte by byte.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/h1.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::chunked(data));
