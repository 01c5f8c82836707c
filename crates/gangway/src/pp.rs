//! PROXY protocol glue: read a client's header, write one for a server.

use std::net::SocketAddr;

use gangway_proxy_protocol::{Addresses, Command, Status, Transport};

use crate::backend::ProxyVersion;

/// The connection as a PROXY header describes it: the real client and the address it
/// connected to (both `None` for LOCAL/UNSPEC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Proxied {
    pub(crate) source: Option<SocketAddr>,
    pub(crate) destination: Option<SocketAddr>,
}

/// Decodes a PROXY header at the start of `buf`: `Ok(None)` needs more bytes,
/// `Ok(Some((proxied, len)))` gives the addresses and the header length.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Proxied, usize)>, ()> {
    match gangway_proxy_protocol::decode(buf) {
        Ok(Status::Partial) => Ok(None),
        Ok(Status::Complete((header, len))) => Ok(Some((
            Proxied {
                source: header.source(),
                destination: header.destination(),
            },
            len,
        ))),
        Err(_) => Err(()),
    }
}

/// Appends a PROXY header telling a server about the client `src` and our address `dst`.
pub(crate) fn encode(version: ProxyVersion, src: SocketAddr, dst: SocketAddr, out: &mut Vec<u8>) {
    // Mixed families (IPv4 client, IPv6 listener) are mapped so both addresses agree.
    let (src, dst) = match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V6(d)) => match d.ip().to_ipv4_mapped() {
            Some(ip) => (SocketAddr::V4(s), SocketAddr::from((ip, d.port()))),
            None => (
                SocketAddr::from((s.ip().to_ipv6_mapped(), s.port())),
                SocketAddr::V6(d),
            ),
        },
        (SocketAddr::V6(s), SocketAddr::V4(d)) => match s.ip().to_ipv4_mapped() {
            Some(ip) => (SocketAddr::from((ip, s.port())), SocketAddr::V4(d)),
            None => (
                SocketAddr::V6(s),
                SocketAddr::from((d.ip().to_ipv6_mapped(), d.port())),
            ),
        },
        pair => pair,
    };
    let addresses = Addresses::from_pair(src, dst);
    let _ = match version {
        ProxyVersion::V1 => gangway_proxy_protocol::encode_v1(&addresses, out),
        ProxyVersion::V2 => {
            gangway_proxy_protocol::encode_v2(Command::Proxy, Transport::Stream, &addresses, out)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_headers_decode_to_the_client() {
        let cases: [(ProxyVersion, &str, &str); 4] = [
            (ProxyVersion::V1, "203.0.113.9:5000", "192.0.2.1:80"),
            (ProxyVersion::V2, "203.0.113.9:5000", "192.0.2.1:80"),
            (ProxyVersion::V2, "[2001:db8::1]:5000", "[2001:db8::2]:80"),
            // A client on an IPv4 address talking to an IPv6 listener: both sent as IPv6.
            (ProxyVersion::V1, "203.0.113.9:5000", "[2001:db8::2]:80"),
        ];
        for (version, src, dst) in cases {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let mut out = Vec::new();
            encode(version, src, dst, &mut out);
            let (decoded, len) = decode(&out).unwrap().unwrap();
            assert_eq!(len, out.len(), "{version:?} {src} {dst}");
            assert!(decoded.destination.is_some());
            let decoded = decoded.source.unwrap();
            let same = match (decoded, src) {
                (SocketAddr::V6(d), SocketAddr::V4(s)) => d.ip().to_ipv4_mapped() == Some(*s.ip()),
                (d, s) => d.ip() == s.ip(),
            };
            assert!(
                same && decoded.port() == src.port(),
                "{version:?}: {decoded} for {src}"
            );
        }
        assert_eq!(decode(b"PROXY TCP4 1.2.3.4"), Ok(None));
        assert!(decode(b"GET / HTTP/1.1\r\n\r\n").is_err());
    }
}
