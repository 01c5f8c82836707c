//! Version 2: the binary header, its decoder and encoder.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::header::{Addresses, Command, Family, Header, Transport, UnixAddress, Version};
use crate::tlv::{self, SslTlv, Tlv, Tlvs, kind};
use crate::{EncodeError, Error, Status};

/// The 12-byte signature every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Length of the fixed part: signature, version/command, family/transport, length.
pub const V2_FIXED_LEN: usize = 16;

/// The largest version 2 header: the fixed part plus a 16-bit length.
pub const V2_MAX_LEN: usize = V2_FIXED_LEN + u16::MAX as usize;

const INET_LEN: usize = 12;
const INET6_LEN: usize = 36;
const UNIX_LEN: usize = 2 * UnixAddress::LEN;

/// Decode a version 2 header at the start of `buf`.
///
/// Returns `Partial` until `16 + length` bytes are in; the fixed bytes are checked as soon as
/// they arrive, so garbage is rejected early. A CRC32C TLV, when present, is verified.
pub fn decode_v2(buf: &[u8]) -> Result<Status<(Header<'_>, usize)>, Error> {
    let sig_len = buf.len().min(SIGNATURE.len());
    // Fast path (one compare) for the usual case of a whole signature; the loop finds where
    // a mismatch is.
    if !buf.starts_with(&SIGNATURE)
        && let Some(offset) = buf[..sig_len]
            .iter()
            .zip(&SIGNATURE)
            .position(|(a, b)| a != b)
    {
        return Err(Error::V2InvalidSignature { offset });
    }
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(Status::Partial);
    };
    let command = parse_version_command(ver_cmd)?;
    let Some(&fam) = buf.get(13) else {
        return Ok(Status::Partial);
    };
    let (family, transport) = parse_family_transport(fam)?;
    let (Some(&hi), Some(&lo)) = (buf.get(14), buf.get(15)) else {
        return Ok(Status::Partial);
    };
    let length = usize::from(u16::from_be_bytes([hi, lo]));
    let needed = address_len(family);
    if length < needed {
        return Err(Error::V2AddressBlockTooShort {
            family,
            needed,
            length,
        });
    }
    let total = V2_FIXED_LEN + length;
    let Some(raw) = buf.get(..total) else {
        return Ok(Status::Partial);
    };
    let block = &raw[V2_FIXED_LEN..];
    let addresses = parse_addresses(family, block);
    let tlv_start = V2_FIXED_LEN + needed;
    let tlv_bytes = &raw[tlv_start..];
    if !tlv_bytes.is_empty() {
        let summary = tlv::validate_tlvs(tlv_bytes, tlv_start)?;
        if let Some((at, received)) = summary.crc32c {
            let computed = crc32c_with_zeroed(raw, at);
            if computed != received {
                return Err(Error::V2Crc32cMismatch { received, computed });
            }
        }
    }
    let header = Header {
        raw,
        version: Version::V2,
        command,
        transport,
        addresses,
        tlvs: Tlvs::validated(tlv_bytes),
    };
    Ok(Status::Complete((header, total)))
}

/// The full length of the version 2 header starting at `buf`, once its fixed part is in.
pub(crate) fn v2_total_len(buf: &[u8]) -> Option<usize> {
    match buf.get(14..16)? {
        &[hi, lo] => Some(V2_FIXED_LEN + usize::from(u16::from_be_bytes([hi, lo]))),
        _ => None,
    }
}

fn parse_version_command(byte: u8) -> Result<Command, Error> {
    let version = byte >> 4;
    if version != 2 {
        return Err(Error::V2UnsupportedVersion { version });
    }
    match byte & 0x0F {
        0 => Ok(Command::Local),
        1 => Ok(Command::Proxy),
        command => Err(Error::V2UnknownCommand { command }),
    }
}

