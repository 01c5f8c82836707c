//! Version 1: the text header `PROXY TCP4 src dst sport dport\r\n`.

use std::io::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::error::{Endpoint, V1Field};
use crate::header::{Addresses, Command, Header, Transport, Version};
use crate::tlv::Tlvs;
use crate::{EncodeError, Error, Status};

/// The longest version 1 line, CRLF included.
pub const V1_MAX_LEN: usize = 107;

const PREFIX: &[u8; 6] = b"PROXY ";

/// Decode a version 1 header at the start of `buf`.
///
/// Returns `Partial` while the CRLF has not arrived (and fewer than 107 bytes are in).
/// Bytes after the CRLF are not looked at.
pub fn decode_v1(buf: &[u8]) -> Result<Status<(Header<'_>, usize)>, Error> {
    let prefix_len = buf.len().min(PREFIX.len());
    if let Some(offset) = first_difference(&buf[..prefix_len], &PREFIX[..prefix_len]) {
        return Err(Error::V1InvalidPrefix { offset });
    }
    let Some(line_end) = find_crlf(buf)? else {
        return Ok(Status::Partial);
    };
    let line = &buf[PREFIX.len()..line_end];
    let len = line_end + 2;
    let (transport, addresses) = parse_line(line)?;
    let header = Header {
        raw: &buf[..len],
        version: Version::V1,
        command: Command::Proxy,
        transport,
        addresses,
        tlvs: Tlvs::default(),
    };
    Ok(Status::Complete((header, len)))
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Offset of the CR of the terminating CRLF, `None` if more bytes are needed.
fn find_crlf(buf: &[u8]) -> Result<Option<usize>, Error> {
    let scan_end = buf.len().min(V1_MAX_LEN);
    for i in PREFIX.len()..scan_end {
        match buf[i] {
            b'\r' => {
                // The LF must still fit within the 107 bytes.
                if i + 1 >= V1_MAX_LEN {
                    return Err(Error::V1LineTooLong);
                }
                return match buf.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(Error::V1BareCarriageReturn { offset: i }),
                };
            }
            b'\n' => return Err(Error::V1BareLineFeed { offset: i }),
            _ => {}
        }
    }
    if buf.len() >= V1_MAX_LEN {
        Err(Error::V1LineTooLong)
    } else {
        Ok(None)
    }
}

/// Splits the line (after `"PROXY "`) on single spaces, tracking offsets from the header start.
struct Fields<'a> {
    line: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Fields<'a> {
    /// The next field and its offset; `Ok(None)` at the end of the line.
    fn next_field(&mut self) -> Result<Option<(&'a [u8], usize)>, Error> {
        if self.done {
            return Ok(None);
        }
        let rest = &self.line[self.pos..];
        let offset = PREFIX.len() + self.pos;
        let field = match rest.iter().position(|&b| b == b' ') {
            Some(space) => {
                self.pos += space + 1;
                &rest[..space]
            }
            None => {
                self.done = true;
                rest
            }
        };
        if field.is_empty() {
            return Err(Error::V1EmptyField { offset });
        }
        Ok(Some((field, offset)))
    }

    fn expect(&mut self, field: V1Field) -> Result<(&'a [u8], usize), Error> {
        self.next_field()?.ok_or(Error::V1MissingField { field })
    }
}

