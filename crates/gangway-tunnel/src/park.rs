//! Parking idle TCP tunnels outside tokio's reactor.
//!
//! Each socket registered with tokio costs a registration of about 480 bytes (a cache-padded
//! `ScheduledIo` behind an `Arc`), so a TCP tunnel's two sockets cost more than the rest of the
//! tunnel together, and its timer another 128. An idle tunnel (see
//! [`TunnelConfig::park_after`](crate::TunnelConfig::park_after)) hands both sockets and its
//! next deadline to the *parker* instead: the sockets leave tokio's reactor for one epoll set
//! shared by every parked tunnel of the process, and the deadline joins one heap, both watched
//! by one small thread. When either socket becomes readable (bytes, FIN, reset) or the
//! deadline passes, the thread wakes the tunnel's task, which carries on: it takes its sockets
//! back to tokio, or ends. A parked tunnel keeps only its task and a slot here.
//!
//! The thread is not tied to a runtime: wakers work across runtimes, so one parker serves every
//! runtime of the process.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::TcpStream as StdTcpStream;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Registry, Token};
use tokio::net::TcpStream;

use crate::Side;
use crate::flow::{Flow, FlowError, Pools};

/// The process's parker, or `None` when it could not start (no epoll, no thread): then tunnels
/// simply stay registered with tokio.
fn parker() -> Option<&'static Parker> {
    static PARKER: OnceLock<Option<Parker>> = OnceLock::new();
    PARKER.get_or_init(|| Parker::start().ok()).as_ref()
}

/// How many slots the parker keeps allocated when no tunnel is parked (a few KiB), so that a
/// lone tunnel parking and waking does not allocate each time.
const KEEP_SLOTS: usize = 256;

/// The token of the parker's own waker (a slot key is at most `u32::MAX`).
const WAKER: Token = Token(usize::MAX);

/// A deadline in whole milliseconds since the parker started, rounded up; `u64::MAX`: none.
type Millis = u64;
const NEVER: Millis = u64::MAX;

/// The shared epoll set, the deadlines, and the slots of the tunnels parked in them.
#[derive(Debug)]
struct Parker {
    registry: Registry,
    /// Wakes the thread when a parked tunnel's deadline is earlier than any it waits for.
    waker: mio::Waker,
    epoch: Instant,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Slot>,
    free: Vec<u32>,
    /// Parked tunnels' deadlines with their slots, earliest first; an entry whose slot no
    /// longer holds that deadline is stale and skipped.
    deadlines: BinaryHeap<Reverse<(Millis, u32)>>,
    /// The watcher thread stopped: no tunnel parks any more.
    broken: bool,
}

/// One tunnel's place in the parker.
#[derive(Debug)]
enum Slot {
    Vacant,
    /// Parked: its task's waker, and when its next deadline passes.
    Parked(Option<Waker>, Millis),
    /// A socket became readable, the deadline passed, or the watcher stopped.
    Woken,
}

