//! Behaviour of each algorithm and of the server set, case by case.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gangway_balance::{
    Algorithm, ConnectionSlot, Error, NoServerPolicy, PickError, Rotation, SeededRandom, Server,
    ServerId, ServerSet, ServerState,
};

fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 8000))
}

/// A set of servers with the given weights (ids 1..=n).
fn set_of(algorithm: Algorithm, weights: &[u16]) -> (ServerSet, Vec<ServerId>) {
    let set = ServerSet::builder()
        .algorithm(algorithm)
        .random_source(SeededRandom::new(1))
        .servers(
            weights
                .iter()
                .enumerate()
                .map(|(i, &w)| Server::new(addr(i as u32 + 1)).weight(w)),
        )
        .build()
        .expect("valid servers");
    let ids = set.ids();
    (set, ids)
}

/// Picks `n` times, dropping each slot at once; returns 1-based server numbers.
fn sequence(set: &ServerSet, n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| set.pick(None, &[]).expect("pick").server_id().get())
        .collect()
}

#[test]
fn round_robin_sequences() {
    let cases: [(Algorithm, &[u16], &[u32]); 6] = [
        (Algorithm::RoundRobin, &[1, 1, 1], &[1, 2, 3, 1, 2, 3]),
        (
            Algorithm::RoundRobin,
            &[5, 1, 1],
            &[1, 1, 1, 2, 3, 1, 1, 1, 1, 1],
        ),
        (Algorithm::RoundRobin, &[2, 0, 1], &[1, 3, 1, 1, 3, 1]),
        (
            Algorithm::StaticRr,
            &[5, 1, 1],
            &[1, 2, 3, 1, 1, 1, 1, 1, 2, 3],
        ),
        (Algorithm::StaticRr, &[1, 2], &[1, 2, 2, 1, 2, 2]),
        (Algorithm::Hash, &[1, 1], &[1, 2, 1, 2]),
    ];
    for (algorithm, weights, want) in cases {
        let (set, _) = set_of(algorithm, weights);
        assert_eq!(sequence(&set, want.len()), want, "{algorithm} {weights:?}");
    }
}

#[test]
fn round_robin_follows_weight_changes() {
    let (set, ids) = set_of(Algorithm::RoundRobin, &[1, 1]);
    assert_eq!(sequence(&set, 4), [1, 2, 1, 2]);
    set.set_weight(ids[1], 3).unwrap();
    let picks = sequence(&set, 400);
    let twos = picks.iter().filter(|&&s| s == 2).count();
    assert_eq!(twos, 300);
    set.set_weight(ids[1], 0).unwrap();
    assert_eq!(sequence(&set, 3), [1, 1, 1]);
}

#[test]
fn first_fills_servers_in_id_order() {
    let set = ServerSet::new(Algorithm::First);
    let ids: Vec<ServerId> = (1..=3)
        .map(|i| set.add(Server::new(addr(i)).maxconn(Some(2))).unwrap())
        .collect();
    let held: Vec<ConnectionSlot> = (0..5).map(|_| set.pick(None, &[]).unwrap()).collect();
    let got: Vec<u32> = held.iter().map(|c| c.server_id().get()).collect();
    assert_eq!(got, [1, 1, 2, 2, 3]);
    // The first server gets the next connection as soon as it has room again.
    drop(held);
    assert_eq!(set.pick(None, &[]).unwrap().server_id(), ids[0]);
    assert_eq!(set.pick(None, &[ids[0]]).unwrap().server_id(), ids[1]);
}

#[test]
fn leastconn_balances_held_connections_by_weight() {
    let (set, _) = set_of(Algorithm::LeastConn, &[1, 2, 3]);
    let held: Vec<ConnectionSlot> = (0..60).map(|_| set.pick(None, &[]).unwrap()).collect();
    let active: Vec<u32> = set.servers().iter().map(|s| s.active).collect();
    assert_eq!(active, [10, 20, 30]);
    drop(held);
    let active: Vec<u32> = set.servers().iter().map(|s| s.active).collect();
    assert_eq!(active, [0, 0, 0]);
}

#[test]
fn leastconn_ties_go_round_robin() {
    let (set, _) = set_of(Algorithm::LeastConn, &[1, 1, 1]);
    assert_eq!(sequence(&set, 6), [1, 2, 3, 1, 2, 3]);
    // With weights, idle ties follow the weights (weighted round robin).
    let (set, _) = set_of(Algorithm::LeastConn, &[1, 3]);
    let picks = sequence(&set, 400);
    assert_eq!(picks.iter().filter(|&&s| s == 2).count(), 300);
}

