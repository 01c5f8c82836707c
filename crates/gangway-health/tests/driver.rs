//! The tokio driver against real loopback servers that change behaviour mid-test.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Mode, TestServer, wait_for};
use futures_util::StreamExt;
use gangway_health::{
    Check, CheckFailure, Health, HealthChecker, HealthEvent, InitialState, OnError, PassivePolicy,
    Reason, Timing, TrafficOutcome,
};
use tokio::sync::broadcast;

fn quick_timing() -> Timing {
    Timing::new(Duration::from_millis(40))
        .fastinter(Duration::from_millis(20))
        .downinter(Duration::from_millis(40))
        .rise(2)
        .fall(2)
        .timeout(Duration::from_millis(300))
        .spread(0)
}

async fn next<K: Clone>(events: &mut broadcast::Receiver<HealthEvent<K>>) -> HealthEvent<K> {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("an event in time")
        .expect("the channel is open")
}

/// Waits until the server has passed `n` more checks, so it is fully up before the next change.
async fn passes_more<K: gangway_health::ServerKey>(checker: &HealthChecker<K>, key: &K, n: u64) {
    let start = checker.counters(key).unwrap().checks_passed;
    wait_for(|| checker.counters(key).unwrap().checks_passed >= start + n).await;
}

#[tokio::test]
async fn http_states_follow_server_behaviour() {
    let server = TestServer::start(Mode::Ok).await;
    let checker = HealthChecker::builder(Check::http("/health").expect_status(200))
        .timing(quick_timing())
        .server("app", server.addr)
        .build()
        .unwrap();
    let mut events = checker.subscribe();
    let watch = checker.watch(&"app").unwrap();
    assert_eq!(*watch.borrow(), Health::Unknown);
    checker.start();

    let e = next(&mut events).await;
    assert_eq!(
        (e.server, e.from, e.to),
        ("app", Health::Unknown, Health::Up)
    );
    assert_eq!((e.reason, e.consecutive), (Reason::CheckPassed, 1));
    assert!(e.check_duration.is_some());

    // 500: down after exactly `fall` failed checks.
    passes_more(&checker, &"app", 1).await;
    server.set_mode(Mode::Error500);
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to), (Health::Up, Health::Down));
    assert_eq!(
        e.reason,
        Reason::CheckFailed(CheckFailure::UnexpectedStatus { status: 500 })
    );
    assert_eq!(e.consecutive, 2);
    assert_eq!(*watch.borrow(), Health::Down);

    // Healthy again: up after exactly `rise` passed checks.
    server.set_mode(Mode::Ok);
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to, e.consecutive), (Health::Down, Health::Up, 2));

    // Hanging: down on timeouts.
    passes_more(&checker, &"app", 1).await;
    server.set_mode(Mode::Hang);
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to, e.consecutive), (Health::Up, Health::Down, 2));
    assert!(
        matches!(
            e.reason,
            Reason::CheckFailed(CheckFailure::ResponseTimeout { .. })
        ),
        "{:?}",
        e.reason
    );
    assert!(e.check_duration.unwrap() >= Duration::from_millis(300));

    server.set_mode(Mode::Ok);
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to), (Health::Down, Health::Up));

    // Refusing connections: down; listening again: up.
    passes_more(&checker, &"app", 1).await;
    server.refuse().await;
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to, e.consecutive), (Health::Up, Health::Down, 2));
    assert_eq!(e.reason, Reason::CheckFailed(CheckFailure::ConnectRefused));
    server.accept_again().await;
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to, e.consecutive), (Health::Down, Health::Up, 2));

    let counters = checker.counters(&"app").unwrap();
    assert_eq!((counters.went_up, counters.went_down), (4, 3));
    assert_eq!(
        counters.checks,
        counters.checks_passed + counters.checks_failed
    );
    assert!(counters.checks_failed >= 6);
    assert_eq!(checker.state(&"app"), Some(Health::Up));
}

#[tokio::test]
async fn websocket_states_follow_the_handshake() {
    let server = TestServer::start(Mode::WsBadAccept).await;
    let checker = HealthChecker::builder(Check::websocket("/ws/echo"))
        .timing(quick_timing())
        .server(1u32, server.addr)
        .build()
        .unwrap();
    let mut events = checker.subscribe();
    checker.start();
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to), (Health::Unknown, Health::Down));
    assert_eq!(
        e.reason,
        Reason::CheckFailed(CheckFailure::BadUpgrade {
            reason: "Sec-WebSocket-Accept missing or wrong"
        })
    );
    server.set_mode(Mode::WsGood);
    let e = next(&mut events).await;
    assert_eq!((e.from, e.to, e.consecutive), (Health::Down, Health::Up, 2));
    // Every passed handshake was closed cleanly with a close frame.
    wait_for(|| server.seen.ws_close_frames.load(Ordering::SeqCst) >= 2).await;
    server.set_mode(Mode::Ok);
    let e = next(&mut events).await;
    assert_eq!(
        e.reason,
        Reason::CheckFailed(CheckFailure::UnexpectedStatus { status: 200 })
    );
}

