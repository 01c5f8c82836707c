//! Request and response head parsing on httparse, with strict RFC 9112/9110 validation.

use httparse::{Header, Status};

use crate::error::{Error, ErrorKind, Side};
use crate::framing::{Framing, FramingFields};
use crate::syntax::{
    TokenList, eq_lower, eq_lower_field, find_byte, is_field_vchar, is_host_char, is_tchar,
    is_token, is_uri_scheme, name_is,
};
use crate::upgrade::{Upgrade, classify_websocket};

/// Head parser configuration: size limits. Cheap to copy; one per listener is typical.
///
/// ```
/// let mut parser = gangway_h1::Parser::new();
/// parser.max_head_len(8 * 1024).max_headers(64).max_target_len(4096);
/// let mut headers = [gangway_h1::EMPTY_HEADER; 64];
/// let status = parser.parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)?;
/// assert!(status.is_complete());
/// # Ok::<(), gangway_h1::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parser {
    max_head_len: usize,
    max_headers: usize,
    max_target_len: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            max_head_len: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
        }
    }
}

/// A parsed, validated request head borrowing the input buffer (`'b`) and the caller's
/// header storage (`'h`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct Request<'h, 'b> {
    /// The method token, e.g. `GET`.
    pub method: &'b str,
    /// The request-target as received (origin-form `path?query`, absolute-form,
    /// authority-form for CONNECT or `*`).
    pub target: &'b str,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// The header fields in order, as received (values trimmed of surrounding whitespace).
    pub headers: &'h [Header<'b>],
    /// Length of the head in bytes, including the final empty line: the body starts here.
    pub head_len: usize,
    /// Where the request body ends.
    pub framing: Framing,
    /// Whether (and how) the request asks to switch protocols.
    pub upgrade: Upgrade<'b>,
    /// Whether the client wants the connection kept open after this exchange.
    pub keep_alive: bool,
    /// The Host field value, if present (exactly one is guaranteed for HTTP/1.1).
    pub host: Option<&'b [u8]>,
    /// Whether Connection names fields other than `close`, `keep-alive` and `upgrade`
    /// (those fields are hop-by-hop and dropped by [`Rewrite`](crate::Rewrite)).
    pub connection_options: bool,
}

impl<'h, 'b> Request<'h, 'b> {
    /// The value of the first header field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find_header(self.headers, name)
    }

    /// The request-target's path (without the query), for origin-form targets.
    pub fn path(&self) -> &'b str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => self.target,
        }
    }
}

/// A parsed, validated response head.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct Response<'h, 'b> {
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// The status code (100..=599).
    pub status: u16,
    /// The reason phrase (empty if absent or not ASCII).
    pub reason: &'b str,
    /// The header fields in order, as received.
    pub headers: &'h [Header<'b>],
    /// Length of the head in bytes, including the final empty line.
    pub head_len: usize,
    /// Where the response body ends, given the request method it answers.
    pub framing: Framing,
    /// Whether the server keeps the connection open after this response.
    pub keep_alive: bool,
    /// Whether Connection names fields other than `close`, `keep-alive` and `upgrade`.
    pub connection_options: bool,
}

impl<'h, 'b> Response<'h, 'b> {
    /// The value of the first header field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find_header(self.headers, name)
    }

    /// Whether Connection lists `upgrade` (in any of its field lines).
    pub fn connection_has(&self, token: &str) -> bool {
        list_contains(self.headers, "connection", token)
    }
}

pub(crate) fn find_header<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Whether any field line named `name` holds `token` in its comma-separated list.
pub(crate) fn list_contains(headers: &[Header<'_>], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .any(|h| TokenList::new(h.value).contains(token))
}

/// What the header scan learned about Connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ConnectionFields {
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) upgrade: bool,
    pub(crate) options: bool,
}

impl ConnectionFields {
    /// One Connection field line as httparse accepted it (see [`eq_lower_field`]).
    #[inline]
    fn add(&mut self, value: &[u8]) {
        self.add_with::<true>(value);
    }

    /// One Connection field line; `PARSED` says httparse accepted the value (no control
    /// byte but HTAB), which allows the cheaper single-token compare.
    #[inline(always)]
    fn add_with<const PARSED: bool>(&mut self, value: &[u8]) {
        // Most values are one token (values come trimmed): skip the list walk for them.
        let single = match value.len() {
            5 => eq_lower_field(value, b"close").then(|| self.close = true),
            7 => eq_lower_field(value, b"upgrade").then(|| self.upgrade = true),
            // `-` also folds from CR: exact compare unless httparse vouched for the bytes.
            10 if PARSED => eq_lower_field(value, b"keep-alive").then(|| self.keep_alive = true),
            10 => eq_lower(value, b"keep-alive").then(|| self.keep_alive = true),
            _ => None,
        };
        if single.is_some() {
            return;
        }
        for token in TokenList::new(value) {
            match token.len() {
                5 if eq_lower(token, b"close") => self.close = true,
                10 if eq_lower(token, b"keep-alive") => self.keep_alive = true,
                7 if eq_lower(token, b"upgrade") => self.upgrade = true,
                _ => self.options = true,
            }
        }
    }

