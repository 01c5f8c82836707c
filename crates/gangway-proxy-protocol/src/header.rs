//! The decoded header: version, command, transport, addresses and TLVs.

use core::fmt;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::tlv::Tlvs;

/// The PROXY protocol version a header was sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Version 1: one line of text, `PROXY TCP4 ...\r\n`.
    V1,
    /// Version 2: binary, starting with a 12-byte signature.
    V2,
}

/// Whether the connection is relayed on behalf of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// The proxy opened the connection itself (e.g. a health check): use the real endpoints.
    Local,
    /// The connection is relayed for a client: the header's addresses are the original ones.
    /// Version 1 headers are always `Proxy`.
    Proxy,
}

/// The proxied transport protocol (low nibble of the v2 family byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Unknown or unspecified.
    Unspec,
    /// `SOCK_STREAM`: TCP or UNIX stream. Version 1 headers with addresses are always `Stream`.
    Stream,
    /// `SOCK_DGRAM`: UDP or UNIX datagram.
    Dgram,
}

/// The address family of a header's addresses (high nibble of the v2 family byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// No addresses (v1 `UNKNOWN`, v2 `AF_UNSPEC`).
    Unspec,
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
    /// UNIX sockets.
    Unix,
}

/// A UNIX socket path as carried by v2: exactly 108 bytes, NUL padded.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnixAddress {
    raw: [u8; UnixAddress::LEN],
}

impl UnixAddress {
    /// Bytes per address on the wire (`sizeof(sun_path)` on Linux).
    pub const LEN: usize = 108;

    /// A UNIX address from a path of at most 108 bytes (padded with NULs), or `None` if longer.
    ///
    /// ```
    /// # use gangway_proxy_protocol::UnixAddress;
    /// let a = UnixAddress::new(b"/run/app.sock").unwrap();
    /// assert_eq!(a.path(), b"/run/app.sock");
    /// ```
    pub fn new(path: &[u8]) -> Option<Self> {
        let mut raw = [0u8; Self::LEN];
        raw.get_mut(..path.len())?.copy_from_slice(path);
        Some(UnixAddress { raw })
    }

    /// The address from its 108 wire bytes.
    pub const fn from_raw(raw: [u8; Self::LEN]) -> Self {
        UnixAddress { raw }
    }

    /// All 108 wire bytes.
    pub const fn raw(&self) -> &[u8; Self::LEN] {
        &self.raw
    }

    /// The path without NUL padding: up to the first NUL, or for an abstract socket (first
    /// byte NUL) everything up to the trailing NULs.
    pub fn path(&self) -> &[u8] {
        if self.raw[0] == 0 {
            let end = self.raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            &self.raw[..end]
        } else {
            let end = self.raw.iter().position(|&b| b == 0).unwrap_or(Self::LEN);
            &self.raw[..end]
        }
    }
}

impl fmt::Debug for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixAddress({:?})", String::from_utf8_lossy(self.path()))
    }
}

/// The original connection's endpoints.
///
/// Both endpoints always have the same family, so a header can never mix IPv4 and IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// No address information (v1 `UNKNOWN`, v2 `AF_UNSPEC`).
    Unspec,
    /// IPv4 endpoints.
    Inet {
        /// The client.
        source: SocketAddrV4,
        /// Where the client connected to.
        destination: SocketAddrV4,
    },
    /// IPv6 endpoints.
    Inet6 {
        /// The client.
        source: SocketAddrV6,
        /// Where the client connected to.
        destination: SocketAddrV6,
    },
    /// UNIX socket endpoints (v2 only).
    Unix {
        /// The client.
        source: UnixAddress,
        /// Where the client connected to.
        destination: UnixAddress,
    },
}

impl Addresses {
    /// The address family.
    pub const fn family(&self) -> Family {
        match self {
            Addresses::Unspec => Family::Unspec,
            Addresses::Inet { .. } => Family::Inet,
            Addresses::Inet6 { .. } => Family::Inet6,
            Addresses::Unix { .. } => Family::Unix,
        }
    }

    /// IP endpoints from a pair of socket addresses.
    ///
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports for an
    /// IPv4 peer) are unmapped first, so an IPv4 connection is sent as IPv4. If one address is
    /// then IPv4 and the other IPv6, the IPv4 one is mapped into IPv6 so both share a family.
    ///
    /// ```
    /// # use gangway_proxy_protocol::Addresses;
    /// let a = Addresses::from_pair("192.0.2.1:5000".parse().unwrap(), "198.51.100.2:443".parse().unwrap());
    /// assert!(matches!(a, Addresses::Inet { .. }));
    /// let dual_stack = Addresses::from_pair("[::ffff:192.0.2.1]:5000".parse().unwrap(), "[::ffff:198.51.100.2]:443".parse().unwrap());
    /// assert_eq!(dual_stack, a);
    /// ```
    pub fn from_pair(source: SocketAddr, destination: SocketAddr) -> Self {
        match (unmapped(source), unmapped(destination)) {
            (SocketAddr::V4(source), SocketAddr::V4(destination)) => Addresses::Inet {
                source,
                destination,
            },
            (source, destination) => Addresses::Inet6 {
                source: to_v6(source),
                destination: to_v6(destination),
            },
        }
    }

