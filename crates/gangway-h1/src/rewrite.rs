//! Hop-by-hop handling and head rewriting into a caller buffer.

use std::fmt::Write as _;
use std::net::IpAddr;

use bytes::BufMut;
use httparse::Header;

use crate::error::{Error, ErrorKind, Side};
use crate::framing::Framing;
use crate::parse::{Request, Response};
use crate::syntax::{TokenList, is_field_vchar, is_token, name_is};
use crate::upgrade::Upgrade;

/// Header fields that only concern one connection (RFC 9110 7.6.1), never forwarded as-is.
///
/// `Transfer-Encoding` is not in the list: the body is forwarded unchanged, so its framing
/// header goes with it. `Upgrade` is listed; [`Rewrite`] keeps it for upgrade requests.
pub const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

/// Whether `name` is one of the fixed hop-by-hop fields ([`HOP_BY_HOP`]), case-insensitively.
/// Fields named by a message's own Connection header are hop-by-hop too; see
/// [`is_connection_option`].
///
/// ```
/// assert!(gangway_h1::is_hop_by_hop("Keep-Alive"));
/// assert!(!gangway_h1::is_hop_by_hop("Host"));
/// ```
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name_is(name, h))
}

/// Whether a Connection field line in `headers` names the field `name`.
pub fn is_connection_option(headers: &[Header<'_>], name: &str) -> bool {
    headers
        .iter()
        .filter(|h| name_is(h.name, "connection"))
        .any(|h| TokenList::new(h.value).contains(name))
}

/// What [`Rewrite`] writes as the Connection field of a forwarded non-upgrade message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConnectionHeader {
    /// No Connection field: persistent for HTTP/1.1, close for HTTP/1.0.
    #[default]
    Omit,
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive`.
    KeepAlive,
}

/// How to rewrite a head when forwarding it: drop hop-by-hop fields, remove, set and append
/// fields, add X-Forwarded-For/-Proto. Writing never allocates per header; it only grows
/// the caller's buffer.
///
/// Always emits CRLF line endings. Hop-by-hop fields (the fixed list and those named in
/// Connection, except Host, Content-Length and Transfer-Encoding, which a client must not be
/// able to strip that way) are dropped; for an upgrade (WebSocket, h2c, other) `Upgrade` (and
/// `HTTP2-Settings` for h2c) is kept and `Connection: upgrade` written. Duplicate identical
/// Content-Length fields collapse into one.
///
/// ```
/// use gangway_h1::{parse_request, Rewrite, Status, EMPTY_HEADER};
/// let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: keep-alive\r\n\r\n";
/// let mut headers = [EMPTY_HEADER; 16];
/// let Status::Complete(req) = parse_request(buf, &mut headers)? else { unreachable!() };
/// let mut out = Vec::new();
/// Rewrite::new()
///     .forwarded_for("10.0.0.1".parse().unwrap())
///     .forwarded_proto("https")
///     .write_request(&req, &mut out)?;
/// assert_eq!(
///     out,
///     b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"
/// );
/// # Ok::<(), gangway_h1::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Rewrite<'r> {
    remove: &'r [&'r str],
    set: &'r [(&'r str, &'r [u8])],
    append: &'r [(&'r str, &'r [u8])],
    forwarded_for: Option<IpAddr>,
    forwarded_proto: Option<&'r str>,
    connection: ConnectionHeader,
}