    fn keep_alive(&self, version_minor: u8) -> bool {
        !self.close && (version_minor >= 1 || self.keep_alive)
    }
}

/// Keep-alive decision from the version and the Connection field lines (RFC 9112 9.3).
///
/// ```
/// use gangway_h1::{keep_alive, Header};
/// assert!(keep_alive(1, &[]));
/// assert!(!keep_alive(1, &[Header { name: "Connection", value: b"close" }]));
/// assert!(!keep_alive(0, &[]));
/// assert!(keep_alive(0, &[Header { name: "connection", value: b"Keep-Alive" }]));
/// ```
pub fn keep_alive(version_minor: u8, headers: &[Header<'_>]) -> bool {
    let mut conn = ConnectionFields::default();
    for h in headers.iter().filter(|h| name_is(h.name, "connection")) {
        conn.add_with::<false>(h.value);
    }
    conn.keep_alive(version_minor)
}

/// Fields of interest gathered in one pass over the request headers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestFields<'b> {
    pub(crate) host: Option<&'b [u8]>,
    pub(crate) host_count: u16,
    pub(crate) framing: FramingFields,
    pub(crate) connection: ConnectionFields,
    pub(crate) upgrade_lines: u16,
    pub(crate) upgrade_websocket: bool,
    pub(crate) upgrade_h2c: bool,
    pub(crate) upgrade_first: Option<&'b [u8]>,
    pub(crate) ws_key: Option<&'b [u8]>,
    pub(crate) ws_key_count: u16,
    pub(crate) ws_version: Option<&'b [u8]>,
    pub(crate) ws_version_count: u16,
    pub(crate) ws_protocol: Option<&'b [u8]>,
    pub(crate) ws_protocol_count: u16,
    pub(crate) http2_settings: Option<&'b [u8]>,
}

impl<'b> RequestFields<'b> {
    /// Gathers the fields of interest and, in the same pass, whether the line before each
    /// field line (the request line, then each field line but the last) ends in CRLF.
    #[inline(always)]
    fn scan(&mut self, head: &[u8], headers: &[Header<'b>]) -> Result<bool, Error> {
        let f = self;
        let base = head.as_ptr() as usize;
        let mut lines_ok = true;
        for h in headers {
            // httparse starts a field line right after the previous line's LF, and no CR
            // can end a line's content: the line ends in CRLF iff a CR sits before that LF.
            let line_start = (h.name.as_ptr() as usize).wrapping_sub(base);
            debug_assert_eq!(head.get(line_start.wrapping_sub(1)), Some(&b'\n'));
            lines_ok &= head.get(line_start.wrapping_sub(2)) == Some(&b'\r');
            let name = h.name.as_bytes();
            // Dispatch on length, then one word-wise compare: most fields are none of these
            // and cost nothing more.
            match name.len() {
                4 if eq_lower_field(name, b"host") => {
                    f.host_count += 1;
                    f.host.get_or_insert(h.value);
                }
                7 if eq_lower_field(name, b"upgrade") => {
                    f.upgrade_lines += 1;
                    if eq_lower_field(h.value, b"websocket") {
                        // The common case, one token: no list walk.
                        f.upgrade_websocket = true;
                        f.upgrade_first.get_or_insert(h.value);
                        continue;
                    }
                    for proto in TokenList::new(h.value) {
                        let proto_name = match find_byte(proto, b'/') {
                            Some(i) => &proto[..i],
                            None => proto,
                        };
                        if eq_lower(proto_name, b"websocket") {
                            f.upgrade_websocket = true;
                        } else if eq_lower(proto_name, b"h2c") {
                            f.upgrade_h2c = true;
                        }
                        if f.upgrade_first.is_none() && is_protocol(proto) {
                            f.upgrade_first = Some(proto);
                        }
                    }
                }
                10 if eq_lower_field(name, b"connection") => f.connection.add(h.value),
                14 if eq_lower_field(name, b"content-length") => {
                    f.framing.add_content_length(h.value, Side::Request)?;
                }
                14 if eq_lower_field(name, b"http2-settings") => {
                    f.http2_settings.get_or_insert(h.value);
                }
                17 if eq_lower_field(name, b"transfer-encoding") => {
                    f.framing.add_transfer_encoding(h.value, Side::Request)?;
                }
                17 if eq_lower_field(name, b"sec-websocket-key") => {
                    f.ws_key_count += 1;
                    f.ws_key.get_or_insert(h.value);
                }
                21 if eq_lower_field(name, b"sec-websocket-version") => {
                    f.ws_version_count += 1;
                    f.ws_version.get_or_insert(h.value);
                }
                22 if eq_lower_field(name, b"sec-websocket-protocol") => {
                    f.ws_protocol_count += 1;
                    f.ws_protocol.get_or_insert(h.value);
                }
                _ => {}
            }
        }
        Ok(lines_ok)
    }
}

/// `protocol = protocol-name ["/" protocol-version]` (RFC 9110 7.8).
pub(crate) fn is_protocol(p: &[u8]) -> bool {
    match find_byte(p, b'/') {
        Some(i) => is_token(&p[..i]) && is_token(&p[i + 1..]),
        None => is_token(p),
    }
}

impl Parser {
    /// A parser with the default limits: 16 KiB head, 100 header fields, 8 KiB target.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest head accepted, in bytes (default 16 KiB); beyond it: [`ErrorKind::HeadTooLarge`].
    pub fn max_head_len(&mut self, bytes: usize) -> &mut Self {
        self.max_head_len = bytes;
        self
    }

