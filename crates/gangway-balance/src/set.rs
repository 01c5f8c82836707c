//! The server set: configuration changes on a writer side, immutable snapshots for picks.
//!
//! Writers (health events, operators) serialise on a mutex, change the configuration and
//! publish a new [`Snapshot`] through an `ArcSwap`; picks only load the current snapshot.
//! Per-server counters live in a [`ServerSlot`] shared by every snapshot, so they survive
//! updates, and connection slots taken from an old snapshot are released to the same
//! counters.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::algorithm::{Algorithm, NoServerPolicy};
use crate::error::Error;
use crate::hash::{FastMod, Maglev, MaglevServer};
use crate::leastconn::{LeastConnTree, NONE, STRIDE_ONE, reciprocal};
use crate::queue::Queue;
use crate::random::{RandomSource, ThreadRandom};
use crate::schedule::{AliasTable, interleaved_cycle, smooth_cycle};
use crate::server::{MAX_WEIGHT, Server, ServerId, ServerInfo, ServerState};

/// Slow start ramps the weight in this many equal steps.
const SLOW_START_STEPS: u32 = 16;

/// Which servers picks currently choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rotation {
    /// Regular servers that are up with a weight above zero.
    Regular,
    /// No regular server can take traffic: the first backup server that is up (every one
    /// with [`ServerSetBuilder::all_backups`]).
    Backup,
    /// Nothing is up and the policy is [`NoServerPolicy::FailOpen`]: servers marked down.
    FailOpen,
    /// No server can take traffic: picks fail with
    /// [`PickError::NoServerUp`](crate::PickError::NoServerUp).
    Empty,
}

/// Per-server runtime state shared by all snapshots and by the connection slots handed out.
///
/// `repr(C)` with what a pick and a release touch first, so that it sits next to the
/// `Arc`'s reference count (which a pick and a release also change): one or two cache
/// lines per pick rather than two or three.
#[repr(C)]
pub(crate) struct ServerSlot {
    /// Active connections (low 32 bits) and picks (high 32 bits), in one word so that a
    /// pick counts both with one atomic add.
    pub(crate) counts: AtomicU64,
    /// Leastconn tie-break: weighted round-robin pass (stride scheduling).
    pub(crate) pass: AtomicU64,
    pub(crate) core: Arc<Core>,
    pub(crate) id: ServerId,
    /// How many times the picks half of `counts` wrapped around.
    pub(crate) picks_wrapped: AtomicU32,
    /// The server's member index in the latest snapshot published (`NONE` if none): a
    /// release finds its member with it, without a table indexed by id (which grew with
    /// every id ever handed out).
    pub(crate) member: AtomicU32,
    pub(crate) addr: SocketAddr,
    pub(crate) name: Option<Arc<str>>,
}

impl fmt::Debug for ServerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSlot")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .field("active", &self.active())
            .finish_non_exhaustive()
    }
}

/// One pick: one more active connection and one more pick.
const TAKE: u64 = 1 | 1 << 32;

impl ServerSlot {
    /// Connections now held.
    pub(crate) fn active(&self) -> u32 {
        self.counts.load(Ordering::Acquire) as u32
    }

    /// Picks since the server was added. Read while the picks half wraps (every 2^32
    /// picks), it can be off by 2^32 for an instant.
    pub(crate) fn total_picks(&self) -> u64 {
        loop {
            let wrapped = self.picks_wrapped.load(Ordering::Acquire);
            let counts = self.counts.load(Ordering::Acquire);
            if self.picks_wrapped.load(Ordering::Acquire) == wrapped {
                return u64::from(wrapped) << 32 | counts >> 32;
            }
        }
    }

