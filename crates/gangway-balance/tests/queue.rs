//! `maxconn` queueing with tokio's paused clock: no real waiting, deterministic.

use std::net::SocketAddr;
use std::time::Duration;

use gangway_balance::{Algorithm, PickError, Server, ServerSet, ServerState};

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 2, 0, i], 7000))
}

fn one_slot_set(maxqueue: Option<u32>) -> ServerSet {
    ServerSet::builder()
        .algorithm(Algorithm::LeastConn)
        .server(Server::new(addr(1)).maxconn(Some(1)).maxqueue(maxqueue))
        .build()
        .expect("valid server")
}

/// Lets spawned tasks run until `done` holds (paused time: no wall-clock waiting).
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition not reached");
}

#[tokio::test(start_paused = true)]
async fn a_free_server_is_picked_without_waiting() {
    let set = one_slot_set(None);
    let c = set
        .pick_queued(None, &[], Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(c.addr(), addr(1));
    assert_eq!(set.queued(), 0);
}

#[tokio::test(start_paused = true)]
async fn waiting_times_out() {
    let set = one_slot_set(None);
    let _held = set.pick(None, &[]).unwrap();
    let started = tokio::time::Instant::now();
    let err = set
        .pick_queued(None, &[], Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err, PickError::QueueTimeout);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(set.queue_timeouts(), 1);
    assert_eq!(set.queued(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_released_slot_goes_to_the_waiter() {
    let set = one_slot_set(None);
    let held = set.pick(None, &[]).unwrap();
    let waiter = {
        let set = set.clone();
        tokio::spawn(async move { set.pick_queued(None, &[], Duration::from_secs(30)).await })
    };
    until(|| set.queued() == 1).await;
    assert!(!waiter.is_finished());
    drop(held);
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.addr(), addr(1));
    assert_eq!(set.queued(), 0);
    assert_eq!(set.server(got.server_id()).unwrap().active, 1);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_one_per_released_slot() {
    let set = one_slot_set(None);
    let held = set.pick(None, &[]).unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let set = set.clone();
            tokio::spawn(async move {
                let slot = set.pick_queued(None, &[], Duration::from_secs(60)).await?;
                // Hold the backend connection a while, then release it.
                tokio::time::sleep(Duration::from_secs(1)).await;
                drop(slot);
                Ok::<(), PickError>(())
            })
        })
        .collect();
    until(|| set.queued() == 3).await;
    drop(held);
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    assert_eq!(set.queued(), 0);
    assert_eq!(set.servers()[0].total_picks, 4);
}

#[tokio::test(start_paused = true)]
async fn maxqueue_bounds_the_queue() {
    let cases = [(Some(0), 0usize), (Some(1), 1), (Some(2), 2)];
    for (maxqueue, room) in cases {
        let set = one_slot_set(maxqueue);
        let _held = set.pick(None, &[]).unwrap();
        let waiters: Vec<_> = (0..room)
            .map(|_| {
                let set = set.clone();
                tokio::spawn(
                    async move { set.pick_queued(None, &[], Duration::from_secs(60)).await },
                )
            })
            .collect();
        until(|| set.queued() == room).await;
        let err = set
            .pick_queued(None, &[], Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(err, PickError::QueueFull, "maxqueue {maxqueue:?}");
        for w in waiters {
            w.abort();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_learn_when_the_server_goes_down() {
    let set = one_slot_set(None);
    let id = set.ids()[0];
    let _held = set.pick(None, &[]).unwrap();
    let waiter = {
        let set = set.clone();
        tokio::spawn(async move { set.pick_queued(None, &[], Duration::from_secs(30)).await })
    };
    until(|| set.queued() == 1).await;
    set.set_state(id, ServerState::Down).unwrap();
    assert_eq!(waiter.await.unwrap().unwrap_err(), PickError::NoServerUp);
}

#[tokio::test(start_paused = true)]
async fn a_new_server_serves_the_queue() {
    let set = one_slot_set(None);
    let _held = set.pick(None, &[]).unwrap();
    let waiter = {
        let set = set.clone();
        tokio::spawn(async move { set.pick_queued(None, &[], Duration::from_secs(30)).await })
    };
    until(|| set.queued() == 1).await;
    set.add(Server::new(addr(2))).unwrap();
    assert_eq!(waiter.await.unwrap().unwrap().addr(), addr(2));
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiters_leave_the_queue() {
    let set = one_slot_set(None);
    let _held = set.pick(None, &[]).unwrap();
    let waiter = {
        let set = set.clone();
        tokio::spawn(async move { set.pick_queued(None, &[], Duration::from_secs(30)).await })
    };
    until(|| set.queued() == 1).await;
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    assert_eq!(set.queued(), 0);
}

#[test]
fn handles_and_futures_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let set = one_slot_set(None);
    send_sync(&set);
    let slot = set.pick(None, &[]).unwrap();
    send_sync(&slot);
    drop(slot);
    let future = set.pick_queued(None, &[], Duration::from_secs(1));
    send(&future);
}

/// A slot freed on a server that the oldest waiter excludes (a retry after that server
/// failed) reaches a waiter that can use it: the woken one passes the wake on. It used to
/// go back to sleep with the wake spent, and the other waited for the next release or its
/// timeout while the slot sat free.
#[tokio::test(start_paused = true)]
async fn a_wake_for_an_excluded_server_is_passed_on() {
    let set = ServerSet::builder()
        .algorithm(Algorithm::LeastConn)
        .server(Server::new(addr(1)).maxconn(Some(1)))
        .server(Server::new(addr(2)).maxconn(Some(1)))
        .build()
        .expect("valid servers");
    let ids = set.ids();
    let held: Vec<_> = (0..2).map(|_| set.pick(None, &[]).unwrap()).collect();
    let first = held.iter().position(|c| c.server_id() == ids[0]).unwrap();
    let excluding = {
        let set = set.clone();
        let exclude = [ids[0]];
        tokio::spawn(async move {
            set.pick_queued(None, &exclude, Duration::from_secs(30))
                .await
        })
    };
    until(|| set.queued() == 1).await;
    let any = {
        let set = set.clone();
        tokio::spawn(async move { set.pick_queued(None, &[], Duration::from_secs(30)).await })
    };
    until(|| set.queued() == 2).await;
    let mut held = held;
    drop(held.swap_remove(first));
    until(|| any.is_finished()).await;
    let got = any.await.unwrap().unwrap();
    assert_eq!(got.server_id(), ids[0]);
    assert!(!excluding.is_finished());
    assert_eq!(set.queued(), 1);
    excluding.abort();
}
