//! Property tests against simple reference models.

use std::collections::HashMap;
use std::net::SocketAddr;

use gangway_balance::{
    Algorithm, ConnectionSlot, PickError, SeededRandom, Server, ServerId, ServerInfo, ServerSet,
    ServerState,
};
use proptest::prelude::*;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 9000))
}

fn set_with(
    algorithm: Algorithm,
    servers: impl IntoIterator<Item = Server>,
    seed: u64,
) -> ServerSet {
    ServerSet::builder()
        .algorithm(algorithm)
        .random_source(SeededRandom::new(seed))
        .servers(servers)
        .build()
        .expect("valid servers")
}

fn algorithm_strategy() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::RoundRobin),
        Just(Algorithm::StaticRr),
        Just(Algorithm::LeastConn),
        Just(Algorithm::P2C),
        Just(Algorithm::Random { draws: 1 }),
        Just(Algorithm::Random { draws: 3 }),
        Just(Algorithm::First),
        Just(Algorithm::Hash),
    ]
}

/// Counts picks per server (slots dropped at once) and returns shares in id order.
fn shares(set: &ServerSet, picks: usize, keyed: bool) -> Vec<usize> {
    let ids = set.ids();
    let mut counts: HashMap<ServerId, usize> = HashMap::new();
    for k in 0..picks as u64 {
        let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes();
        let c = set.pick(keyed.then_some(&key[..]), &[]).expect("pick");
        *counts.entry(c.server_id()).or_default() += 1;
    }
    ids.iter()
        .map(|id| counts.get(id).copied().unwrap_or(0))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Round robin and static-rr give every server exactly its weight's share over whole
    /// cycles; leastconn (idle), random(n) and hashing come within tolerance.
    #[test]
    fn shares_follow_weights(weights in prop::collection::vec(1u16..=20, 2..8), seed in any::<u64>()) {
        let total: usize = weights.iter().map(|&w| usize::from(w)).sum();
        let servers = || weights.iter().enumerate().map(|(i, &w)| Server::new(addr(i)).weight(w));
        for algorithm in [Algorithm::RoundRobin, Algorithm::StaticRr] {
            let set = set_with(algorithm, servers(), seed);
            let got = shares(&set, total * 20, false);
            let want: Vec<usize> = weights.iter().map(|&w| usize::from(w) * 20).collect();
            prop_assert_eq!(got, want, "{}", algorithm);
        }
        // Idle leastconn is weighted round robin among equals: off by at most a pick or two.
        let set = set_with(Algorithm::LeastConn, servers(), seed);
        let got = shares(&set, total * 20, false);
        for (i, &w) in weights.iter().enumerate() {
            let want = usize::from(w) * 20;
            prop_assert!(got[i].abs_diff(want) <= 2, "leastconn server {}: {} vs {}", i, got[i], want);
        }
        let picks = 20_000;
        for (algorithm, keyed) in [(Algorithm::P2C, false), (Algorithm::Random { draws: 1 }, false), (Algorithm::Hash, true)] {
            let set = set_with(algorithm, servers(), seed);
            let got = shares(&set, picks, keyed);
            for (i, &w) in weights.iter().enumerate() {
                let share = got[i] as f64 / picks as f64;
                let want = f64::from(w) / total as f64;
                prop_assert!((share - want).abs() < 0.025, "{} server {}: {} vs {}", algorithm, i, share, want);
            }
        }
    }

    /// Leastconn never picks a server with more active connections (relative to weight)
    /// than another one it could have picked.
    #[test]
    fn leastconn_picks_a_least_loaded_server(
        // Up to 40 servers: trees of one to three levels.
        weights in prop::collection::vec(1u16..=8, 1..40),
        maxconn in prop::collection::vec(prop::option::of(1u32..6), 40),
        ops in prop::collection::vec((0u8..10, any::<u16>()), 1..200),
    ) {
        let servers = weights.iter().enumerate().map(|(i, &w)| Server::new(addr(i)).weight(w).maxconn(maxconn[i]));
        let set = set_with(Algorithm::LeastConn, servers, 0);
        let ids = set.ids();
        let mut held: Vec<ConnectionSlot> = Vec::new();
        for (op, arg) in ops {
            match op {
                0..=5 => {
                    // Exclude a server now and then, as a retry would.
                    let exclude: Vec<ServerId> = if op == 5 { vec![ids[usize::from(arg) % ids.len()]] } else { Vec::new() };
                    let before = set.servers();
                    let candidates: Vec<&ServerInfo> = before.iter()
                        .filter(|s| s.in_rotation && !exclude.contains(&s.id))
                        .filter(|s| s.server.get_maxconn().is_none_or(|m| s.active < m))
                        .collect();
                    match set.pick(None, &exclude) {
                        Ok(c) => {
                            let picked = before.iter().find(|s| s.id == c.server_id()).expect("known server");
                            prop_assert!(candidates.iter().any(|s| s.id == picked.id), "picked an ineligible server");
                            for other in &candidates {
                                let lhs = u64::from(picked.active) * u64::from(other.effective_weight);
                                let rhs = u64::from(other.active) * u64::from(picked.effective_weight);
                                prop_assert!(lhs <= rhs, "picked {} ({}/{}) over {} ({}/{})",
                                    picked.id, picked.active, picked.effective_weight,
                                    other.id, other.active, other.effective_weight);
                            }
                            held.push(c);
                        }
                        Err(e) => {
                            prop_assert!(candidates.is_empty(), "{} with candidates left", e);
                            prop_assert!(matches!(e, PickError::AllFull | PickError::AllExcluded | PickError::NoServerUp));
                        }
                    }
                }
                6..=8 => {
                    if !held.is_empty() {
                        held.swap_remove(usize::from(arg) % held.len());
                    }
                }
                _ => {
                    set.set_weight(ids[usize::from(arg) % ids.len()], arg % 9).expect("known server");
                }
            }
        }
        drop(held);
        prop_assert!(set.servers().iter().all(|s| s.active == 0));
    }

    /// Removing one of N servers moves about 1/N of the keys: only those of the removed
    /// server, plus a small Maglev overhead; adding one moves about 1/(N+1).
    #[test]
    fn hashing_disrupts_little(n in 3usize..40, removed in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let set = set_with(Algorithm::Hash, (0..n).map(|i| Server::new(addr(i))), seed);
        let keys: Vec<[u8; 8]> = (0..4000u64).map(|k| (k ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes()).collect();
        let map = |set: &ServerSet| -> Vec<ServerId> {
            keys.iter().map(|k| set.pick(Some(k), &[]).expect("pick").server_id()).collect()
        };
        let before = map(&set);
        let gone = set.ids()[removed.index(n)];
        set.remove(gone).expect("known server");
        let after = map(&set);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        let owned = before.iter().filter(|&&b| b == gone).count();
        let moved_others = moved - owned;
        let fraction = moved as f64 / keys.len() as f64;
        prop_assert!(fraction <= 1.0 / n as f64 + 0.03, "moved {} of {} keys with n={}", moved, keys.len(), n);
        prop_assert!(moved_others as f64 / keys.len() as f64 <= 0.02, "{} keys of other servers moved", moved_others);

        set.add(Server::new(addr(1000))).expect("add");
        let again = map(&set);
        let moved = after.iter().zip(&again).filter(|(b, a)| b != a).count();
        prop_assert!(moved as f64 / keys.len() as f64 <= 1.0 / n as f64 + 0.03, "adding moved {}", moved);
    }

    /// No algorithm ever returns a server that is down, drained, in maintenance, weighted 0,
    /// excluded or full, nor a backup while a regular server is usable.
    #[test]
    fn picks_are_always_eligible(
        algorithm in algorithm_strategy(),
        servers in prop::collection::vec(
            (0u8..4, 0u16..4, any::<bool>(), prop::option::of(1u32..4)), 1..12),
        ops in prop::collection::vec((0u8..8, any::<u16>()), 1..150),
        seed in any::<u64>(),
    ) {
        let states = [ServerState::Up, ServerState::Down, ServerState::Drain, ServerState::Maint];
        let config = servers.iter().enumerate().map(|(i, &(state, weight, backup, maxconn))| {
            Server::new(addr(i)).state(states[usize::from(state)]).weight(weight).backup(backup).maxconn(maxconn)
        });
        let set = set_with(algorithm, config, seed);
        let ids = set.ids();
        let mut held: Vec<ConnectionSlot> = Vec::new();
        for (op, arg) in ops {
            let id = ids[usize::from(arg) % ids.len()];
            match op {
                0..=3 => {
                    let exclude: Vec<ServerId> = if op == 3 { vec![id] } else { Vec::new() };
                    let key = arg.to_le_bytes();
                    let info = set.servers();
                    let usable = |backup: bool| info.iter().any(|s| s.server.get_state() == ServerState::Up
                        && s.effective_weight > 0 && s.server.is_backup() == backup);
                    let tier_backup = !usable(false);
                    match set.pick((op == 2).then_some(&key[..]), &exclude) {
                        Ok(c) => {
                            let s = set.server(c.server_id()).expect("known");
                            prop_assert_eq!(s.server.get_state(), ServerState::Up);
                            prop_assert!(s.effective_weight > 0);
                            prop_assert_eq!(s.server.is_backup(), tier_backup);
                            prop_assert!(!exclude.contains(&s.id));
                            prop_assert!(s.server.get_maxconn().is_none_or(|m| s.active <= m), "over maxconn");
                            held.push(c);
                        }
                        Err(PickError::NoServerUp) => prop_assert!(!usable(false) && !usable(true)),
                        Err(PickError::AllFull | PickError::AllExcluded) => {
                            let free = info.iter().any(|s| s.in_rotation && !exclude.contains(&s.id)
                                && s.server.get_maxconn().is_none_or(|m| s.active < m));
                            prop_assert!(!free, "refused with a free server");
                        }
                        Err(e) => prop_assert!(false, "unexpected {}", e),
                    }
                }
                4 | 5 => {
                    if !held.is_empty() {
                        held.swap_remove(usize::from(arg) % held.len());
                    }
                }
                6 => {
                    set.set_state(id, states[usize::from(arg >> 8) % 4]).expect("known");
                }
                _ => {
                    set.set_weight(id, arg % 3).expect("known");
                }
            }
        }
    }
}
