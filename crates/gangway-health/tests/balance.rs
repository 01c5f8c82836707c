//! Health applied to a gangway-balance server set.
#![cfg(feature = "balance")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Mode, TestServer, closed_port, wait_for};
use gangway_balance::{Algorithm, PickError, Server, ServerSet, ServerState};
use gangway_health::{
    Check, Health, HealthChecker, HealthEvent, InitialState, Reason, Timing, apply_event,
};

fn timing() -> Timing {
    Timing::new(Duration::from_millis(30))
        .rise(2)
        .fall(2)
        .timeout(Duration::from_millis(300))
        .spread(0)
}

#[tokio::test]
async fn picks_follow_health() {
    let live = TestServer::start(Mode::Ok).await;
    let dead = closed_port().await;
    let set = Arc::new(ServerSet::new(Algorithm::RoundRobin));
    let live_id = set.add(Server::new(live.addr)).unwrap();
    let dead_id = set.add(Server::new(dead)).unwrap();
    let checker = HealthChecker::builder(Check::http("/health"))
        .timing(timing())
        .initial_state(InitialState::Unknown)
        .server_set(Arc::clone(&set))
        .build()
        .unwrap();
    assert_eq!(checker.len(), 2);
    checker.start();
    wait_for(|| set.server(dead_id).unwrap().server.get_state() == ServerState::Down).await;
    for _ in 0..10 {
        assert_eq!(set.pick(None, &[]).unwrap().server_id(), live_id);
    }
    // The live server fails: the set has none up.
    live.set_mode(Mode::Error500);
    wait_for(|| set.server(live_id).unwrap().server.get_state() == ServerState::Down).await;
    assert_eq!(set.pick(None, &[]).unwrap_err(), PickError::NoServerUp);
    // And recovers.
    live.set_mode(Mode::Ok);
    wait_for(|| set.server(live_id).unwrap().server.get_state() == ServerState::Up).await;
    assert_eq!(set.pick(None, &[]).unwrap().server_id(), live_id);
}

#[tokio::test]
async fn operator_states_are_kept() {
    let dead = closed_port().await;
    let set = Arc::new(ServerSet::new(Algorithm::RoundRobin));
    let id = set
        .add(Server::new(dead).state(ServerState::Maint))
        .unwrap();
    let checker = HealthChecker::builder(Check::tcp())
        .timing(timing())
        .server_set(Arc::clone(&set))
        .build()
        .unwrap();
    let mut events = checker.subscribe();
    checker.start();
    let e = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.to, Health::Down);
    assert_eq!(
        set.server(id).unwrap().server.get_state(),
        ServerState::Maint
    );
}

#[test]
fn apply_event_table() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let addr = "127.0.0.1:1".parse().unwrap();
    let event = |server, to| HealthEvent {
        server,
        addr,
        from: Health::Unknown,
        to,
        reason: Reason::Forced,
        consecutive: 1,
        check_duration: None,
        at: Instant::now(),
    };
    let cases = [
        (ServerState::Up, Health::Down, ServerState::Down),
        (ServerState::Down, Health::Up, ServerState::Up),
        (ServerState::Up, Health::Up, ServerState::Up),
        (ServerState::Up, Health::Unknown, ServerState::Up),
        (ServerState::Down, Health::Unknown, ServerState::Down),
        (ServerState::Drain, Health::Down, ServerState::Drain),
        (ServerState::Drain, Health::Up, ServerState::Drain),
        (ServerState::Maint, Health::Up, ServerState::Maint),
    ];
    for (start, health, expected) in cases {
        let id = set.add(Server::new(addr).state(start)).unwrap();
        assert_eq!(
            apply_event(&set, &event(id, health)),
            Some(expected),
            "{start} + {health}"
        );
        assert_eq!(set.server(id).unwrap().server.get_state(), expected);
        set.remove(id).unwrap();
        assert_eq!(apply_event(&set, &event(id, health)), None, "removed");
    }
}

#[test]
fn health_events_never_override_maintenance_set_meanwhile() {
    // A verdict applied while an operator puts the server in maintenance must not replace the
    // maintenance: the read of the current state and the change are one step.
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let event = |id, to| HealthEvent {
        server: id,
        addr: "127.0.0.1:8080".parse().unwrap(),
        from: Health::Unknown,
        to,
        reason: Reason::Forced,
        consecutive: 0,
        check_duration: None,
        at: Instant::now(),
    };
    for trial in 0..300 {
        let set = Arc::new(ServerSet::new(Algorithm::RoundRobin));
        let id = set
            .add(Server::new("127.0.0.1:8080".parse().unwrap()))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let applier = {
            let (set, stop, rounds) = (Arc::clone(&set), Arc::clone(&stop), Arc::clone(&rounds));
            let (down, up) = (event(id, Health::Down), event(id, Health::Up));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    apply_event(&set, &down);
                    apply_event(&set, &up);
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while rounds.load(Ordering::Relaxed) < 3 + trial % 7 {
            assert!(Instant::now() < deadline, "the applier runs");
            std::hint::spin_loop();
        }
        set.set_state(id, ServerState::Maint).unwrap();
        stop.store(true, Ordering::Relaxed);
        applier.join().unwrap();
        assert_eq!(
            set.server(id).unwrap().server.get_state(),
            ServerState::Maint,
            "trial {trial}"
        );
    }
}
