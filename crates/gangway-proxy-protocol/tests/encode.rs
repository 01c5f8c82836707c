//! Encoding: exact bytes for known headers, and a table of refused inputs.

use gangway_proxy_protocol::{
    Addresses, Command, EncodeError, SIGNATURE, Status, Tlv, Transport, UnixAddress, V2Encoder,
    decode, encode_v1, encode_v2,
};

fn ip(src: &str, dst: &str) -> Addresses {
    Addresses::from_pair(src.parse().unwrap(), dst.parse().unwrap())
}

#[test]
fn v1_exact_bytes() {
    let cases: &[(Addresses, &[u8])] = &[
        (
            ip("192.0.2.1:56324", "198.51.100.2:443"),
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
        ),
        (
            ip("[2001:db8::1]:1", "[::1]:65535"),
            b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n",
        ),
        // A dual-stack socket's IPv4-mapped addresses are sent as IPv4.
        (
            ip("[::ffff:192.0.2.1]:1", "192.0.2.2:2"),
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
        ),
        // A mixed pair is sent as IPv6 with the IPv4 side mapped.
        (
            ip("192.0.2.1:1", "[::1]:2"),
            b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
        ),
        (Addresses::Unspec, b"PROXY UNKNOWN\r\n"),
    ];
    for (addresses, expected) in cases {
        let mut out = b"prefix ".to_vec();
        let n = encode_v1(addresses, &mut out).unwrap();
        assert_eq!(&out[7..], *expected);
        assert_eq!(n, expected.len());
    }
}

#[test]
fn v2_exact_bytes() {
    let mut out = Vec::new();
    let n = encode_v2(
        Command::Proxy,
        Transport::Stream,
        &ip("192.0.2.1:56324", "198.51.100.2:443"),
        &mut out,
    )
    .unwrap();
    let mut expected = SIGNATURE.to_vec();
    expected.extend_from_slice(&[
        0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB,
    ]);
    assert_eq!(out, expected);
    assert_eq!(n, 28);

    // HAProxy's LOCAL health-check header.
    let mut out = Vec::new();
    encode_v2(
        Command::Local,
        Transport::Unspec,
        &Addresses::Unspec,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [&SIGNATURE[..], &[0x20, 0x00, 0x00, 0x00]].concat());

    // TLVs in push order; the CRC32C covers the header with its own field zeroed.
    let mut out = Vec::new();
    let mut enc = V2Encoder::new(
        &mut out,
        Command::Proxy,
        Transport::Dgram,
        &ip("[::1]:1", "[::2]:2"),
    )
    .unwrap();
    enc.push(Tlv::Alpn(b"h2")).unwrap();
    enc.push(Tlv::Crc32c(0x1234_5678)).unwrap();
    enc.ssl(0x05, 1, &[]).unwrap();
    let n = enc.finish().unwrap();
    assert_eq!(n, 16 + 36 + 5 + 7 + 8);
    assert_eq!(out[13], 0x22);
    assert_eq!(u16::from_be_bytes([out[14], out[15]]), (n - 16) as u16);
    assert_eq!(&out[52..57], &[0x01, 0x00, 0x02, b'h', b'2']);
    let crc = u32::from_be_bytes(out[60..64].try_into().unwrap());
    let mut zeroed = out.clone();
    zeroed[60..64].fill(0);
    assert_eq!(crc, crc32c::crc32c(&zeroed));
    assert_eq!(&out[64..], &[0x20, 0x00, 0x05, 0x05, 0, 0, 0, 1]);

    // UNIX paths are NUL padded to 108 bytes.
    let unix = Addresses::Unix {
        source: UnixAddress::new(b"/a").unwrap(),
        destination: UnixAddress::new(b"/b").unwrap(),
    };
    let mut out = Vec::new();
    assert_eq!(
        encode_v2(Command::Proxy, Transport::Stream, &unix, &mut out).unwrap(),
        16 + 216
    );
    let Ok(Status::Complete((h, _))) = decode(&out) else {
        panic!()
    };
    assert_eq!(*h.addresses(), unix);
}