#[test]
fn leastconn_prefers_the_server_whose_sessions_ended() {
    let (set, ids) = set_of(Algorithm::LeastConn, &[1, 1, 1]);
    let mut held: Vec<ConnectionSlot> = (0..9).map(|_| set.pick(None, &[]).unwrap()).collect();
    // Close two sessions of server 2: the next two go there.
    let mut closed = 0;
    held.retain(|c| {
        if c.server_id() == ids[1] && closed < 2 {
            closed += 1;
            false
        } else {
            true
        }
    });
    let a = set.pick(None, &[]).unwrap();
    let b = set.pick(None, &[]).unwrap();
    let c = set.pick(None, &[]).unwrap();
    assert_eq!(a.server_id(), ids[1]);
    assert_eq!(b.server_id(), ids[1]);
    assert_ne!(c.server_id(), ids[1]);
    assert_eq!(held.len(), 7);
}

#[test]
fn random_draws_are_reproducible_and_prefer_idle_servers() {
    let seq = |seed| {
        let set = ServerSet::builder()
            .algorithm(Algorithm::P2C)
            .random_source(SeededRandom::new(seed))
            .servers((1..=8).map(|i| Server::new(addr(i))))
            .build()
            .unwrap();
        sequence(&set, 50)
    };
    assert_eq!(seq(7), seq(7));
    assert_ne!(seq(7), seq(8));

    // Two servers, one loaded: P2C with both drawn picks the idle one.
    let (set, ids) = set_of(Algorithm::Random { draws: 8 }, &[1, 1]);
    let _load: Vec<ConnectionSlot> = (0..5).map(|_| set.pick(None, &[ids[1]]).unwrap()).collect();
    for _ in 0..20 {
        assert_eq!(set.pick(None, &[]).unwrap().server_id(), ids[1]);
    }
}

#[test]
fn hashing_is_sticky_and_spills_on_exclusion() {
    let (set, ids) = set_of(Algorithm::Hash, &[1, 1, 1, 1, 1]);
    for key in ["10.9.8.7", "/ws/chat?room=1", "user-42", ""] {
        let first = set.pick(Some(key.as_bytes()), &[]).unwrap().server_id();
        for _ in 0..5 {
            assert_eq!(
                set.pick(Some(key.as_bytes()), &[]).unwrap().server_id(),
                first
            );
        }
        let spill = set
            .pick(Some(key.as_bytes()), &[first])
            .unwrap()
            .server_id();
        assert_ne!(spill, first);
        // The spill is deterministic too.
        assert_eq!(
            set.pick(Some(key.as_bytes()), &[first])
                .unwrap()
                .server_id(),
            spill
        );
    }
    // Every server excluded: nothing left.
    assert_eq!(
        set.pick(Some(b"k"), &ids).unwrap_err(),
        PickError::AllExcluded
    );
}

#[test]
fn hashing_is_the_same_in_separate_sets() {
    // Two gateway instances with the same list (added in a different order) agree.
    let a = ServerSet::new(Algorithm::Hash);
    let b = ServerSet::new(Algorithm::Hash);
    for i in 1..=7 {
        a.add(Server::new(addr(i))).unwrap();
    }
    for i in (1..=7).rev() {
        b.add(Server::new(addr(i))).unwrap();
    }
    for k in 0..200u32 {
        let key = k.to_be_bytes();
        let x = a.pick(Some(&key), &[]).unwrap().addr();
        let y = b.pick(Some(&key), &[]).unwrap().addr();
        assert_eq!(x, y, "key {k}");
    }
}

/// Above 655 servers the Maglev table is larger, and a server leaving still moves only
/// about its own keys (a table sized `100 n` moved nearly all of them).
#[test]
fn hashing_disrupts_little_in_large_sets() {
    let set = ServerSet::builder()
        .algorithm(Algorithm::Hash)
        .servers((0..700).map(|i| Server::new(addr(i))))
        .build()
        .unwrap();
    let ids = set.ids();
    let keys: Vec<[u8; 8]> = (0..4000u64)
        .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes())
        .collect();
    let map = |set: &ServerSet| -> Vec<ServerId> {
        keys.iter()
            .map(|k| set.pick(Some(k), &[]).unwrap().server_id())
            .collect()
    };
    let before = map(&set);
    set.remove(ids[123]).unwrap();
    let after = map(&set);
    let moved_others = before
        .iter()
        .zip(&after)
        .filter(|&(b, a)| b != a && *b != ids[123])
        .count();
    assert!(
        moved_others <= keys.len() / 50,
        "{moved_others} of {} keys of other servers moved",
        keys.len()
    );
}

