//! Upgrade classification (WebSocket, h2c, CONNECT, other) and 101 validation.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use crate::error::{Error, ErrorKind, Side};
use crate::parse::{RequestFields, Response, list_contains};
use crate::syntax::{TokenList, is_token, split_strict, trim_ows};
use httparse::Header;

/// Whether a request asks to switch protocols, and to what.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade<'b> {
    /// A plain request.
    None,
    /// A valid RFC 6455 opening handshake.
    WebSocket {
        /// The Sec-WebSocket-Key (base64 of 16 bytes, 24 ASCII characters).
        key: &'b str,
        /// The Sec-WebSocket-Version (always 13).
        version: u8,
        /// The offered subprotocols (Sec-WebSocket-Protocol), possibly empty.
        protocols: TokenList<'b>,
    },
    /// An HTTP/2 cleartext upgrade (`Upgrade: h2c`).
    H2c {
        /// The HTTP2-Settings field value, if present.
        settings: Option<&'b [u8]>,
    },
    /// A CONNECT request: after a 2xx the connection is a tunnel to `authority`.
    Connect {
        /// The authority-form target, `host:port`.
        authority: &'b str,
    },
    /// An upgrade to another protocol: the first token of Upgrade (e.g. `TLS/1.2`).
    Other(&'b str),
}

impl Upgrade<'_> {
    /// Whether this is [`Upgrade::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Upgrade::None)
    }

    /// Whether the request expects a `101 Switching Protocols` (WebSocket, h2c, other).
    pub fn expects_switch(&self) -> bool {
        matches!(
            self,
            Upgrade::WebSocket { .. } | Upgrade::H2c { .. } | Upgrade::Other(_)
        )
    }

    /// Whether the connection may turn into a tunnel after this request (any upgrade or CONNECT).
    pub fn is_tunnel_candidate(&self) -> bool {
        !self.is_none()
    }

    /// The Upgrade protocol token asked for (`websocket`, `h2c` or the other token).
    pub fn protocol(&self) -> Option<&str> {
        match self {
            Upgrade::WebSocket { .. } => Some("websocket"),
            Upgrade::H2c { .. } => Some("h2c"),
            Upgrade::Other(p) => Some(p),
            Upgrade::None | Upgrade::Connect { .. } => None,
        }
    }

    /// Checks that `response` is a valid `101 Switching Protocols` for this upgrade: status
    /// 101, Connection lists `upgrade`, Upgrade names the requested protocol and, for
    /// WebSocket, Sec-WebSocket-Accept is the RFC 6455 hash of the key and any chosen
    /// subprotocol was offered. Errors are [`Side::Response`] (answer 502).
    ///
    /// ```
    /// use gangway_h1::{parse_request, parse_response, Status, EMPTY_HEADER};
    /// let req = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    /// let res = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    /// let (mut h1, mut h2) = ([EMPTY_HEADER; 16], [EMPTY_HEADER; 16]);
    /// let Status::Complete(req) = parse_request(req, &mut h1)? else { unreachable!() };
    /// let Status::Complete(res) = parse_response(res, &mut h2, req.method)? else { unreachable!() };
    /// req.upgrade.check_switch(&res)?;
    /// # Ok::<(), gangway_h1::Error>(())
    /// ```
    pub fn check_switch(&self, response: &Response<'_, '_>) -> Result<(), Error> {
        let err = |kind| Error::new(kind, Side::Response, None);
        if response.status != 101 {
            return Err(err(ErrorKind::NotSwitchingProtocols));
        }
        let Some(protocol) = self.protocol() else {
            return Err(err(ErrorKind::UnexpectedSwitch));
        };
        if !response.connection_has("upgrade") {
            return Err(err(ErrorKind::SwitchMissingConnectionUpgrade));
        }
        if !upgrade_names(response.headers, protocol) {
            return Err(err(ErrorKind::SwitchUpgradeMismatch));
        }
        if let Upgrade::WebSocket { key, protocols, .. } = self {
            let mut accepts = response
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"));
            let expected = websocket_accept(key.as_bytes());
            match (accepts.next(), accepts.next()) {
                (Some(h), None) if trim_ows(h.value) == expected => {}
                _ => return Err(err(ErrorKind::SwitchAcceptMismatch)),
            }
            let mut chosen = response
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-protocol"));
            match (chosen.next(), chosen.next()) {
                (None, _) => {}
                (Some(h), None) => {
                    let p = trim_ows(h.value);
                    if !is_token(p) || !protocols.iter().any(|o| o == p) {
                        return Err(err(ErrorKind::SwitchProtocolNotOffered));
                    }
                }
                (Some(_), Some(_)) => return Err(err(ErrorKind::SwitchProtocolNotOffered)),
            }
        }
        Ok(())
    }
}

