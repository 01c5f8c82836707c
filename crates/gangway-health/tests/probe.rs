//! One check at a time against real loopback servers.

mod common;

use std::time::Duration;

use common::{Mode, TestServer, closed_port};
use gangway_health::{Check, CheckFailure, Probe, ProxyHeader};

const TIMEOUT: Duration = Duration::from_secs(5);

type Verdict = Result<Option<u16>, CheckFailure>;

/// Name, check, server address, timeout, expected result.
type Case = (
    &'static str,
    Check,
    std::net::SocketAddr,
    Duration,
    Result<Option<u16>, CheckFailure>,
);

async fn run(
    check: Check,
    addr: std::net::SocketAddr,
    timeout: Duration,
) -> Result<Option<u16>, CheckFailure> {
    check.validate().unwrap();
    Probe::new(check.shared(), addr).run(timeout).await.result
}

#[tokio::test]
async fn tcp_checks() {
    let server = TestServer::start(Mode::Close).await;
    let closed = closed_port().await;
    assert_eq!(run(Check::tcp(), server.addr, TIMEOUT).await, Ok(None));
    assert_eq!(
        run(Check::tcp(), closed, TIMEOUT).await,
        Err(CheckFailure::ConnectRefused)
    );
    // The check port overrides the server's: a closed traffic port, a live check port.
    let check = Check::tcp().port(server.addr.port());
    assert_eq!(run(check, closed, TIMEOUT).await, Ok(None));
    let check = Check::tcp()
        .addr("127.0.0.1".parse().unwrap())
        .port(closed.port());
    assert_eq!(
        run(check, server.addr, TIMEOUT).await,
        Err(CheckFailure::ConnectRefused)
    );
}

#[tokio::test]
async fn http_checks_table() {
    let ok = TestServer::start(Mode::Ok).await;
    let e500 = TestServer::start(Mode::Error500).await;
    let hang = TestServer::start(Mode::Hang).await;
    let close = TestServer::start(Mode::Close).await;
    let closed = closed_port().await;
    let short = Duration::from_millis(300);
    let cases: Vec<Case> = vec![
        (
            "200",
            Check::http("/health"),
            ok.addr,
            TIMEOUT,
            Ok(Some(200)),
        ),
        (
            "200 expected 200",
            Check::http("/").expect_status(200),
            ok.addr,
            TIMEOUT,
            Ok(Some(200)),
        ),
        (
            "200 not in 300-399",
            Check::http("/").expect_status(300..=399),
            ok.addr,
            TIMEOUT,
            Err(CheckFailure::UnexpectedStatus { status: 200 }),
        ),
        (
            "500",
            Check::http("/health"),
            e500.addr,
            TIMEOUT,
            Err(CheckFailure::UnexpectedStatus { status: 500 }),
        ),
        (
            "500 accepted",
            Check::http("/")
                .expect_status("200,500-599".parse::<gangway_health::StatusSet>().unwrap()),
            e500.addr,
            TIMEOUT,
            Ok(Some(500)),
        ),
        (
            "body contains",
            Check::http("/").expect_body_contains("is ok"),
            ok.addr,
            TIMEOUT,
            Ok(Some(200)),
        ),
        (
            "body missing",
            Check::http("/").expect_body_contains("ready"),
            ok.addr,
            TIMEOUT,
            Err(CheckFailure::BodyMismatch),
        ),
        (
            "body regex",
            Check::http("/")
                .try_expect_body_regex(r"^all\s+is\s+ok")
                .unwrap(),
            ok.addr,
            TIMEOUT,
            Ok(Some(200)),
        ),
        (
            "hang",
            Check::http("/"),
            hang.addr,
            short,
            Err(CheckFailure::ResponseTimeout { received: 0 }),
        ),
        (
            "closed early",
            Check::http("/"),
            close.addr,
            TIMEOUT,
            Err(CheckFailure::ClosedEarly { received: 0 }),
        ),
        (
            "refused",
            Check::http("/"),
            closed,
            TIMEOUT,
            Err(CheckFailure::ConnectRefused),
        ),
    ];
    for (name, check, addr, timeout, expected) in cases {
        let got = run(check, addr, timeout).await;
        // A peer that closes without reading may surface as a reset instead of an empty read.
        if name == "closed early" && got == Err(CheckFailure::Reset) {
            continue;
        }
        assert_eq!(got, expected, "{name}");
    }
}

