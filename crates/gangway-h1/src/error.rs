//! The crate's error type: what was wrong, where, and which status a gateway should answer.

use std::fmt;

/// What was wrong with a message head or body framing.
///
/// Every validation rule has its own kind, so a gateway can log precisely and tests can
/// check that each malformed input is rejected for the right reason.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    // ---- limits ----
    /// The head is larger than [`Parser::max_head_len`](crate::Parser::max_head_len) (431).
    HeadTooLarge,
    /// More header lines than the limit or the caller's header storage (431).
    TooManyHeaders,
    /// The request-target (or the request line holding it) is longer than
    /// [`Parser::max_target_len`](crate::Parser::max_target_len) (414).
    UriTooLong,

    // ---- start line ----
    /// The request line is not `method SP request-target SP HTTP-version` with single spaces.
    InvalidRequestLine,
    /// The method is empty or holds a byte that is not a `tchar`.
    InvalidMethod,
    /// The request-target holds a byte that may not appear in a URI (control, space, non-ASCII, `#`).
    InvalidTarget,
    /// The request-target's form does not fit the method: authority-form without CONNECT,
    /// CONNECT without authority-form, `*` without OPTIONS, or a form that is none of the four.
    TargetFormMismatch,
    /// The version is not of the form `HTTP/DIGIT.DIGIT`.
    InvalidVersion,
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (505).
    UnsupportedVersion,
    /// The status line is not `HTTP-version SP 3DIGIT SP reason-phrase`.
    InvalidStatusLine,

    // ---- line structure ----
    /// A line ends in LF without the CR before it (bare LF is rejected, never forwarded).
    BareLf,
    /// A CR that is not followed by LF.
    BareCr,
    /// A NUL byte anywhere in the head.
    NulByte,
    /// Whitespace between the start line and the first header field (RFC 9112 2.2).
    WhitespaceAfterStartLine,
    /// A header line starting with whitespace: obsolete line folding (RFC 9112 5.2).
    ObsFold,

    // ---- header fields ----
    /// Whitespace between a header field name and its colon (RFC 9112 5.1).
    WhitespaceBeforeColon,
    /// A header line without a colon.
    MissingColon,
    /// A header line starting with a colon.
    EmptyHeaderName,
    /// A header field name holding a byte that is not a `tchar`.
    InvalidHeaderName,
    /// A control byte (other than NUL) in a header field name.
    ControlCharInHeaderName,
    /// A control byte (other than NUL and HTAB) or DEL in a header field value.
    ControlCharInHeaderValue,

    // ---- Host ----
    /// An HTTP/1.1 request without a Host header field.
    MissingHost,
    /// More than one Host header field.
    DuplicateHost,
    /// A Host value that is not `uri-host [ ":" port ]`.
    InvalidHost,
    /// A Host value that differs from the authority of an absolute-form or CONNECT
    /// request-target (RFC 9112 3.2: they must be identical; HAProxy answers 400 too).
    /// Letter case, and a default (80 for `http`/`ws`, 443 for `https`/`wss`, either for
    /// CONNECT) or empty port given on one side only, do not count as differences.
    HostMismatch,

    // ---- framing ----
    /// Both Content-Length and Transfer-Encoding are present.
    ContentLengthWithTransferEncoding,
    /// A Content-Length element that is not `1*DIGIT` (`+1`, `-1`, `0x10`, `1 2`, empty...).
    InvalidContentLength,
    /// A Content-Length that does not fit in 64 bits.
    ContentLengthOverflow,
    /// Content-Length elements or fields with different values (`10, 11`).
    ConflictingContentLength,
    /// Transfer-Encoding in an HTTP/1.0 message.
    TransferEncodingHttp10,
    /// A request's Transfer-Encoding whose final coding is not `chunked`.
    ChunkedNotFinal,
    /// `chunked` appears more than once in Transfer-Encoding.
    ChunkedTwice,
    /// An empty element in the Transfer-Encoding list (`,chunked`, `chunked,`, empty value).
    EmptyTransferCoding,
    /// A Transfer-Encoding element that is not a bare token (parameters, spaces, quotes).
    InvalidTransferCoding,
    /// A transfer coding this crate does not know (501).
    UnknownTransferCoding,

    // ---- WebSocket handshake (RFC 6455 4.1 / 4.2.1) ----
    /// A WebSocket upgrade with a method other than GET.
    WebSocketMethod,
    /// A WebSocket upgrade over HTTP/1.0.
    WebSocketHttpVersion,
    /// A WebSocket upgrade whose Connection does not list `upgrade`.
    WebSocketMissingConnectionUpgrade,
    /// A WebSocket upgrade without Sec-WebSocket-Key.
    WebSocketMissingKey,
    /// A Sec-WebSocket-Key that is not base64 of exactly 16 bytes, or appears twice.
    WebSocketInvalidKey,
    /// A WebSocket upgrade without Sec-WebSocket-Version, or with an unparseable one.
    WebSocketMissingVersion,
    /// A Sec-WebSocket-Version other than 13 (426, answer with `Sec-WebSocket-Version: 13`).
    WebSocketUnsupportedVersion,
    /// More than one Sec-WebSocket-Protocol header line, or a malformed protocol list.
    WebSocketInvalidProtocol,

    // ---- 101 response to an upgrade ----
    /// The response to an upgrade request is 101 but the request did not ask to upgrade.
    UnexpectedSwitch,
    /// [`Upgrade::check_switch`](crate::Upgrade::check_switch) was given a response whose
    /// status is not 101 (the server declined the upgrade).
    NotSwitchingProtocols,
    /// The 101 response's Upgrade does not name the protocol the request asked for.
    SwitchUpgradeMismatch,
    /// The 101 response's Connection does not list `upgrade`.
    SwitchMissingConnectionUpgrade,
    /// Sec-WebSocket-Accept is missing or not the RFC 6455 hash of the request's key.
    SwitchAcceptMismatch,
    /// The 101 response picked a Sec-WebSocket-Protocol the request did not offer.
    SwitchProtocolNotOffered,

    // ---- chunked body ----
    /// A chunk-size line whose size is empty or not hexadecimal.
    InvalidChunkSize,
    /// A chunk size that does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A malformed chunk extension.
    InvalidChunkExtension,
    /// A chunk-size line or trailer section longer than the tracker's limit.
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF, or a bad line ending in the chunked framing.
    InvalidChunkLineEnding,
    /// A malformed trailer field line.
    InvalidTrailer,

    // ---- rewriting ----
    /// A header name or value given to the rewriter would break the head (CR, LF, NUL, non-token name).
    InvalidRewrite,

    /// httparse rejected the head for a reason the diagnosis did not pin down.
    Malformed,
}