impl Parker {
    fn start() -> io::Result<Parker> {
        let mut poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER)?;
        std::thread::Builder::new()
            .name("gangway-tunnel-park".into())
            // It only waits and wakes: a small stack is plenty.
            .stack_size(64 * 1024)
            .spawn(move || watch(&mut poll))?;
        Ok(Parker {
            registry,
            waker,
            epoch: Instant::now(),
            slots: Mutex::new(Slots::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `at` in the parker's milliseconds, rounded up (never early).
    fn millis(&self, at: Option<Instant>) -> Millis {
        let Some(at) = at else { return NEVER };
        let after = at.saturating_duration_since(self.epoch);
        let ms = after.as_millis() + u128::from(after.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(NEVER).min(NEVER - 1)
    }

    fn now(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }
}

/// The watcher thread: waits for parked sockets to become readable and for deadlines to pass,
/// and wakes their tunnels. The parker is a static, so this runs as long as the process.
fn watch(poll: &mut mio::Poll) {
    // However the thread ends, parked tunnels must not wait for it: they are all woken (and go
    // back to tokio), and no tunnel parks any more.
    struct Stopped;
    impl Drop for Stopped {
        fn drop(&mut self) {
            if let Some(parker) = parker() {
                let mut slots = parker.lock();
                slots.broken = true;
                let wakers: Vec<Waker> = slots.entries.iter_mut().filter_map(Slot::wake).collect();
                drop(slots);
                wakers.into_iter().for_each(wake);
            }
        }
    }
    let _stopped = Stopped;
    let mut events = Events::with_capacity(256);
    let mut wakers = Vec::with_capacity(256);
    let mut timeout = None;
    loop {
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            // A signal cut the wait short: no events, and the deadlines are worked out again
            // from the time now (waiting again with the same timeout would push every parked
            // deadline back by up to that timeout per signal).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Cannot watch any more: `Stopped` wakes every parked tunnel (each takes its
            // sockets back to tokio) and stops parking.
            Err(_) => return,
        }
        let Some(parker) = parker() else { return };
        let mut slots = parker.lock();
        for event in &events {
            if let Some(slot) = slots.entries.get_mut(event.token().0) {
                wakers.extend(slot.wake());
            }
        }
        let now = parker.now();
        while let Some(&Reverse((at, key))) = slots.deadlines.peek() {
            if at > now {
                break;
            }
            slots.deadlines.pop();
            if let Some(slot) = slots.entries.get_mut(key as usize)
                && matches!(slot, Slot::Parked(_, due) if *due == at)
            {
                wakers.extend(slot.wake());
            }
        }
        timeout = slots
            .deadlines
            .peek()
            .map(|Reverse((at, _))| Duration::from_millis(at - now));
        drop(slots);
        wakers.drain(..).for_each(wake);
    }
}

/// Wakes a task; a waker that panics (a foreign executor's) does not stop the watcher.
fn wake(waker: Waker) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
}

impl Slot {
    /// Marks the slot woken and returns the waker to call, if it holds a parked tunnel.
    fn wake(&mut self) -> Option<Waker> {
        match std::mem::replace(self, Slot::Woken) {
            Slot::Parked(waker, _) => waker,
            other => {
                *self = other;
                None
            }
        }
    }
}

impl Slots {
    /// A slot for a tunnel parking until `due`; whether the thread must look again at its
    /// earliest deadline comes with it.
    fn insert(&mut self, waker: Waker, due: Millis) -> Option<(u32, bool)> {
        if self.broken {
            return None;
        }
        let slot = Slot::Parked(Some(waker), due);
        let key = match self.free.pop() {
            Some(key) => {
                self.entries[key as usize] = slot;
                key
            }
            None => {
                let key = u32::try_from(self.entries.len()).ok()?;
                self.entries.push(slot);
                key
            }
        };
        Some((key, self.add_deadline(key, due)))
    }

    /// Watches `key`'s deadline; whether it is now the earliest (the thread must look again).
    fn add_deadline(&mut self, key: u32, due: Millis) -> bool {
        if due == NEVER {
            return false;
        }
        let earliest = self
            .deadlines
            .peek()
            .is_none_or(|Reverse((first, _))| due < *first);
        self.deadlines.push(Reverse((due, key)));
        self.drop_stale_deadlines();
        earliest
    }

    /// Puts a woken tunnel's slot back to parked until `due`; whether the thread must look
    /// again at its earliest deadline comes back.
    fn rearm(&mut self, key: u32, waker: Waker, due: Millis) -> bool {
        let Some(slot) = self.entries.get_mut(key as usize) else {
            return false;
        };
        if matches!(slot, Slot::Parked(Some(w), at) if *at == due && w.will_wake(&waker)) {
            return false;
        }
        *slot = Slot::Parked(Some(waker), due);
        self.add_deadline(key, due)
    }

    /// Rebuilds the heap without stale entries once they are the majority, so it stays
    /// proportional to the parked tunnels: at most `2 × parked + 64` entries after every push
    /// and every removal. Tunnels that re-arm or re-park leave an entry behind each time (until
    /// its time passes: an hour for an hour's idle timeout), and tunnels that leave leave theirs.
    fn drop_stale_deadlines(&mut self) {
        let parked = self.entries.len() - self.free.len();
        let most = 2 * parked + 64;
        if self.deadlines.len() <= most {
            return;
        }
        let live = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(key, slot)| match slot {
                Slot::Parked(_, due) if *due != NEVER => {
                    Some(Reverse((*due, u32::try_from(key).ok()?)))
                }
                _ => None,
            });
        // In place: the live entries (at most one per parked tunnel) fit where the stale ones
        // were. The memory goes back once it is more than twice what the heap may reach.
        let mut heap = std::mem::take(&mut self.deadlines).into_vec();
        heap.clear();
        heap.extend(live);
        if heap.capacity() > 2 * (most + 1) {
            heap.shrink_to(most + 1);
        }
        self.deadlines = BinaryHeap::from(heap);
    }

    fn remove(&mut self, key: u32) {
        if let Some(slot) = self.entries.get_mut(key as usize) {
            *slot = Slot::Vacant;
            self.free.push(key);
        }
        if self.free.len() == self.entries.len() {
            // None parked: start afresh, and give the memory back after a burst.
            self.entries.clear();
            self.free.clear();
            self.deadlines.clear();
            if self.entries.capacity() > KEEP_SLOTS || self.deadlines.capacity() > 4 * KEEP_SLOTS {
                *self = Slots {
                    broken: self.broken,
                    ..Slots::default()
                };
            }
        } else {
            // The tunnel's deadlines stay behind: fewer parked tunnels may make them too many.
            self.drop_stale_deadlines();
        }
    }
}

/// How many tunnels are parked (or just woken and not yet back with tokio).
pub(crate) fn count() -> usize {
    parker().map_or(0, |parker| {
        let slots = parker.lock();
        slots.entries.len() - slots.free.len()
    })
}

/// The two sockets of a parked tunnel, out of tokio's reactor, and its slot in the parker.
/// Dropping it closes both sockets.
#[derive(Debug)]
pub(crate) struct Parked {
    /// Client then server; `None` once given back.
    sockets: Option<(StdTcpStream, StdTcpStream)>,
    key: u32,
}

/// What [`park`] gives back when the tunnel cannot park: its sockets, still with tokio, or the
/// error that lost one of them.
pub(crate) enum NotParked {
    Live(TcpStream, TcpStream),
    Failed(Side, io::Error),
}

/// Parks a tunnel's sockets: out of tokio's reactor, into the shared epoll set. `cx`'s waker
/// is woken when either becomes readable or `until` passes.
pub(crate) fn park(
    client: TcpStream,
    server: TcpStream,
    until: Option<Instant>,
    cx: &mut Context<'_>,
) -> Result<Parked, NotParked> {
    let Some(parker) = parker() else {
        return Err(NotParked::Live(client, server));
    };
    let due = parker.millis(until);
    let Some((key, earliest)) = parker.lock().insert(cx.waker().clone(), due) else {
        return Err(NotParked::Live(client, server));
    };
    if earliest && parker.waker.wake().is_err() {
        // The thread would not look at this deadline in time: do not park.
        parker.lock().remove(key);
        return Err(NotParked::Live(client, server));
    }
    let forget = |side| {
        move |e| {
            parker.lock().remove(key);
            NotParked::Failed(side, e)
        }
    };
    // Deregistering fails only if epoll_ctl does, and then tokio has closed the socket.
    let client = client.into_std().map_err(forget(Side::Client))?;
    let server = server.into_std().map_err(forget(Side::Server))?;
    let watch = |stream: &StdTcpStream| {
        parker.registry.register(
            &mut SourceFd(&stream.as_raw_fd()),
            Token(key as usize),
            Interest::READABLE,
        )
    };
    let watched = watch(&client).and_then(|()| watch(&server));
    let parked = Parked {
        sockets: Some((client, server)),
        key,
    };
    match watched {
        Ok(()) => Ok(parked),
        // Not watched, so not parked: back to tokio as they were.
        Err(e) => match parked.unpark() {
            Ok((client, server)) => Err(NotParked::Live(client, server)),
            Err(_) => Err(NotParked::Failed(Side::Client, e)),
        },
    }
}

impl Parked {
    /// Whether a socket became readable, the deadline passed or the parker stopped since the
    /// tunnel parked; if not, `cx`'s waker is the one woken when one of these happens.
    pub(crate) fn poll_woken(&self, cx: &mut Context<'_>) -> bool {
        let Some(parker) = parker() else {
            return true;
        };
        let mut slots = parker.lock();
        match slots.entries.get_mut(self.key as usize) {
            Some(Slot::Parked(waker, _)) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                false
            }
            _ => true,
        }
    }