/// Whether the `Upgrade` fields of a 101's `headers` name `protocol` (ASCII
/// case-insensitively, with or without a `/version`): the protocol check of
/// [`Upgrade::check_switch`], for a caller that no longer holds the request.
///
/// ```
/// use gangway_h1::{Header, upgrade_names};
/// let headers = [Header { name: "Upgrade", value: b"WebSocket" }];
/// assert!(upgrade_names(&headers, "websocket"));
/// assert!(!upgrade_names(&headers, "h2c"));
/// ```
pub fn upgrade_names(headers: &[Header<'_>], protocol: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("upgrade"))
        .flat_map(|h| TokenList::new(h.value))
        .any(|t| {
            let name = crate::syntax::find_byte(t, b'/').map_or(t, |i| &t[..i]);
            t.eq_ignore_ascii_case(protocol.as_bytes())
                || name.eq_ignore_ascii_case(protocol.as_bytes())
        })
}

/// Checks whether `response` is a valid 101 for a request's `upgrade`; see
/// [`Upgrade::check_switch`].
pub fn check_switch(upgrade: &Upgrade<'_>, response: &Response<'_, '_>) -> Result<(), Error> {
    upgrade.check_switch(response)
}

/// The GUID RFC 6455 appends to the key.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 4.2.2):
/// base64(SHA-1(key + GUID)), 28 ASCII bytes.
///
/// ```
/// assert_eq!(
///     &gangway_h1::websocket_accept(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn websocket_accept(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID);
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 base64 characters, so this cannot fail.
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut out)
        .unwrap_or(0);
    debug_assert_eq!(written, 28);
    out
}

/// The 6-bit value of each standard base64 character, 0xff for other bytes.
static BASE64_VALUE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Whether `key` is the canonical base64 encoding of exactly 16 bytes.
#[inline(always)]
pub(crate) fn is_valid_websocket_key(key: &[u8]) -> bool {
    // 16 bytes encode to 22 characters and `==`: a fixed length, so the loop unrolls.
    let Ok(key) = <&[u8; 24]>::try_from(key) else {
        return false;
    };
    // Valid values are below 0x40, the invalid marker has bit 7: one OR over all 22 bytes.
    let mut values = 0u8;
    for &b in &key[..22] {
        values |= BASE64_VALUE[b as usize];
    }
    // The last character carries 4 data bits; the low 4 must be zero in canonical base64.
    values & 0x80 == 0 && BASE64_VALUE[key[21] as usize] & 0x0f == 0 && key[22..] == *b"=="
}