    /// Most header fields accepted (default 100; also capped by the caller's header storage);
    /// beyond it: [`ErrorKind::TooManyHeaders`].
    pub fn max_headers(&mut self, count: usize) -> &mut Self {
        self.max_headers = count;
        self
    }

    /// Longest request-target accepted, in bytes (default 8 KiB); beyond it:
    /// [`ErrorKind::UriTooLong`].
    pub fn max_target_len(&mut self, bytes: usize) -> &mut Self {
        self.max_target_len = bytes;
        self
    }

    /// Parses and validates a request head at the start of `buf`.
    ///
    /// Returns `Ok(Status::Partial)` while more bytes are needed, `Ok(Status::Complete(request))`
    /// once the head is complete and valid, or the first rule it breaks. Does not allocate.
    ///
    /// ```
    /// use gangway_h1::{Framing, Parser, Status, Upgrade, EMPTY_HEADER};
    /// let mut headers = [EMPTY_HEADER; 32];
    /// let buf = b"POST /api HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\n{}";
    /// let Status::Complete(req) = Parser::new().parse_request(buf, &mut headers)? else {
    ///     unreachable!()
    /// };
    /// assert_eq!((req.method, req.target, req.head_len), ("POST", "/api", buf.len() - 2));
    /// assert_eq!(req.framing, Framing::Length(2));
    /// assert_eq!(req.upgrade, Upgrade::None);
    /// # Ok::<(), gangway_h1::Error>(())
    /// ```
    pub fn parse_request<'h, 'b>(
        &self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Request<'h, 'b>>, Error> {
        let window = &buf[..buf.len().min(self.max_head_len)];
        let cap = headers.len().min(self.max_headers);
        let mut req = httparse::Request::new(&mut headers[..cap]);
        let head_len = match req.parse(window) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) => return self.partial(window, buf.len(), Side::Request),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::req(ErrorKind::TooManyHeaders));
            }
            Err(_) => return Err(diagnose(window, Side::Request)),
        };
        let (Some(method), Some(target), Some(version_minor)) = (req.method, req.path, req.version)
        else {
            return Err(Error::req(ErrorKind::Malformed));
        };
        let headers: &'h [Header<'b>] = req.headers;
        let head = &window[..head_len];
        // One pass over the fields; its errors are reported after the line-ending and
        // target checks, which come first in byte order.
        let mut fields = RequestFields::default();
        let scanned = fields.scan(head, headers);
        let field_lines_ok = scanned.unwrap_or(false);
        // The last line before the final empty line: the last field line or the request line.
        let last_line_end = head.len().checked_sub(4);
        check_line_endings_with(head, last_line_end, field_lines_ok, Side::Request)?;
        if target.len() > self.max_target_len {
            return Err(Error::req(ErrorKind::UriTooLong));
        }
        check_target(method, target)?;
        scanned?;
        match fields.host_count {
            0 if version_minor >= 1 => return Err(Error::req(ErrorKind::MissingHost)),
            0 | 1 => {}
            _ => return Err(Error::req(ErrorKind::DuplicateHost)),
        }
        if fields.host.is_some_and(|host| !is_valid_host(host)) {
            return Err(Error::req(ErrorKind::InvalidHost));
        }
        // A gateway routes on Host while the server may serve the target's authority: the
        // two must name the same host.
        check_target_host(method, target.as_bytes(), fields.host).map_err(Error::req)?;
        let framing = fields.framing.request_framing(version_minor)?;
        let upgrade = classify(head, method, target, version_minor, &fields)?;
        Ok(Status::Complete(Request {
            method,
            target,
            version_minor,
            headers,
            head_len,
            framing,
            upgrade,
            keep_alive: fields.connection.keep_alive(version_minor),
            host: fields.host,
            connection_options: fields.connection.options,
        }))
    }

    /// Parses and validates a response head at the start of `buf`, answering a request
    /// whose method was `request_method` (it decides the [`Framing`]).
    ///
    /// ```
    /// use gangway_h1::{Framing, Parser, Status, EMPTY_HEADER};
    /// let mut headers = [EMPTY_HEADER; 16];
    /// let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    /// let Status::Complete(res) = Parser::new().parse_response(buf, &mut headers, "GET")? else {
    ///     unreachable!()
    /// };
    /// assert_eq!((res.status, res.framing), (200, Framing::Chunked));
    /// # Ok::<(), gangway_h1::Error>(())
    /// ```
    pub fn parse_response<'h, 'b>(
        &self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        request_method: &str,
    ) -> Result<Status<Response<'h, 'b>>, Error> {
        let side = Side::Response;
        let window = &buf[..buf.len().min(self.max_head_len)];
        let cap = headers.len().min(self.max_headers);
        let mut res = httparse::Response::new(&mut headers[..cap]);
        let head_len = match res.parse(window) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) => return self.partial(window, buf.len(), side),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::new(ErrorKind::TooManyHeaders, side, None));
            }
            Err(_) => return Err(diagnose(window, side)),
        };
        let (Some(version_minor), Some(status)) = (res.version, res.code) else {
            return Err(Error::new(ErrorKind::Malformed, side, None));
        };
        let reason = res.reason.unwrap_or("");
        let headers: &'h [Header<'b>] = res.headers;
        let head = &window[..head_len];
        check_line_endings(head, status_line_end(head, reason), headers, side)?;
        if !(100..=599).contains(&status) {
            return Err(Error::new(ErrorKind::InvalidStatusLine, side, None));
        }
        let mut framing_fields = FramingFields::default();
        let mut connection = ConnectionFields::default();
        for h in headers {
            match h.name.len() {
                10 if name_is(h.name, "connection") => connection.add(h.value),
                14 if name_is(h.name, "content-length") => {
                    framing_fields.add_content_length(h.value, side)?;
                }
                17 if name_is(h.name, "transfer-encoding") => {
                    framing_fields.add_transfer_encoding(h.value, side)?;
                }
                _ => {}
            }
        }
        let framing = framing_fields.response_framing(version_minor, request_method, status)?;
        Ok(Status::Complete(Response {
            version_minor,
            status,
            reason,
            headers,
            head_len,
            framing,
            keep_alive: connection.keep_alive(version_minor) && framing != Framing::CloseDelimited,
            connection_options: connection.options,
        }))
    }

    /// What an incomplete head means: wait for more, or a limit is already exceeded.
    fn partial<T>(&self, window: &[u8], total: usize, side: Side) -> Result<Status<T>, Error> {
        if total >= self.max_head_len {
            return Err(Error::new(ErrorKind::HeadTooLarge, side, None));
        }
        // A request line this long without its end cannot hold a target within the limit.
        let line_limit = self.max_target_len.saturating_add(64);
        if side == Side::Request
            && window.len() > line_limit
            && memchr::memchr(b'\n', &window[..line_limit]).is_none()
        {
            return Err(Error::req(ErrorKind::UriTooLong));
        }
        Ok(Status::Partial)
    }
}