fn parse_family_transport(byte: u8) -> Result<(Family, Transport), Error> {
    let family = match byte >> 4 {
        0 => Family::Unspec,
        1 => Family::Inet,
        2 => Family::Inet6,
        3 => Family::Unix,
        family => return Err(Error::V2UnknownFamily { family }),
    };
    let transport = match byte & 0x0F {
        0 => Transport::Unspec,
        1 => Transport::Stream,
        2 => Transport::Dgram,
        transport => return Err(Error::V2UnknownTransport { transport }),
    };
    // The spec lists \x00 and \x11..\x32: UNSPEC goes with UNSPEC only.
    if (family == Family::Unspec) != (transport == Transport::Unspec) {
        return Err(Error::V2InvalidFamilyTransport { byte });
    }
    Ok((family, transport))
}

fn family_transport_byte(family: Family, transport: Transport) -> Result<u8, EncodeError> {
    let high = match family {
        Family::Unspec => 0x00,
        Family::Inet => 0x10,
        Family::Inet6 => 0x20,
        Family::Unix => 0x30,
    };
    let low = match transport {
        Transport::Unspec => 0x00,
        Transport::Stream => 0x01,
        Transport::Dgram => 0x02,
    };
    if (family == Family::Unspec) != (transport == Transport::Unspec) {
        return Err(EncodeError::TransportMismatch);
    }
    Ok(high | low)
}

/// Address bytes of a family; UNSPEC has none (what HAProxy sends for LOCAL), so any bytes in
/// its block are read as TLVs.
fn address_len(family: Family) -> usize {
    match family {
        Family::Unspec => 0,
        Family::Inet => INET_LEN,
        Family::Inet6 => INET6_LEN,
        Family::Unix => UNIX_LEN,
    }
}

/// Reads the address block; `block` is at least `address_len(family)` long.
fn parse_addresses(family: Family, block: &[u8]) -> Addresses {
    match family {
        Family::Unspec => Addresses::Unspec,
        Family::Inet => match block.first_chunk::<INET_LEN>() {
            Some(&[s0, s1, s2, s3, d0, d1, d2, d3, sp0, sp1, dp0, dp1]) => Addresses::Inet {
                source: SocketAddrV4::new(
                    Ipv4Addr::new(s0, s1, s2, s3),
                    u16::from_be_bytes([sp0, sp1]),
                ),
                destination: SocketAddrV4::new(
                    Ipv4Addr::new(d0, d1, d2, d3),
                    u16::from_be_bytes([dp0, dp1]),
                ),
            },
            None => Addresses::Unspec,
        },
        Family::Inet6 => match block.first_chunk::<INET6_LEN>() {
            Some(b) => {
                let ip = |at: usize| {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(&b[at..at + 16]);
                    Ipv6Addr::from(octets)
                };
                Addresses::Inet6 {
                    source: SocketAddrV6::new(ip(0), u16::from_be_bytes([b[32], b[33]]), 0, 0),
                    destination: SocketAddrV6::new(
                        ip(16),
                        u16::from_be_bytes([b[34], b[35]]),
                        0,
                        0,
                    ),
                }
            }
            None => Addresses::Unspec,
        },
        Family::Unix => match block.first_chunk::<UNIX_LEN>() {
            Some(b) => {
                let mut source = [0u8; UnixAddress::LEN];
                let mut destination = [0u8; UnixAddress::LEN];
                source.copy_from_slice(&b[..UnixAddress::LEN]);
                destination.copy_from_slice(&b[UnixAddress::LEN..]);
                Addresses::Unix {
                    source: UnixAddress::from_raw(source),
                    destination: UnixAddress::from_raw(destination),
                }
            }
            None => Addresses::Unspec,
        },
    }
}

/// CRC32C of `header` with the 4 bytes at `at` taken as zeros.
fn crc32c_with_zeroed(header: &[u8], at: usize) -> u32 {
    let (before, rest) = header.split_at(at.min(header.len()));
    let after = rest.get(4..).unwrap_or_default();
    let crc = crc32c::crc32c(before);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, after)
}

