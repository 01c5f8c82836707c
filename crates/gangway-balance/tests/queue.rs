//! `maxconn` queueing with tokio's paused clock: no real waiting, deterministic.
//!
//! The order tests poll each queued caller's future by hand (`Waiting`), so that what
//! runs when is the test's choice, not the scheduler's.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use gangway_balance::{
    Algorithm, ConnectionSlot, PickError, Server, ServerId, ServerSet, ServerState,
};

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

type Outcome = Result<ConnectionSlot, PickError>;

/// A `pick_queued` future polled by hand, and what it returned once it did.
struct Waiting<'a> {
    future: Option<Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>>,
    done: Option<Outcome>,
}

impl<'a> Waiting<'a> {
    /// Starts a queued pick and polls it once.
    async fn start(set: &'a ServerSet, exclude: &'a [ServerId], timeout: Duration) -> Self {
        let mut waiting = Waiting {
            future: Some(Box::pin(set.pick_queued(None, exclude, timeout))),
            done: None,
        };
        waiting.poll().await;
        waiting
    }

    /// Polls once, in the test task's context, unless it is done; whether it is done now.
    async fn poll(&mut self) -> bool {
        if let Some(future) = &mut self.future
            && let Poll::Ready(outcome) = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
        {
            self.future = None;
            self.done = Some(outcome);
        }
        self.done.is_some()
    }

    fn is_waiting(&self) -> bool {
        self.future.is_some()
    }

    /// The slot it was served (panics if it was not).
    fn slot(&mut self) -> ConnectionSlot {
        match self.done.take() {
            Some(Ok(slot)) => slot,
            other => panic!("expected a slot, got {other:?}"),
        }
    }
}

/// Polls every waiter, youngest first, a few rounds (for wakes passed from one to the
/// next): whatever the order in which woken tasks run, the callers served are the ones
/// the queue chose.
async fn settle(waiters: &mut [Waiting<'_>]) {
    for _ in 0..2 * waiters.len() {
        for w in waiters.iter_mut().rev() {
            w.poll().await;
        }
    }
}

/// Which waiters are still waiting.
fn still_waiting(waiters: &[Waiting<'_>]) -> Vec<bool> {
    waiters.iter().map(Waiting::is_waiting).collect()
}

fn two_slot_set(maxqueue: [Option<u32>; 2]) -> ServerSet {
    ServerSet::builder()
        .algorithm(Algorithm::LeastConn)
        .server(Server::new(addr(1)).maxconn(Some(1)).maxqueue(maxqueue[0]))
        .server(Server::new(addr(2)).maxconn(Some(1)).maxqueue(maxqueue[1]))
        .build()
        .expect("valid servers")
}

/// Both servers' slots, held: `[on server 1, on server 2]`.
fn hold_both(set: &ServerSet) -> [ConnectionSlot; 2] {
    let ids = set.ids();
    let (a, b) = (set.pick(None, &[]).unwrap(), set.pick(None, &[]).unwrap());
    if a.server_id() == ids[0] {
        [a, b]
    } else {
        [b, a]
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// Several waiters, one slot released at a time: each goes to the longest-waiting caller
/// that can use it, and a caller passed over (it excludes the server freed) keeps its
/// place. It used to go to the back: its wake was passed on and it waited again behind
/// the others, so the next slot, on a server it could use, went to a younger caller.
#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    let set = two_slot_set([None, None]);
    let ids = set.ids();
    let [on_1, on_2] = hold_both(&set);
    let not_1 = [ids[0]];
    let mut waiters = vec![
        Waiting::start(&set, &not_1, MINUTE).await,
        Waiting::start(&set, &[], MINUTE).await,
        Waiting::start(&set, &[], MINUTE).await,
        Waiting::start(&set, &[], MINUTE).await,
    ];
    assert_eq!(set.queued(), 4);

    // Server 1's slot: the oldest excludes it, the second takes it.
    drop(on_1);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [true, false, true, true]);
    let second = waiters[1].slot();
    assert_eq!(second.server_id(), ids[0]);

    // Server 2's slot: the oldest, passed over but still first in line.
    drop(on_2);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [false, false, true, true]);
    let first = waiters[0].slot();
    assert_eq!(first.server_id(), ids[1]);

    // Then the others, one per slot released, in order.
    drop(second);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [false, false, false, true]);
    let third = waiters[2].slot();
    drop(first);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [false, false, false, false]);
    let fourth = waiters[3].slot();
    assert_ne!(third.server_id(), fourth.server_id());
    assert_eq!(set.queued(), 0);
}

