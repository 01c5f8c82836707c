//! Every state change is logged with `tracing`: server, old -> new, reason, check duration.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::closed_port;
use gangway_health::{Check, Health, HealthChecker, Timing};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn state_changes_are_logged_with_their_context() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();

    let dead = closed_port().await;
    let checker = HealthChecker::builder(Check::tcp())
        .timing(Timing::new(Duration::from_millis(20)).spread(0))
        .server("db-1", dead)
        .build()
        .unwrap();
    let mut events = checker.subscribe();
    checker.start();
    let e = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.to, Health::Down);
    checker.force(&"db-1", Health::Up);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let down = lines[0];
    for needle in [
        "WARN",
        "server is DOWN",
        "server=\"db-1\"",
        &format!("addr={dead}"),
        "from=UNKNOWN",
        "to=DOWN",
        "reason=check failed: layer 4 connection problem: connection refused",
        "consecutive=1",
        "check_duration_ms=",
    ] {
        assert!(down.contains(needle), "{needle:?} in {down}");
    }
    let up = lines[1];
    for needle in [
        "INFO",
        "server is UP",
        "from=DOWN",
        "to=UP",
        "reason=set by hand",
    ] {
        assert!(up.contains(needle), "{needle:?} in {up}");
    }
    assert!(!up.contains("check_duration_ms"), "{up}");
}