    /// Counts a pick whose add returned `before`.
    fn count_wrap(&self, before: u64) {
        if before >> 32 == u64::from(u32::MAX) {
            self.picks_wrapped.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Counts a released connection (one atomic subtract, sequentially consistent so that
    /// a queued caller either sees it or is seen).
    pub(crate) fn release(&self) {
        self.counts.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server in rotation, as one snapshot sees it.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) slot: Arc<ServerSlot>,
    /// Leastconn: `ceil(2^64 / weight) - 1`, to rank loads without dividing.
    pub(crate) reciprocal: u64,
    /// Effective weight (> 0).
    pub(crate) weight: u32,
    /// `u32::MAX` when unlimited.
    pub(crate) maxconn: u32,
    /// Leastconn tie-break pass increment, inversely proportional to weight.
    pub(crate) stride: u32,
}

impl Member {
    pub(crate) fn active(&self) -> u32 {
        self.slot.active()
    }

    pub(crate) fn pass(&self) -> u64 {
        self.slot.pass.load(Ordering::Relaxed)
    }

    pub(crate) fn id(&self) -> ServerId {
        self.slot.id
    }

    pub(crate) fn is_full(&self) -> bool {
        self.maxconn != u32::MAX && self.active() >= self.maxconn
    }

    /// Takes one connection slot unless the server is at its maxconn.
    pub(crate) fn try_take(&self) -> bool {
        let counts = &self.slot.counts;
        let before = if self.maxconn == u32::MAX {
            counts.fetch_add(TAKE, Ordering::AcqRel)
        } else {
            let mut current = counts.load(Ordering::Relaxed);
            loop {
                if current as u32 >= self.maxconn {
                    return false;
                }
                match counts.compare_exchange_weak(
                    current,
                    current.wrapping_add(TAKE),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break current,
                    Err(seen) => current = seen,
                }
            }
        };
        self.slot.count_wrap(before);
        true
    }
}

/// Source of [`Snapshot::stamp`]s: unique across every set of the process.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// What picks read: the servers in rotation and the structures built for the algorithm.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Names this snapshot among every snapshot of every set of the process (never 0), so
    /// that a thread's cache can tell by [`Core::stamp`] whether it holds a set's current
    /// snapshot without touching the `ArcSwap` (see [`Core::with_snapshot`]).
    stamp: u64,
    pub(crate) members: Vec<Member>,
    pub(crate) rotation: Rotation,
    /// Every server of the set (in rotation or not), in id order, for lock-free lookups.
    pub(crate) directory: Vec<(ServerId, ServerState, Arc<ServerSlot>)>,
    /// Callers the backend queue may hold (`u64::MAX`: unlimited).
    pub(crate) queue_capacity: u64,
    /// When a slow-start ramp takes its next step (picks then republish the weights).
    pub(crate) refresh_at: Option<Instant>,
    pub(crate) cycle: Vec<u32>,
    pub(crate) cycle_len: FastMod,
    pub(crate) leastconn: Option<LeastConnTree>,
    pub(crate) alias: Option<AliasTable>,
    pub(crate) maglev: Option<Maglev>,
}

impl Snapshot {
    fn empty() -> Snapshot {
        Snapshot {
            stamp: NEXT_STAMP.fetch_add(1, Ordering::Relaxed),
            members: Vec::new(),
            rotation: Rotation::Empty,
            directory: Vec::new(),
            queue_capacity: 0,
            refresh_at: None,
            cycle: Vec::new(),
            cycle_len: FastMod::new(1),
            leastconn: None,
            alias: None,
            maglev: None,
        }
    }

    /// The member index of server `id`, if it is in rotation (members are in id order).
    pub(crate) fn member_of(&self, id: ServerId) -> Option<u32> {
        self.members
            .binary_search_by_key(&id, Member::id)
            .ok()
            .map(|i| i as u32)
    }

    /// [`member_of`](Self::member_of) for a slot: the index the latest publish recorded in
    /// it (one load of the line a release has just written), checked against this
    /// snapshot; a search when the slot's index is another snapshot's.
    #[inline]
    pub(crate) fn member_of_slot(&self, slot: &ServerSlot) -> Option<u32> {
        let hint = slot.member.load(Ordering::Relaxed);
        match self.members.get(hint as usize) {
            Some(m) if std::ptr::eq(Arc::as_ptr(&m.slot), slot) => Some(hint),
            _ => self.member_of(slot.id),
        }
    }
}

/// A value alone on its cache line(s).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The part of a set that picks and connection slots touch.
pub(crate) struct Core {
    /// The current snapshot. Picks and releases read it through
    /// [`with_snapshot`](Core::with_snapshot); writers replace it with
    /// [`install`](Core::install).
    pub(crate) snapshot: ArcSwap<Snapshot>,
    /// [`Snapshot::stamp`] of the current snapshot, written after it is stored.
    stamp: AtomicU64,
    pub(crate) algorithm: Algorithm,
    /// Round-robin position, shared by all snapshots so a change does not restart the cycle.
    /// Written by every pick: on a line of its own, so that threads picking concurrently do
    /// not also fight over the snapshot pointer next to it.
    pub(crate) cursor: Padded<AtomicU64>,
    /// Leastconn: pass of the latest pick, where returning servers resume (on a line of its
    /// own, like `cursor`).
    pub(crate) global_pass: Padded<AtomicU64>,
    pub(crate) random: Arc<dyn RandomSource>,
    /// Callers in [`ServerSet::pick_queued`]'s queue: a release serves the queue when it
    /// reads more than zero (the only cost of the queue on a release).
    pub(crate) waiting: AtomicUsize,
    /// The queued callers, by arrival.
    pub(crate) queue: Mutex<Queue>,
    pub(crate) queue_timeouts: AtomicU64,
}

/// Snapshots a thread keeps for the sets it picks from (see [`Core::with_snapshot`]).
const CACHED_SNAPSHOTS: usize = 8;

/// A thread's recently used snapshots, by stamp (0: free).
struct SnapshotCache {
    stamps: [u64; CACHED_SNAPSHOTS],
    /// The core (by address) each entry's snapshot is of, so that a set's newer snapshot
    /// replaces its older one rather than another set's.
    cores: [usize; CACHED_SNAPSHOTS],
    /// Used since the clock hand last passed the entry (a second chance before eviction).
    used: [bool; CACHED_SNAPSHOTS],
    snapshots: [Option<Arc<Snapshot>>; CACHED_SNAPSHOTS],
    /// Where the search for an entry to evict starts.
    hand: usize,
}

impl SnapshotCache {
    /// Loads `core`'s current snapshot into the cache: in place of the set's older one, or
    /// of an entry not used since the hand last passed it. `None` when every entry was
    /// used since (a thread busy with more sets than the cache holds): the caller then
    /// loads without caching, rather than evicting a busy set's snapshot on every miss.
    ///
    /// A miss also lets go of every entry only the cache still holds (a replaced snapshot,
    /// or the last one of a set that was dropped), so that a thread using fewer sets than
    /// the cache holds does not keep a dropped set's tables until it exits.
    #[cold]
    fn fill(&mut self, core: &Core) -> Option<usize> {
        for (snapshot, stamp) in self.snapshots.iter_mut().zip(&mut self.stamps) {
            if snapshot.as_ref().is_some_and(|s| Arc::strong_count(s) == 1) {
                // Dropped inside the borrow, as below.
                *snapshot = None;
                *stamp = 0;
            }
        }
        let id = std::ptr::from_ref(core) as usize;
        let i = match self.cores.iter().position(|&c| c == id) {
            Some(i) => i,
            None => self.victim()?,
        };
        let snapshot = core.snapshot.load_full();
        self.stamps[i] = snapshot.stamp;
        self.cores[i] = id;
        self.used[i] = true;
        // The old snapshot, if any, is dropped here, inside the borrow: nothing it owns
        // calls back into the cache (a nested call would find it borrowed and not use it).
        self.snapshots[i] = Some(snapshot);
        Some(i)
    }

    /// A free entry, or else the one under the clock hand if it was not used since the
    /// hand last passed (its mark is cleared otherwise, and nothing is evicted this time).
    /// One entry per miss: a thread cycling through more sets than the cache holds keeps
    /// the ones it cached (each is used again before the hand comes back), while a set it
    /// stopped using loses its entry within two turns of the hand.
    fn victim(&mut self) -> Option<usize> {
        if let Some(free) = self.snapshots.iter().position(Option::is_none) {
            return Some(free);
        }
        let i = self.hand;
        self.hand = (i + 1) % CACHED_SNAPSHOTS;
        if std::mem::replace(&mut self.used[i], false) {
            None
        } else {
            Some(i)
        }
    }
}

thread_local! {
    static SNAPSHOTS: RefCell<SnapshotCache> = const {
        RefCell::new(SnapshotCache {
            stamps: [0; CACHED_SNAPSHOTS],
            cores: [0; CACHED_SNAPSHOTS],
            used: [false; CACHED_SNAPSHOTS],
            snapshots: [const { None }; CACHED_SNAPSHOTS],
            hand: 0,
        })
    };
}

impl Core {
    /// Runs `f` on the current snapshot.
    ///
    /// Each thread keeps the snapshots it used last (up to [`CACHED_SNAPSHOTS`] sets), and
    /// finds the current one there by comparing stamps: one plain load of this core's
    /// line, no atomic write. That is what a pick and a release pay instead of an
    /// `ArcSwap::load`, whose guard takes and gives back a debt slot with two sequentially
    /// consistent writes (5.5 ns, measured on the leastconn release path).
    /// A miss loads the snapshot from the `ArcSwap` and keeps it in place of the set's
    /// older one, or of an entry not used lately (see [`SnapshotCache::victim`]); a thread
    /// busy with more sets than the cache holds loads the others without caching them, as
    /// a nested call does, at the cost of an `ArcSwap::load`.
    ///
    /// The cost: a thread keeps up to [`CACHED_SNAPSHOTS`] snapshots alive after they are
    /// replaced (with their servers' slots, not their connections), until its next miss
    /// (which lets go of every entry no one else holds) or until it exits.
    ///
    /// Reading the stamp is sequentially consistent, after whatever the caller changed
    /// before (a release's counter): a snapshot installed later resyncs after its stamp
    /// is stored, so it sees that change (see `publish`).
    #[inline]
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        let stamp = self.stamp.load(Ordering::SeqCst);
        if SNAPSHOTS.try_with(|_| ()).is_err() {
            // The thread is exiting and its cache is gone.
            return f(&self.snapshot.load());
        }
        // `f` runs inside the closure and its result is returned as is: wrapping it in an
        // `Option` to run `f` outside made the compiler shuffle the result through the
        // stack with stalled loads (+11 to +17 ns per leastconn pick and release).
        SNAPSHOTS.with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                // A nested call (say, a connection slot dropped while a pick runs).
                return f(&self.snapshot.load());
            };
            let i = match cache.stamps.iter().position(|&s| s == stamp) {
                Some(i) => {
                    cache.used[i] = true;
                    Some(i)
                }
                None => cache.fill(self),
            };
            match i.and_then(|i| cache.snapshots[i].as_deref()) {
                Some(snapshot) => f(snapshot),
                None => f(&self.snapshot.load()),
            }
        })
    }

    /// Makes `snapshot` the current one.
    pub(crate) fn install(&self, snapshot: Arc<Snapshot>) {
        let stamp = snapshot.stamp;
        self.snapshot.store(snapshot);
        self.stamp.store(stamp, Ordering::SeqCst);
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("algorithm", &self.algorithm)
            .field("rotation", &self.snapshot.load().rotation)
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Entry {
    server: Server,
    slot: Arc<ServerSlot>,
    /// Bytes placed on the Maglev table: the name if any, else the address.
    hash_key: Box<[u8]>,
    ramp_start: Option<Instant>,
    effective: u32,
}

#[derive(Debug)]
pub(crate) struct Master {
    entries: BTreeMap<ServerId, Entry>,
    next_id: u32,
    now: Instant,
    policy: NoServerPolicy,
    /// Every usable backup takes traffic when no regular server can (HAProxy's `option
    /// allbackups`); otherwise only the first one, by id.
    all_backups: bool,
}

#[derive(Debug)]
pub(crate) struct Owner {
    pub(crate) core: Arc<Core>,
    master: Mutex<Master>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Snapshots hold the slots, which hold the core: break the cycle.
        self.core.install(Arc::new(Snapshot::empty()));
    }
}