impl<'r> Rewrite<'r> {
    /// A rewrite that only drops hop-by-hop fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields to drop (case-insensitive names).
    pub fn remove(&mut self, names: &'r [&'r str]) -> &mut Self {
        self.remove = names;
        self
    }

    /// Fields to replace: every existing line of that name is dropped, one line written.
    pub fn set(&mut self, fields: &'r [(&'r str, &'r [u8])]) -> &mut Self {
        self.set = fields;
        self
    }

    /// Fields to add at the end of the head, after any existing ones.
    pub fn append(&mut self, fields: &'r [(&'r str, &'r [u8])]) -> &mut Self {
        self.append = fields;
        self
    }

    /// Append this address to X-Forwarded-For (to the last existing line, or a new one).
    pub fn forwarded_for(&mut self, client: IpAddr) -> &mut Self {
        self.forwarded_for = Some(client);
        self
    }

    /// Set X-Forwarded-Proto (replacing any received value), e.g. `"https"`.
    pub fn forwarded_proto(&mut self, proto: &'r str) -> &mut Self {
        self.forwarded_proto = Some(proto);
        self
    }

    /// The Connection field for non-upgrade messages (default: [`ConnectionHeader::Omit`]).
    pub fn connection(&mut self, connection: ConnectionHeader) -> &mut Self {
        self.connection = connection;
        self
    }

    /// Writes the rewritten request head (request line, fields, empty line) to `out`.
    ///
    /// Fails with [`ErrorKind::InvalidRewrite`] (writing nothing) if a configured name is
    /// not a token or a value holds CR, LF, NUL or another control byte.
    pub fn write_request<B: BufMut>(
        &self,
        req: &Request<'_, '_>,
        out: &mut B,
    ) -> Result<(), Error> {
        self.check()?;
        out.put_slice(req.method.as_bytes());
        out.put_u8(b' ');
        out.put_slice(req.target.as_bytes());
        out.put_slice(version(req.version_minor));
        out.put_slice(b"\r\n");
        let upgrade = req.upgrade;
        let keep_upgrade = upgrade.expects_switch();
        let h2c = matches!(upgrade, Upgrade::H2c { .. });
        // The X-Forwarded-For line to extend: the last one that is forwarded at all.
        let last_xff = match self.forwarded_for {
            Some(_) => req.headers.iter().rposition(|h| {
                name_is(h.name, "x-forwarded-for")
                    && !self.drops(h, req.headers, req.connection_options, keep_upgrade, h2c)
            }),
            None => None,
        };
        let content_length = match req.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        let mut wrote_length = false;
        for (i, h) in req.headers.iter().enumerate() {
            if self.drops(h, req.headers, req.connection_options, keep_upgrade, h2c) {
                continue;
            }
            if self.forwarded_proto.is_some() && name_is(h.name, "x-forwarded-proto") {
                continue;
            }
            if name_is(h.name, "content-length") {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
                if let Some(n) = content_length {
                    put_decimal_field(out, h.name, n);
                    continue;
                }
            }
            if let (true, Some(ip)) = (Some(i) == last_xff, self.forwarded_for) {
                put_field_start(out, h.name);
                out.put_slice(h.value);
                out.put_slice(b", ");
                put_ip(out, ip);
                out.put_slice(b"\r\n");
                continue;
            }
            put_field(out, h.name, h.value);
        }
        if let (None, Some(ip)) = (last_xff, self.forwarded_for) {
            put_field_start(out, "X-Forwarded-For");
            put_ip(out, ip);
            out.put_slice(b"\r\n");
        }
        if let Some(proto) = self.forwarded_proto {
            put_field(out, "X-Forwarded-Proto", proto.as_bytes());
        }
        self.finish(out, keep_upgrade, h2c);
        Ok(())
    }

    /// Writes the rewritten response head to `out`. For a 101 the Upgrade field is kept and
    /// `Connection: upgrade` written; X-Forwarded-* settings do not apply to responses.
    pub fn write_response<B: BufMut>(
        &self,
        res: &Response<'_, '_>,
        out: &mut B,
    ) -> Result<(), Error> {
        self.check()?;
        out.put_slice(&version(res.version_minor)[1..]);
        out.put_u8(b' ');
        put_decimal(out, u64::from(res.status));
        out.put_u8(b' ');
        out.put_slice(res.reason.as_bytes());
        out.put_slice(b"\r\n");
        let switching = res.status == 101;
        let mut wrote_length = false;
        for h in res.headers {
            if self.drops(h, res.headers, res.connection_options, switching, false) {
                continue;
            }
            if name_is(h.name, "content-length") {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
            }
            put_field(out, h.name, h.value);
        }
        self.finish(out, switching, false);
        Ok(())
    }

    /// Whether an incoming field line is not forwarded as-is.
    fn drops(
        &self,
        h: &Header<'_>,
        all: &[Header<'_>],
        connection_options: bool,
        keep_upgrade: bool,
        h2c: bool,
    ) -> bool {
        if is_hop_by_hop(h.name) {
            return !(keep_upgrade && name_is(h.name, "upgrade"));
        }
        let h2c_settings = h2c && name_is(h.name, "http2-settings");
        // "Connection: Content-Length" must not strip framing (a smuggling trick) or Host.
        let protected = name_is(h.name, "content-length")
            || name_is(h.name, "transfer-encoding")
            || name_is(h.name, "host");
        if connection_options && !h2c_settings && !protected && is_connection_option(all, h.name) {
            return true;
        }
        self.remove.iter().any(|r| h.name.eq_ignore_ascii_case(r))
            || self.set.iter().any(|(n, _)| h.name.eq_ignore_ascii_case(n))
    }

    fn finish<B: BufMut>(&self, out: &mut B, keep_upgrade: bool, h2c: bool) {
        for (name, value) in self.set.iter().chain(self.append) {
            put_field(out, name, value);
        }
        if keep_upgrade {
            let value: &[u8] = if h2c {
                b"Upgrade, HTTP2-Settings"
            } else {
                b"upgrade"
            };
            put_field(out, "Connection", value);
        } else {
            match self.connection {
                ConnectionHeader::Omit => {}
                ConnectionHeader::Close => put_field(out, "Connection", b"close"),
                ConnectionHeader::KeepAlive => put_field(out, "Connection", b"keep-alive"),
            }
        }
        out.put_slice(b"\r\n");
    }

    /// Refuses names and values that would inject lines or break the head.
    fn check(&self) -> Result<(), Error> {
        let bad = |name: &str, value: &[u8]| {
            !is_token(name.as_bytes()) || !value.iter().all(|&b| is_field_vchar(b))
        };
        let invalid = self.set.iter().chain(self.append).any(|(n, v)| bad(n, v))
            || self.forwarded_proto.is_some_and(|p| bad("x", p.as_bytes()));
        if invalid {
            return Err(Error::new(ErrorKind::InvalidRewrite, Side::Request, None));
        }
        Ok(())
    }
}