    /// Parks again (after a wake-up) until a socket becomes readable or `until` passes;
    /// `false` if the parker stopped watching (the tunnel must go back to tokio).
    pub(crate) fn rearm(&self, until: Option<Instant>, cx: &mut Context<'_>) -> bool {
        let Some(parker) = parker() else { return false };
        let due = parker.millis(until);
        let mut slots = parker.lock();
        if slots.broken {
            return false;
        }
        let earliest = slots.rearm(self.key, cx.waker().clone(), due);
        drop(slots);
        // The thread must look at an earlier deadline; if it cannot be told, back to tokio.
        !earliest || parker.waker.wake().is_ok()
    }

    /// Moves a parked tunnel's deadline to `until` (bytes moved while parked). A tunnel woken
    /// meanwhile stays woken: its task runs again anyway.
    pub(crate) fn postpone(&self, until: Option<Instant>) {
        let Some(parker) = parker() else { return };
        let due = parker.millis(until);
        let mut slots = parker.lock();
        if let Some(Slot::Parked(_, at)) = slots.entries.get_mut(self.key as usize)
            && *at != due
        {
            *at = due;
            let earliest = slots.add_deadline(self.key, due);
            drop(slots);
            if earliest {
                let _ = parker.waker.wake();
            }
        }
    }