/// Writes a version 2 header into a `Vec<u8>` (`send-proxy-v2`), with chosen TLVs.
///
/// [`new`](Self::new) writes the fixed part and addresses, [`push`](Self::push) appends TLVs
/// in order, and [`finish`](Self::finish) fills in the length and, if a [`Tlv::Crc32c`] was
/// pushed, the checksum. Dropping the encoder without `finish` leaves an unfinished header in
/// the buffer.
///
/// ```
/// # use gangway_proxy_protocol::{decode, Addresses, Command, Status, Tlv, Transport, V2Encoder};
/// let addrs = Addresses::from_pair("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:443".parse().unwrap());
/// let mut out = Vec::new();
/// let mut encoder = V2Encoder::new(&mut out, Command::Proxy, Transport::Stream, &addrs)?;
/// encoder.push(Tlv::Alpn(b"h2"))?;
/// encoder.push(Tlv::Crc32c(0))?; // computed by finish
/// let written = encoder.finish()?;
///
/// let Status::Complete((header, len)) = decode(&out).unwrap() else { panic!() };
/// assert_eq!(len, written);
/// assert_eq!(header.tlvs().alpn(), Some(&b"h2"[..]));
/// # Ok::<(), gangway_proxy_protocol::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct V2Encoder<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    /// Offset of the CRC32C value within `out`, once pushed.
    crc32c_at: Option<usize>,
}

impl<'o> V2Encoder<'o> {
    /// Start a header in `out` (appending to what is already there).
    ///
    /// Fails if `transport` does not fit the addresses ([`Addresses::Unspec`] needs
    /// [`Transport::Unspec`], others need [`Transport::Stream`] or [`Transport::Dgram`]).
    pub fn new(
        out: &'o mut Vec<u8>,
        command: Command,
        transport: Transport,
        addresses: &Addresses,
    ) -> Result<Self, EncodeError> {
        let fam = family_transport_byte(addresses.family(), transport)?;
        let ver_cmd = match command {
            Command::Local => 0x20,
            Command::Proxy => 0x21,
        };
        let start = out.len();
        out.reserve(V2_FIXED_LEN + address_len(addresses.family()));
        out.extend_from_slice(&SIGNATURE);
        out.extend_from_slice(&[ver_cmd, fam, 0, 0]);
        match addresses {
            Addresses::Unspec => {}
            Addresses::Inet {
                source,
                destination,
            } => {
                out.extend_from_slice(&source.ip().octets());
                out.extend_from_slice(&destination.ip().octets());
                out.extend_from_slice(&source.port().to_be_bytes());
                out.extend_from_slice(&destination.port().to_be_bytes());
            }
            Addresses::Inet6 {
                source,
                destination,
            } => {
                out.extend_from_slice(&source.ip().octets());
                out.extend_from_slice(&destination.ip().octets());
                out.extend_from_slice(&source.port().to_be_bytes());
                out.extend_from_slice(&destination.port().to_be_bytes());
            }
            Addresses::Unix {
                source,
                destination,
            } => {
                out.extend_from_slice(source.raw());
                out.extend_from_slice(destination.raw());
            }
        }
        Ok(V2Encoder {
            out,
            start,
            crc32c_at: None,
        })
    }

    /// Append one TLV. A [`Tlv::Crc32c`] reserves the checksum, computed by `finish`;
    /// a [`Tlv::Ssl`] is copied as decoded (use [`ssl`](Self::ssl) to build one).
    /// On error nothing is written.
    pub fn push(&mut self, tlv: Tlv<'_>) -> Result<(), EncodeError> {
        match tlv {
            Tlv::Alpn(v) | Tlv::Noop(v) => self.raw(tlv.kind(), v),
            Tlv::Authority(s) | Tlv::Netns(s) => self.raw(tlv.kind(), s.as_bytes()),
            Tlv::UniqueId(v) => {
                if v.len() > tlv::UNIQUE_ID_MAX_LEN {
                    return Err(EncodeError::UniqueIdTooLong { length: v.len() });
                }
                self.raw(kind::UNIQUE_ID, v)
            }
            Tlv::Crc32c(_) => {
                if self.crc32c_at.is_some() {
                    return Err(EncodeError::DuplicateCrc32c);
                }
                self.raw(kind::CRC32C, &[0; 4])?;
                self.crc32c_at = Some(self.out.len() - 4);
                Ok(())
            }
            Tlv::Ssl(ssl) => self.ssl_raw(ssl.client(), ssl.verify(), &[ssl.sub_tlv_bytes()]),
            Tlv::Custom { kind, value } | Tlv::Other { kind, value } => self.raw(kind, value),
        }
    }