#[test]
fn hash_mapping_is_stable_across_releases() {
    // Part of the crate's promise: the same server list maps the same keys the same way.
    let (set, _) = set_of(Algorithm::Hash, &[1, 1, 1, 1]);
    let got: Vec<u32> = ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .map(|k| set.pick(Some(k.as_bytes()), &[]).unwrap().server_id().get())
        .collect();
    assert_eq!(got, GOLDEN_HASH_PICKS);
}

const GOLDEN_HASH_PICKS: [u32; 8] = [3, 2, 3, 4, 3, 4, 3, 1];

#[test]
fn states_decide_rotation() {
    // (state of regular servers, state of the backup, policy) -> rotation, picked server
    use ServerState::*;
    let cases = [
        (
            [Up, Up],
            Up,
            NoServerPolicy::Fail,
            Rotation::Regular,
            Some(&[1u32, 2][..]),
        ),
        (
            [Up, Drain],
            Up,
            NoServerPolicy::Fail,
            Rotation::Regular,
            Some(&[1][..]),
        ),
        (
            [Maint, Up],
            Up,
            NoServerPolicy::Fail,
            Rotation::Regular,
            Some(&[2][..]),
        ),
        (
            [Down, Drain],
            Up,
            NoServerPolicy::Fail,
            Rotation::Backup,
            Some(&[3][..]),
        ),
        (
            [Down, Maint],
            Down,
            NoServerPolicy::Fail,
            Rotation::Empty,
            None,
        ),
        (
            [Down, Maint],
            Down,
            NoServerPolicy::FailOpen,
            Rotation::FailOpen,
            Some(&[1][..]),
        ),
        (
            [Maint, Drain],
            Down,
            NoServerPolicy::FailOpen,
            Rotation::FailOpen,
            Some(&[3][..]),
        ),
        (
            [Maint, Drain],
            Maint,
            NoServerPolicy::FailOpen,
            Rotation::Empty,
            None,
        ),
    ];
    for (regular, backup, policy, rotation, picks) in cases {
        let set = ServerSet::builder()
            .no_server_policy(policy)
            .server(Server::new(addr(1)).state(regular[0]))
            .server(Server::new(addr(2)).state(regular[1]))
            .server(Server::new(addr(3)).state(backup).backup(true))
            .build()
            .unwrap();
        let label = format!("{regular:?} backup {backup} {policy:?}");
        assert_eq!(set.rotation(), rotation, "{label}");
        match picks {
            Some(allowed) => {
                for s in sequence(&set, 6) {
                    assert!(allowed.contains(&s), "{label}: picked {s}");
                }
            }
            None => assert_eq!(
                set.pick(None, &[]).unwrap_err(),
                PickError::NoServerUp,
                "{label}"
            ),
        }
    }
}

/// As HAProxy without `option allbackups`: only the first backup that is up takes traffic,
/// the next stands by for it; with `all_backups(true)` they share it.
#[test]
fn only_the_first_backup_serves_unless_all_backups() {
    for all in [false, true] {
        let set = ServerSet::builder()
            .all_backups(all)
            .server(Server::new(addr(1)).state(ServerState::Down))
            .server(Server::new(addr(2)).backup(true))
            .server(Server::new(addr(3)).backup(true))
            .build()
            .unwrap();
        let ids = set.ids();
        let mut picked = sequence(&set, 6);
        picked.sort_unstable();
        picked.dedup();
        let want = if all { vec![2, 3] } else { vec![2] };
        assert_eq!(picked, want, "all_backups({all})");
        set.set_state(ids[1], ServerState::Down).unwrap();
        assert_eq!(sequence(&set, 3), [3, 3, 3], "all_backups({all})");
    }
}

#[test]
fn weight_zero_takes_no_new_traffic() {
    let (set, ids) = set_of(Algorithm::LeastConn, &[1, 1]);
    let held = set.pick(None, &[]).unwrap();
    set.set_weight(held.server_id(), 0).unwrap();
    for s in sequence(&set, 5) {
        assert_ne!(s, held.server_id().get());
    }
    set.set_weight(ids[0], 0).unwrap();
    set.set_weight(ids[1], 0).unwrap();
    assert_eq!(set.pick(None, &[]).unwrap_err(), PickError::NoServerUp);
    // The held connection still counts.
    assert_eq!(set.server(held.server_id()).unwrap().active, 1);
    assert_eq!(set.active(held.server_id()), Some(1));
    assert_eq!(set.state(held.server_id()), Some(ServerState::Up));
    assert!(!set.in_rotation(held.server_id()));
    set.remove(ids[0]).unwrap();
    assert_eq!(set.state(ids[0]), None);
    assert_eq!(set.active(ids[0]), None);
}