/// A caller arriving while others wait queues behind them, even when it comes just as a
/// slot is released: the slot is handed to the waiter. The newcomer used to take it (it
/// picked before looking at the queue), and the woken waiter went back to waiting.
#[tokio::test(start_paused = true)]
async fn a_newcomer_does_not_jump_the_queue() {
    let set = one_slot_set(None);
    let held = set.pick(None, &[]).unwrap();
    let mut waiter = Waiting::start(&set, &[], MINUTE).await;
    assert!(waiter.is_waiting());

    drop(held);
    let mut newcomer = Waiting::start(&set, &[], MINUTE).await;
    assert!(newcomer.is_waiting(), "the newcomer took the waiter's slot");
    assert_eq!(set.queued(), 2);
    assert!(waiter.poll().await);
    let served = waiter.slot();

    // The newcomer is next.
    drop(served);
    assert!(newcomer.poll().await);
    newcomer.slot();
    assert_eq!(set.queued(), 0);
}

/// Never a caller waiting while a slot it can use is free: a slot the waiters exclude goes
/// to a newcomer that can use it, even with the queue at its `maxqueue` (after the callers
/// ahead were served, what is left is the newcomer's).
#[tokio::test(start_paused = true)]
async fn a_slot_no_waiter_can_use_goes_to_a_newcomer() {
    for maxqueue in [[None, None], [Some(1), Some(0)]] {
        let set = two_slot_set(maxqueue);
        let ids = set.ids();
        let [on_1, _on_2] = hold_both(&set);
        let not_1 = [ids[0]];
        let mut waiter = Waiting::start(&set, &not_1, MINUTE).await;
        drop(on_1);
        assert!(!waiter.poll().await, "{maxqueue:?}");

        // A newcomer that also excludes it waits (or finds the queue full)...
        let mut excluding = Waiting::start(&set, &not_1, MINUTE).await;
        match maxqueue {
            [None, None] => assert!(excluding.is_waiting()),
            _ => assert_eq!(
                excluding.done.take().unwrap().unwrap_err(),
                PickError::QueueFull
            ),
        }
        // ...one that can use it takes it at once.
        let mut newcomer = Waiting::start(&set, &[], MINUTE).await;
        assert_eq!(newcomer.slot().server_id(), ids[0], "{maxqueue:?}");
        assert_eq!(set.queued(), if maxqueue[0].is_none() { 2 } else { 1 });
    }
}

/// A waiter dropped (cancelled) just after it was served gives its slot to the next.
#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_as_it_is_served_passes_its_slot_on() {
    let set = one_slot_set(None);
    let id = set.ids()[0];
    let held = set.pick(None, &[]).unwrap();
    let first = Waiting::start(&set, &[], MINUTE).await;
    let mut second = Waiting::start(&set, &[], MINUTE).await;
    drop(held);
    drop(first);
    assert!(second.poll().await);
    let _served = second.slot();
    assert_eq!(set.active(id), Some(1));
    assert_eq!(set.queued(), 0);
}