    /// Moves what the sockets have with plain non-blocking calls; `Ok(true)`: stay parked.
    pub(crate) fn pump(
        &self,
        upstream: &mut Flow,
        downstream: &mut Flow,
        pools: &Pools,
    ) -> Result<bool, FlowError> {
        let Some((client, server)) = &self.sockets else {
            return Ok(false);
        };
        Ok(upstream.pump_parked(client, server, pools)?
            && downstream.pump_parked(server, client, pools)?)
    }

    /// Makes closing the socket on the other side from `failed` send a reset, not a FIN.
    pub(crate) fn reset_on_close(&self, failed: Side) {
        if let Some((client, server)) = &self.sockets {
            let other = match failed {
                Side::Client => server,
                Side::Server => client,
            };
            // Best effort: the socket is closed right after, whatever the outcome.
            let _ = socket2::SockRef::from(other).set_linger(Some(Duration::ZERO));
        }
    }

    /// Takes both sockets back to tokio (the runtime polling the tunnel).
    pub(crate) fn unpark(mut self) -> Result<(TcpStream, TcpStream), (Side, io::Error)> {
        let Some((client, server)) = self.release() else {
            return Err((Side::Client, io::ErrorKind::NotConnected.into()));
        };
        let client = TcpStream::from_std(client).map_err(|e| (Side::Client, e))?;
        let server = TcpStream::from_std(server).map_err(|e| (Side::Server, e))?;
        Ok((client, server))
    }

    /// Leaves the epoll set and the slot, and hands over the sockets, still open.
    fn release(&mut self) -> Option<(StdTcpStream, StdTcpStream)> {
        let sockets = self.sockets.take()?;
        if let Some(parker) = parker() {
            for stream in [&sockets.0, &sockets.1] {
                // Fails only if the socket was not watched (a failed park): nothing to undo.
                let _ = parker
                    .registry
                    .deregister(&mut SourceFd(&stream.as_raw_fd()));
            }
            parker.lock().remove(self.key);
        }
        Some(sockets)
    }
}

