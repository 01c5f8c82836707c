//! Picking a server: the algorithms on a snapshot, the connection slot guard, the queue.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::algorithm::Algorithm;
use crate::error::PickError;
use crate::hash::{key_hash, reduce};
use crate::leastconn::NONE;
use crate::server::ServerId;
use crate::set::{Core, Member, ServerSet, ServerSlot, Snapshot};

/// Positions of a precomputed cycle or hash table tried before a full scan.
const MAX_PROBES: usize = 16;
/// Draws per wanted draw in `random(n)` before giving up on finding free servers that way.
const DRAW_BUDGET: usize = 4;
/// Leastconn retries when another thread filled the chosen server first.
const LEASTCONN_RETRIES: usize = 4;

/// One connection counted against a server until dropped: the result of a pick.
///
/// While it lives, the server's active count includes it, so leastconn, `random(n)` and
/// `maxconn` see the real load. Keep it for as long as the backend connection is open (a
/// whole WebSocket session). It stays valid when the server is changed or removed.
pub struct ConnectionSlot {
    pub(crate) slot: Arc<ServerSlot>,
}

impl ConnectionSlot {
    /// The server picked.
    pub fn server_id(&self) -> ServerId {
        self.slot.id
    }

    /// Where to connect.
    pub fn addr(&self) -> SocketAddr {
        self.slot.addr
    }

    /// The server's name, if it has one.
    pub fn server_name(&self) -> Option<&str> {
        self.slot.name.as_deref()
    }
}

impl fmt::Debug for ConnectionSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSlot")
            .field("server", &self.slot.id)
            .field("addr", &self.slot.addr)
            .finish()
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let slot = &*self.slot;
        // SeqCst pairs with the fence of a caller joining the queue (`Place::join`): either
        // it sees this release or this release sees it.
        slot.release();
        let core: &Core = &slot.core;
        if core.algorithm == Algorithm::LeastConn {
            core.with_snapshot(|snapshot| {
                if let (Some(tree), Some(member)) =
                    (&snapshot.leastconn, snapshot.member_of_slot(slot))
                {
                    tree.update(&snapshot.members, member, false);
                }
            });
        }
        if core.waiting.load(Ordering::SeqCst) > 0 {
            // The slot freed goes to the longest-waiting caller that can use it.
            serve_queue(slot);
        }
    }
}

/// Serves the queue after a release, called through a pointer the compiler cannot see
/// through: serving may drop a slot, and a direct call made `ConnectionSlot::drop`
/// recursive to the compiler, which then stopped inlining `with_snapshot` into it (+27
/// instructions per release).
#[cold]
#[inline(never)]
fn serve_queue(slot: &ServerSlot) {
    let serve: fn(&Core) = std::hint::black_box(Core::serve_queue);
    serve(&slot.core);
}

/// Why the candidates seen so far were refused.
#[derive(Default)]
struct Misses {
    full: bool,
}

impl Misses {
    fn error(&self) -> PickError {
        if self.full {
            PickError::AllFull
        } else {
            PickError::AllExcluded
        }
    }
}

impl ServerSet {
    /// Picks a server for a new connection and takes one of its connection slots.
    ///
    /// `key` is the hashing key for [`Algorithm::Hash`] (source address, header value, URI,
    /// URL parameter: whatever the backend hashes on); other algorithms ignore it, and hash
    /// picks without a key fall back to round robin. `exclude` lists servers not to pick
    /// (those already tried, for retries and redispatch).
    ///
    /// Never blocks, takes no lock, and does not allocate (after a thread's first pick,
    /// which registers it with `arc-swap` and sets up its cache of snapshots; except the
    /// rare pick that publishes a due slow-start step or a rebuilt leastconn tree). Fails with
    /// [`PickError::AllFull`] when every usable server is at its `maxconn` (see
    /// [`pick_queued`](Self::pick_queued) to wait instead). It does not look at the backend
    /// queue: a slot it finds free is its own even while queued callers wait (for an
    /// instant after a release, before the release hands the slot to the queue).
    ///
    /// ```
    /// use gangway_balance::{Algorithm, Server, ServerSet};
    ///
    /// let set = ServerSet::new(Algorithm::Hash);
    /// for i in 1..=5 {
    ///     set.add(Server::new(format!("10.0.0.{i}:80").parse()?))?;
    /// }
    /// let a = set.pick(Some(b"203.0.113.7"), &[])?;
    /// let b = set.pick(Some(b"203.0.113.7"), &[])?;
    /// assert_eq!(a.server_id(), b.server_id());      // same key, same server
    /// let retry = set.pick(Some(b"203.0.113.7"), &[a.server_id()])?;
    /// assert_ne!(retry.server_id(), a.server_id());  // but not one already tried
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pick(
        &self,
        key: Option<&[u8]>,
        exclude: &[ServerId],
    ) -> Result<ConnectionSlot, PickError> {
        let core = self.core();
        // The result crosses `with_snapshot` as a pair of scalars, which come back in two
        // registers: a `Result` is copied through the stack, and reading it back stalled
        // on its just-written parts (+3 to +4 ns per leastconn pick).
        let (slot, error) =
            core.with_snapshot(|snapshot| match pick_from(self, snapshot, key, exclude) {
                Ok(member) => (Some(Arc::clone(&snapshot.members[member].slot)), None),
                Err(error) => (None, Some(error)),
            });
        match (slot, error) {
            (Some(slot), _) => Ok(ConnectionSlot { slot }),
            (None, error) => Err(error.unwrap_or(PickError::NoServerUp)),
        }
    }
}

