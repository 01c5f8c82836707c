//! Entry points for fuzz targets (`fuzz/` in the workspace root).
//!
//! Each function takes arbitrary bytes and **panics only if an invariant of this crate is
//! broken**, so a fuzzer reports the input. They are ordinary, cheap functions otherwise.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::{
    Addresses, Command, EncodeError, Header, SslTlv, Status, Tlv, Transport, UnixAddress,
    V2Encoder, Version, decode, encode_v1, kind,
};

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

/// Build a header from `data` (read as a recipe: flags, address bytes, then TLVs as
/// `kind, len, value` triples), encode it in v1 or v2, decode it, and check that the decoded
/// header says exactly what was encoded. Encoder refusals must be the documented ones.
pub fn encode_round_trip(data: &[u8]) {
    let mut recipe = Recipe { data };
    let flags = recipe.byte();
    let command = if flags & 0x01 == 0 {
        Command::Proxy
    } else {
        Command::Local
    };
    let addresses = match (flags >> 1) & 0x03 {
        0 => Addresses::Unspec,
        1 => {
            let b: [u8; 12] = recipe.array();
            Addresses::Inet {
                source: SocketAddrV4::new(
                    Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                    u16::from_be_bytes([b[8], b[9]]),
                ),
                destination: SocketAddrV4::new(
                    Ipv4Addr::new(b[4], b[5], b[6], b[7]),
                    u16::from_be_bytes([b[10], b[11]]),
                ),
            }
        }
        2 => {
            let s: [u8; 16] = recipe.array();
            let d: [u8; 16] = recipe.array();
            let p: [u8; 4] = recipe.array();
            Addresses::Inet6 {
                source: SocketAddrV6::new(
                    Ipv6Addr::from(s),
                    u16::from_be_bytes([p[0], p[1]]),
                    0,
                    0,
                ),
                destination: SocketAddrV6::new(
                    Ipv6Addr::from(d),
                    u16::from_be_bytes([p[2], p[3]]),
                    0,
                    0,
                ),
            }
        }
        _ => Addresses::Unix {
            source: UnixAddress::from_raw(recipe.array()),
            destination: UnixAddress::from_raw(recipe.array()),
        },
    };
    let transport = match (addresses, flags & 0x08 != 0) {
        (Addresses::Unspec, _) => Transport::Unspec,
        (_, false) => Transport::Stream,
        (_, true) => Transport::Dgram,
    };

    if flags & 0x10 != 0 {
        let mut out = Vec::new();
        match encode_v1(&addresses, &mut out) {
            Ok(len) => match decode(&out) {
                Ok(Status::Complete((header, decoded_len))) => {
                    assert_eq!((decoded_len, len), (out.len(), out.len()));
                    assert_eq!(header.addresses(), &addresses);
                }
                other => panic!("v1 encoding does not decode: {other:?}"),
            },
            Err(e) => assert!(
                matches!(addresses, Addresses::Unix { .. }) && e == EncodeError::V1UnixAddresses
            ),
        }
        return;
    }

    // Owned TLV values, then the expected decoded TLVs borrowing them.
    let mut steps: Vec<(u8, Vec<u8>)> = Vec::new();
    while !recipe.data.is_empty() {
        let kind = recipe.byte();
        let len = usize::from(recipe.byte());
        steps.push((kind, recipe.take(len).to_vec()));
    }
    let texts: Vec<String> = steps
        .iter()
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    let ssl_subs: Vec<Vec<SslTlv<'_>>> = steps
        .iter()
        .map(|(_, v)| ssl_subs(v.get(5..).unwrap_or_default()))
        .collect();

    let mut out = Vec::new();
    let mut expected: Vec<Tlv<'_>> = Vec::new();
    let mut expected_ssl: Vec<(u8, u32, &[SslTlv<'_>])> = Vec::new();
    let mut encoder = match V2Encoder::new(&mut out, command, transport, &addresses) {
        Ok(encoder) => encoder,
        Err(e) => panic!("valid family/transport refused: {e}"),
    };
    let mut has_crc = false;
    for (i, (kind, value)) in steps.iter().enumerate() {
        let tlv = match *kind {
            kind::ALPN => Tlv::Alpn(value),
            kind::AUTHORITY => Tlv::Authority(&texts[i]),
            kind::CRC32C => Tlv::Crc32c(0),
            kind::NOOP => Tlv::Noop(value),
            kind::UNIQUE_ID => Tlv::UniqueId(value),
            kind::NETNS => Tlv::Netns(&texts[i]),
            kind::SSL => {
                let client = value.first().copied().unwrap_or(0);
                let verify = u32::from_be_bytes(
                    value
                        .get(1..5)
                        .and_then(|v| v.try_into().ok())
                        .unwrap_or([0; 4]),
                );
                encoder
                    .ssl(client, verify, &ssl_subs[i])
                    .unwrap_or_else(|e| panic!("SSL refused: {e}"));
                expected_ssl.push((client, verify, &ssl_subs[i]));
                expected.push(Tlv::Other {
                    kind: kind::SSL,
                    value: &[],
                });
                continue;
            }
            kind::MIN_CUSTOM..=kind::MAX_CUSTOM => Tlv::Custom { kind: *kind, value },
            other => Tlv::Other { kind: other, value },
        };
        match encoder.push(tlv) {
            Ok(()) => {
                has_crc |= matches!(tlv, Tlv::Crc32c(_));
                expected.push(tlv);
            }
            Err(EncodeError::DuplicateCrc32c) => assert!(has_crc),
            Err(EncodeError::UniqueIdTooLong { length }) => {
                assert!(length > crate::UNIQUE_ID_MAX_LEN)
            }
            Err(e) => panic!("TLV refused: {e}"),
        }
    }
    let len = match encoder.finish() {
        Ok(len) => len,
        Err(EncodeError::HeaderTooLong { length }) => {
            assert!(length > usize::from(u16::MAX) && out.is_empty());
            return;
        }
        Err(e) => panic!("finish refused: {e}"),
    };
    let Ok(Status::Complete((header, decoded_len))) = decode(&out) else {
        panic!("v2 encoding does not decode: {:?}", decode(&out));
    };
    assert_eq!((decoded_len, len), (out.len(), out.len()));
    assert_eq!((header.command(), header.transport()), (command, transport));
    assert_eq!(header.addresses(), &addresses);
    let mut ssl_expected = expected_ssl.iter();
    let mut decoded = header.tlvs().iter();
    for want in &expected {
        let got = decoded.next().expect("a TLV is missing");
        match (want, got) {
            (Tlv::Crc32c(_), Tlv::Crc32c(_)) => {}
            (
                Tlv::Other {
                    kind: kind::SSL, ..
                },
                Tlv::Ssl(ssl),
            ) => {
                let &(client, verify, subs) = ssl_expected.next().expect("SSL expected");
                assert_eq!((ssl.client(), ssl.verify()), (client, verify));
                assert!(ssl.iter().eq(subs.iter().copied()));
            }
            (want, got) => assert_eq!(*want, got),
        }
    }
    assert!(decoded.next().is_none(), "an extra TLV appeared");
}

/// SSL sub-TLVs from `kind, len, value` triples.
fn ssl_subs(mut data: &[u8]) -> Vec<SslTlv<'_>> {
    let mut subs = Vec::new();
    while let [kind, len, rest @ ..] = data {
        let (value, rest) = rest.split_at(usize::from(*len).min(rest.len()));
        data = rest;
        let text = core::str::from_utf8(value).ok();
        subs.push(match (*kind, text) {
            (kind::SSL_VERSION, Some(t)) => SslTlv::Version(t),
            (kind::SSL_CN, Some(t)) => SslTlv::CommonName(t),
            (kind::SSL_CIPHER, Some(t)) => SslTlv::Cipher(t),
            (kind::SSL_SIG_ALG, Some(t)) => SslTlv::SigAlg(t),
            (kind::SSL_KEY_ALG, Some(t)) => SslTlv::KeyAlg(t),
            // Invalid UTF-8 under a text sub-type would be refused by the decoder.
            (kind::SSL_VERSION..=kind::SSL_KEY_ALG, None) => continue,
            (kind, _) => SslTlv::Other { kind, value },
        });
    }
    subs
}

/// Reads a recipe; missing bytes read as zeros.
struct Recipe<'a> {
    data: &'a [u8],
}

impl<'a> Recipe<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let taken = self.take(N);
        out[..taken.len()].copy_from_slice(taken);
        out
    }
}
