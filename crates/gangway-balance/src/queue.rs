//! The backend queue: callers of `pick_queued` waiting for a slot, served in arrival order.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::atomic::{Ordering, fence};
use std::sync::{Arc, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::PickError;
use crate::pick::{ConnectionSlot, pick_from};
use crate::server::ServerId;
use crate::set::{Core, ServerSet, Snapshot};

/// The callers waiting in [`ServerSet::pick_queued`], by arrival.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// The number the next caller is filed under.
    next: u64,
    waiters: BTreeMap<u64, Waiter>,
}

/// A queued caller: what it asked for, and what it got once served.
#[derive(Debug)]
struct Waiter {
    key: Option<Box<[u8]>>,
    exclude: Box<[ServerId]>,
    /// Set when served: a slot taken for it, or the error of a pick that is not `AllFull`.
    outcome: Option<Result<ConnectionSlot, PickError>>,
    /// Woken when served.
    waker: Option<Waker>,
}

impl Queue {
    /// Picks on `snapshot` for each waiter not yet served, oldest first, and hands each the
    /// slot it got. A waiter that finds full every server it does not exclude keeps its
    /// place, and the next one may get a server it excludes; one that excludes nothing and
    /// finds every server full ends the round, as nothing is free for anyone after it.
    fn serve(&mut self, core: &Core, snapshot: &Snapshot, woken: &mut Vec<Waker>) {
        for waiter in self.waiters.values_mut() {
            if waiter.outcome.is_some() {
                continue;
            }
            let outcome = match pick_from(core, snapshot, waiter.key.as_deref(), &waiter.exclude) {
                Ok(member) => Ok(ConnectionSlot {
                    slot: Arc::clone(&snapshot.members[member].slot),
                }),
                Err(PickError::AllFull) if waiter.exclude.is_empty() => break,
                Err(PickError::AllFull) => continue,
                Err(error) => Err(error),
            };
            waiter.outcome = Some(outcome);
            woken.extend(waiter.waker.take());
        }
    }
}

impl Core {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves the queue (see [`Queue::serve`]): after a release or a change while callers
    /// wait, so that a slot freed goes to the longest-waiting caller that can use it.
    #[inline(never)]
    pub(crate) fn serve_queue(&self) {
        let mut woken = Vec::new();
        {
            let mut queue = self.queue();
            // From the `ArcSwap`, not the thread's cache: `with_snapshot` stays inlined
            // in the release path with one caller fewer.
            queue.serve(self, &self.snapshot.load(), &mut woken);
        }
        woken.into_iter().for_each(Waker::wake);
    }
}

/// A caller's place in the queue, given up however `pick_queued` ends (served, timed out,
/// or cancelled).
struct Place<'a> {
    core: &'a Core,
    number: u64,
}

impl<'a> Place<'a> {
    /// Files a caller at the back of the queue and serves the queue; with the number of
    /// callers that were waiting already.
    fn join(core: &'a Core, key: Option<&[u8]>, exclude: &[ServerId]) -> (Place<'a>, usize) {
        let ahead = core.waiting.fetch_add(1, Ordering::SeqCst);
        // Pairs with the SeqCst release in `ConnectionSlot::drop` and its read of `waiting`:
        // either that release sees this caller and serves the queue, or the picks below
        // see the slot it freed.
        fence(Ordering::SeqCst);
        let mut woken = Vec::new();
        let number = {
            let mut queue = core.queue();
            let number = queue.next;
            queue.next += 1;
            queue.waiters.insert(
                number,
                Waiter {
                    key: key.map(Box::from),
                    exclude: exclude.into(),
                    outcome: None,
                    waker: None,
                },
            );
            queue.serve(core, &core.snapshot.load(), &mut woken);
            number
        };
        woken.into_iter().for_each(Waker::wake);
        (Place { core, number }, ahead)
    }

    /// What the caller was served, if it was (the place is then given up).
    fn take(&self) -> Option<Result<ConnectionSlot, PickError>> {
        let mut queue = self.core.queue();
        let outcome = queue.waiters.get_mut(&self.number)?.outcome.take()?;
        queue.waiters.remove(&self.number);
        Some(outcome)
    }