#[tokio::test]
async fn http_request_on_the_wire() {
    let ok = TestServer::start(Mode::Ok).await;
    let check = Check::http("/status?full=1")
        .method("HEAD")
        .host("app.example")
        .header("X-Health", "gangway");
    assert_eq!(run(check, ok.addr, TIMEOUT).await, Ok(Some(200)));
    let requests = ok.requests();
    let text = String::from_utf8_lossy(&requests[0]);
    assert!(
        text.starts_with("HEAD /status?full=1 HTTP/1.1\r\nHost: app.example\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nX-Health: gangway\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
}

#[tokio::test]
async fn websocket_checks() {
    let good = TestServer::start(Mode::WsGood).await;
    let bad = TestServer::start(Mode::WsBadAccept).await;
    let plain = TestServer::start(Mode::Ok).await;
    assert_eq!(
        run(Check::websocket("/ws"), good.addr, TIMEOUT).await,
        Ok(Some(101))
    );
    // The client sent a real upgrade and closed with a masked close frame 1000.
    let request = String::from_utf8_lossy(&good.requests()[0]).into_owned();
    for needle in [
        "GET /ws HTTP/1.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: ",
    ] {
        assert!(request.contains(needle), "{needle} in {request}");
    }
    common::wait_for(|| {
        good.seen
            .ws_close_frames
            .load(std::sync::atomic::Ordering::SeqCst)
            == 1
    })
    .await;
    // Each check uses a fresh key.
    assert_eq!(
        run(Check::websocket("/ws"), good.addr, TIMEOUT).await,
        Ok(Some(101))
    );
    let keys: Vec<String> = good
        .requests()
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r)
                .lines()
                .find(|l| l.starts_with("Sec-WebSocket-Key"))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_ne!(keys[0], keys[1]);
    assert_eq!(
        run(Check::websocket("/ws"), bad.addr, TIMEOUT).await,
        Err(CheckFailure::BadUpgrade {
            reason: "Sec-WebSocket-Accept missing or wrong"
        })
    );
    assert_eq!(
        run(Check::websocket("/ws"), plain.addr, TIMEOUT).await,
        Err(CheckFailure::UnexpectedStatus { status: 200 })
    );
}

#[tokio::test]
async fn websocket_check_offering_subprotocols() {
    let good = TestServer::start(Mode::WsGood).await;
    // The server chooses `chat`, one of those offered: the check passes.
    let check = Check::websocket("/ws").header("Sec-WebSocket-Protocol", "chat, superchat");
    assert_eq!(run(check, good.addr, TIMEOUT).await, Ok(Some(101)));
    let request = String::from_utf8_lossy(&good.requests()[0]).into_owned();
    assert!(
        request.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"),
        "{request}"
    );
    // Offers are one list: a second header is refused up front.
    let twice = Check::websocket("/ws")
        .header("Sec-WebSocket-Protocol", "chat")
        .header("sec-websocket-protocol", "superchat");
    assert_eq!(
        twice.validate().unwrap_err().to_string(),
        "invalid check request repeated header \"sec-websocket-protocol\""
    );
}

#[tokio::test]
async fn a_passed_websocket_check_does_not_wait_for_a_silent_server_to_close() {
    // The server accepts the upgrade, then ignores the close frame and keeps the connection.
    let silent = TestServer::start(Mode::WsSilent).await;
    let mut probe = Probe::new(Check::websocket("/ws").shared(), silent.addr);
    let check_timeout = Duration::from_secs(60);
    let report = tokio::time::timeout(Duration::from_secs(20), probe.run(check_timeout))
        .await
        .expect("the check ends well before its 60 s timeout");
    assert_eq!(report.result, Ok(Some(101)));
    // The duration is the check's, not the close's.
    assert!(
        report.duration < Duration::from_secs(20),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn proxy_headers_come_first() {
    let ok = TestServer::start(Mode::Ok).await;
    assert_eq!(
        run(
            Check::http("/").send_proxy(ProxyHeader::V1),
            ok.addr,
            TIMEOUT
        )
        .await,
        Ok(Some(200))
    );
    assert_eq!(
        run(
            Check::http("/").send_proxy(ProxyHeader::V2Local),
            ok.addr,
            TIMEOUT
        )
        .await,
        Ok(Some(200))
    );
    let requests = ok.requests();
    let v1 = String::from_utf8_lossy(&requests[0]).into_owned();
    let expected_tail = format!(" {}\r\nGET / HTTP/1.1\r\n", ok.addr.port());
    assert!(v1.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "), "{v1}");
    assert!(v1.contains(&expected_tail), "{v1}");
    assert!(requests[1].starts_with(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00GET / HTTP/1.1\r\n"));
    // gangway-proxy-protocol reads both: v1 with the check connection's addresses, v2 LOCAL.
    use gangway_proxy_protocol::{Command, Status, decode};
    let Ok(Status::Complete((v1, len))) = decode(&requests[0]) else {
        panic!("v1 header not decoded: {v1}")
    };
    assert_eq!(v1.command(), Command::Proxy);
    assert_eq!(v1.addresses().destination(), Some(ok.addr));
    assert!(requests[0][len..].starts_with(b"GET / HTTP/1.1\r\n"));
    let Ok(Status::Complete((v2, len))) = decode(&requests[1]) else {
        panic!("v2 header not decoded")
    };
    assert_eq!((v2.command(), len), (Command::Local, 16));
    // A TCP check with a PROXY header sends just the header, and closes gracefully so the
    // server reads it.
    let tcp = TestServer::start(Mode::Ok).await;
    assert_eq!(
        run(
            Check::tcp().send_proxy(ProxyHeader::V2Local),
            tcp.addr,
            TIMEOUT
        )
        .await,
        Ok(None)
    );
    common::wait_for(|| !tcp.requests().is_empty()).await;
    assert_eq!(tcp.requests()[0], b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00");
}

/// A server that reads a request head, then writes `answer` one byte per write and closes.
async fn trickling_server(answer: Vec<u8>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                conn.set_nodelay(true).unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(n) if n > 0 => request.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                for byte in answer.chunks(1) {
                    if conn.write_all(byte).await.is_err() {
                        return;
                    }
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    addr
}

/// A large answer for a trickling server: `fields` header fields, then a chunked body of
/// one- and two-byte chunks (some with extensions) and a trailer, ending in `tail`.
fn chunked_answer(fields: usize, chunks: usize, tail: &[u8]) -> Vec<u8> {
    let mut answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..fields {
        answer.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(60)).as_bytes());
    }
    answer.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    let mut body = vec![b'.'; chunks];
    body.extend_from_slice(tail);
    for (i, piece) in body.chunks(2).enumerate() {
        let ext = if i % 3 == 0 { ";name=\"value\"" } else { "" };
        answer.extend_from_slice(format!("{:x}{ext}\r\n", piece.len()).as_bytes());
        answer.extend_from_slice(piece);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\nX-Checksum: none\r\n\r\n");
    answer
}

#[tokio::test]
async fn answers_trickling_in_byte_by_byte_are_judged_right() {
    let mut long_length = b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n".to_vec();
    long_length.resize(long_length.len() + 29_995, b'.');
    long_length.extend_from_slice(b"ready");
    let mut short = b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n".to_vec();
    short.resize(short.len() + 20_000, b'.');
    let short_len = short.len();
    // Name, answer, verdict.
    let cases: Vec<(&str, Vec<u8>, Verdict)> = vec![
        (
            "long head, many chunks",
            chunked_answer(60, 20_000, b"ready"),
            Ok(Some(200)),
        ),
        (
            "long head, many chunks, no match",
            chunked_answer(60, 20_000, b"not yet"),
            Err(CheckFailure::BodyMismatch),
        ),
        ("long body with a length", long_length, Ok(Some(200))),
        (
            "body shorter than its length",
            short,
            Err(CheckFailure::ClosedEarly {
                received: short_len,
            }),
        ),
    ];
    for (name, answer, expected) in cases {
        let addr = trickling_server(answer.clone()).await;
        // A check buffer smaller than the first read's room decides on what fits.
        let small = Check::http("/health").buffer_limit(300).shared();
        let report = Probe::new(small, addr).run(Duration::from_secs(60)).await;
        let small_expected = if name.starts_with("long head") {
            Err(CheckFailure::ResponseTooLarge { limit: 300 })
        } else {
            Ok(Some(200))
        };
        assert_eq!(report.result, small_expected, "{name}, small buffer");
        let addr = trickling_server(answer).await;
        let check = Check::http("/health")
            .expect_status(200)
            .expect_body_contains("ready")
            .buffer_limit(256 * 1024);
        let report = Probe::new(check.shared(), addr)
            .run(Duration::from_secs(60))
            .await;
        assert_eq!(report.result, expected, "{name}");
    }
}

/// A WebSocket server for one check: it accepts the upgrade with `extra_fields` in its head
/// and `with_head` (frames) right after it, reads the client's close frame, then writes
/// `after_close` and its own close frame and reads the client's end of stream. It hands back
/// the connection, or what went wrong.
async fn ws_frames_server(
    extra_fields: String,
    with_head: Vec<u8>,
    after_close: Vec<u8>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<tokio::net::TcpStream, String>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk).await {
                Ok(n) if n > 0 => request.extend_from_slice(&chunk[..n]),
                other => return Err(format!("reading the request: {other:?}")),
            }
        }
        let text = String::from_utf8_lossy(&request).into_owned();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .ok_or("no key")?;
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra_fields}\r\n",
            common::accept_for(key)
        )
        .into_bytes();
        answer.extend_from_slice(&with_head);
        conn.write_all(&answer).await.map_err(|e| e.to_string())?;
        let mut close = [0u8; 8];
        let wait = Duration::from_secs(10);
        match tokio::time::timeout(wait, conn.read_exact(&mut close)).await {
            Ok(Ok(_)) if close[..2] == [0x88, 0x82] => {}
            other => return Err(format!("reading the client's close: {other:?} {close:?}")),
        }
        let mut rest = after_close;
        rest.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
        conn.write_all(&rest)
            .await
            .map_err(|e| format!("writing the close: {e}"))?;
        match tokio::time::timeout(wait, conn.read(&mut chunk)).await {
            Ok(Ok(0)) => Ok(conn),
            other => Err(format!("the client's end of stream: {other:?}")),
        }
    });
    (addr, server)
}

/// Runs `check` against a [`ws_frames_server`] and asserts that it passes and the client
/// closed in order: an end of stream, no reset (a socket dropped with unread data sends one).
async fn assert_orderly_ws_close(
    check: Check,
    extra_fields: String,
    with_head: Vec<u8>,
    after_close: Vec<u8>,
) {
    let (addr, server) = ws_frames_server(extra_fields, with_head, after_close).await;
    let report = Probe::new(check.shared(), addr).run(TIMEOUT).await;
    assert_eq!(report.result, Ok(Some(101)));
    // The probe dropped its socket: a reset it sent has reached the loopback peer.
    let conn = server.await.unwrap().expect("an orderly close");
    let error = socket2::SockRef::from(&conn).take_error().unwrap();
    assert!(
        error.is_none(),
        "the client reset the connection: {error:?}"
    );
}

#[tokio::test]
async fn a_websocket_check_reads_frames_up_to_its_buffer_limit_before_the_servers_close() {
    // A 6000-byte frame after the 101: more than the answer needed (4 KiB), less than the
    // check buffer limit (16 KiB).
    let mut frame = vec![0x82, 126];
    frame.extend_from_slice(&6000u16.to_be_bytes());
    frame.resize(frame.len() + 6000, b'.');
    assert_orderly_ws_close(Check::websocket("/ws"), String::new(), frame, Vec::new()).await;
}

#[tokio::test]
async fn a_websocket_check_with_a_large_buffer_finds_frames_after_a_head_over_16_kib() {
    // A 101 with a 20 KiB field, within a 64 KiB check buffer, and a frame's header with it.
    // Its payload comes after the client's close and starts with a byte that would read as a
    // close frame if the frame's header were lost.
    let field = format!("X-Padding: {}\r\n", "p".repeat(20 * 1024));
    let mut header = vec![0x82, 126];
    header.extend_from_slice(&40_000u16.to_be_bytes());
    let mut payload = vec![0x88, 0x00];
    payload.resize(40_000, b'.');
    let check = Check::websocket("/ws").buffer_limit(64 * 1024);
    assert_orderly_ws_close(check, field, header, payload).await;
}
