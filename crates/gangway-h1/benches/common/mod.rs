//! The requests and the two parse calls the `parse` bench and the `parse_cost` example
//! compare.

use std::hint::black_box;

use gangway_h1::{EMPTY_HEADER, Parser, Status, Upgrade};

/// What Chrome sends to open a WebSocket (about 400 bytes).
pub(crate) const WEBSOCKET: &[u8] = b"GET /ws/chat?room=lobby HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// A browser page load (about 400 bytes).
pub(crate) const BROWSER_GET: &[u8] = b"GET /articles/42?utm_source=news HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Referer: https://www.example.com/\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: session=4f1c2a9e8b7d6c5e; theme=dark\r\n\r\n";

/// A bare `httparse::Request::parse` of `buf`.
#[inline(never)]
pub(crate) fn bare_httparse(buf: &[u8]) -> usize {
    let mut headers = [EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    black_box(req.parse(black_box(buf)).ok());
    black_box(req.headers.len())
}

/// Parse, validate and classify `buf` with gangway-h1.
#[inline(never)]
pub(crate) fn gangway_h1(parser: &Parser, buf: &[u8]) -> bool {
    let mut headers = [EMPTY_HEADER; 64];
    match parser.parse_request(black_box(buf), &mut headers) {
        Ok(Status::Complete(req)) => {
            black_box((req.framing, req.keep_alive, req.head_len));
            black_box(matches!(req.upgrade, Upgrade::WebSocket { .. }))
        }
        _ => false,
    }
}