/// What a pick may do besides picking: publish a due slow-start step, or a leastconn tree
/// rebuilt so that its passes count from a newer base. A set's own picks do; the queue's
/// picks on a waiter's behalf (made by a release, or by a change under the writer lock)
/// leave it to a later pick.
pub(crate) trait Publisher {
    /// The set's core.
    fn core(&self) -> &Core;
    /// Publishes a due slow-start step unless a writer holds the lock.
    fn try_refresh(&self, now: Instant);
    /// Rebuilds and publishes the snapshot unless a writer holds the lock; whether it did.
    fn try_republish(&self) -> bool;
}

impl Publisher for ServerSet {
    #[inline(always)]
    fn core(&self) -> &Core {
        ServerSet::core(self)
    }

    fn try_refresh(&self, now: Instant) {
        ServerSet::try_refresh(self, now);
    }

    fn try_republish(&self) -> bool {
        ServerSet::try_republish(self)
    }
}

impl Publisher for Core {
    #[inline(always)]
    fn core(&self) -> &Core {
        self
    }

    fn try_refresh(&self, _now: Instant) {}

    fn try_republish(&self) -> bool {
        false
    }
}

/// [`ServerSet::pick`] on `snapshot`: the member picked, its slot taken.
#[inline(always)]
pub(crate) fn pick_from<P: Publisher>(
    publisher: &P,
    snapshot: &Snapshot,
    key: Option<&[u8]>,
    exclude: &[ServerId],
) -> Result<usize, PickError> {
    let core = publisher.core();
    if let Some(at) = snapshot.refresh_at
        && Instant::now() >= at
    {
        // A slow-start step is due: this pick publishes it (and still uses the old
        // snapshot); the others carry on.
        publisher.try_refresh(Instant::now());
    }
    if snapshot.members.is_empty() {
        return Err(PickError::NoServerUp);
    }
    match core.algorithm {
        Algorithm::RoundRobin | Algorithm::StaticRr => round_robin(core, snapshot, exclude),
        Algorithm::LeastConn => least_conn(publisher, snapshot, exclude),
        Algorithm::Random { draws } => random(core, snapshot, exclude, draws),
        Algorithm::First => scan(snapshot, 0, exclude),
        Algorithm::Hash => match key {
            Some(key) => hashed(snapshot, key, exclude),
            None => round_robin(core, snapshot, exclude),
        },
    }
}

fn excluded(member: &Member, exclude: &[ServerId]) -> bool {
    !exclude.is_empty() && exclude.contains(&member.id())
}

/// Tries every member once, starting at `start` (below the number of members), in server
/// order.
#[inline]
fn scan(snapshot: &Snapshot, start: usize, exclude: &[ServerId]) -> Result<usize, PickError> {
    let members = &snapshot.members;
    let n = members.len();
    let mut misses = Misses::default();
    for k in 0..n {
        let mut i = start + k;
        if i >= n {
            // Wrapped past the last member (no division on the pick path).
            i -= n;
        }
        let m = &members[i];
        if excluded(m, exclude) {
            continue;
        }
        if m.try_take() {
            return Ok(i);
        }
        misses.full = true;
    }
    Err(misses.error())
}

fn round_robin(core: &Core, snapshot: &Snapshot, exclude: &[ServerId]) -> Result<usize, PickError> {
    let cycle = &snapshot.cycle;
    let n = cycle.len();
    if n == 0 {
        return scan(snapshot, 0, exclude);
    }
    // The low 32 bits are enough: the cycle skips once every 2^32 picks, which is harmless.
    let turn = core.cursor.fetch_add(1, Ordering::Relaxed) as u32;
    let mut position = snapshot.cycle_len.rem(turn) as usize;
    for _ in 0..n.min(MAX_PROBES) {
        let i = cycle[position] as usize;
        let m = &snapshot.members[i];
        if !excluded(m, exclude) && m.try_take() {
            return Ok(i);
        }
        position += 1;
        if position == n {
            position = 0;
        }
    }
    scan(snapshot, position % snapshot.members.len(), exclude)
}