#[test]
fn full_and_excluded_are_told_apart() {
    for algorithm in all_algorithms() {
        let set = ServerSet::builder()
            .algorithm(algorithm)
            .random_source(SeededRandom::new(3))
            .server(Server::new(addr(1)).maxconn(Some(1)))
            .server(Server::new(addr(2)).maxconn(Some(2)))
            .build()
            .unwrap();
        let ids = set.ids();
        let held: Vec<ConnectionSlot> = (0..3)
            .map(|_| set.pick(Some(b"key"), &[]).expect("room for three"))
            .collect();
        assert_eq!(
            set.pick(Some(b"key"), &[]).unwrap_err(),
            PickError::AllFull,
            "{algorithm}"
        );
        assert_eq!(
            set.pick(None, &[ids[0]]).unwrap_err(),
            PickError::AllFull,
            "{algorithm}"
        );
        drop(held);
        assert_eq!(
            set.pick(None, &ids).unwrap_err(),
            PickError::AllExcluded,
            "{algorithm}"
        );
        let c = set.pick(Some(b"key"), &[ids[1]]).unwrap();
        assert_eq!(c.server_id(), ids[0], "{algorithm}");
    }
}

fn all_algorithms() -> [Algorithm; 7] {
    [
        Algorithm::RoundRobin,
        Algorithm::StaticRr,
        Algorithm::LeastConn,
        Algorithm::P2C,
        Algorithm::Random { draws: 1 },
        Algorithm::First,
        Algorithm::Hash,
    ]
}

#[test]
fn counters_survive_changes_and_removal() {
    for algorithm in all_algorithms() {
        let (set, ids) = set_of(algorithm, &[1, 1, 1]);
        let held: Vec<ConnectionSlot> = (0..30)
            .map(|_| set.pick(Some(b"x"), &[]).unwrap())
            .collect();
        let before: u32 = set.servers().iter().map(|s| s.active).sum();
        assert_eq!(before, 30);
        set.set_weight(ids[0], 7).unwrap();
        set.set_state(ids[1], ServerState::Drain).unwrap();
        set.add(Server::new(addr(9))).unwrap();
        let after: u32 = set.servers().iter().map(|s| s.active).sum();
        assert_eq!(after, 30, "{algorithm}");
        let total: u64 = set.servers().iter().map(|s| s.total_picks).sum();
        assert_eq!(total, 30, "{algorithm}");
        let on_removed = held.iter().filter(|c| c.server_id() == ids[2]).count();
        let removed = set.remove(ids[2]).unwrap();
        assert_eq!(removed.get_addr(), addr(3));
        // Slots of the removed server are still usable and release cleanly.
        for c in held.iter().filter(|c| c.server_id() == ids[2]) {
            assert_eq!(c.addr(), addr(3));
        }
        let still: u32 = set.servers().iter().map(|s| s.active).sum();
        assert_eq!(still as usize, 30 - on_removed, "{algorithm}");
        drop(held);
        assert!(set.servers().iter().all(|s| s.active == 0), "{algorithm}");
        // Picks keep working on the changed set.
        for _ in 0..10 {
            let c = set.pick(Some(b"y"), &[]).unwrap();
            assert!(
                c.server_id() != ids[1] && c.server_id() != ids[2],
                "{algorithm}"
            );
        }
    }
}