fn parse_line(line: &[u8]) -> Result<(Transport, Addresses), Error> {
    let mut fields = Fields {
        line,
        pos: 0,
        done: false,
    };
    let (protocol, _) = fields.expect(V1Field::Protocol)?;
    let is_v6 = match protocol {
        b"TCP4" => false,
        b"TCP6" => true,
        // The spec: for UNKNOWN the receiver ignores everything up to the CRLF.
        b"UNKNOWN" => return Ok((Transport::Unspec, Addresses::Unspec)),
        _ => return Err(Error::V1UnknownProtocol),
    };
    let (src, src_at) = fields.expect(V1Field::SourceAddress)?;
    let (dst, dst_at) = fields.expect(V1Field::DestinationAddress)?;
    let (sport, sport_at) = fields.expect(V1Field::SourcePort)?;
    let (dport, dport_at) = fields.expect(V1Field::DestinationPort)?;
    if let Some((_, offset)) = fields.next_field()? {
        return Err(Error::V1TrailingField { offset });
    }
    let bad_address = |endpoint, offset| Error::V1InvalidAddress { endpoint, offset };
    let sport = parse_port(sport).ok_or(Error::V1InvalidPort {
        endpoint: Endpoint::Source,
        offset: sport_at,
    })?;
    let dport = parse_port(dport).ok_or(Error::V1InvalidPort {
        endpoint: Endpoint::Destination,
        offset: dport_at,
    })?;
    let addresses = if is_v6 {
        let source = parse_ipv6(src).ok_or(bad_address(Endpoint::Source, src_at))?;
        let destination = parse_ipv6(dst).ok_or(bad_address(Endpoint::Destination, dst_at))?;
        Addresses::Inet6 {
            source: SocketAddrV6::new(source, sport, 0, 0),
            destination: SocketAddrV6::new(destination, dport, 0, 0),
        }
    } else {
        let source = parse_ipv4(src).ok_or(bad_address(Endpoint::Source, src_at))?;
        let destination = parse_ipv4(dst).ok_or(bad_address(Endpoint::Destination, dst_at))?;
        Addresses::Inet {
            source: SocketAddrV4::new(source, sport),
            destination: SocketAddrV4::new(destination, dport),
        }
    };
    Ok((Transport::Stream, addresses))
}

/// A decimal number of at most `max_digits` digits without leading zeros.
fn parse_decimal(digits: &[u8], max_digits: usize) -> Option<u32> {
    if digits.is_empty() || digits.len() > max_digits || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

fn parse_port(field: &[u8]) -> Option<u16> {
    parse_decimal(field, 5).and_then(|p| u16::try_from(p).ok())
}

/// Strict dotted quad: exactly four decimal octets, no leading zeros.
fn parse_ipv4(field: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = field.split(|&b| b == b'.');
    for octet in &mut octets {
        *octet = u8::try_from(parse_decimal(parts.next()?, 3)?).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// IPv6 text form as accepted by `inet_pton` (hex groups, one `::`, optional dotted tail).
fn parse_ipv6(field: &[u8]) -> Option<Ipv6Addr> {
    // 39 is the longest full form; 45 allows an embedded dotted quad.
    if field.len() > 45 {
        return None;
    }
    core::str::from_utf8(field).ok()?.parse().ok()
}

/// Encode a version 1 header for `addresses` into `out` (`send-proxy`). Returns the bytes
/// written.
///
/// [`Addresses::Unspec`] becomes `PROXY UNKNOWN\r\n`; UNIX addresses cannot be sent in v1.
///
/// ```
/// # use gangway_proxy_protocol::{encode_v1, Addresses};
/// let mut out = Vec::new();
/// let addrs = Addresses::from_pair("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:80".parse().unwrap());
/// encode_v1(&addrs, &mut out)?;
/// assert_eq!(out, b"PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\n");
/// # Ok::<(), gangway_proxy_protocol::EncodeError>(())
/// ```
pub fn encode_v1(addresses: &Addresses, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = match addresses {
        Addresses::Unspec => out.write_all(b"PROXY UNKNOWN\r\n"),
        Addresses::Inet {
            source,
            destination,
        } => write!(
            out,
            "PROXY TCP4 {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        ),
        Addresses::Inet6 {
            source,
            destination,
        } => write!(
            out,
            "PROXY TCP6 {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        ),
        Addresses::Unix { .. } => return Err(EncodeError::V1UnixAddresses),
    };
    Ok(out.len() - start)
}
