//! Compiled ACL matcher vs a naive evaluator.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/acl.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::reference(data));