fn least_conn<P: Publisher>(
    set: &P,
    snapshot: &Snapshot,
    exclude: &[ServerId],
) -> Result<usize, PickError> {
    let core = set.core();
    let Some(tree) = &snapshot.leastconn else {
        return scan(snapshot, 0, exclude);
    };
    let members = &snapshot.members;
    let allowed = |i: u32| !excluded(&members[i as usize], exclude);
    for _ in 0..LEASTCONN_RETRIES {
        let mut saw_full = false;
        let root = tree.root();
        let candidate = if root != NONE && allowed(root) && !members[root as usize].is_full() {
            root
        } else {
            tree.best_allowed(&allowed, &mut saw_full)
        };
        if candidate == NONE {
            if saw_full {
                // While a pick that fills a server races a release, the tree can say "full"
                // for a moment for a server that has room: the live counters decide, and
                // the tree is repaired for the server found.
                let found = scan(snapshot, 0, exclude)?;
                tree.update(members, found as u32, true);
                return Ok(found);
            }
            return Err(Misses { full: false }.error());
        }
        let m = &members[candidate as usize];
        if m.try_take() {
            // Stride scheduling: a server's pass advances by 1/weight per pick, and one
            // that sat out resumes at the latest pass rather than ahead of everyone.
            let global = core.global_pass.load(Ordering::Relaxed);
            let pass = m.pass().max(global);
            if pass > global {
                core.global_pass.store(pass, Ordering::Relaxed);
            }
            let next = pass + u64::from(m.stride);
            m.slot.pass.store(next, Ordering::Relaxed);
            tree.update(members, candidate, true);
            if tree.note_pass(next) && !set.try_republish() {
                // Rare (after about 2^29 picks of a weight-1 server with 1000 servers):
                // rebuild the tree so that passes count from a newer base. A writer held
                // the lock: a later pick tries again.
                tree.retry_rebase();
            }
            return Ok(candidate as usize);
        }
        // Another thread filled it first: record that and look again.
        tree.update(members, candidate, false);
    }
    scan(snapshot, 0, exclude)
}

fn lighter(a: &Member, b: &Member) -> bool {
    u64::from(a.active()) * u64::from(b.weight) < u64::from(b.active()) * u64::from(a.weight)
}

// Inlined by hand: with a second caller (the queue's picks), the compiler stopped
// inlining it into `pick` (+24 instructions per pick).
#[inline(always)]
fn random(
    core: &Core,
    snapshot: &Snapshot,
    exclude: &[ServerId],
    draws: u8,
) -> Result<usize, PickError> {
    let members = &snapshot.members;
    let Some(alias) = &snapshot.alias else {
        return scan(snapshot, 0, exclude);
    };
    let wanted = usize::from(draws.max(1));
    let mut best: Option<usize> = None;
    let mut drawn = 0;
    for _ in 0..wanted * DRAW_BUDGET {
        let i = alias.draw(core.random.next_u64()) as usize;
        let m = &members[i];
        if excluded(m, exclude) || m.is_full() {
            continue;
        }
        best = match best {
            Some(b) if !lighter(m, &members[b]) => Some(b),
            _ => Some(i),
        };
        drawn += 1;
        if drawn == wanted {
            break;
        }
    }
    if let Some(b) = best
        && members[b].try_take()
    {
        return Ok(b);
    }
    let start = reduce(core.random.next_u64(), members.len());
    scan(snapshot, start, exclude)
}

// Inlined by hand, as `random` (+18 instructions per pick otherwise).
#[inline(always)]
fn hashed(snapshot: &Snapshot, key: &[u8], exclude: &[ServerId]) -> Result<usize, PickError> {
    let hash = key_hash(key);
    let Some(table) = &snapshot.maglev else {
        return scan(snapshot, 0, exclude);
    };
    let position = table.position(hash);
    let mut last = NONE;
    // The key's server first, then the next servers along the table: a deterministic spill.
    for k in 0..MAX_PROBES * 4 {
        let i = table.at(position + k);
        if i == last {
            continue;
        }
        last = i;
        let m = &snapshot.members[i as usize];
        if !excluded(m, exclude) && m.try_take() {
            return Ok(i as usize);
        }
    }
    scan(snapshot, reduce(hash, snapshot.members.len()), exclude)
}