impl ErrorKind {
    /// A short description of the kind, without position.
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            HeadTooLarge => "head too large",
            TooManyHeaders => "too many header fields",
            UriTooLong => "request-target too long",
            InvalidRequestLine => "malformed request line",
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid byte in request-target",
            TargetFormMismatch => "request-target form does not fit the method",
            InvalidVersion => "malformed HTTP version",
            UnsupportedVersion => "unsupported HTTP version",
            InvalidStatusLine => "malformed status line",
            BareLf => "bare LF line ending",
            BareCr => "bare CR",
            NulByte => "NUL byte",
            WhitespaceAfterStartLine => "whitespace between start line and first header field",
            ObsFold => "obsolete line folding",
            WhitespaceBeforeColon => "whitespace before header colon",
            MissingColon => "header line without colon",
            EmptyHeaderName => "empty header name",
            InvalidHeaderName => "invalid byte in header name",
            ControlCharInHeaderName => "control byte in header name",
            ControlCharInHeaderValue => "control byte in header value",
            MissingHost => "missing Host header in HTTP/1.1 request",
            DuplicateHost => "duplicate Host header",
            InvalidHost => "invalid Host value",
            HostMismatch => "Host differs from the request-target's authority",
            ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            InvalidContentLength => "invalid Content-Length",
            ContentLengthOverflow => "Content-Length overflows 64 bits",
            ConflictingContentLength => "conflicting Content-Length values",
            TransferEncodingHttp10 => "Transfer-Encoding in HTTP/1.0 message",
            ChunkedNotFinal => "final transfer coding is not chunked",
            ChunkedTwice => "chunked applied more than once",
            EmptyTransferCoding => "empty element in Transfer-Encoding",
            InvalidTransferCoding => "malformed transfer coding",
            UnknownTransferCoding => "unknown transfer coding",
            WebSocketMethod => "WebSocket upgrade with a method other than GET",
            WebSocketHttpVersion => "WebSocket upgrade over HTTP/1.0",
            WebSocketMissingConnectionUpgrade => "WebSocket upgrade without Connection: upgrade",
            WebSocketMissingKey => "WebSocket upgrade without Sec-WebSocket-Key",
            WebSocketInvalidKey => "invalid Sec-WebSocket-Key",
            WebSocketMissingVersion => "missing or malformed Sec-WebSocket-Version",
            WebSocketUnsupportedVersion => "unsupported Sec-WebSocket-Version",
            WebSocketInvalidProtocol => "invalid Sec-WebSocket-Protocol",
            UnexpectedSwitch => "101 response to a request that did not ask to upgrade",
            NotSwitchingProtocols => "response to an upgrade is not 101",
            SwitchUpgradeMismatch => "101 response upgrades to a protocol not requested",
            SwitchMissingConnectionUpgrade => "101 response without Connection: upgrade",
            SwitchAcceptMismatch => "Sec-WebSocket-Accept missing or wrong",
            SwitchProtocolNotOffered => "101 response picked a subprotocol not offered",
            InvalidChunkSize => "invalid chunk size",
            ChunkSizeOverflow => "chunk size overflows 64 bits",
            InvalidChunkExtension => "invalid chunk extension",
            ChunkLineTooLong => "chunk-size line or trailer section too long",
            InvalidChunkLineEnding => "bad line ending in chunked body",
            InvalidTrailer => "invalid trailer field",
            InvalidRewrite => "header name or value unsafe to write",
            Malformed => "malformed head",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which message an error was found in: it decides the status a gateway answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client's request (the gateway answers 4xx/5xx to the client).
    Request,
    /// The server's response (the gateway answers 502 to the client).
    Response,
}