/// A backend's servers and the algorithm that picks among them.
///
/// Cloning is cheap and gives another handle to the same set (for the gateway, the health
/// checker and an admin interface). Picks never take a lock: they read an immutable
/// snapshot, and per-server counters are atomics. Changes take a writer lock, rebuild the
/// algorithm's tables (O(n) to O(total weight)) and publish a new snapshot.
///
/// ```
/// use gangway_balance::{Algorithm, Server, ServerSet, ServerState};
///
/// let set = ServerSet::new(Algorithm::LeastConn);
/// let a = set.add(Server::new("10.0.0.10:3000".parse()?))?;
/// let b = set.add(Server::new("10.0.0.11:3000".parse()?))?;
///
/// let first = set.pick(None, &[])?;            // held for the whole WebSocket session
/// let second = set.pick(None, &[])?;
/// assert_ne!(first.server_id(), second.server_id());
///
/// set.set_state(b, ServerState::Down)?;        // a health check failed
/// assert_eq!(set.pick(None, &[])?.server_id(), a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerSet {
    pub(crate) owner: Arc<Owner>,
}

/// Builds a [`ServerSet`] with non-default options.
///
/// ```
/// use gangway_balance::{Algorithm, NoServerPolicy, SeededRandom, Server, ServerSet};
///
/// let set = ServerSet::builder()
///     .algorithm(Algorithm::P2C)
///     .no_server_policy(NoServerPolicy::FailOpen)
///     .random_source(SeededRandom::new(42))
///     .server(Server::new("10.0.0.1:80".parse()?))
///     .server(Server::new("10.0.0.2:80".parse()?).backup(true))
///     .build()?;
/// assert_eq!(set.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ServerSetBuilder {
    algorithm: Algorithm,
    policy: NoServerPolicy,
    random: Arc<dyn RandomSource>,
    servers: Vec<Server>,
    all_backups: bool,
}

