//! PROXY v1/v2 encode then decode round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gangway_proxy_protocol::fuzzing::encode_round_trip(data));
