//! Picks from several threads while the set changes under them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use gangway_balance::{Algorithm, ConnectionSlot, Server, ServerSet, ServerState};

fn addr(i: u16) -> SocketAddr {
    SocketAddr::from(([10, 4, (i >> 8) as u8, i as u8], 80))
}

#[test]
fn picks_and_changes_interleave_without_losing_counts() {
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::StaticRr,
        Algorithm::LeastConn,
        Algorithm::P2C,
        Algorithm::First,
        Algorithm::Hash,
    ] {
        let set = ServerSet::builder()
            .algorithm(algorithm)
            .servers((0..16).map(|i| Server::new(addr(i)).weight(1 + i % 4).maxconn(Some(8))))
            // Never up: must never be picked, whatever happens to the others.
            .server(Server::new(addr(99)).state(ServerState::Maint))
            .build()
            .unwrap();
        let never = set.find_addr(addr(99)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let pickers: Vec<_> = (0..3)
            .map(|t| {
                let set = set.clone();
                thread::spawn(move || {
                    let mut held: Vec<ConnectionSlot> = Vec::new();
                    let mut picked = 0u64;
                    for round in 0..20_000u64 {
                        let key = (round * 31 + t).to_le_bytes();
                        if let Ok(c) = set.pick(Some(&key), &[]) {
                            assert_ne!(c.server_id(), never);
                            picked += 1;
                            held.push(c);
                        }
                        if held.len() > 20 {
                            held.drain(..(round as usize % 20));
                        }
                    }
                    picked
                })
            })
            .collect();
        let changer = {
            let set = set.clone();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut k = 0u16;
                let mut added = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let ids = set.ids();
                    let id = ids[usize::from(k) % 16];
                    match k % 5 {
                        0 => drop(set.set_state(id, ServerState::Down)),
                        1 => drop(set.set_state(id, ServerState::Up)),
                        2 => drop(set.set_weight(id, k % 5)),
                        3 => added.push(set.add(Server::new(addr(200 + k % 50))).unwrap()),
                        _ => {
                            if let Some(id) = added.pop() {
                                set.remove(id).unwrap();
                            }
                        }
                    }
                    k = k.wrapping_add(1);
                    thread::yield_now();
                }
            })
        };
        let total: u64 = pickers.into_iter().map(|p| p.join().unwrap()).sum();
        stop.store(true, Ordering::Relaxed);
        changer.join().unwrap();
        assert!(total > 0, "{algorithm}");
        // Every slot was released, on servers still present and on removed ones.
        assert!(set.servers().iter().all(|s| s.active == 0), "{algorithm}");
    }
}

#[test]
fn maxconn_holds_under_contention() {
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::LeastConn,
        Algorithm::P2C,
        Algorithm::First,
        Algorithm::Hash,
    ] {
        let set = ServerSet::builder()
            .algorithm(algorithm)
            .servers((0..4).map(|i| Server::new(addr(i)).maxconn(Some(3))))
            .build()
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let set = set.clone();
                thread::spawn(move || {
                    let mut held = Vec::new();
                    for round in 0..5_000u32 {
                        if let Ok(c) = set.pick(Some(&round.to_le_bytes()), &[]) {
                            held.push(c);
                        }
                        for s in set.servers() {
                            assert!(s.active <= 3, "{algorithm}: {} active", s.active);
                        }
                        if (round + t) % 3 == 0 {
                            held.clear();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(set.servers().iter().all(|s| s.active == 0));
    }
}

#[test]
fn a_thread_picking_from_many_sets_gets_each_sets_servers() {
    // Several sets picked from in turn, with guards held across them.
    let sets: Vec<ServerSet> = (0..7u16)
        .map(|s| {
            ServerSet::builder()
                .algorithm(if s % 2 == 0 {
                    Algorithm::LeastConn
                } else {
                    Algorithm::RoundRobin
                })
                .servers((0..3).map(|i| Server::new(addr(s * 10 + i))))
                .build()
                .unwrap()
        })
        .collect();
    let mut held = Vec::new();
    for round in 0..300usize {
        let s = round % sets.len();
        let set = &sets[s];
        let c = set.pick(None, &[]).unwrap();
        assert!(set.find_addr(c.addr()) == Some(c.server_id()), "set {s}");
        if round == 150 {
            // A change is seen at once, whatever the thread holds.
            let id = set.ids()[0];
            set.set_state(id, ServerState::Maint).unwrap();
            assert_ne!(set.pick(None, &[]).unwrap().server_id(), id);
            assert_ne!(set.pick(None, &[]).unwrap().server_id(), id);
        }
        held.push(c);
        if held.len() > 20 {
            held.drain(..10);
        }
    }
    drop(held);
    for set in &sets {
        assert!(set.servers().iter().all(|s| s.active == 0));
    }
}

thread_local! {
    static HELD: std::cell::RefCell<Vec<ConnectionSlot>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[test]
fn slots_released_at_thread_exit_are_counted() {
    let set = ServerSet::builder()
        .algorithm(Algorithm::LeastConn)
        .servers((0..4).map(|i| Server::new(addr(i))))
        .build()
        .unwrap();
    let picker = {
        let set = set.clone();
        // Dropped with the thread's locals.
        thread::spawn(move || {
            for _ in 0..6 {
                let c = set.pick(None, &[]).unwrap();
                HELD.with(|held| held.borrow_mut().push(c));
            }
        })
    };
    picker.join().unwrap();
    assert!(set.servers().iter().all(|s| s.active == 0));
    // The tree saw the releases: four picks go to four different servers.
    let held: Vec<_> = (0..4).map(|_| set.pick(None, &[]).unwrap()).collect();
    let mut ids: Vec<_> = held.iter().map(ConnectionSlot::server_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}