/// The head of the queue timing out: served as its time runs out, the slot is its own;
/// timed out before a release, the next caller gets the slot.
#[tokio::test(start_paused = true)]
async fn the_head_of_the_queue_timing_out_does_not_stall_the_rest() {
    let five = Duration::from_secs(5);
    let set = one_slot_set(None);
    let id = set.ids()[0];

    // Served at the moment its timeout expires.
    let held = set.pick(None, &[]).unwrap();
    let mut waiters = [
        Waiting::start(&set, &[], five).await,
        Waiting::start(&set, &[], MINUTE).await,
    ];
    tokio::time::advance(five).await;
    drop(held);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [false, true]);
    let served = waiters[0].slot();
    assert_eq!(set.queue_timeouts(), 0);

    // Timed out before the release: the release goes to the next.
    let mut late = Waiting::start(&set, &[], five).await;
    tokio::time::advance(five).await;
    assert!(late.poll().await);
    assert_eq!(
        late.done.take().unwrap().unwrap_err(),
        PickError::QueueTimeout
    );
    assert_eq!(set.queue_timeouts(), 1);
    drop(served);
    settle(&mut waiters).await;
    assert_eq!(still_waiting(&waiters), [false, false]);
    let _served = waiters[1].slot();
    assert_eq!(set.active(id), Some(1));
    assert_eq!(set.queued(), 0);
}

/// A change that makes room (a server added, up, back to a weight, given more `maxconn`)
/// serves the waiters in order too, whichever task runs first. Every waiter used to be
/// woken, and the first to run took the slot.
#[tokio::test(start_paused = true)]
async fn a_change_serves_the_queue_in_order() {
    type Change = fn(&ServerSet, ServerId);
    let changes: [(&str, Change); 4] = [
        ("add", |set, _| {
            set.add(Server::new(addr(2)).maxconn(Some(1))).unwrap();
        }),
        ("up", |set, spare| {
            set.set_state(spare, ServerState::Up).unwrap();
        }),
        ("weight", |set, spare| {
            set.set_weight(spare, 1).unwrap();
        }),
        ("maxconn", |set, _| {
            let id = set.ids()[0];
            set.set_maxconn(id, Some(2)).unwrap();
        }),
    ];
    for (name, change) in changes {
        let set = one_slot_set(None);
        // Out of rotation (down, or weight 0) until the change brings it in, for "up" and
        // "weight".
        let spare = set
            .add(match name {
                "up" => Server::new(addr(3))
                    .maxconn(Some(1))
                    .state(ServerState::Down),
                _ => Server::new(addr(3)).maxconn(Some(1)).weight(0),
            })
            .unwrap();
        let _held = set.pick(None, &[]).unwrap();
        let mut waiters = [
            Waiting::start(&set, &[], MINUTE).await,
            Waiting::start(&set, &[], MINUTE).await,
        ];
        change(&set, spare);
        settle(&mut waiters).await;
        assert_eq!(still_waiting(&waiters), [false, true], "{name}");
        waiters[0].slot();
    }
}

/// Callers on several threads, many more than the slots, some excluding a server, some
/// giving up while they wait (cancelled, possibly just as they are served): every caller
/// that waits to the end is served, and the counts come back to zero. A slot lost on the
/// way (a wake not passed on, a slot left free while callers wait) would leave callers
/// waiting for good: the deadline only bounds the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_on_several_threads_are_all_served() {
    let set = ServerSet::builder()
        .algorithm(Algorithm::LeastConn)
        .servers((1..=3).map(|i| Server::new(addr(i)).maxconn(Some(2))))
        .build()
        .expect("valid servers");
    let first = set.ids()[0];
    let callers: Vec<_> = (0..64u32)
        .map(|t| {
            let set = set.clone();
            tokio::spawn(async move {
                let exclude = if t % 4 == 0 { vec![first] } else { Vec::new() };
                let mut served = 0;
                for round in 0..50u32 {
                    let pick = set.pick_queued(None, &exclude, Duration::MAX);
                    if (t + round) % 7 == 0 {
                        // Gives up after one more turn of the scheduler.
                        tokio::select! {
                            biased;
                            _ = pick => {}
                            () = tokio::task::yield_now() => {}
                        }
                        continue;
                    }
                    let slot = pick.await.expect("served");
                    assert!(!exclude.contains(&slot.server_id()));
                    tokio::task::yield_now().await;
                    drop(slot);
                    served += 1;
                }
                served
            })
        })
        .collect();
    let all = async {
        let mut served = 0;
        for c in callers {
            served += c.await.expect("caller");
        }
        served
    };
    let served = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("every caller served");
    assert!(served > 0);
    assert_eq!(set.queued(), 0);
    for info in set.servers() {
        assert_eq!(info.active, 0);
    }
}