#[cfg(test)]
impl Parked {
    /// Wakes the tunnel as the parker does, with nothing for it to read: what a socket event
    /// meant for the slot's previous tunnel does.
    pub(crate) fn wake_spuriously(&self) {
        let Some(parker) = parker() else { return };
        let waker = parker
            .lock()
            .entries
            .get_mut(self.key as usize)
            .and_then(Slot::wake);
        waker.into_iter().for_each(wake);
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        drop(self.release());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_deadlines_are_dropped_and_empty_slots_free_their_memory() {
        let mut slots = Slots::default();
        let (key, earliest) = slots.insert(Waker::noop().clone(), 500).unwrap();
        assert!(earliest, "the first deadline is the earliest");
        let (_, earliest) = slots.insert(Waker::noop().clone(), 900).unwrap();
        assert!(!earliest);
        let (_, earliest) = slots.insert(Waker::noop().clone(), NEVER).unwrap();
        assert!(!earliest, "no deadline never needs the thread");
        // One tunnel parks and wakes many times: its old deadlines do not pile up.
        for due in 1000..2000 {
            slots.remove(key);
            let (again, _) = slots.insert(Waker::noop().clone(), due).unwrap();
            assert_eq!(again, key, "the freed slot is reused");
        }
        assert!(slots.deadlines.len() <= 2 * 3 + 64 + 1);
        for key in 0..3 {
            slots.remove(key);
        }
        assert!(slots.entries.is_empty() && slots.deadlines.is_empty());
        assert!(slots.entries.capacity() > 0, "a few slots stay allocated");
        // After a burst, the memory goes back.
        let keys: Vec<u32> = (0..KEEP_SLOTS + 1)
            .map(|_| slots.insert(Waker::noop().clone(), 7).unwrap().0)
            .collect();
        keys.into_iter().for_each(|key| slots.remove(key));
        assert!(slots.entries.capacity() == 0 && slots.deadlines.capacity() == 0);
        slots.broken = true;
        assert!(slots.insert(Waker::noop().clone(), 5).is_none());
    }

    #[test]
    fn the_deadline_heap_stays_proportional_to_the_parked_tunnels() {
        const HOUR: Millis = 3_600_000;
        let bound = |slots: &Slots| 2 * (slots.entries.len() - slots.free.len()) + 64;
        let mut slots = Slots::default();
        // A thousand idle tunnels, each with an hour's idle timeout.
        let idle: Vec<u32> = (0..1000)
            .map(|i| slots.insert(Waker::noop().clone(), HOUR + i).unwrap().0)
            .collect();
        // A busy tunnel for an hour: bytes every second, moved parked (its idle deadline is
        // re-armed an hour later each time); every tenth second it goes back to tokio and
        // parks again. Each leaves an entry that stays an hour.
        let mut busy = slots.insert(Waker::noop().clone(), HOUR).unwrap().0;
        let mut most = 0;
        for second in 1..=3600 {
            let due = HOUR + second * 1000;
            if second % 10 == 0 {
                slots.remove(busy);
                busy = slots.insert(Waker::noop().clone(), due).unwrap().0;
            } else {
                slots.rearm(busy, Waker::noop().clone(), due);
            }
            most = most.max(slots.deadlines.len());
            assert!(slots.deadlines.len() <= bound(&slots), "second {second}");
        }
        assert!(most <= 2 * 1001 + 64, "{most} entries for 1001 tunnels");
        // Most tunnels end or go back to tokio: the heap shrinks with them, not with time.
        for (gone, key) in idle[..990].iter().enumerate() {
            slots.remove(*key);
            assert!(
                slots.deadlines.len() <= bound(&slots),
                "{} entries for {} parked, after {gone} left",
                slots.deadlines.len(),
                slots.entries.len() - slots.free.len()
            );
        }
        assert!(slots.deadlines.capacity() <= 4 * bound(&slots));
        // Every parked tunnel's deadline is still there (stale ones are skipped).
        let mut live: Vec<(Millis, u32)> = slots
            .deadlines
            .iter()
            .map(|Reverse(entry)| *entry)
            .filter(|(at, key)| {
                matches!(slots.entries[*key as usize], Slot::Parked(_, due) if due == *at)
            })
            .collect();
        live.sort_unstable();
        live.dedup();
        let mut expected: Vec<(Millis, u32)> =
            (990..1000).map(|i| (HOUR + i as Millis, idle[i])).collect();
        expected.push((HOUR + 3600 * 1000, busy));
        assert_eq!(live, expected);
    }

    #[test]
    fn deadlines_round_up_to_the_next_millisecond() {
        let Some(parker) = parker() else { return };
        let at = parker.epoch + Duration::from_micros(2_500);
        assert_eq!(parker.millis(Some(at)), 3);
        assert_eq!(
            parker.millis(Some(parker.epoch + Duration::from_millis(7))),
            7
        );
        assert_eq!(parker.millis(None), NEVER);
    }
}