#[test]
fn slow_start_ramps_weight_up() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let t0 = Instant::now();
    let steady = set.add(Server::new(addr(1)).weight(16)).unwrap();
    let back = set
        .add(
            Server::new(addr(2))
                .weight(16)
                .state(ServerState::Down)
                .slow_start(Some(Duration::from_secs(16))),
        )
        .unwrap();
    assert_eq!(set.next_refresh(), None);
    set.set_state_at(back, ServerState::Up, t0).unwrap();
    let weight = |set: &ServerSet| set.server(back).unwrap().effective_weight;
    let start = weight(&set);
    assert!(start <= 2, "starts low: {start}");
    let mut last = start;
    for secs in [4, 8, 12] {
        set.refresh(t0 + Duration::from_secs(secs));
        let w = weight(&set);
        assert!(w > last && w < 16, "at {secs}s: {w}");
        last = w;
    }
    assert!(set.next_refresh().is_some());
    assert!(set.refresh(t0 + Duration::from_secs(17)));
    assert_eq!(weight(&set), 16);
    assert_eq!(set.next_refresh(), None);
    assert!(!set.refresh(t0 + Duration::from_secs(18)));
    assert_eq!(set.server(steady).unwrap().effective_weight, 16);

    // static-rr ignores slow start.
    let set = ServerSet::new(Algorithm::StaticRr);
    let s = set
        .add(
            Server::new(addr(1))
                .weight(8)
                .state(ServerState::Down)
                .slow_start(Some(Duration::from_secs(10))),
        )
        .unwrap();
    set.set_state(s, ServerState::Up).unwrap();
    assert_eq!(set.server(s).unwrap().effective_weight, 8);
}

/// The next refresh is when an effective weight changes, not every step: a weight-1
/// server's weight never changes during its ramp, so picks have nothing to publish until
/// it ends (they took the writer lock and looked at every server on each pick meanwhile).
#[test]
fn slow_start_refreshes_only_when_a_weight_changes() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let t0 = Instant::now();
    let ramp = |weight: u16| {
        Server::new(addr(u32::from(weight)))
            .weight(weight)
            .state(ServerState::Down)
            .slow_start(Some(Duration::from_secs(16)))
    };
    let light = set.add(ramp(1)).unwrap();
    let heavier = set.add(ramp(4)).unwrap();
    set.set_state_at(light, ServerState::Up, t0).unwrap();
    assert_eq!(set.next_refresh(), Some(t0 + Duration::from_secs(16)));
    // Weight 4 over 16 steps: 1 until step 8 (4 * 8 / 16 = 2), 7 s in.
    set.set_state_at(heavier, ServerState::Up, t0).unwrap();
    assert_eq!(set.next_refresh(), Some(t0 + Duration::from_secs(7)));
    assert!(set.refresh(t0 + Duration::from_secs(7)));
    assert_eq!(set.server(heavier).unwrap().effective_weight, 2);
    // Steps of 1 s from there (weight 4 * k / 16 changes every 4 steps: 3 at step 12).
    assert_eq!(set.next_refresh(), Some(t0 + Duration::from_secs(11)));
}

/// A batch that does not set its clock starts a ramp now, not at whenever the set's clock
/// last moved (after a long quiet time, that skipped the ramp).
#[test]
fn a_batch_state_change_starts_its_ramp_now() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let period = Duration::from_secs(3600);
    let id = set
        .add(
            Server::new(addr(1))
                .weight(16)
                .state(ServerState::Down)
                .slow_start(Some(period)),
        )
        .unwrap();
    // The set's clock has not moved since it was made: the ramp must start after this.
    let before = Instant::now();
    set.update(|b| b.set_state(id, ServerState::Up)).unwrap();
    // Weight 16: the second step (weight 2) is due a sixteenth of the way in.
    let due = set.next_refresh().expect("ramping");
    assert!(
        due >= before + period / 16,
        "the ramp started before the change"
    );
}

#[test]
fn slow_start_shifts_traffic_gradually() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let t0 = Instant::now();
    set.add(Server::new(addr(1)).weight(16)).unwrap();
    // Steps of 100 s: the picks' own refresh (on the real clock) never fires in this test.
    let period = Duration::from_secs(1600);
    let back = set
        .add(
            Server::new(addr(2))
                .weight(16)
                .state(ServerState::Down)
                .slow_start(Some(period)),
        )
        .unwrap();
    set.set_state_at(back, ServerState::Up, t0).unwrap();
    let share = |set: &ServerSet| {
        sequence(set, 3200)
            .iter()
            .filter(|&&s| s == back.get())
            .count() as f64
            / 3200.0
    };
    let early = share(&set);
    set.refresh(t0 + period / 2);
    let middle = share(&set);
    set.refresh(t0 + period);
    let end = share(&set);
    assert!(
        early < 0.1 && early < middle && middle < end,
        "{early} {middle} {end}"
    );
    assert!((end - 0.5).abs() < 0.01);
}

