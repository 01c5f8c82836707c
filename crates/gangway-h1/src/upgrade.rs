//! Upgrade classification (WebSocket, h2c, CONNECT, other) and 101 validation.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use crate::error::{Error, ErrorKind, Side};
use crate::parse::{Request, RequestFields, Response, find_header, is_protocol, list_contains};
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
        let (accept, protocols) = match self {
            Upgrade::WebSocket { key, protocols, .. } => {
                (Some(Accept::Key(key.as_bytes())), *protocols)
            }
            _ => (None, TokenList::default()),
        };
        SwitchRules {
            protocol: self.protocol().map(|p| Some(p.as_bytes())),
            accept,
            offers: |chosen: &[u8]| protocols.iter().any(|o| o == chosen),
        }
        .check(response)
    }
}

/// Longest subprotocol list (names joined by `,`) or other Upgrade token a
/// [`SwitchExpectation`] keeps in full.
const KEPT_NAMES: usize = 64;

/// What a `101 Switching Protocols` must show to answer an upgrade request, owned: it borrows
/// nothing from the request head and does not allocate, so it can be kept after the head's
/// buffer moved on, until the response arrives. [`check`](Self::check) applies the same rules
/// as [`Upgrade::check_switch`].
///
/// Subprotocol names (and an other Upgrade token) are kept up to 64 bytes in all. Past that
/// the names that did not fit are not known: a chosen subprotocol must then still be a token
/// but is not checked against them, and an other protocol whose token did not fit only needs
/// an Upgrade field in the 101.
///
/// ```
/// use gangway_h1::{parse_request, parse_response, ErrorKind, Status, SwitchExpectation, EMPTY_HEADER};
/// let req = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///             Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
/// let expect = {
///     let mut headers = [EMPTY_HEADER; 16];
///     let Status::Complete(req) = parse_request(req, &mut headers)? else { unreachable!() };
///     SwitchExpectation::of(&req.upgrade)
/// }; // the request head is gone here
/// let res = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
/// let mut headers = [EMPTY_HEADER; 16];
/// let Status::Complete(res) = parse_response(res, &mut headers, "GET")? else { unreachable!() };
/// expect.check(&res)?;
/// // Nothing was asked for: a 101 is refused.
/// let none = SwitchExpectation::default();
/// assert_eq!(none.check(&res).unwrap_err().kind(), ErrorKind::UnexpectedSwitch);
/// # Ok::<(), gangway_h1::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchExpectation {
    asked: Asked,
    /// WebSocket: the Sec-WebSocket-Accept the key asks for.
    accept: [u8; 28],
    /// WebSocket: the offered subprotocols joined by `,`; other: the Upgrade token.
    names: [u8; KEPT_NAMES],
    names_len: u8,
    /// Some names did not fit in `names`.
    names_cut: bool,
}

/// The kind of switch a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    /// No switch (a plain request or CONNECT): any 101 is unexpected.
    Nothing,
    WebSocket,
    H2c,
    Other,
}

impl Default for SwitchExpectation {
    /// The expectation of a request that asked for no switch: any 101 is refused.
    fn default() -> Self {
        SwitchExpectation {
            asked: Asked::Nothing,
            accept: [0; 28],
            names: [0; KEPT_NAMES],
            names_len: 0,
            names_cut: false,
        }
    }
}

impl SwitchExpectation {
    /// What a 101 must show to answer a request classified as `upgrade`.
    pub fn of(upgrade: &Upgrade<'_>) -> SwitchExpectation {
        let mut expect = SwitchExpectation::default();
        match upgrade {
            Upgrade::WebSocket { key, protocols, .. } => {
                expect.asked = Asked::WebSocket;
                expect.accept = websocket_accept(key.as_bytes());
                for name in protocols.iter() {
                    if !expect.keep(name) {
                        break;
                    }
                }
            }
            Upgrade::H2c { .. } => expect.asked = Asked::H2c,
            Upgrade::Other(token) => {
                expect.asked = Asked::Other;
                expect.keep(token.as_bytes());
            }
            Upgrade::None | Upgrade::Connect { .. } => {}
        }
        expect
    }

