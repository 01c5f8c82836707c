//! HAProxy-style config parsing and TOML round trip.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/config.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::haproxy(data));