#[tokio::test]
async fn passive_errors_mark_down_and_checks_bring_back() {
    let server = TestServer::start(Mode::Ok).await;
    let timing = quick_timing()
        .inter(Duration::from_secs(3600))
        .fastinter(Duration::from_millis(30));
    let checker = HealthChecker::builder(Check::tcp())
        .timing(timing)
        .initial_state(InitialState::FullyUp)
        .passive(
            PassivePolicy::default()
                .on_error(OnError::MarkDown)
                .error_limit(3),
        )
        .server("s1", server.addr)
        .build()
        .unwrap();
    let mut events = checker.subscribe();
    checker.start();
    assert_eq!(
        checker.report(&"s1", TrafficOutcome::Status(503)),
        Some(Health::Up)
    );
    assert_eq!(
        checker.report(&"s1", TrafficOutcome::Success),
        Some(Health::Up)
    );
    assert_eq!(
        checker.report(&"s1", TrafficOutcome::Status(502)),
        Some(Health::Up)
    );
    assert_eq!(
        checker.report(&"s1", TrafficOutcome::Reset),
        Some(Health::Up)
    );
    assert_eq!(
        checker.report(&"s1", TrafficOutcome::ConnectTimeout),
        Some(Health::Down)
    );
    let e = next(&mut events).await;
    assert_eq!(
        (e.from, e.to, e.check_duration),
        (Health::Up, Health::Down, None)
    );
    assert_eq!(
        e.reason,
        Reason::TrafficErrors {
            action: OnError::MarkDown,
            errors: 3
        }
    );
    // `inter` is an hour, but on-error forced fastinter: active checks bring it back soon.
    let e = next(&mut events).await;
    assert_eq!(
        (e.from, e.to, e.reason),
        (Health::Down, Health::Up, Reason::CheckPassed)
    );
    let counters = checker.counters(&"s1").unwrap();
    assert_eq!(
        (
            counters.traffic_reports,
            counters.traffic_errors,
            counters.on_error_actions
        ),
        (5, 4, 1)
    );
    assert_eq!(checker.report(&"nope", TrafficOutcome::Success), None);
}

#[tokio::test]
async fn concurrency_cap_holds() {
    let server = TestServer::start(Mode::Hang).await;
    let checker = HealthChecker::builder(Check::http("/"))
        .timing(
            Timing::new(Duration::from_millis(10))
                .timeout(Duration::from_millis(200))
                .spread(0),
        )
        .max_concurrent_checks(3)
        .servers((0..20).map(|i| (i, server.addr)))
        .build()
        .unwrap();
    checker.start();
    wait_for(|| {
        (0..20)
            .map(|i| checker.counters(&i).unwrap().checks)
            .sum::<u64>()
            >= 15
    })
    .await;
    assert!(
        checker.peak_in_flight() <= 3,
        "{}",
        checker.peak_in_flight()
    );
    assert!(checker.peak_in_flight() >= 1);
    checker.stop();
    wait_for(|| checker.in_flight() == 0).await;
}

#[tokio::test]
async fn servers_come_and_go_and_hooks_see_everything() {
    let a = TestServer::start(Mode::Close).await;
    let b = TestServer::start(Mode::Close).await;
    let seen: Arc<Mutex<Vec<(String, Health)>>> = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let checker = HealthChecker::builder(Check::tcp())
        .timing(quick_timing())
        .initial_state(InitialState::FullyDown)
        .on_change(move |e: &HealthEvent<String>| {
            hook_seen.lock().unwrap().push((e.server.clone(), e.to));
        })
        .server("a".to_owned(), a.addr)
        .build()
        .unwrap();
    let stream = checker.events();
    tokio::pin!(stream);
    checker.start();
    let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.server.as_str(), e.from, e.to),
        ("a", Health::Down, Health::Up)
    );

    // Added while running: checked too.
    checker.add_server("b".to_owned(), b.addr);
    assert_eq!(checker.len(), 2);
    let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.server.as_str(), e.to), ("b", Health::Up));

    // Removed: no more checks reach it.
    assert!(checker.remove_server(&"a".to_owned()));
    assert!(!checker.remove_server(&"a".to_owned()));
    assert_eq!(checker.state(&"a".to_owned()), None);
    let before = a.seen.accepted.load(Ordering::SeqCst);
    let b_before = b.seen.accepted.load(Ordering::SeqCst);
    wait_for(|| b.seen.accepted.load(Ordering::SeqCst) >= b_before + 5).await;
    assert!(a.seen.accepted.load(Ordering::SeqCst) <= before + 1);

    // Forced by hand, then checks bring it back.
    assert_eq!(
        checker.force(&"b".to_owned(), Health::Down),
        Some(Health::Down)
    );
    let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.to, e.reason), (Health::Down, Reason::Forced));
    let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.to, e.reason), (Health::Up, Reason::CheckPassed));

    let mut states = checker.states();
    states.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(states, vec![("b".to_owned(), Health::Up)]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("a".to_owned(), Health::Up),
            ("b".to_owned(), Health::Up),
            ("b".to_owned(), Health::Down),
            ("b".to_owned(), Health::Up),
        ]
    );
}

