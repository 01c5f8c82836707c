//! Valid headers: what they decode to, partial prefixes, bytes left after the header.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use gangway_proxy_protocol::{
    Addresses, CLIENT_CERT_CONN, CLIENT_SSL, Command, SIGNATURE, SslTlv, Status, Tlv, Transport,
    UnixAddress, Version, decode, decode_v1, decode_v2,
};

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(fam);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn v4(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

fn v6(s: &str) -> SocketAddrV6 {
    s.parse().unwrap()
}

const INET_BLOCK: [u8; 12] = [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB];

#[test]
fn v1_table() {
    let cases: &[(&[u8], Transport, Addresses)] = &[
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
            Transport::Stream,
            Addresses::Inet {
                source: v4("192.0.2.1:56324"),
                destination: v4("198.51.100.2:443"),
            },
        ),
        (
            b"PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n",
            Transport::Stream,
            Addresses::Inet {
                source: v4("255.255.255.255:65535"),
                destination: v4("0.0.0.0:0"),
            },
        ),
        (
            b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
            Transport::Stream,
            Addresses::Inet6 {
                source: v6("[2001:db8::1]:1"),
                destination: v6("[::1]:2"),
            },
        ),
        (
            b"PROXY TCP6 FFFF:ffff:FFFF:ffff:FFFF:ffff:FFFF:ffff ::ffff:192.0.2.1 65535 65535\r\n",
            Transport::Stream,
            Addresses::Inet6 {
                source: v6("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
                destination: v6("[::ffff:192.0.2.1]:65535"),
            },
        ),
        (b"PROXY UNKNOWN\r\n", Transport::Unspec, Addresses::Unspec),
        // UNKNOWN: the rest of the line is ignored, whatever it is.
        (
            b"PROXY UNKNOWN ffff::1 ::2 65535 65535\r\n",
            Transport::Unspec,
            Addresses::Unspec,
        ),
        (
            b"PROXY UNKNOWN  garbage \x01\r\n",
            Transport::Unspec,
            Addresses::Unspec,
        ),
    ];
    for &(input, transport, addresses) in cases {
        let mut with_request = input.to_vec();
        with_request.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let Ok(Status::Complete((header, len))) = decode(&with_request) else {
            panic!("{:?}", String::from_utf8_lossy(input))
        };
        assert_eq!(len, input.len());
        assert_eq!(header.as_bytes(), input);
        assert_eq!(header.version(), Version::V1);
        assert_eq!(header.command(), Command::Proxy);
        assert_eq!(header.transport(), transport);
        assert_eq!(*header.addresses(), addresses);
        assert!(header.tlvs().is_empty());
        assert_eq!(decode_v1(input), decode(input));
    }
}

#[test]
fn v1_longest_line_is_accepted() {
    let line = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(line.len(), 107);
    assert!(decode(line).unwrap().is_complete());
    let tcp6 = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(tcp6.len(), 104);
    assert!(decode(tcp6).unwrap().is_complete());
}

#[test]
fn v2_table() {
    let mut unix_block = [0u8; 216];
    unix_block[..9].copy_from_slice(b"/run/a.sk");
    unix_block[108..118].copy_from_slice(b"\0abstract1");
    let mut inet6_block = Vec::new();
    inet6_block.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    inet6_block.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    inet6_block.extend_from_slice(&[0x00, 0x50, 0x01, 0xBB]);

    let cases: Vec<(Vec<u8>, Command, Transport, Addresses)> = vec![
        (
            v2(0x21, 0x11, &INET_BLOCK),
            Command::Proxy,
            Transport::Stream,
            Addresses::Inet {
                source: v4("192.0.2.1:56324"),
                destination: v4("198.51.100.2:443"),
            },
        ),
        (
            v2(0x21, 0x12, &INET_BLOCK),
            Command::Proxy,
            Transport::Dgram,
            Addresses::Inet {
                source: v4("192.0.2.1:56324"),
                destination: v4("198.51.100.2:443"),
            },
        ),
        (
            v2(0x21, 0x21, &inet6_block),
            Command::Proxy,
            Transport::Stream,
            Addresses::Inet6 {
                source: v6("[2001:db8::1]:80"),
                destination: v6("[2001:db8::2]:443"),
            },
        ),
        (
            v2(0x21, 0x22, &inet6_block),
            Command::Proxy,
            Transport::Dgram,
            Addresses::Inet6 {
                source: v6("[2001:db8::1]:80"),
                destination: v6("[2001:db8::2]:443"),
            },
        ),
        (
            v2(0x21, 0x31, &unix_block),
            Command::Proxy,
            Transport::Stream,
            Addresses::Unix {
                source: UnixAddress::new(b"/run/a.sk").unwrap(),
                destination: UnixAddress::new(b"\0abstract1").unwrap(),
            },
        ),
        (
            v2(0x21, 0x32, &unix_block),
            Command::Proxy,
            Transport::Dgram,
            Addresses::Unix {
                source: UnixAddress::new(b"/run/a.sk").unwrap(),
                destination: UnixAddress::new(b"\0abstract1").unwrap(),
            },
        ),
        // LOCAL health check as HAProxy sends it.
        (
            v2(0x20, 0x00, b""),
            Command::Local,
            Transport::Unspec,
            Addresses::Unspec,
        ),
        // PROXY with UNSPEC: accepted, no addresses.
        (
            v2(0x21, 0x00, b""),
            Command::Proxy,
            Transport::Unspec,
            Addresses::Unspec,
        ),
        // LOCAL may still carry addresses; they are informational.
        (
            v2(0x20, 0x11, &INET_BLOCK),
            Command::Local,
            Transport::Stream,
            Addresses::Inet {
                source: v4("192.0.2.1:56324"),
                destination: v4("198.51.100.2:443"),
            },
        ),
    ];
    for (input, command, transport, addresses) in cases {
        let mut with_request = input.clone();
        with_request.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let Ok(Status::Complete((header, len))) = decode(&with_request) else {
            panic!("{input:x?}")
        };
        assert_eq!(len, input.len());
        assert_eq!(header.version(), Version::V2);
        assert_eq!(header.command(), command);
        assert_eq!(header.transport(), transport);
        assert_eq!(*header.addresses(), addresses);
        assert_eq!(decode_v2(&input), decode(&input));
        // LOCAL, and addresses of another transport than TCP: use the real endpoints
        // (HAProxy takes addresses for \x11 and \x21 only).
        if command == Command::Local || transport != Transport::Stream {
            assert_eq!(header.source(), None, "{input:x?}");
            assert_eq!(header.destination(), None, "{input:x?}");
        } else if !matches!(addresses, Addresses::Unix { .. }) {
            assert_eq!(header.source(), addresses.source());
            assert_eq!(header.destination(), addresses.destination());
        }
    }
    assert_eq!(UnixAddress::new(b"/run/a.sk").unwrap().path(), b"/run/a.sk");
    assert_eq!(
        UnixAddress::new(b"\0abstract1").unwrap().path(),
        b"\0abstract1"
    );
    assert_eq!(UnixAddress::new(&[b'a'; 109]), None);
}

#[test]
fn v2_every_tlv_kind() {
    let mut tlvs = Vec::new();
    let mut push = |kind: u8, value: &[u8]| {
        tlvs.push(kind);
        tlvs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        tlvs.extend_from_slice(value);
    };
    push(0x01, b"h2");
    push(0x02, b"example.com");
    push(0x04, b"\0\0\0");
    push(0x05, &[9; 128]);
    let mut ssl = vec![CLIENT_SSL | CLIENT_CERT_CONN, 0, 0, 0, 0];
    for (kind, value) in [
        (0x21u8, &b"TLSv1.3"[..]),
        (0x22, "cn.example.com".as_bytes()),
        (0x23, b"TLS_AES_128_GCM_SHA256"),
        (0x24, b"RSA-SHA256"),
        (0x25, b"RSA2048"),
        (0x26, b"\x01\x02"),
    ] {
        ssl.push(kind);
        ssl.extend_from_slice(&(value.len() as u16).to_be_bytes());
        ssl.extend_from_slice(value);
    }
    push(0x20, &ssl);
    push(0x30, b"blue");
    push(0xEA, b"vpce-0123");
    push(0xF0, b"exp");
    push(0x06, b"");
    push(0x03, &[0; 4]);
    let mut body = INET_BLOCK.to_vec();
    body.extend_from_slice(&tlvs);
    let mut header_bytes = v2(0x21, 0x11, &body);
    let crc = crc32c::crc32c(&header_bytes);
    let at = header_bytes.len() - 4;
    header_bytes[at..].copy_from_slice(&crc.to_be_bytes());

    let Ok(Status::Complete((header, _))) = decode(&header_bytes) else {
        panic!()
    };
    let got: Vec<Tlv<'_>> = header.tlvs().iter().collect();
    let Tlv::Ssl(ssl) = got[4] else {
        panic!("{:?}", got[4])
    };
    assert_eq!(
        got,
        vec![
            Tlv::Alpn(b"h2"),
            Tlv::Authority("example.com"),
            Tlv::Noop(b"\0\0\0"),
            Tlv::UniqueId(&[9; 128]),
            Tlv::Ssl(ssl),
            Tlv::Netns("blue"),
            Tlv::Custom {
                kind: 0xEA,
                value: b"vpce-0123"
            },
            Tlv::Other {
                kind: 0xF0,
                value: b"exp"
            },
            Tlv::Other {
                kind: 0x06,
                value: b""
            },
            Tlv::Crc32c(crc),
        ]
    );
    assert!(ssl.client_ssl() && ssl.client_cert_conn() && !ssl.client_cert_sess());
    assert!(ssl.client_cert_verified());
    assert_eq!(
        ssl.iter().collect::<Vec<_>>(),
        vec![
            SslTlv::Version("TLSv1.3"),
            SslTlv::CommonName("cn.example.com"),
            SslTlv::Cipher("TLS_AES_128_GCM_SHA256"),
            SslTlv::SigAlg("RSA-SHA256"),
            SslTlv::KeyAlg("RSA2048"),
            SslTlv::Other {
                kind: 0x26,
                value: b"\x01\x02"
            },
        ]
    );
    assert_eq!(ssl.version(), Some("TLSv1.3"));
    assert_eq!(ssl.common_name(), Some("cn.example.com"));
    assert_eq!(ssl.cipher(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(ssl.sig_alg(), Some("RSA-SHA256"));
    assert_eq!(ssl.key_alg(), Some("RSA2048"));
    let tlvs = header.tlvs();
    assert_eq!(tlvs.alpn(), Some(&b"h2"[..]));
    assert_eq!(tlvs.authority(), Some("example.com"));
    assert_eq!(tlvs.unique_id(), Some(&[9u8; 128][..]));
    assert_eq!(tlvs.netns(), Some("blue"));
    assert_eq!(tlvs.crc32c(), Some(crc));
    assert_eq!(tlvs.get(0xEA), Some(&b"vpce-0123"[..]));
    assert_eq!(tlvs.get(0xEB), None);
}

#[test]
fn v2_unspec_block_is_read_as_tlvs() {
    // HAProxy's LOCAL health check with a NOOP and a CRC32C.
    let mut header = v2(
        0x20,
        0x00,
        &[0x04, 0x00, 0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0],
    );
    let crc = crc32c::crc32c(&header);
    let at = header.len() - 4;
    header[at..].copy_from_slice(&crc.to_be_bytes());
    let Ok(Status::Complete((h, _))) = decode(&header) else {
        panic!()
    };
    assert_eq!(
        h.tlvs().iter().collect::<Vec<_>>(),
        vec![Tlv::Noop(b""), Tlv::Crc32c(crc)]
    );
}

#[test]
fn every_prefix_of_a_valid_header_is_partial() {
    let mut tlv_header = v2(0x21, 0x11, &INET_BLOCK);
    tlv_header[15] += 5;
    tlv_header.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2']);
    let headers: Vec<Vec<u8>> = vec![
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(0x21, 0x11, &INET_BLOCK),
        v2(0x20, 0x00, b""),
        tlv_header,
    ];
    for header in headers {
        for cut in 0..header.len() {
            assert_eq!(
                decode(&header[..cut]),
                Ok(Status::Partial),
                "{header:x?} cut at {cut}"
            );
        }
        assert!(decode(&header).unwrap().is_complete());
    }
}

#[test]
fn source_and_owned_header() {
    let input = v2(0x21, 0x11, &INET_BLOCK);
    let Ok(Status::Complete((header, _))) = decode(&input) else {
        panic!()
    };
    let expected: SocketAddr = "192.0.2.1:56324".parse().unwrap();
    assert_eq!(header.source(), Some(expected));
    assert_eq!(
        header.destination(),
        Some("198.51.100.2:443".parse().unwrap())
    );
    let owned = header.to_owned_header();
    drop(input);
    assert_eq!(owned.source(), Some(expected));
    assert_eq!(owned.header().len(), 28);
}
