//! ACL condition, expression, acl-line and ALB rule parsing.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/acl.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parse(data));