#[tokio::test]
async fn dropping_the_checker_stops_checks() {
    let server = TestServer::start(Mode::Close).await;
    let checker = HealthChecker::builder(Check::tcp())
        .timing(quick_timing())
        .server(0u8, server.addr)
        .build()
        .unwrap();
    checker.start();
    wait_for(|| server.seen.accepted.load(Ordering::SeqCst) >= 2).await;
    drop(checker);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = server.seen.accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.seen.accepted.load(Ordering::SeqCst), after_drop);
}

#[tokio::test]
async fn invalid_checks_are_refused_at_build() {
    let err = HealthChecker::<u8>::builder(Check::http("no-slash"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("path"), "{err}");
}

/// A server answering `200` to each check `delay` after reading its request.
async fn slow_server(delay: Duration) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                tokio::time::sleep(delay).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn without_a_timeout_a_check_gets_inter() {
    // HAProxy without `timeout check`: a check may take up to `inter`, here more than 2 s.
    let addr = slow_server(Duration::from_millis(2300)).await;
    let checker = HealthChecker::builder(Check::http("/health"))
        .timing(Timing::new(Duration::from_secs(4)).spread(0))
        .server("app", addr)
        .build()
        .unwrap();
    assert_eq!(
        checker.state(&"app"),
        Some(Health::Unknown),
        "no result yet"
    );
    let mut events = checker.subscribe();
    checker.start();
    let e = next(&mut events).await;
    assert_eq!(
        (e.from, e.to),
        (Health::Unknown, Health::Up),
        "{:?}",
        e.reason
    );
}

#[tokio::test]
async fn a_split_timeout_bounds_the_check_after_its_connect() {
    let addr = slow_server(Duration::from_millis(400)).await;
    let mut probe = gangway_health::Probe::new(Check::http("/health").shared(), addr);
    let slow = probe
        .run_split(Some(Duration::from_secs(10)), Duration::from_millis(100))
        .await;
    assert!(
        matches!(slow.result, Err(CheckFailure::ResponseTimeout { .. })),
        "{:?}",
        slow.result
    );
    let ok = probe
        .run_split(Some(Duration::from_secs(10)), Duration::from_secs(10))
        .await;
    assert_eq!(ok.result, Ok(Some(200)));
}

/// A `check_now` made after a WebSocket check's verdict, while the check still waits for the
/// server's close, is served by a new check: the check's duration ends at its verdict, so the
/// start worked back from it fell after the request, which looked already served.
#[tokio::test]
async fn check_now_after_a_websocket_verdict_is_served() {
    let server = TestServer::start(Mode::WsNoCloseReply).await;
    let hour = Duration::from_secs(3600);
    let checker = HealthChecker::builder(Check::websocket("/ws"))
        .timing(
            Timing::new(hour)
                .fastinter(hour)
                .downinter(hour)
                .timeout(Duration::from_secs(10))
                .spread(0),
        )
        .server("ws", server.addr)
        .build()
        .unwrap();
    checker.start();
    assert!(checker.check_now(&"ws"));
    // The server reads the close frame the check sends right after its verdict, and does not
    // answer it: the check waits for the close a little longer.
    wait_for(|| server.seen.ws_close_frames.load(Ordering::SeqCst) == 1).await;
    assert!(checker.check_now(&"ws"));
    // Without the fix, the next check came an hour (inter) later.
    wait_for(|| server.seen.accepted.load(Ordering::SeqCst) >= 2).await;
    wait_for(|| checker.counters(&"ws").unwrap().checks_passed == 2).await;
}