    /// Ready once served; until then, the task is woken when it is.
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<ConnectionSlot, PickError>> {
        let mut queue = self.core.queue();
        // Always there while polled: only `take` (which ends the wait) and `drop` remove it.
        let Some(waiter) = queue.waiters.get_mut(&self.number) else {
            return Poll::Pending;
        };
        if let Some(outcome) = waiter.outcome.take() {
            queue.waiters.remove(&self.number);
            return Poll::Ready(outcome);
        }
        match &mut waiter.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let left = self.core.queue().waiters.remove(&self.number);
        self.core.waiting.fetch_sub(1, Ordering::SeqCst);
        // A slot taken for a caller that stopped waiting (it timed out or was dropped as it
        // was served) is released outside the lock, and its release serves the next caller.
        drop(left);
    }
}

impl ServerSet {
    /// Like [`pick`](Self::pick), but when every usable server is full, waits in the
    /// backend queue for a slot for up to `timeout` (`Duration::MAX`: without a limit).
    ///
    /// The queue is first come, first served, as in HAProxy. A caller arriving while others
    /// wait joins the back of the queue even if a slot is free at that moment, and a slot
    /// freed goes to the longest-waiting caller that can use it; one that excludes that
    /// server keeps its place, and the slot goes to the next.
    ///
    /// How: waiters are listed by arrival, under a lock only the queue takes. Whatever may
    /// free room serves the queue: a release while callers wait, a change to the set (a
    /// server up or added, a weight or `maxconn` raised), a caller joining, a caller leaving
    /// with a slot it was handed. Serving picks for each waiter in turn and hands it the
    /// slot taken, so that no one else can take it before the waiter runs; a waiter that
    /// stops waiting (timeout, future dropped) as it is served gives its slot back, and
    /// that release serves the next. Serving stops at a waiter that excludes nothing and
    /// finds every server full, so a release with callers waiting usually costs one lock
    /// and one pick; a caller that does not wait costs one more load.
    ///
    /// The queue holds at most the sum of the usable servers' `maxqueue` callers (unlimited if
    /// any server's is); beyond that the pick fails at once with [`PickError::QueueFull`]
    /// unless, after the callers ahead were served, a slot is left that it can use.
    /// Waiting ends with [`PickError::QueueTimeout`] after `timeout`, or with the error of
    /// a pick for it that is not [`AllFull`](PickError::AllFull) (say, every server went
    /// down). Dropping the future leaves the queue. Needs a tokio runtime with time enabled.
    ///
    /// [`pick`](Self::pick) does not look at the queue: a caller using it takes any slot
    /// it finds free, ahead of the queued callers.
    #[doc(alias = "maxqueue")]
    pub async fn pick_queued(
        &self,
        key: Option<&[u8]>,
        exclude: &[ServerId],
        timeout: Duration,
    ) -> Result<ConnectionSlot, PickError> {
        let core = self.core();
        // With callers waiting, a free slot is theirs first: join the queue behind them.
        if core.waiting.load(Ordering::SeqCst) == 0 {
            match self.pick(key, exclude) {
                Err(PickError::AllFull) => {}
                other => return other,
            }
        }
        let capacity = core.snapshot.load().queue_capacity;
        let (place, ahead) = Place::join(core, key, exclude);
        if let Some(outcome) = place.take() {
            return outcome;
        }
        if ahead as u64 >= capacity {
            return Err(PickError::QueueFull);
        }
        let served = poll_fn(|cx| place.poll(cx));
        // A timeout past what an `Instant` holds (`Duration::MAX`) never expires.
        match tokio::time::Instant::now().checked_add(timeout) {
            None => served.await,
            Some(deadline) => match tokio::time::timeout_at(deadline, served).await {
                Ok(outcome) => outcome,
                // Served as the time ran out: the slot is the caller's all the same.
                Err(_) => place.take().unwrap_or_else(|| {
                    core.queue_timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(PickError::QueueTimeout)
                }),
            },
        }
    }
}