/// Parses a request with [`Parser::default`] limits.
///
/// ```
/// use gangway_h1::{parse_request, Status, Upgrade, EMPTY_HEADER};
/// let mut headers = [EMPTY_HEADER; 16];
/// let buf = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let Status::Complete(req) = parse_request(buf, &mut headers)? else { unreachable!() };
/// assert!(matches!(req.upgrade, Upgrade::WebSocket { .. }));
/// # Ok::<(), gangway_h1::Error>(())
/// ```
pub fn parse_request<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Result<Status<Request<'h, 'b>>, Error> {
    Parser::default().parse_request(buf, headers)
}

/// Parses a response to a `request_method` request with [`Parser::default`] limits.
pub fn parse_response<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    request_method: &str,
) -> Result<Status<Response<'h, 'b>>, Error> {
    Parser::default().parse_response(buf, headers, request_method)
}

/// Every LF in the head must follow a CR: httparse accepts bare LF, we do not.
///
/// After a successful httparse run an LF can only end a line, so it is enough to look at
/// each line's end: after the version, after each field value (past trailing whitespace)
/// and the final empty line. Anything unexpected falls back to scanning the whole head.
fn check_line_endings(
    head: &[u8],
    start_line_end: Option<usize>,
    headers: &[Header<'_>],
    side: Side,
) -> Result<(), Error> {
    let field_lines_ok = headers.iter().all(|h| field_line_ends_in_crlf(head, h));
    check_line_endings_with(head, start_line_end, field_lines_ok, side)
}

/// Whether the field line holding `h` (a value borrowed from `head`) ends in CRLF.
#[inline(always)]
fn field_line_ends_in_crlf(head: &[u8], h: &Header<'_>) -> bool {
    let value_end =
        (h.value.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize) + h.value.len();
    head.get(value_end..value_end + 2) == Some(b"\r\n") || {
        // Values are trimmed, so whitespace may sit between the value and its CRLF.
        let mut at = value_end;
        while matches!(head.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        head.get(at..at + 2) == Some(b"\r\n")
    }
}

/// [`check_line_endings`] once most line ends have been looked at (`lines_ok`): checks
/// the one at `line_end`, the final empty line and leading empty lines, or else scans the
/// whole head for the bare LF.
#[inline]
fn check_line_endings_with(
    head: &[u8],
    line_end: Option<usize>,
    lines_ok: bool,
    side: Side,
) -> Result<(), Error> {
    let line_end_ok = line_end.and_then(|at| head.get(at..at + 2)) == Some(b"\r\n");
    if line_end_ok && lines_ok && head.ends_with(b"\r\n") {
        // Leading empty lines (skipped by httparse) must be CRLF too.
        let first = head
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        if head[..first].chunks(2).all(|pair| pair == b"\r\n") {
            return Ok(());
        }
    }
    for i in memchr::memchr_iter(b'\n', head) {
        if i == 0 || head[i - 1] != b'\r' {
            return Err(Error::at(ErrorKind::BareLf, side, i));
        }
    }
    Ok(())
}

/// Offset just past the reason phrase (or the status code when there is none).
fn status_line_end(head: &[u8], reason: &str) -> Option<usize> {
    if reason.is_empty() {
        // "HTTP/1.x 200" with an empty reason: the line ends after the code, or after "200 ".
        let first = head.iter().position(|&b| b != b'\r' && b != b'\n')?;
        let mut at = first + 12;
        if head.get(at) == Some(&b' ') {
            at += 1;
        }
        return Some(at);
    }
    let offset = (reason.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
    Some(offset + reason.len())
}

/// Target bytes httparse lets through but a URI may not hold, and form vs method.
fn check_target(method: &str, target: &str) -> Result<(), Error> {
    if has_non_ascii_or_hash(target.as_bytes()) {
        return Err(Error::req(ErrorKind::InvalidTarget));
    }
    let t = target.as_bytes();
    let form_ok = if method == "CONNECT" {
        is_authority_form(t)
    } else if t == b"*" {
        method == "OPTIONS"
    } else {
        t.first() == Some(&b'/') || is_absolute_form(t)
    };
    if form_ok {
        Ok(())
    } else {
        Err(Error::req(ErrorKind::TargetFormMismatch))
    }
}

/// Whether any byte is `>= 0x80` or `#`, eight bytes at a time.
#[inline]
fn has_non_ascii_or_hash(t: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const HASH: u64 = 0x2323_2323_2323_2323;
    // High bit of a byte set: non-ASCII; `(x - 1..) & !x & 0x80..` is exact for "a zero byte".
    let bad = |w: u64| {
        let x = w ^ HASH;
        (w | (x.wrapping_sub(ONES) & !x)) & HIGH
    };
    let Some(last) = t.last_chunk::<8>() else {
        return t.iter().any(|&b| b >= 0x80 || b == b'#');
    };
    let (words, _) = t.as_chunks::<8>();
    // The last (possibly overlapping) word covers the tail the whole words leave.
    let acc = words.iter().fold(bad(u64::from_le_bytes(*last)), |acc, w| {
        acc | bad(u64::from_le_bytes(*w))
    });
    acc != 0
}

/// `scheme ":" hier-part` with a scheme of ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_absolute_form(t: &[u8]) -> bool {
    let Some(colon) = find_byte(t, b':') else {
        return false;
    };
    is_uri_scheme(&t[..colon]) && t[colon + 1..].starts_with(b"//")
}

/// Checks an absolute-form or CONNECT target's authority against `host` (a valid Host
/// value, `None` when absent): they must name the same host (RFC 9112 3.2), or ACLs on Host
/// would pass a request that the server serves for the target's host.
///
/// Letter case does not count, nor a default port (80 for `http`/`ws`, 443 for
/// `https`/`wss`, either for CONNECT) or an empty one on one side only, as in HAProxy 2.6.
/// The authority itself must be a valid host (userinfo aside), non-empty for the `http`
/// and `ws` families (RFC 9110 4.2.1), and present in Host: an absolute-form or CONNECT
/// request without Host (HTTP/1.0) would route as hostless while naming a host.
fn check_target_host(method: &str, target: &[u8], host: Option<&[u8]>) -> Result<(), ErrorKind> {
    if target.first() == Some(&b'/') || target == b"*" {
        return Ok(());
    }
    let (default_ports, authority): (&[&[u8]], &[u8]) = if method == "CONNECT" {
        (&[b"80", b"443"], target)
    } else {
        let Some(colon) = find_byte(target, b':') else {
            return Ok(());
        };
        let scheme = &target[..colon];
        // `scheme "://" authority [ path-abempty ] [ "?" query ]`: checked by `check_target`.
        let rest = target.get(colon + 3..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| matches!(b, b'/' | b'?'))
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        // A backslash, even in the userinfo: URL parsers that read it as `/` (WHATWG's)
        // would find another host in `http://a\@b/` than the one checked here.
        if find_byte(authority, b'\\').is_some() {
            return Err(ErrorKind::InvalidTarget);
        }
        let authority = match authority.iter().rposition(|&b| b == b'@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        let http = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"ws");
        let https = scheme.eq_ignore_ascii_case(b"https") || scheme.eq_ignore_ascii_case(b"wss");
        if !is_valid_host(authority) || (authority.is_empty() && (http || https)) {
            return Err(ErrorKind::InvalidTarget);
        }
        let default_ports: &[&[u8]] = if http {
            &[b"80"]
        } else if https {
            &[b"443"]
        } else {
            &[]
        };
        (default_ports, authority)
    };
    if authority.is_empty() {
        return Ok(());
    }
    let Some(host) = host else {
        return Err(ErrorKind::MissingHost);
    };
    let (a_name, a_port) = split_host_port(authority);
    let (h_name, h_port) = split_host_port(host);
    let same_port = match (a_port, h_port) {
        (Some(a), Some(h)) => a == h,
        (Some(p), None) | (None, Some(p)) => default_ports.contains(&p),
        (None, None) => true,
    };
    if same_port && a_name.eq_ignore_ascii_case(h_name) {
        Ok(())
    } else {
        Err(ErrorKind::HostMismatch)
    }
}

/// A valid `uri-host [ ":" port ]` split into the host and its port (`None` when absent or
/// empty).
fn split_host_port(v: &[u8]) -> (&[u8], Option<&[u8]>) {
    let name_end = if v.first() == Some(&b'[') {
        find_byte(v, b']').map_or(v.len(), |i| i + 1)
    } else {
        find_byte(v, b':').unwrap_or(v.len())
    };
    let (name, rest) = v.split_at(name_end);
    let port = rest.strip_prefix(b":").filter(|p| !p.is_empty());
    (name, port)
}

/// `uri-host ":" port` with a non-empty port (RFC 9112 3.2.3).
fn is_authority_form(t: &[u8]) -> bool {
    match t.iter().rposition(|&b| b == b':') {
        Some(i) if i + 1 < t.len() && !t.is_empty() && t[0] != b':' => is_valid_host(t),
        _ => false,
    }
}

/// `uri-host [ ":" port ]` (RFC 9110 7.2); empty is allowed (no authority).
#[inline(always)]
pub(crate) fn is_valid_host(v: &[u8]) -> bool {
    // The common case, a plain reg-name (or empty): one branch-free table pass, unrolled
    // eight bytes at a time.
    let (words, tail) = v.as_chunks::<8>();
    let plain = words.iter().fold(true, |ok, w| {
        w.iter().fold(ok, |ok, &b| ok & is_host_char(b))
    });
    tail.iter().fold(plain, |ok, &b| ok & is_host_char(b)) || is_valid_host_slow(v)
}

/// [`is_valid_host`] for IP literals, ports and bad bytes.
#[inline(never)]
fn is_valid_host_slow(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    if v[0] == b'[' {
        let Some(close) = find_byte(v, b']') else {
            return false;
        };
        let inner = &v[1..close];
        let literal_ok = !inner.is_empty()
            && inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
        return literal_ok && is_port_suffix(&v[close + 1..]);
    }
    // One pass over reg-name bytes, remembering the single `:` that may start the port.
    let mut colon = None;
    for (i, &b) in v.iter().enumerate() {
        if is_host_char(b) {
            continue;
        }
        if b != b':' || colon.is_some() {
            return false;
        }
        colon = Some(i);
    }
    colon.is_none_or(|i| is_port_suffix(&v[i..]))
}

/// Empty, or `:` followed by `*DIGIT`.
fn is_port_suffix(rest: &[u8]) -> bool {
    match rest {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

#[inline(always)]
fn classify<'b>(
    head: &'b [u8],
    method: &'b str,
    target: &'b str,
    version_minor: u8,
    f: &RequestFields<'b>,
) -> Result<Upgrade<'b>, Error> {
    if method == "CONNECT" {
        return Ok(Upgrade::Connect { authority: target });
    }
    if f.upgrade_lines == 0 {
        return Ok(Upgrade::None);
    }
    if f.upgrade_websocket {
        return classify_websocket(head, method, version_minor, f);
    }
    // RFC 9110 7.8: Upgrade is ignored in HTTP/1.0 and when Connection does not list it.
    if version_minor == 0 || !f.connection.upgrade {
        return Ok(Upgrade::None);
    }
    if f.upgrade_h2c {
        return Ok(Upgrade::H2c {
            settings: f.http2_settings,
        });
    }
    // Converted only here: the token bytes were checked to be ASCII `tchar`s.
    Ok(match f.upgrade_first.map(std::str::from_utf8) {
        Some(Ok(token)) => Upgrade::Other(token),
        _ => Upgrade::None,
    })
}

/// Finds the first rule a rejected head breaks, scanning in byte order. Runs only on the
/// error path, so it may be slower than httparse.
fn diagnose(buf: &[u8], side: Side) -> Error {
    let err = |kind, at| Error::at(kind, side, at);
    let mut pos = 0;
    // Leading empty lines are skipped like httparse does (RFC 9112 2.2).
    loop {
        match buf.get(pos..pos + 2) {
            Some(b"\r\n") => pos += 2,
            _ => match buf.get(pos) {
                Some(b'\n') => return err(ErrorKind::BareLf, pos),
                Some(b'\r') if pos + 1 < buf.len() => return err(ErrorKind::BareCr, pos),
                _ => break,
            },
        }
    }
    let mut first_field = true;
    let mut start_line = true;
    while pos < buf.len() {
        let (line, complete) = match memchr::memchr(b'\n', &buf[pos..]) {
            Some(n) => (&buf[pos..pos + n], true),
            None => (&buf[pos..], false),
        };
        let line_start = pos;
        pos += line.len() + 1;
        // Split off the CR of the CRLF; any other CR is bare.
        let body = match line {
            [rest @ .., b'\r'] if complete => rest,
            [rest @ .., b'\r'] => rest,
            _ if complete => return err(ErrorKind::BareLf, line_start + line.len()),
            _ => line,
        };
        if let Some(i) = memchr::memchr(0, body) {
            return err(ErrorKind::NulByte, line_start + i);
        }
        if let Some(i) = memchr::memchr(b'\r', body) {
            return err(ErrorKind::BareCr, line_start + i);
        }
        if start_line {
            start_line = false;
            let found = match side {
                Side::Request => diagnose_request_line(body, complete),
                Side::Response => diagnose_status_line(body, complete),
            };
            if let Some(kind) = found {
                return err(kind, line_start);
            }
            continue;
        }
        if body.is_empty() {
            break;
        }
        if let Some(kind) = diagnose_field_line(body, first_field, complete) {
            return err(kind, line_start);
        }
        first_field = false;
    }
    Error::new(ErrorKind::Malformed, side, None)
}

fn diagnose_request_line(line: &[u8], complete: bool) -> Option<ErrorKind> {
    let Some(sp1) = memchr::memchr(b' ', line) else {
        if !line.iter().all(|&b| is_tchar(b)) {
            return Some(ErrorKind::InvalidMethod);
        }
        return complete.then_some(ErrorKind::InvalidRequestLine);
    };
    let method = &line[..sp1];
    if method.is_empty() {
        return Some(ErrorKind::InvalidRequestLine);
    }
    if !is_token(method) {
        return Some(ErrorKind::InvalidMethod);
    }
    let rest = &line[sp1 + 1..];
    let (target, version) = match memchr::memchr(b' ', rest) {
        Some(sp2) => (&rest[..sp2], Some(&rest[sp2 + 1..])),
        None => (rest, None),
    };
    if target.is_empty() && (version.is_some() || complete) {
        return Some(ErrorKind::InvalidRequestLine);
    }
    if target.iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Some(ErrorKind::InvalidTarget);
    }
    if std::str::from_utf8(target).is_err() {
        return Some(ErrorKind::InvalidTarget);
    }
    match version {
        None if complete => Some(ErrorKind::InvalidRequestLine),
        None => None,
        Some(v) if memchr::memchr2(b' ', b'\t', v).is_some() => Some(ErrorKind::InvalidRequestLine),
        Some(v) => diagnose_version(v, complete),
    }
}

fn diagnose_status_line(line: &[u8], complete: bool) -> Option<ErrorKind> {
    let (version, rest) = match memchr::memchr(b' ', line) {
        Some(sp) => (&line[..sp], Some(&line[sp + 1..])),
        None => (line, None),
    };
    if let Some(kind) = diagnose_version(version, complete || rest.is_some()) {
        return Some(kind);
    }
    let Some(rest) = rest else {
        return complete.then_some(ErrorKind::InvalidStatusLine);
    };
    let code_len = rest.len().min(3);
    if !rest[..code_len].iter().all(u8::is_ascii_digit) || (complete && code_len < 3) {
        return Some(ErrorKind::InvalidStatusLine);
    }
    match rest.get(3) {
        None | Some(b' ') => {}
        Some(_) => return Some(ErrorKind::InvalidStatusLine),
    }
    let reason = rest.get(4..).unwrap_or_default();
    if !reason.iter().all(|&b| is_field_vchar(b)) {
        return Some(ErrorKind::InvalidStatusLine);
    }
    None
}

/// `HTTP/DIGIT.DIGIT`; only 1.0 and 1.1 are supported. `complete` says `v` is all of it.
///
/// Decided byte by byte from the left, so a prefix and every longer input get the same answer
/// (httparse stops at the first bad byte, wherever a read happened to end): `HTTP/0` is
/// unsupported however it goes on, `HTTP/1.x` with a non-digit `x` is malformed.
fn diagnose_version(v: &[u8], complete: bool) -> Option<ErrorKind> {
    const PREFIX: &[u8] = b"HTTP/";
    for (i, &b) in v.iter().enumerate() {
        let verdict = match i {
            0..=4 => (b != PREFIX[i]).then_some(ErrorKind::InvalidVersion),
            5 | 7 if !b.is_ascii_digit() => Some(ErrorKind::InvalidVersion),
            5 => (b != b'1').then_some(ErrorKind::UnsupportedVersion),
            6 => (b != b'.').then_some(ErrorKind::InvalidVersion),
            7 => (b != b'0' && b != b'1').then_some(ErrorKind::UnsupportedVersion),
            _ => Some(ErrorKind::InvalidVersion),
        };
        if verdict.is_some() {
            return verdict;
        }
    }
    (complete && v.len() != 8).then_some(ErrorKind::InvalidVersion)
}

fn diagnose_field_line(line: &[u8], first_field: bool, complete: bool) -> Option<ErrorKind> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Some(if first_field {
            ErrorKind::WhitespaceAfterStartLine
        } else {
            ErrorKind::ObsFold
        });
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Some(ErrorKind::ControlCharInHeaderName);
        }
        let name_so_far_ok = line.iter().all(|&b| is_tchar(b));
        return (complete || !name_so_far_ok).then_some(ErrorKind::MissingColon);
    };
    let name = &line[..colon];
    if name.is_empty() {
        return Some(ErrorKind::EmptyHeaderName);
    }
    if matches!(name.last(), Some(b' ' | b'\t'))
        && name.iter().all(|&b| is_tchar(b) || b == b' ' || b == b'\t')
    {
        return Some(ErrorKind::WhitespaceBeforeColon);
    }
    if let Some(&b) = name.iter().find(|&&b| !is_tchar(b)) {
        return Some(name_byte_kind(b));
    }
    if !line[colon + 1..].iter().all(|&b| is_field_vchar(b)) {
        return Some(ErrorKind::ControlCharInHeaderValue);
    }
    None
}