impl ServerSetBuilder {
    /// The algorithm (default [`Algorithm::RoundRobin`]). It is fixed for the set's life.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// What to do when no server is up (default [`NoServerPolicy::Fail`]).
    pub fn no_server_policy(mut self, policy: NoServerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Where `random(n)` and the fallback scans draw random numbers (default
    /// [`ThreadRandom`]); give a [`SeededRandom`](crate::SeededRandom) for reproducible tests.
    pub fn random_source(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// Whether every backup server that is up takes traffic when no regular server can
    /// (HAProxy's `option allbackups`). By default only the first one does (the lowest id,
    /// so the first declared), as in HAProxy: a second backup stands by for the first.
    pub fn all_backups(mut self, all: bool) -> Self {
        self.all_backups = all;
        self
    }

    /// Adds a server (ids follow the order of calls, from 1).
    pub fn server(mut self, server: Server) -> Self {
        self.servers.push(server);
        self
    }

    /// Adds servers in order.
    pub fn servers(mut self, servers: impl IntoIterator<Item = Server>) -> Self {
        self.servers.extend(servers);
        self
    }

    /// Builds the set; fails if a server's weight is above [`MAX_WEIGHT`].
    pub fn build(self) -> Result<ServerSet, Error> {
        let set = ServerSet::with_parts(self.algorithm, self.policy, self.random);
        let servers = self.servers;
        let all_backups = self.all_backups;
        set.update(|batch| {
            batch.master.all_backups = all_backups;
            for s in servers {
                batch.add(s)?;
            }
            Ok(())
        })?;
        Ok(set)
    }
}

impl ServerSet {
    /// An empty set using `algorithm`, failing picks when no server is up.
    pub fn new(algorithm: Algorithm) -> ServerSet {
        ServerSet::with_parts(algorithm, NoServerPolicy::Fail, Arc::new(ThreadRandom))
    }

    /// A builder for a set with non-default options.
    pub fn builder() -> ServerSetBuilder {
        ServerSetBuilder {
            algorithm: Algorithm::default(),
            policy: NoServerPolicy::default(),
            random: Arc::new(ThreadRandom),
            servers: Vec::new(),
            all_backups: false,
        }
    }

    fn with_parts(
        algorithm: Algorithm,
        policy: NoServerPolicy,
        random: Arc<dyn RandomSource>,
    ) -> ServerSet {
        let empty = Snapshot::empty();
        let core = Arc::new(Core {
            stamp: AtomicU64::new(empty.stamp),
            snapshot: ArcSwap::from_pointee(empty),
            algorithm,
            cursor: Padded(AtomicU64::new(0)),
            global_pass: Padded(AtomicU64::new(0)),
            random,
            waiting: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            queue_timeouts: AtomicU64::new(0),
        });
        let master = Master {
            entries: BTreeMap::new(),
            next_id: 1,
            now: Instant::now(),
            policy,
            all_backups: false,
        };
        ServerSet {
            owner: Arc::new(Owner {
                core,
                master: Mutex::new(master),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Master> {
        // A panic in another writer leaves a consistent map (each change is one assignment).
        self.owner
            .master
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn core(&self) -> &Core {
        &self.owner.core
    }

    /// Applies several changes with one rebuild at the end (cheaper than one call per change
    /// when a config reload touches many servers). Changes made before an error in `f` stay
    /// applied.
    ///
    /// ```
    /// use gangway_balance::{Algorithm, Server, ServerSet, ServerState};
    /// let set = ServerSet::new(Algorithm::Hash);
    /// let ids = set.update(|batch| {
    ///     (1..=3)
    ///         .map(|i| batch.add(Server::new(format!("10.0.0.{i}:80").parse().unwrap())))
    ///         .collect::<Result<Vec<_>, _>>()
    /// })?;
    /// set.update(|batch| batch.set_state(ids[0], ServerState::Maint))?;
    /// # Ok::<(), gangway_balance::Error>(())
    /// ```
    pub fn update<R>(&self, f: impl FnOnce(&mut Batch<'_>) -> R) -> R {
        let mut master = self.lock();
        let mut batch = Batch {
            master: &mut master,
            core: &self.owner.core,
            changed: false,
            clock_set: false,
        };
        let out = f(&mut batch);
        if batch.changed {
            publish(batch.master, batch.core);
        }
        out
    }

    /// Adds a server and returns its new id.
    pub fn add(&self, server: Server) -> Result<ServerId, Error> {
        self.update(|b| b.add(server))
    }

    /// Removes a server. Its connection slots stay valid and still count until dropped.
    pub fn remove(&self, id: ServerId) -> Result<Server, Error> {
        self.update(|b| b.remove(id))
    }

    /// Sets a server's state and returns the previous one. Coming up from down or
    /// maintenance starts its slow start, timed from now.
    pub fn set_state(&self, id: ServerId, state: ServerState) -> Result<ServerState, Error> {
        self.set_state_at(id, state, Instant::now())
    }

    /// [`set_state`](Self::set_state) with the time given by the caller (health-check state
    /// machines pass their own `now`; tests pass a fake clock).
    pub fn set_state_at(
        &self,
        id: ServerId,
        state: ServerState,
        now: Instant,
    ) -> Result<ServerState, Error> {
        self.update(|b| {
            b.advance_clock(now);
            b.set_state(id, state)
        })
    }

    /// Sets a server's weight (0..=256; 0 takes it out of rotation without closing its
    /// connections) and returns the previous one.
    pub fn set_weight(&self, id: ServerId, weight: u16) -> Result<u16, Error> {
        self.update(|b| b.set_weight(id, weight))
    }

    /// Sets a server's connection limit and returns the previous one.
    pub fn set_maxconn(&self, id: ServerId, maxconn: Option<u32>) -> Result<Option<u32>, Error> {
        self.update(|b| b.set_maxconn(id, maxconn))
    }

    /// Sets the policy for when no server is up.
    pub fn set_no_server_policy(&self, policy: NoServerPolicy) {
        self.update(|b| b.set_no_server_policy(policy));
    }

    /// Moves slow-start ramps forward to `now`, republishing weights if a ramp reached its
    /// next step; returns whether it did.
    ///
    /// Picks do this on their own (with the system clock) once a step is due, so calling it
    /// is optional; it is how tests and simulations drive ramps with their own clock.
    pub fn refresh(&self, now: Instant) -> bool {
        let mut master = self.lock();
        refresh_locked(&mut master, &self.owner.core, now)
    }

    /// The pick path's refresh: skipped if a writer holds the lock (it will publish anyway).
    pub(crate) fn try_refresh(&self, now: Instant) {
        if let Ok(mut master) = self.owner.master.try_lock() {
            refresh_locked(&mut master, &self.owner.core, now);
        }
    }

    /// Rebuilds and publishes the snapshot unless another thread holds the writer lock;
    /// returns whether it did.
    pub(crate) fn try_republish(&self) -> bool {
        match self.owner.master.try_lock() {
            Ok(mut master) => {
                publish(&mut master, &self.owner.core);
                true
            }
            Err(_) => false,
        }
    }

    /// When the next slow-start step is due, if any server is ramping.
    pub fn next_refresh(&self) -> Option<Instant> {
        let master = self.lock();
        next_step(&master, self.owner.core.algorithm)
    }

    /// The algorithm this set picks with.
    pub fn algorithm(&self) -> Algorithm {
        self.owner.core.algorithm
    }

    /// The policy for when no server is up.
    pub fn no_server_policy(&self) -> NoServerPolicy {
        self.lock().policy
    }

    /// Which servers picks currently choose from.
    pub fn rotation(&self) -> Rotation {
        self.owner.core.snapshot.load().rotation
    }

    /// Number of servers in the set, whatever their state.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the set has no server at all.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// A server's state, without taking the writer lock (`None` if it is not in the set).
    pub fn state(&self, id: ServerId) -> Option<ServerState> {
        let snapshot = self.owner.core.snapshot.load();
        let dir = &snapshot.directory;
        dir.binary_search_by_key(&id, |e| e.0)
            .ok()
            .map(|i| dir[i].1)
    }

    /// A server's active connections, without taking the writer lock (`None` if it is not
    /// in the set).
    pub fn active(&self, id: ServerId) -> Option<u32> {
        let snapshot = self.owner.core.snapshot.load();
        let dir = &snapshot.directory;
        dir.binary_search_by_key(&id, |e| e.0)
            .ok()
            .map(|i| dir[i].2.active())
    }

    /// Whether picks may currently choose this server, without taking the writer lock.
    pub fn in_rotation(&self, id: ServerId) -> bool {
        self.owner.core.snapshot.load().member_of(id).is_some()
    }

    /// What is known about one server (takes the writer lock briefly).
    pub fn server(&self, id: ServerId) -> Option<ServerInfo> {
        let master = self.lock();
        let snapshot = self.owner.core.snapshot.load();
        master.entries.get(&id).map(|e| info(e, &snapshot))
    }

    /// What is known about every server, in id order.
    pub fn servers(&self) -> Vec<ServerInfo> {
        let master = self.lock();
        let snapshot = self.owner.core.snapshot.load();
        master
            .entries
            .values()
            .map(|e| info(e, &snapshot))
            .collect()
    }

    /// The ids of all servers, in id order.
    pub fn ids(&self) -> Vec<ServerId> {
        self.lock().entries.keys().copied().collect()
    }

    /// The id of the first server with this address.
    pub fn find_addr(&self, addr: SocketAddr) -> Option<ServerId> {
        let master = self.lock();
        master
            .entries
            .iter()
            .find(|(_, e)| e.server.addr == addr)
            .map(|(&id, _)| id)
    }

    /// The id of the first server with this name.
    pub fn find_name(&self, name: &str) -> Option<ServerId> {
        let master = self.lock();
        master
            .entries
            .iter()
            .find(|(_, e)| e.server.name.as_deref() == Some(name))
            .map(|(&id, _)| id)
    }

    /// Callers now waiting in [`pick_queued`](Self::pick_queued).
    pub fn queued(&self) -> usize {
        self.owner.core.waiting.load(Ordering::Relaxed)
    }

    /// Callers that gave up in [`pick_queued`](Self::pick_queued) after the queue timeout.
    pub fn queue_timeouts(&self) -> u64 {
        self.owner.core.queue_timeouts.load(Ordering::Relaxed)
    }
}

fn info(e: &Entry, snapshot: &Snapshot) -> ServerInfo {
    ServerInfo {
        id: e.slot.id,
        server: e.server.clone(),
        effective_weight: e.effective as u16,
        in_rotation: snapshot.member_of(e.slot.id).is_some(),
        active: e.slot.active(),
        total_picks: e.slot.total_picks(),
    }
}

/// Changes to a set applied together by [`ServerSet::update`], published once at the end.
#[derive(Debug)]
pub struct Batch<'a> {
    master: &'a mut Master,
    core: &'a Arc<Core>,
    changed: bool,
    /// [`advance_clock`](Batch::advance_clock) was called: the caller times this batch.
    clock_set: bool,
}

fn check_weight(id: Option<ServerId>, weight: u16) -> Result<(), Error> {
    if weight > MAX_WEIGHT {
        return Err(Error::WeightOutOfRange {
            server: id,
            weight: u32::from(weight),
        });
    }
    Ok(())
}

impl Batch<'_> {
    fn entry(&mut self, id: ServerId) -> Result<&mut Entry, Error> {
        self.master
            .entries
            .get_mut(&id)
            .ok_or(Error::UnknownServer(id))
    }

    /// A server's state now; a change decided from it in the same batch cannot lose a change
    /// made by someone else in between.
    pub fn state(&self, id: ServerId) -> Result<ServerState, Error> {
        self.master
            .entries
            .get(&id)
            .map(|entry| entry.server.state)
            .ok_or(Error::UnknownServer(id))
    }

    /// Moves the set's clock to `now` (never backwards); ramps are timed by this clock.
    pub fn advance_clock(&mut self, now: Instant) {
        self.clock_set = true;
        if now > self.master.now {
            self.master.now = now;
        }
    }

    /// Adds a server and returns its new id.
    pub fn add(&mut self, server: Server) -> Result<ServerId, Error> {
        check_weight(None, server.weight)?;
        let n = self.master.next_id;
        if n == u32::MAX {
            return Err(Error::TooManyServers);
        }
        self.master.next_id += 1;
        let id = ServerId(n);
        let hash_key: Box<[u8]> = match &server.name {
            Some(name) => name.as_bytes().into(),
            None => server.addr.to_string().into_bytes().into(),
        };
        let slot = Arc::new(ServerSlot {
            id,
            addr: server.addr,
            name: server.name.clone(),
            counts: AtomicU64::new(0),
            picks_wrapped: AtomicU32::new(0),
            member: AtomicU32::new(NONE),
            pass: AtomicU64::new(self.core.global_pass.load(Ordering::Relaxed)),
            core: Arc::clone(self.core),
        });
        self.master.entries.insert(
            id,
            Entry {
                server,
                slot,
                hash_key,
                ramp_start: None,
                effective: 0,
            },
        );
        self.changed = true;
        Ok(id)
    }

    /// Removes a server; its connection slots stay valid and still count until dropped.
    pub fn remove(&mut self, id: ServerId) -> Result<Server, Error> {
        let entry = self
            .master
            .entries
            .remove(&id)
            .ok_or(Error::UnknownServer(id))?;
        self.changed = true;
        Ok(entry.server)
    }

    /// Sets a server's state and returns the previous one (see [`ServerSet::set_state`]).
    ///
    /// A slow start begun here is timed from the set's clock: moved to now, unless this
    /// batch already moved it with [`advance_clock`](Self::advance_clock) (a caller with
    /// its own clock).
    pub fn set_state(&mut self, id: ServerId, state: ServerState) -> Result<ServerState, Error> {
        if !self.clock_set {
            self.advance_clock(Instant::now());
        }
        let now = self.master.now;
        let entry = self.entry(id)?;
        let old = entry.server.state;
        if old == state {
            return Ok(old);
        }
        entry.server.state = state;
        entry.ramp_start = match (old, state) {
            (ServerState::Down | ServerState::Maint, ServerState::Up) => {
                entry.server.slow_start.map(|_| now)
            }
            (_, ServerState::Up) => entry.ramp_start,
            _ => None,
        };
        self.changed = true;
        Ok(old)
    }

    /// Sets a server's weight and returns the previous one (see [`ServerSet::set_weight`]).
    pub fn set_weight(&mut self, id: ServerId, weight: u16) -> Result<u16, Error> {
        check_weight(Some(id), weight)?;
        let entry = self.entry(id)?;
        let old = std::mem::replace(&mut entry.server.weight, weight);
        self.changed |= old != weight;
        Ok(old)
    }

    /// Sets a server's connection limit and returns the previous one.
    pub fn set_maxconn(
        &mut self,
        id: ServerId,
        maxconn: Option<u32>,
    ) -> Result<Option<u32>, Error> {
        let entry = self.entry(id)?;
        let old = entry.server.maxconn;
        entry.server = entry.server.clone().maxconn(maxconn);
        self.changed = true;
        Ok(old)
    }

    /// Sets a server's share of the backend queue and returns the previous one.
    pub fn set_maxqueue(
        &mut self,
        id: ServerId,
        maxqueue: Option<u32>,
    ) -> Result<Option<u32>, Error> {
        let entry = self.entry(id)?;
        let old = std::mem::replace(&mut entry.server.maxqueue, maxqueue);
        self.changed = true;
        Ok(old)
    }

    /// Sets the policy for when no server is up.
    pub fn set_no_server_policy(&mut self, policy: NoServerPolicy) {
        self.master.policy = policy;
        self.changed = true;
    }
}

fn refresh_locked(master: &mut Master, core: &Arc<Core>, now: Instant) -> bool {
    if now > master.now {
        master.now = now;
    }
    let now = master.now;
    let stale = master.entries.values().any(|e| {
        let over = matches!((e.server.slow_start, e.ramp_start),
            (Some(period), Some(start)) if now.saturating_duration_since(start) >= period);
        // A finished ramp is republished once, to forget it.
        over || effective_weight(e, now, core.algorithm) != e.effective
    });
    if stale {
        publish(master, core);
    }
    stale
}

/// When the next slow-start step that changes an effective weight is due (or a ramp ends,
/// to be forgotten), for any ramping server.
///
/// Steps that leave every weight as it is are skipped: a weight-1 server keeps weight 1 for
/// its whole ramp, and if picks were told to refresh at each of its steps, they would each
/// take the writer lock and look at every server until the ramp ended, publishing nothing.
fn next_step(master: &Master, algorithm: Algorithm) -> Option<Instant> {
    if !algorithm.uses_slow_start() {
        return None;
    }
    master
        .entries
        .values()
        .filter_map(|e| {
            let (period, start) = (e.server.slow_start?, e.ramp_start?);
            let elapsed = master.now.saturating_duration_since(start);
            let step = ramp_step(elapsed, period)?;
            let weight = u32::from(e.server.weight);
            let at = |step: u32| (weight * step / SLOW_START_STEPS).clamp(1, weight.max(1));
            // Step `k` starts `(k - 1) / SLOW_START_STEPS` of the way in; the ramp ends
            // after the last one.
            let next = (step + 1..=SLOW_START_STEPS)
                .find(|&k| at(k) != at(step))
                .map_or(SLOW_START_STEPS, |k| k - 1);
            let nanos =
                (period.as_nanos() * u128::from(next)).div_ceil(u128::from(SLOW_START_STEPS));
            // A ramp too long for an `Instant` (`Duration::MAX`) never takes its next step.
            let offset = Duration::new(
                u64::try_from(nanos / 1_000_000_000).ok()?,
                (nanos % 1_000_000_000) as u32,
            );
            start.checked_add(offset)
        })
        .min()
}

/// The current slow-start step (1..SLOW_START_STEPS) or None once the ramp is over.
fn ramp_step(elapsed: Duration, period: Duration) -> Option<u32> {
    if elapsed >= period {
        return None;
    }
    let step = elapsed.as_nanos() * u128::from(SLOW_START_STEPS) / period.as_nanos().max(1);
    Some(step as u32 + 1)
}

fn effective_weight(e: &Entry, now: Instant, algorithm: Algorithm) -> u32 {
    let weight = u32::from(e.server.weight);
    if weight == 0 || !algorithm.uses_slow_start() {
        return weight;
    }
    let (Some(period), Some(start)) = (e.server.slow_start, e.ramp_start) else {
        return weight;
    };
    match ramp_step(now.saturating_duration_since(start), period) {
        Some(step) => (weight * step / SLOW_START_STEPS).clamp(1, weight),
        None => weight,
    }
}

/// Rebuilds the snapshot from the configuration and publishes it.
fn publish(master: &mut Master, core: &Arc<Core>) {
    let now = master.now;
    let algorithm = core.algorithm;
    for e in master.entries.values_mut() {
        e.effective = effective_weight(e, now, algorithm);
        if let (Some(period), Some(start)) = (e.server.slow_start, e.ramp_start)
            && now.saturating_duration_since(start) >= period
        {
            e.ramp_start = None;
        }
    }
    let select = |backup: bool, state: ServerState| {
        let usable = master.entries.values().filter(move |e| {
            e.server.backup == backup && e.server.state == state && e.effective > 0
        });
        // Without `all_backups`, the first backup (lowest id) alone.
        let limit = if backup && !master.all_backups {
            1
        } else {
            usize::MAX
        };
        usable.take(limit).collect::<Vec<&Entry>>()
    };
    let mut rotation = Rotation::Regular;
    let mut chosen = select(false, ServerState::Up);
    if chosen.is_empty() {
        rotation = Rotation::Backup;
        chosen = select(true, ServerState::Up);
    }
    if chosen.is_empty() && master.policy == NoServerPolicy::FailOpen {
        rotation = Rotation::FailOpen;
        chosen = select(false, ServerState::Down);
        if chosen.is_empty() {
            chosen = select(true, ServerState::Down);
        }
    }
    if chosen.is_empty() {
        rotation = Rotation::Empty;
    }

    let global_pass = core.global_pass.load(Ordering::Relaxed);
    let mut queue_capacity = 0u64;
    let members: Vec<Member> = chosen
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.slot.member.store(i as u32, Ordering::Relaxed);
            queue_capacity = match e.server.maxqueue {
                None => u64::MAX,
                Some(q) => queue_capacity.saturating_add(u64::from(q)),
            };
            // A server back in rotation resumes at the current pass, not ahead of everyone.
            e.slot.pass.fetch_max(global_pass, Ordering::Relaxed);
            let weight = e.effective;
            Member {
                slot: Arc::clone(&e.slot),
                reciprocal: reciprocal(weight),
                weight,
                maxconn: e.server.maxconn.unwrap_or(u32::MAX),
                stride: STRIDE_ONE / weight,
            }
        })
        .collect();
    let weights: Vec<(u32, u32)> = chosen
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32, e.effective))
        .collect();

    let cycle = match algorithm {
        Algorithm::RoundRobin | Algorithm::Hash => smooth_cycle(&weights),
        Algorithm::StaticRr => interleaved_cycle(&weights),
        _ => Vec::new(),
    };
    let leastconn =
        (algorithm == Algorithm::LeastConn).then(|| LeastConnTree::build(&members, global_pass));
    let alias = matches!(algorithm, Algorithm::Random { .. }).then(|| AliasTable::build(&weights));
    let maglev = (algorithm == Algorithm::Hash && !chosen.is_empty()).then(|| {
        let servers: Vec<MaglevServer<'_>> = chosen
            .iter()
            .enumerate()
            .map(|(i, e)| MaglevServer {
                index: i as u32,
                key: &e.hash_key,
                weight: e.effective,
            })
            .collect();
        Maglev::build(&servers)
    });

    let directory = master
        .entries
        .values()
        .map(|e| (e.slot.id, e.server.state, Arc::clone(&e.slot)))
        .collect();
    let snapshot = Arc::new(Snapshot {
        stamp: NEXT_STAMP.fetch_add(1, Ordering::Relaxed),
        members,
        rotation,
        directory,
        queue_capacity,
        refresh_at: next_step(master, algorithm),
        cycle_len: FastMod::new(cycle.len() as u32),
        cycle,
        leastconn,
        alias,
        maglev,
    });
    core.install(Arc::clone(&snapshot));
    if let Some(tree) = &snapshot.leastconn {
        tree.resync(&snapshot.members);
    }
    // A server may have come up or been given room: serve the queue, in order.
    if core.waiting.load(Ordering::SeqCst) > 0 {
        core.serve_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's cached entries: (stamp, core address), free ones left out.
    fn cached() -> Vec<(u64, usize)> {
        SNAPSHOTS.with_borrow(|c| {
            (0..CACHED_SNAPSHOTS)
                .filter(|&i| c.snapshots[i].is_some())
                .map(|i| (c.stamps[i], c.cores[i]))
                .collect()
        })
    }

    fn one_server_set(i: u8) -> ServerSet {
        let set = ServerSet::new(Algorithm::LeastConn);
        set.add(Server::new(SocketAddr::from(([10, 9, 0, i], 80))))
            .unwrap();
        set
    }

    fn core_id(set: &ServerSet) -> usize {
        std::ptr::from_ref(set.core()) as usize
    }

    #[test]
    fn a_changing_set_keeps_one_entry() {
        std::thread::spawn(|| {
            let set = one_server_set(1);
            for weight in 1..40 {
                let id = set.ids()[0];
                set.set_weight(id, weight).unwrap();
                drop(set.pick(None, &[]).unwrap());
            }
            let entries = cached();
            assert_eq!(entries.len(), 1, "{entries:?}");
            assert_eq!(entries[0].1, core_id(&set));
            assert_eq!(entries[0].0, set.core().snapshot.load().stamp);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn more_busy_sets_than_entries_do_not_evict_each_other() {
        std::thread::spawn(|| {
            let sets: Vec<ServerSet> = (0..CACHED_SNAPSHOTS as u8 + 3)
                .map(one_server_set)
                .collect();
            let round = || {
                for set in &sets {
                    drop(set.pick(None, &[]).unwrap());
                }
            };
            round();
            round();
            let settled = cached();
            assert_eq!(settled.len(), CACHED_SNAPSHOTS);
            for _ in 0..5 {
                round();
            }
            // The same sets stay cached: the others are loaded without evicting them.
            assert_eq!(cached(), settled);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_set_no_longer_used_makes_room() {
        std::thread::spawn(|| {
            let old: Vec<ServerSet> = (0..CACHED_SNAPSHOTS as u8).map(one_server_set).collect();
            for set in &old {
                drop(set.pick(None, &[]).unwrap());
            }
            let new: Vec<ServerSet> = (100..100 + CACHED_SNAPSHOTS as u8)
                .map(one_server_set)
                .collect();
            for _ in 0..3 {
                for set in &new {
                    drop(set.pick(None, &[]).unwrap());
                }
            }
            let mut entries: Vec<usize> = cached().into_iter().map(|(_, core)| core).collect();
            let mut want: Vec<usize> = new.iter().map(core_id).collect();
            entries.sort_unstable();
            want.sort_unstable();
            assert_eq!(entries, want);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn picks_carry_past_32_bits() {
        let set = ServerSet::new(Algorithm::LeastConn);
        let id = set
            .add(Server::new("10.0.0.1:80".parse().unwrap()))
            .unwrap();
        let snapshot = set.core().snapshot.load_full();
        let slot = &snapshot.members[0].slot;
        // Two connections held, the picks half about to wrap.
        slot.counts
            .store(u64::from(u32::MAX) << 32 | 2, Ordering::Relaxed);
        assert_eq!(slot.total_picks(), u64::from(u32::MAX));
        let a = set.pick(None, &[]).unwrap();
        assert_eq!(set.active(id), Some(3));
        assert_eq!(slot.total_picks(), 1 << 32);
        let b = set.pick(None, &[]).unwrap();
        assert_eq!(set.server(id).unwrap().total_picks, (1 << 32) + 1);
        drop((a, b));
        assert_eq!(set.active(id), Some(2));
        assert_eq!(set.server(id).unwrap().total_picks, (1 << 32) + 1);
    }
}
