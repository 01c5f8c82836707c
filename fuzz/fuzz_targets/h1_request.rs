//! Request head: parse, validate, classify; differential vs httparse and the RFC rules.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/h1.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::request(data));