#[test]
fn refused_inputs() {
    let inet = ip("192.0.2.1:1", "192.0.2.2:2");
    let unix = Addresses::Unix {
        source: UnixAddress::new(b"/a").unwrap(),
        destination: UnixAddress::new(b"/b").unwrap(),
    };
    let mut out = Vec::new();
    assert_eq!(
        encode_v1(&unix, &mut out),
        Err(EncodeError::V1UnixAddresses)
    );
    assert!(out.is_empty());
    for (addresses, transport) in [
        (Addresses::Unspec, Transport::Stream),
        (Addresses::Unspec, Transport::Dgram),
        (inet, Transport::Unspec),
        (unix, Transport::Unspec),
    ] {
        assert_eq!(
            V2Encoder::new(&mut out, Command::Proxy, transport, &addresses).err(),
            Some(EncodeError::TransportMismatch)
        );
    }
    assert!(out.is_empty());

    let mut enc = V2Encoder::new(&mut out, Command::Proxy, Transport::Stream, &inet).unwrap();
    let big = vec![0u8; 65_536];
    assert_eq!(
        enc.push(Tlv::Noop(&big)),
        Err(EncodeError::TlvTooLong {
            kind: 0x04,
            length: 65_536
        })
    );
    assert_eq!(
        enc.push(Tlv::UniqueId(&[1; 129])),
        Err(EncodeError::UniqueIdTooLong { length: 129 })
    );
    enc.push(Tlv::Crc32c(0)).unwrap();
    assert_eq!(enc.push(Tlv::Crc32c(0)), Err(EncodeError::DuplicateCrc32c));
    assert_eq!(
        enc.ssl(
            1,
            0,
            &[gangway_proxy_protocol::SslTlv::Version(&"x".repeat(65_530))]
        ),
        Err(EncodeError::TlvTooLong {
            kind: 0x20,
            length: 5 + 3 + 65_530
        })
    );
    // Refused TLVs wrote nothing: the header is addresses + CRC32C.
    assert_eq!(enc.finish(), Ok(16 + 12 + 7));

    // Two TLVs that fit alone but not together.
    let mut out = b"keep".to_vec();
    let mut enc = V2Encoder::new(&mut out, Command::Proxy, Transport::Stream, &inet).unwrap();
    enc.push(Tlv::Noop(&big[..40_000])).unwrap();
    enc.push(Tlv::Noop(&big[..40_000])).unwrap();
    assert_eq!(
        enc.finish(),
        Err(EncodeError::HeaderTooLong {
            length: 12 + 2 * 40_003
        })
    );
    assert_eq!(out, b"keep", "a refused header is removed from the buffer");
    for e in [
        EncodeError::V1UnixAddresses,
        EncodeError::TransportMismatch,
        EncodeError::DuplicateCrc32c,
    ] {
        assert!(e.to_string().starts_with("PROXY"));
    }
}

#[test]
fn largest_header_round_trips() {
    let inet = ip("192.0.2.1:1", "192.0.2.2:2");
    let mut out = Vec::new();
    let mut enc = V2Encoder::new(&mut out, Command::Proxy, Transport::Stream, &inet).unwrap();
    enc.push(Tlv::Custom {
        kind: 0xE0,
        value: &vec![0xAB; 65_535 - 12 - 3],
    })
    .unwrap();
    assert_eq!(enc.finish(), Ok(gangway_proxy_protocol::V2_MAX_LEN));
    let Ok(Status::Complete((h, len))) = decode(&out) else {
        panic!()
    };
    assert_eq!(len, gangway_proxy_protocol::V2_MAX_LEN);
    assert_eq!(h.tlvs().get(0xE0).map(<[u8]>::len), Some(65_520));
}
