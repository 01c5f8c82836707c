//! PROXY v1/v2 decode invariants (prefixes, TLV lengths, re-encoding).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gangway_proxy_protocol::fuzzing::decode_invariants(data));