/// RFC 6455 4.1 / 4.2.1 checks for a request whose Upgrade lists `websocket`.
#[inline(always)]
pub(crate) fn classify_websocket<'b>(
    head: &'b [u8],
    method: &str,
    version_minor: u8,
    f: &RequestFields<'b>,
) -> Result<Upgrade<'b>, Error> {
    let err = |kind| Err(Error::req(kind));
    if method != "GET" {
        return err(ErrorKind::WebSocketMethod);
    }
    if version_minor == 0 {
        return err(ErrorKind::WebSocketHttpVersion);
    }
    if !f.connection.upgrade {
        return err(ErrorKind::WebSocketMissingConnectionUpgrade);
    }
    let key = match (f.ws_key, f.ws_key_count) {
        (None, _) => return err(ErrorKind::WebSocketMissingKey),
        (Some(k), 1) if is_valid_websocket_key(k) => k,
        _ => return err(ErrorKind::WebSocketInvalidKey),
    };
    match (f.ws_version, f.ws_version_count) {
        (Some(b"13"), 1) => {}
        (Some(v), 1) if !v.is_empty() && v.iter().all(u8::is_ascii_digit) => {
            return err(ErrorKind::WebSocketUnsupportedVersion);
        }
        _ => return err(ErrorKind::WebSocketMissingVersion),
    }
    let protocols = match (f.ws_protocol, f.ws_protocol_count) {
        (None, _) => TokenList::default(),
        (Some(p), 1) if split_strict(p).all(is_token) => TokenList::new(p),
        _ => return err(ErrorKind::WebSocketInvalidProtocol),
    };
    let Some(key) = ascii_as_str(head, key) else {
        return err(ErrorKind::WebSocketInvalidKey);
    };
    Ok(Upgrade::WebSocket {
        key,
        version: 13,
        protocols,
    })
}

/// `part` (a short subslice of `head`) as a `&str`, if it is UTF-8.
///
/// std's UTF-8 check walks bytes one at a time up to an 8-byte boundary, then takes aligned
/// 16-byte blocks in a few instructions. So this checks the aligned 32-byte window of `head`
/// around `part` when there is one and it is UTF-8 (a head is nearly always ASCII), which
/// is three times cheaper for a 24-byte WebSocket key, and `part` alone otherwise.
#[inline(always)]
pub(crate) fn ascii_as_str<'b>(head: &'b [u8], part: &'b [u8]) -> Option<&'b str> {
    let offset = (part.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    let window_start = offset.wrapping_sub(part.as_ptr() as usize % 8);
    let in_window_start = offset.wrapping_sub(window_start);
    let in_window = in_window_start..in_window_start.wrapping_add(part.len());
    let from_window = head
        .get(window_start..)
        .and_then(<[u8]>::first_chunk::<32>)
        .and_then(|window| std::str::from_utf8(window).ok())
        .and_then(|window| window.get(in_window))
        // Only if that is `part` itself (it always is for a subslice of `head`).
        .filter(|s| s.as_ptr() == part.as_ptr() && s.len() == part.len());
    match from_window {
        Some(s) => Some(s),
        None => std::str::from_utf8(part).ok(),
    }
}

/// Whether any `name` field line lists `token` (exposed for responses and callers' own checks).
pub fn header_list_contains(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    list_contains(headers, name, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_example() {
        assert_eq!(
            &websocket_accept(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn ascii_as_str_is_the_part_or_none() {
        let head = b"GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\xff\xfe";
        for start in 0..head.len() {
            for end in start..=head.len() {
                let part = &head[start..end];
                let expected = std::str::from_utf8(part).ok();
                assert_eq!(ascii_as_str(head, part), expected, "{start}..{end}");
                if let Some(s) = ascii_as_str(head, part) {
                    assert_eq!(s.as_ptr(), part.as_ptr());
                }
            }
        }
        // Not a subslice of `head`: still exactly `part`.
        let other = b"dGhlIHNhbXBsZSBub25jZQ==".to_vec();
        assert_eq!(ascii_as_str(head, &other), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(ascii_as_str(head, &[0xc3]), None);
    }

    #[test]
    fn keys() {
        assert!(is_valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZR=="));
        assert!(!is_valid_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_valid_websocket_key(b"dGhlIHNhbXBsZSBub25j*Q=="));
        assert!(!is_valid_websocket_key(b""));
    }
}