/// An error parsing or validating an HTTP/1 head or chunked body.
///
/// Carries its [`ErrorKind`], the [`Side`] it was found on and, where known, the byte
/// offset in the input at which the problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    side: Side,
    offset: Option<usize>,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, side: Side, offset: Option<usize>) -> Self {
        Self { kind, side, offset }
    }

    pub(crate) const fn req(kind: ErrorKind) -> Self {
        Self::new(kind, Side::Request, None)
    }

    pub(crate) const fn at(kind: ErrorKind, side: Side, offset: usize) -> Self {
        Self::new(kind, side, Some(offset))
    }

    /// What was wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the error was found in a request or a response.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Byte offset in the parsed input where the problem was found, when known.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// The status a gateway should answer for this error.
    ///
    /// Response-side errors are the upstream's fault: 502. Request-side errors map to
    /// 431 (head or header count over the limit), 414 (target too long), 501 (unknown
    /// transfer coding), 505 (HTTP version), 426 (WebSocket version; answer with
    /// `Sec-WebSocket-Version: 13`) and 400 for everything else.
    pub fn status(&self) -> u16 {
        if self.side == Side::Response {
            return 502;
        }
        match self.kind {
            ErrorKind::HeadTooLarge | ErrorKind::TooManyHeaders => 431,
            ErrorKind::UriTooLong => 414,
            ErrorKind::UnknownTransferCoding => 501,
            ErrorKind::UnsupportedVersion => 505,
            ErrorKind::WebSocketUnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// A complete, ready-to-send response head (with `Connection: close` and an empty body)
    /// for [`status`](Self::status); the 426 one carries `Sec-WebSocket-Version: 13`.
    pub fn response(&self) -> &'static [u8] {
        match self.status() {
            431 => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            414 => b"HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            501 => b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            505 => b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            426 => b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            502 => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            _ => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Request => "request",
            Side::Response => "response",
        };
        match self.offset {
            Some(at) => write!(f, "{side}: {} at byte {at}", self.kind),
            None => write!(f, "{side}: {}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}