    /// [`of`](Self::of) for a parsed request, which also knows every protocol its `Upgrade`
    /// listed: a request for other protocols than WebSocket and h2c (`Upgrade: foo, bar`)
    /// accepts a 101 that names any of them (RFC 9110, 7.8), where `of` knows only the first.
    pub fn of_request(request: &Request<'_, '_>) -> SwitchExpectation {
        let mut expect = SwitchExpectation::of(&request.upgrade);
        if expect.asked == Asked::Other {
            (expect.names_len, expect.names_cut) = (0, false);
            let listed = request
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("upgrade"))
                .flat_map(|h| TokenList::new(h.value))
                .filter(|p| is_protocol(p));
            for protocol in listed {
                if !expect.keep(protocol) {
                    break;
                }
            }
        }
        expect
    }

    /// Whether a 101 may answer the request at all (WebSocket, h2c or another protocol).
    pub fn expects_switch(&self) -> bool {
        self.asked != Asked::Nothing
    }

    /// Checks that `response` is a valid `101 Switching Protocols` for the request this was
    /// made from; the rules and errors of [`Upgrade::check_switch`].
    pub fn check(&self, response: &Response<'_, '_>) -> Result<(), Error> {
        let names = &self.names[..usize::from(self.names_len)];
        let protocol = match self.asked {
            Asked::Nothing => None,
            Asked::WebSocket => Some(Some(&b"websocket"[..])),
            Asked::H2c => Some(Some(&b"h2c"[..])),
            Asked::Other => Some((!self.names_cut).then_some(names)),
        };
        SwitchRules {
            protocol,
            accept: (self.asked == Asked::WebSocket).then_some(Accept::Value(&self.accept)),
            offers: |chosen: &[u8]| {
                self.names_cut || names.split(|&b| b == b',').any(|o| o == chosen)
            },
        }
        .check(response)
    }

    /// Appends `name` to the kept names; false (and marked cut) if it does not fit.
    fn keep(&mut self, name: &[u8]) -> bool {
        let at = usize::from(self.names_len);
        let sep = usize::from(at > 0);
        match self.names.get_mut(at..at + sep + name.len()) {
            Some(slot) => {
                if sep == 1 {
                    slot[0] = b',';
                }
                slot[sep..].copy_from_slice(name);
                // At most KEPT_NAMES (64) bytes are kept, so the length fits in a u8.
                self.names_len = (at + sep + name.len()) as u8;
                true
            }
            None => {
                self.names_cut = true;
                false
            }
        }
    }
}

/// The 101 rules, shared by [`Upgrade::check_switch`] and [`SwitchExpectation::check`].
struct SwitchRules<'a, F> {
    /// `None`: the request asked for no switch. `Some(None)`: a switch to a protocol whose
    /// name is not known (the 101 needs an Upgrade field). `Some(Some(p))`: Upgrade must name `p`.
    protocol: Option<Option<&'a [u8]>>,
    /// WebSocket: the Sec-WebSocket-Accept value, or the key it is computed from.
    accept: Option<Accept<'a>>,
    /// WebSocket: whether the request offered the subprotocol (a token) the 101 chose.
    offers: F,
}

/// The Sec-WebSocket-Accept a 101 must carry: computed from the key only when it is checked.
#[derive(Clone, Copy)]
enum Accept<'a> {
    Key(&'a [u8]),
    Value(&'a [u8; 28]),
}

impl<F: Fn(&[u8]) -> bool> SwitchRules<'_, F> {
    fn check(&self, response: &Response<'_, '_>) -> Result<(), Error> {
        let err = |kind| Error::new(kind, Side::Response, None);
        if response.status != 101 {
            return Err(err(ErrorKind::NotSwitchingProtocols));
        }
        let Some(protocol) = self.protocol else {
            return Err(err(ErrorKind::UnexpectedSwitch));
        };
        if !response.connection_has("upgrade") {
            return Err(err(ErrorKind::SwitchMissingConnectionUpgrade));
        }
        let named = match protocol {
            // One name, or (another protocol's request) the list of those it offered.
            Some(p) => p
                .split(|&b| b == b',')
                .any(|one| names_protocol(response.headers, one)),
            None => find_header(response.headers, "upgrade").is_some(),
        };
        if !named {
            return Err(err(ErrorKind::SwitchUpgradeMismatch));
        }
        if let Some(accept) = self.accept {
            let expected = match accept {
                Accept::Key(key) => websocket_accept(key),
                Accept::Value(value) => *value,
            };
            let mut accepts = response
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"));
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
                    if !is_token(p) || !(self.offers)(p) {
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
    names_protocol(headers, protocol.as_bytes())
}

/// [`upgrade_names`] for a protocol name in bytes.
fn names_protocol(headers: &[Header<'_>], protocol: &[u8]) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("upgrade"))
        .flat_map(|h| TokenList::new(h.value))
        .any(|t| {
            let name = crate::syntax::find_byte(t, b'/').map_or(t, |i| &t[..i]);
            t.eq_ignore_ascii_case(protocol) || name.eq_ignore_ascii_case(protocol)
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