fn name_byte_kind(b: u8) -> ErrorKind {
    if b < 0x20 || b == 0x7f {
        ErrorKind::ControlCharInHeaderName
    } else {
        ErrorKind::InvalidHeaderName
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            &b"example.com"[..],
            b"example.com:8080",
            b"[::1]:443",
            b"127.0.0.1",
            b"",
        ] {
            assert!(is_valid_host(ok), "{ok:?}");
        }
        for bad in [
            &b"a b"[..],
            b"a,b",
            b"user@host",
            b"host:8o",
            b"[::1",
            b"[]",
            b"a/b",
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(diagnose_version(b"HTTP/1.1", true), None);
        assert_eq!(
            diagnose_version(b"HTTP/2.0", true),
            Some(ErrorKind::UnsupportedVersion)
        );
        assert_eq!(
            diagnose_version(b"HTTP/2", false),
            Some(ErrorKind::UnsupportedVersion)
        );
        // The verdict on a prefix holds for the whole: `HTTP/0` is unsupported however it ends.
        assert_eq!(
            diagnose_version(b"HTTP/0.ot1sH", true),
            Some(ErrorKind::UnsupportedVersion)
        );
        assert_eq!(
            diagnose_version(b"HTTP/1.x", true),
            Some(ErrorKind::InvalidVersion)
        );
        assert_eq!(
            diagnose_version(b"HTTP/1.10", true),
            Some(ErrorKind::InvalidVersion)
        );
        assert_eq!(
            diagnose_version(b"HTTP/1.", true),
            Some(ErrorKind::InvalidVersion)
        );
        assert_eq!(diagnose_version(b"HTTP/1.", false), None);
    }
}
