//! A table of malformed headers, each rejected with its own error.

use std::collections::BTreeSet;

use gangway_proxy_protocol::{Endpoint, Error, Family, SIGNATURE, Status, V1Field, decode};

/// A v2 header from its version/command byte, family byte and body (length filled in).
fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(fam);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// An IPv4 address block followed by `tlvs`.
fn inet_with(tlvs: &[u8]) -> Vec<u8> {
    let mut body = vec![192, 0, 2, 1, 192, 0, 2, 2, 0x13, 0x88, 0x01, 0xbb];
    body.extend_from_slice(tlvs);
    body
}

/// The same as `inet_with` with a correct CRC32C TLV appended after `tlvs`.
fn inet_with_crc(tlvs: &[u8]) -> Vec<u8> {
    let mut body = inet_with(tlvs);
    body.extend_from_slice(&[0x03, 0x00, 0x04, 0, 0, 0, 0]);
    let mut header = v2(0x21, 0x11, &body);
    let crc = crc32c::crc32c(&header);
    let at = header.len() - 4;
    header[at..].copy_from_slice(&crc.to_be_bytes());
    header
}

fn cases() -> Vec<(&'static str, Vec<u8>, Error)> {
    let mut bad_crc = inet_with_crc(b"");
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0x01;
    let crc_of_bad = {
        let mut zeroed = bad_crc.clone();
        let at = zeroed.len() - 4;
        zeroed[at..].fill(0);
        crc32c::crc32c(&zeroed)
    };
    let received = u32::from_be_bytes(bad_crc[last - 3..].try_into().unwrap());
    let mut long_v1 = b"PROXY UNKNOWN ".to_vec();
    long_v1.resize(107, b'a');
    let mut cr_at_106 = b"PROXY UNKNOWN ".to_vec();
    cr_at_106.resize(106, b'a');
    cr_at_106.extend_from_slice(b"\r\n");
    let mut long_unique = vec![0x05, 0x00, 129];
    long_unique.extend_from_slice(&[7; 129]);

    vec![
        // Detection.
        (
            "http request",
            b"GET / HTTP/1.1\r\n".to_vec(),
            Error::NotProxyProtocol { byte: b'G' },
        ),
        (
            "tls hello",
            vec![0x16, 0x03, 0x01],
            Error::NotProxyProtocol { byte: 0x16 },
        ),
        // Version 1.
        (
            "v1 lowercase",
            b"proxy TCP4".to_vec(),
            Error::NotProxyProtocol { byte: b'p' },
        ),
        (
            "v1 http2 preface",
            b"PRI * HTTP/2.0\r\n".to_vec(),
            Error::V1InvalidPrefix { offset: 2 },
        ),
        (
            "v1 no space after PROXY",
            b"PROXY\r\n".to_vec(),
            Error::V1InvalidPrefix { offset: 5 },
        ),
        (
            "v1 tab after PROXY",
            b"PROXY\tTCP4".to_vec(),
            Error::V1InvalidPrefix { offset: 5 },
        ),
        ("v1 no CRLF in 107 bytes", long_v1, Error::V1LineTooLong),
        ("v1 CRLF at 106..108", cr_at_106, Error::V1LineTooLong),
        (
            "v1 bare LF",
            b"PROXY UNKNOWN\n".to_vec(),
            Error::V1BareLineFeed { offset: 13 },
        ),
        (
            "v1 bare CR",
            b"PROXY UNKNOWN\rX".to_vec(),
            Error::V1BareCarriageReturn { offset: 13 },
        ),
        (
            "v1 empty protocol",
            b"PROXY \r\n".to_vec(),
            Error::V1EmptyField { offset: 6 },
        ),
        (
            "v1 double space",
            b"PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1EmptyField { offset: 11 },
        ),
        (
            "v1 trailing space",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n".to_vec(),
            Error::V1EmptyField { offset: 35 },
        ),
        (
            "v1 UDP4",
            b"PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1UnknownProtocol,
        ),
        (
            "v1 lowercase tcp4",
            b"PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1UnknownProtocol,
        ),
        (
            "v1 UNKNOWNX",
            b"PROXY UNKNOWNX\r\n".to_vec(),
            Error::V1UnknownProtocol,
        ),
        (
            "v1 TCP4 alone",
            b"PROXY TCP4\r\n".to_vec(),
            Error::V1MissingField {
                field: V1Field::SourceAddress,
            },
        ),
        (
            "v1 no destination port",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n".to_vec(),
            Error::V1MissingField {
                field: V1Field::DestinationPort,
            },
        ),
        (
            "v1 extra field",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n".to_vec(),
            Error::V1TrailingField { offset: 35 },
        ),
        (
            "v1 leading zero in octet",
            b"PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 octet over 255",
            b"PROXY TCP4 192.0.2.1 192.0.2.256 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Destination,
                offset: 21,
            },
        ),
        (
            "v1 three octets",
            b"PROXY TCP4 192.0.2 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 five octets",
            b"PROXY TCP4 192.0.2.1.5 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 IPv6 address in TCP4",
            b"PROXY TCP4 ::1 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 IPv4 address in TCP6",
            b"PROXY TCP6 ::1 192.0.2.2 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Destination,
                offset: 15,
            },
        ),
        (
            "v1 IPv6 with two ::",
            b"PROXY TCP6 1::2::3 ::1 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 IPv6 zone id",
            b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n".to_vec(),
            Error::V1InvalidAddress {
                endpoint: Endpoint::Source,
                offset: 11,
            },
        ),
        (
            "v1 port with leading zero",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n".to_vec(),
            Error::V1InvalidPort {
                endpoint: Endpoint::Source,
                offset: 31,
            },
        ),
        (
            "v1 port over 65535",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n".to_vec(),
            Error::V1InvalidPort {
                endpoint: Endpoint::Destination,
                offset: 33,
            },
        ),
        (
            "v1 signed port",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n".to_vec(),
            Error::V1InvalidPort {
                endpoint: Endpoint::Source,
                offset: 31,
            },
        ),
        (
            "v1 six-digit port",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 000443\r\n".to_vec(),
            Error::V1InvalidPort {
                endpoint: Endpoint::Destination,
                offset: 33,
            },
        ),
        // Version 2.
        (
            "v2 bad signature",
            b"\r\n\r\n\0\r\nQUIT\r".to_vec(),
            Error::V2InvalidSignature { offset: 11 },
        ),
        (
            "v2 signature cut by text",
            b"\r\nGET".to_vec(),
            Error::V2InvalidSignature { offset: 2 },
        ),
        (
            "v2 version 1",
            v2(0x11, 0x11, &inet_with(b"")),
            Error::V2UnsupportedVersion { version: 1 },
        ),
        (
            "v2 version 3",
            v2(0x31, 0x11, &inet_with(b"")),
            Error::V2UnsupportedVersion { version: 3 },
        ),
        (
            "v2 command 2",
            v2(0x22, 0x11, &inet_with(b"")),
            Error::V2UnknownCommand { command: 2 },
        ),
        (
            "v2 command 15",
            v2(0x2F, 0x00, b""),
            Error::V2UnknownCommand { command: 15 },
        ),
        (
            "v2 family 4",
            v2(0x21, 0x41, &inet_with(b"")),
            Error::V2UnknownFamily { family: 4 },
        ),
        (
            "v2 transport 3",
            v2(0x21, 0x13, &inet_with(b"")),
            Error::V2UnknownTransport { transport: 3 },
        ),
        (
            "v2 INET without transport",
            v2(0x21, 0x10, &inet_with(b"")),
            Error::V2InvalidFamilyTransport { byte: 0x10 },
        ),
        (
            "v2 UNSPEC with STREAM",
            v2(0x21, 0x01, b""),
            Error::V2InvalidFamilyTransport { byte: 0x01 },
        ),
        (
            "v2 INET block too short",
            v2(0x21, 0x11, &[192, 0, 2, 1, 192, 0, 2, 2]),
            Error::V2AddressBlockTooShort {
                family: Family::Inet,
                needed: 12,
                length: 8,
            },
        ),
        (
            "v2 INET6 with INET block",
            v2(0x21, 0x21, &inet_with(b"")),
            Error::V2AddressBlockTooShort {
                family: Family::Inet6,
                needed: 36,
                length: 12,
            },
        ),
        (
            "v2 UNIX block too short",
            v2(0x21, 0x31, &[0; 200]),
            Error::V2AddressBlockTooShort {
                family: Family::Unix,
                needed: 216,
                length: 200,
            },
        ),
        (
            "v2 TLV head cut",
            v2(0x21, 0x11, &inet_with(&[0x01, 0x00])),
            Error::V2TlvTruncated { offset: 28 },
        ),
        (
            "v2 TLV value cut",
            v2(0x21, 0x11, &inet_with(&[0x01, 0x00, 0x03, b'h', b'2'])),
            Error::V2TlvTruncated { offset: 28 },
        ),
        (
            "v2 second TLV cut",
            v2(
                0x21,
                0x11,
                &inet_with(&[0x04, 0x00, 0x00, 0xE0, 0x00, 0x09]),
            ),
            Error::V2TlvTruncated { offset: 31 },
        ),
        (
            "v2 CRC32C of 3 bytes",
            v2(0x21, 0x11, &inet_with(&[0x03, 0x00, 0x03, 1, 2, 3])),
            Error::V2Crc32cLength {
                offset: 28,
                length: 3,
            },
        ),
        (
            "v2 two CRC32C",
            inet_with_crc(&[0x03, 0x00, 0x04, 0, 0, 0, 0]),
            Error::V2DuplicateCrc32c { offset: 35 },
        ),
        (
            "v2 CRC32C mismatch",
            bad_crc,
            Error::V2Crc32cMismatch {
                received,
                computed: crc_of_bad,
            },
        ),
        (
            "v2 UNIQUE_ID of 129 bytes",
            v2(0x21, 0x11, &inet_with(&long_unique)),
            Error::V2UniqueIdTooLong {
                offset: 28,
                length: 129,
            },
        ),
        (
            "v2 SSL of 4 bytes",
            v2(0x21, 0x11, &inet_with(&[0x20, 0x00, 0x04, 1, 0, 0, 0])),
            Error::V2SslTooShort {
                offset: 28,
                length: 4,
            },
        ),
        (
            "v2 SSL sub-TLV cut",
            v2(
                0x21,
                0x11,
                &inet_with(&[0x20, 0x00, 0x09, 1, 0, 0, 0, 0, 0x21, 0x00, 0x05, b'T']),
            ),
            Error::V2SslSubTlvTruncated { offset: 36 },
        ),
        (
            "v2 AUTHORITY not UTF-8",
            v2(0x21, 0x11, &inet_with(&[0x02, 0x00, 0x02, 0xC3, 0x28])),
            Error::V2TlvNotUtf8 {
                kind: 0x02,
                offset: 28,
            },
        ),
        (
            "v2 NETNS not UTF-8",
            v2(0x21, 0x11, &inet_with(&[0x30, 0x00, 0x01, 0xFF])),
            Error::V2TlvNotUtf8 {
                kind: 0x30,
                offset: 28,
            },
        ),
        (
            "v2 SSL CN not UTF-8",
            v2(
                0x21,
                0x11,
                &inet_with(&[0x20, 0x00, 0x09, 1, 0, 0, 0, 0, 0x22, 0x00, 0x01, 0xFF]),
            ),
            Error::V2TlvNotUtf8 {
                kind: 0x22,
                offset: 36,
            },
        ),
    ]
}