    /// Append a `PP2_TYPE_SSL` TLV with `client` flags ([`CLIENT_SSL`](crate::CLIENT_SSL)...),
    /// the `verify` result (0 = client certificate verified) and sub-TLVs.
    pub fn ssl(
        &mut self,
        client: u8,
        verify: u32,
        sub_tlvs: &[SslTlv<'_>],
    ) -> Result<(), EncodeError> {
        let mut len = 5usize;
        for sub in sub_tlvs {
            let value_len = sub.value().len();
            if value_len > usize::from(u16::MAX) {
                return Err(EncodeError::TlvTooLong {
                    kind: sub.kind(),
                    length: value_len,
                });
            }
            len += 3 + value_len;
        }
        self.tlv_head(kind::SSL, len)?;
        self.out.push(client);
        self.out.extend_from_slice(&verify.to_be_bytes());
        for sub in sub_tlvs {
            let value = sub.value();
            self.out.push(sub.kind());
            self.out
                .extend_from_slice(&(value.len() as u16).to_be_bytes());
            self.out.extend_from_slice(value);
        }
        Ok(())
    }

    fn ssl_raw(&mut self, client: u8, verify: u32, parts: &[&[u8]]) -> Result<(), EncodeError> {
        let len = 5 + parts.iter().map(|p| p.len()).sum::<usize>();
        self.tlv_head(kind::SSL, len)?;
        self.out.push(client);
        self.out.extend_from_slice(&verify.to_be_bytes());
        for part in parts {
            self.out.extend_from_slice(part);
        }
        Ok(())
    }

    /// Append a TLV of any type with a raw value.
    pub fn raw(&mut self, kind: u8, value: &[u8]) -> Result<(), EncodeError> {
        self.tlv_head(kind, value.len())?;
        self.out.extend_from_slice(value);
        Ok(())
    }

    fn tlv_head(&mut self, kind: u8, len: usize) -> Result<(), EncodeError> {
        let Ok(len16) = u16::try_from(len) else {
            return Err(EncodeError::TlvTooLong { kind, length: len });
        };
        self.out.reserve(3 + len);
        self.out.push(kind);
        self.out.extend_from_slice(&len16.to_be_bytes());
        Ok(())
    }

    /// Fill in the length (and checksum) and return the header's total length. If addresses
    /// and TLVs exceed 65535 bytes, the partial header is removed from the buffer.
    pub fn finish(self) -> Result<usize, EncodeError> {
        let total = self.out.len() - self.start;
        let length = total - V2_FIXED_LEN;
        let Ok(length16) = u16::try_from(length) else {
            self.out.truncate(self.start);
            return Err(EncodeError::HeaderTooLong { length });
        };
        let header = &mut self.out[self.start..];
        header[14..16].copy_from_slice(&length16.to_be_bytes());
        if let Some(at) = self.crc32c_at {
            let at = at - self.start;
            // The checksum field is still zero, so this is the CRC the receiver recomputes.
            let crc = crc32c::crc32c(header);
            header[at..at + 4].copy_from_slice(&crc.to_be_bytes());
        }
        Ok(total)
    }
}

/// Encode a version 2 PROXY (or LOCAL) header without TLVs. Returns the bytes written.
///
/// ```
/// # use gangway_proxy_protocol::{encode_v2, Addresses, Command, Transport};
/// let addrs = Addresses::from_pair("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:443".parse().unwrap());
/// let mut out = Vec::new();
/// assert_eq!(encode_v2(Command::Proxy, Transport::Stream, &addrs, &mut out)?, 28);
/// # Ok::<(), gangway_proxy_protocol::EncodeError>(())
/// ```
pub fn encode_v2(
    command: Command,
    transport: Transport,
    addresses: &Addresses,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    V2Encoder::new(out, command, transport, addresses)?.finish()
}
