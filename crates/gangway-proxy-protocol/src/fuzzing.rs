//! Entry points for fuzz targets (`fuzz/` in the workspace root).
//!
//! Each function takes arbitrary bytes and **panics only if an invariant of this crate is
//! broken**, so a fuzzer reports the input. They are ordinary, cheap functions otherwise.

use crate::{Header, Status, Tlv, Version, decode};

/// Decode `data` and check the invariants of the result:
/// - a `Complete` length is within `data` and equals `Header::len`;
/// - decoding a prefix of a complete header gives `Partial`, never an error, and decoding
///   the header followed by anything gives the same header;
/// - every TLV and SSL sub-TLV iterates without loss (the iterated lengths add up);
/// - re-encoding the header and decoding that gives the same addresses and TLVs (and for v2
///   the very same bytes).
pub fn decode_invariants(data: &[u8]) {
    let Ok(Status::Complete((header, len))) = decode(data) else {
        return;
    };
    assert!(
        len <= data.len() && len == header.len(),
        "length out of range"
    );
    assert_eq!(header.as_bytes(), &data[..len]);
    for cut in [0, 1, len / 2, len.saturating_sub(1)] {
        if cut < len {
            assert_eq!(
                decode(&data[..cut]),
                Ok(Status::Partial),
                "prefix {cut} not partial"
            );
        }
    }
    check_tlv_lengths(&header);
    let mut reencoded = Vec::new();
    if header.encode(&mut reencoded).is_ok() {
        match decode(&reencoded) {
            Ok(Status::Complete((again, again_len))) => {
                assert_eq!(again_len, reencoded.len());
                assert_eq!(again.addresses(), header.addresses());
                assert_eq!(again.command(), header.command());
                assert!(again.tlvs().iter().eq(header.tlvs().iter()));
                if header.version() == Version::V2 {
                    assert_eq!(reencoded, header.as_bytes(), "v2 re-encoding differs");
                }
            }
            other => panic!("re-encoded header does not decode: {other:?}"),
        }
    }
}

fn check_tlv_lengths(header: &Header<'_>) {
    let mut total = 0;
    for tlv in header.tlvs() {
        total += 3 + match tlv {
            Tlv::Alpn(v) | Tlv::Noop(v) | Tlv::UniqueId(v) => v.len(),
            Tlv::Authority(s) | Tlv::Netns(s) => s.len(),
            Tlv::Crc32c(_) => 4,
            Tlv::Ssl(ssl) => {
                let subs: usize = ssl.iter().map(|s| 3 + s.value().len()).sum();
                assert_eq!(subs, ssl.sub_tlv_bytes().len(), "SSL sub-TLVs lost bytes");
                5 + subs
            }
            Tlv::Custom { value, .. } | Tlv::Other { value, .. } => value.len(),
        };
    }
    assert_eq!(total, header.tlvs().as_bytes().len(), "TLVs lost bytes");
}
