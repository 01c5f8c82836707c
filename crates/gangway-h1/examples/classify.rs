//! Parse and classify a request head, then print what a gateway would do with it.
//!
//! `cargo run -p gangway-h1 --example classify` runs a few built-in requests;
//! `cargo run -p gangway-h1 --example classify -- 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'`
//! classifies your own (the escapes `\r` and `\n` are understood).

use gangway_h1::{EMPTY_HEADER, Parser, Rewrite, Status, Upgrade};

const SAMPLES: [&str; 5] = [
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n",
    "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n",
    "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
];

fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\r", "\r").replace("\\n", "\n").into_bytes()
}

fn classify(buf: &[u8]) {
    let mut headers = [EMPTY_HEADER; 64];
    match Parser::new().parse_request(buf, &mut headers) {
        Ok(Status::Partial) => println!("  incomplete head: read more bytes"),
        Ok(Status::Complete(req)) => {
            println!(
                "  {} {} HTTP/1.{}",
                req.method, req.target, req.version_minor
            );
            println!(
                "  head: {} bytes, framing: {:?}, keep-alive: {}",
                req.head_len, req.framing, req.keep_alive
            );
            match req.upgrade {
                Upgrade::WebSocket { key, protocols, .. } => {
                    let accept = gangway_h1::websocket_accept(key.as_bytes());
                    let offered: Vec<_> = protocols.iter().map(String::from_utf8_lossy).collect();
                    println!(
                        "  WebSocket upgrade, accept {}, subprotocols {offered:?}",
                        String::from_utf8_lossy(&accept)
                    );
                }
                other => println!("  upgrade: {other:?}"),
            }
            let mut out = Vec::new();
            match Rewrite::new()
                .forwarded_for([203, 0, 113, 9].into())
                .forwarded_proto("http")
                .write_request(&req, &mut out)
            {
                Ok(()) => println!(
                    "  forwarded head:\n    {}",
                    String::from_utf8_lossy(&out)
                        .trim_end()
                        .replace("\r\n", "\n    ")
                ),
                Err(e) => println!("  cannot rewrite: {e}"),
            }
        }
        Err(e) => println!("  rejected: {e} -> answer {}", e.status()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inputs: Vec<Vec<u8>> = if args.is_empty() {
        SAMPLES.iter().map(|s| s.as_bytes().to_vec()).collect()
    } else {
        args.iter().map(|a| unescape(a)).collect()
    };
    for buf in inputs {
        let first_line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
        println!("{}", String::from_utf8_lossy(first_line).trim_end());
        classify(&buf);
        println!();
    }
}