#[test]
fn picks_advance_slow_start_by_themselves() {
    let set = ServerSet::new(Algorithm::LeastConn);
    let period = Duration::from_millis(160);
    let id = set
        .add(
            Server::new(addr(1))
                .weight(32)
                .state(ServerState::Down)
                .slow_start(Some(period)),
        )
        .unwrap();
    set.add(Server::new(addr(2)).weight(32)).unwrap();
    set.set_state(id, ServerState::Up).unwrap();
    assert!(set.server(id).unwrap().effective_weight < 32);
    // Poll with a generous deadline: picks publish the steps as they fall due.
    let deadline = Instant::now() + Duration::from_secs(60);
    while set.next_refresh().is_some() {
        assert!(Instant::now() < deadline, "ramp never finished");
        drop(set.pick(None, &[]).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(set.server(id).unwrap().effective_weight, 32);
}

#[test]
fn management_errors() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let id = set.add(Server::new(addr(1))).unwrap();
    assert_eq!(
        set.add(Server::new(addr(2)).weight(257)).unwrap_err(),
        Error::WeightOutOfRange {
            server: None,
            weight: 257
        }
    );
    assert_eq!(
        set.set_weight(id, 300).unwrap_err(),
        Error::WeightOutOfRange {
            server: Some(id),
            weight: 300
        }
    );
    set.remove(id).unwrap();
    assert_eq!(set.remove(id).unwrap_err(), Error::UnknownServer(id));
    assert_eq!(
        set.set_state(id, ServerState::Up).unwrap_err(),
        Error::UnknownServer(id)
    );
    // Ids are never reused.
    let next = set.add(Server::new(addr(1))).unwrap();
    assert!(next > id);
    assert_eq!(set.find_addr(addr(1)), Some(next));
    assert_eq!(
        Error::UnknownServer(id).to_string(),
        "no server with id #1 in this set"
    );
}

#[test]
fn lookups_and_parsing() {
    let set = ServerSet::new(Algorithm::RoundRobin);
    let id = set.add(Server::new(addr(1)).name("ws1")).unwrap();
    assert_eq!(set.find_name("ws1"), Some(id));
    assert_eq!(set.pick(None, &[]).unwrap().server_name(), Some("ws1"));
    let algorithms = [
        ("roundrobin", Algorithm::RoundRobin),
        ("static-rr", Algorithm::StaticRr),
        ("leastconn", Algorithm::LeastConn),
        ("random", Algorithm::P2C),
        ("random(3)", Algorithm::Random { draws: 3 }),
        ("first", Algorithm::First),
        ("source", Algorithm::Hash),
        ("hdr(X-User)", Algorithm::Hash),
        ("url_param(room)", Algorithm::Hash),
    ];
    for (text, algorithm) in algorithms {
        assert_eq!(text.parse::<Algorithm>().unwrap(), algorithm, "{text}");
    }
    assert!("fastest".parse::<Algorithm>().is_err());
    assert!("random(x)".parse::<Algorithm>().is_err());
    for (text, state) in [
        ("up", ServerState::Up),
        ("DOWN", ServerState::Down),
        ("drain", ServerState::Drain),
        ("maint", ServerState::Maint),
    ] {
        assert_eq!(text.parse::<ServerState>().unwrap(), state);
    }
    assert!("sleepy".parse::<ServerState>().is_err());
}

#[test]
fn round_robin_weights_hold_for_each_of_many_sets_picked_in_turn() {
    // One thread picking from more sets than any per-thread cache would hold (a gateway has
    // one set per backend): each set still gives its servers exactly their weights per cycle.
    let sets: Vec<ServerSet> = (0..6)
        .map(|_| set_of(Algorithm::RoundRobin, &[2, 1]).0)
        .collect();
    let mut firsts = vec![0; sets.len()];
    for _ in 0..300 {
        for (s, set) in sets.iter().enumerate() {
            if set.pick(None, &[]).unwrap().server_id() == set.ids()[0] {
                firsts[s] += 1;
            }
        }
    }
    assert_eq!(firsts, vec![200; sets.len()]);
}

#[test]
fn a_leastconn_server_back_from_down_gets_no_burst() {
    // Short connections (each released at once): a returning server resumes its turn among
    // the others rather than taking every pick until it has caught up.
    let (set, ids) = set_of(Algorithm::LeastConn, &[256, 256, 256, 256]);
    let back = ids[2];
    sequence(&set, 1000);
    set.set_state(back, ServerState::Down).unwrap();
    sequence(&set, 600);
    set.set_state(back, ServerState::Up).unwrap();
    let run = (0..400)
        .take_while(|_| set.pick(None, &[]).unwrap().server_id() == back)
        .count();
    assert!(run <= 2, "the returning server took {run} picks in a row");
}