fn version(minor: u8) -> &'static [u8] {
    if minor == 0 {
        b" HTTP/1.0"
    } else {
        b" HTTP/1.1"
    }
}

fn put_field_start<B: BufMut>(out: &mut B, name: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
}

fn put_field<B: BufMut>(out: &mut B, name: &str, value: &[u8]) {
    put_field_start(out, name);
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

fn put_decimal<B: BufMut>(out: &mut B, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

fn put_decimal_field<B: BufMut>(out: &mut B, name: &str, n: u64) {
    put_field_start(out, name);
    put_decimal(out, n);
    out.put_slice(b"\r\n");
}

/// A fixed buffer to format an address into without allocating.
struct AddrText {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for AddrText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn put_ip<B: BufMut>(out: &mut B, ip: IpAddr) {
    let mut text = AddrText {
        buf: [0; 64],
        len: 0,
    };
    // The longest IPv6 text form is 45 bytes, so this always fits.
    let _ = write!(text, "{ip}");
    out.put_slice(&text.buf[..text.len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        let mut v = Vec::new();
        put_decimal(&mut v, 0);
        put_decimal(&mut v, u64::MAX);
        assert_eq!(v, b"018446744073709551615");
    }

    #[test]
    fn longest_ipv6() {
        let mut v = Vec::new();
        let ip: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap();
        put_ip(&mut v, ip);
        assert_eq!(v, ip.to_string().as_bytes());
    }
}
