//! The PROXY protocol header a check sends first (written here: a v1 line or a 16-byte v2
//! `LOCAL` header are all a check needs).

use std::io::Write;
use std::net::SocketAddr;

use crate::check::ProxyHeader;

/// The v2 signature (PROXY protocol spec, section 2.2).
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Appends the PROXY header for a check connection from `local` to `peer`.
pub(crate) fn write_proxy_header(
    kind: ProxyHeader,
    local: SocketAddr,
    peer: SocketAddr,
    out: &mut Vec<u8>,
) {
    match kind {
        ProxyHeader::V1 => {
            // `write!` into a Vec cannot fail.
            let _ = match (local, peer) {
                (SocketAddr::V4(src), SocketAddr::V4(dst)) => write!(
                    out,
                    "PROXY TCP4 {} {} {} {}\r\n",
                    src.ip(),
                    dst.ip(),
                    src.port(),
                    dst.port()
                ),
                (SocketAddr::V6(src), SocketAddr::V6(dst)) => write!(
                    out,
                    "PROXY TCP6 {} {} {} {}\r\n",
                    src.ip(),
                    dst.ip(),
                    src.port(),
                    dst.port()
                ),
                _ => write!(out, "PROXY UNKNOWN\r\n"),
            };
        }
        ProxyHeader::V2Local => {
            out.extend_from_slice(&V2_SIGNATURE);
            // Version 2, command LOCAL; family and transport unspecified; no address block.
            out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_table() {
        let v4a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let v4b: SocketAddr = "127.0.0.2:8080".parse().unwrap();
        let v6a: SocketAddr = "[::1]:40000".parse().unwrap();
        let v6b: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let cases: Vec<(ProxyHeader, SocketAddr, SocketAddr, &[u8])> = vec![
            (
                ProxyHeader::V1,
                v4a,
                v4b,
                b"PROXY TCP4 127.0.0.1 127.0.0.2 40000 8080\r\n",
            ),
            (
                ProxyHeader::V1,
                v6a,
                v6b,
                b"PROXY TCP6 ::1 2001:db8::1 40000 443\r\n",
            ),
            (ProxyHeader::V1, v4a, v6b, b"PROXY UNKNOWN\r\n"),
            (
                ProxyHeader::V2Local,
                v4a,
                v4b,
                b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00",
            ),
        ];
        for (kind, local, peer, expected) in cases {
            let mut out = Vec::new();
            write_proxy_header(kind, local, peer, &mut out);
            assert_eq!(out, expected, "{kind:?}");
        }
    }
}