#[test]
fn every_malformed_header_is_rejected_with_its_own_error() {
    for (name, input, expected) in cases() {
        assert_eq!(decode(&input), Err(expected.clone()), "case {name:?}");
        // The message names the problem and is not empty.
        assert!(
            expected.to_string().starts_with("PROXY")
                || expected.to_string().starts_with("not a PROXY"),
            "case {name:?}"
        );
    }
}

#[test]
fn the_table_covers_every_error_variant() {
    let variant = |e: &Error| {
        format!("{e:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap()
            .to_owned()
    };
    let seen: BTreeSet<String> = cases().iter().map(|(_, _, e)| variant(e)).collect();
    // Keep in step with `Error`: every variant appears in the table above.
    assert_eq!(seen.len(), 26, "variants covered: {seen:?}");
}

#[test]
fn garbage_is_rejected_without_waiting_for_more_bytes() {
    // Early rejection: the first wrong byte is enough, however short the input.
    for input in [
        &b"X"[..],
        b"PRX",
        b"\r\r",
        b"\r\n\r\n\0\r\nQUIT\n\x10",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x40",
    ] {
        assert!(decode(input).is_err(), "{input:?}");
    }
    // ... while valid beginnings are partial.
    for input in [
        &b""[..],
        b"P",
        b"PROXY",
        b"PROXY TCP4 1",
        b"\r\n\r\n\0",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00",
    ] {
        assert_eq!(decode(input), Ok(Status::Partial), "{input:?}");
    }
}