    /// The source as a `SocketAddr`, for IP families.
    pub fn source(&self) -> Option<SocketAddr> {
        match *self {
            Addresses::Inet { source, .. } => Some(SocketAddr::V4(source)),
            Addresses::Inet6 { source, .. } => Some(SocketAddr::V6(source)),
            Addresses::Unspec | Addresses::Unix { .. } => None,
        }
    }

    /// The destination as a `SocketAddr`, for IP families.
    pub fn destination(&self) -> Option<SocketAddr> {
        match *self {
            Addresses::Inet { destination, .. } => Some(SocketAddr::V4(destination)),
            Addresses::Inet6 { destination, .. } => Some(SocketAddr::V6(destination)),
            Addresses::Unspec | Addresses::Unix { .. } => None,
        }
    }
}

impl From<(SocketAddr, SocketAddr)> for Addresses {
    fn from((source, destination): (SocketAddr, SocketAddr)) -> Self {
        Addresses::from_pair(source, destination)
    }
}

fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

fn to_v6(addr: SocketAddr) -> SocketAddrV6 {
    match addr {
        SocketAddr::V6(v6) => v6,
        SocketAddr::V4(v4) => SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
    }
}

/// A decoded PROXY protocol header, borrowing its TLVs from the input.
///
/// Obtained from [`decode`](crate::decode). All TLVs were validated during decoding, so
/// iterating them cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub(crate) raw: &'a [u8],
    pub(crate) version: Version,
    pub(crate) command: Command,
    pub(crate) transport: Transport,
    pub(crate) addresses: Addresses,
    pub(crate) tlvs: Tlvs<'a>,
}

impl<'a> Header<'a> {
    /// The protocol version the header was sent in.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// LOCAL or PROXY. With LOCAL the receiver must use the connection's real endpoints.
    pub const fn command(&self) -> Command {
        self.command
    }

    /// The proxied transport.
    pub const fn transport(&self) -> Transport {
        self.transport
    }

    /// The addresses exactly as carried by the header (also for LOCAL, where they are
    /// informational only).
    pub const fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// The TLVs (always empty for version 1).
    pub const fn tlvs(&self) -> Tlvs<'a> {
        self.tlvs
    }

    /// The original client address to use for this connection: the source address for a
    /// PROXY command with TCP over IPv4 or IPv6; `None` for LOCAL, UNSPEC, UNIX and UDP
    /// (then use the socket's peer address, as HAProxy does; [`addresses`](Self::addresses)
    /// still has what the header carried).
    pub fn source(&self) -> Option<SocketAddr> {
        match (self.command, self.transport) {
            (Command::Proxy, Transport::Stream) => self.addresses.source(),
            _ => None,
        }
    }

    /// The original destination address, under the same rules as [`source`](Self::source).
    pub fn destination(&self) -> Option<SocketAddr> {
        match (self.command, self.transport) {
            (Command::Proxy, Transport::Stream) => self.addresses.destination(),
            _ => None,
        }
    }

    /// The header's bytes exactly as received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// The header's length on the wire.
    #[allow(clippy::len_without_is_empty)] // a header is never empty
    pub const fn len(&self) -> usize {
        self.raw.len()
    }

    /// Encode this header again in its own version into `out` (e.g. to relay it to a server).
    /// Version 2 TLVs are copied, and a CRC32C TLV is recomputed. Returns the bytes written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, crate::EncodeError> {
        match self.version {
            Version::V1 => crate::v1::encode_v1(&self.addresses, out),
            Version::V2 => {
                let mut encoder =
                    crate::V2Encoder::new(out, self.command, self.transport, &self.addresses)?;
                for tlv in self.tlvs {
                    encoder.push(tlv)?;
                }
                encoder.finish()
            }
        }
    }

    /// Copy the header into an [`OwnedHeader`] that does not borrow the input.
    pub fn to_owned_header(&self) -> OwnedHeader {
        OwnedHeader {
            bytes: self.raw.to_vec(),
            tlv_start: self.raw.len() - self.tlvs.as_bytes().len(),
            version: self.version,
            command: self.command,
            transport: self.transport,
            addresses: self.addresses,
        }
    }
}

/// A decoded header that owns its bytes, e.g. to keep for the lifetime of a connection.
///
/// ```
/// # use gangway_proxy_protocol::{decode, Status};
/// let Status::Complete((header, _)) = decode(b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\n")? else { panic!() };
/// let owned = header.to_owned_header();
/// assert_eq!(owned.header().source(), Some("192.0.2.1:5000".parse().unwrap()));
/// # Ok::<(), gangway_proxy_protocol::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedHeader {
    bytes: Vec<u8>,
    tlv_start: usize,
    version: Version,
    command: Command,
    transport: Transport,
    addresses: Addresses,
}

impl OwnedHeader {
    /// The header as a borrowed [`Header`].
    pub fn header(&self) -> Header<'_> {
        let tlv_bytes = self.bytes.get(self.tlv_start..).unwrap_or_default();
        Header {
            raw: &self.bytes,
            version: self.version,
            command: self.command,
            transport: self.transport,
            addresses: self.addresses,
            tlvs: Tlvs::validated(tlv_bytes),
        }
    }

    /// The header's bytes exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Shortcut for `self.header().source()`.
    pub fn source(&self) -> Option<SocketAddr> {
        self.header().source()
    }

    /// Shortcut for `self.header().destination()`.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.header().destination()
    }
}
