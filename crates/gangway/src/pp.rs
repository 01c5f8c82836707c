//! PROXY protocol glue: read a client's header, write one for a server.

use std::net::SocketAddr;

use gangway_proxy_protocol::{Addresses, Command, Status, Transport};

use crate::backend::ProxyVersion;

/// Decodes a PROXY header at the start of `buf`: `Ok(None)` needs more bytes,
/// `Ok(Some((source, len)))` gives the real client (`None` for LOCAL/UNSPEC) and the header length.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, ()> {
    match gangway_proxy_protocol::decode(buf) {
        Ok(Status::Partial) => Ok(None),
        Ok(Status::Complete((header, len))) => Ok(Some((header.source(), len))),
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
