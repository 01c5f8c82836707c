//! Each thread's view of the sets it picks from: the current snapshot, held in a
//! thread-local cache, and the thread's own round-robin turn.
//!
//! Loading a snapshot from the `ArcSwap` costs two atomic read-modify-writes (`arc-swap`
//! records and then pays a debt on a thread-local slot), and a pick plus the release of its
//! slot needed two such loads under leastconn. The cache replaces them with one plain load
//! of the set's publication number: while it is unchanged, the snapshot this thread already
//! holds is the current one. A publication number is unique in the process (all sets share
//! one counter), so an entry can never be mistaken for another set's.
//!
//! A thread keeps the snapshots of the last [`WAYS`] sets it picked from (or released a
//! slot to), so an old snapshot may stay allocated until the thread next uses that set, or
//! until it uses enough other sets to evict it.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::set::{Core, Snapshot};

/// Sets whose snapshot a thread keeps.
const WAYS: usize = 4;

/// Where each thread's round-robin turn starts: the golden ratio in 32 bits apart, so
/// that threads walk the cycle from well spread positions (the first thread from the start).
pub(crate) const TURN_SPREAD: u64 = 0x9e37_79b9;

/// Numbers publications of every set in the process (0 is never used).
static PUBLICATIONS: AtomicU64 = AtomicU64::new(1);

/// Numbers sets (0 is never used).
static SETS: AtomicU64 = AtomicU64::new(1);

/// A number no publication of any set had before.
pub(crate) fn next_publication() -> u64 {
    PUBLICATIONS.fetch_add(1, Ordering::Relaxed)
}

/// A number no set had before.
pub(crate) fn next_set() -> u64 {
    SETS.fetch_add(1, Ordering::Relaxed)
}

/// One set as this thread sees it.
struct Way {
    /// The set's number ([`Core::id`]), 0 for an unused way.
    set: u64,
    /// The set's publication number read just before `snapshot` was loaded (so the
    /// snapshot is that publication's or a later one).
    publication: u64,
    snapshot: Option<Arc<Snapshot>>,
    /// This thread's round-robin turn in the set, kept across publications.
    turn: u32,
}

impl Way {
    const EMPTY: Way = Way {
        set: 0,
        publication: 0,
        snapshot: None,
        turn: 0,
    };
}

thread_local! {
    static LOCAL: RefCell<[Way; WAYS]> = const { RefCell::new([Way::EMPTY; WAYS]) };
}

/// Runs `f` on the set's current snapshot and, when the thread-local cache is usable, this
/// thread's round-robin turn in the set (`None`: use the set's shared cursor).
///
/// The cache is bypassed (with a plain `ArcSwap` load) while it is already borrowed
/// further up the stack (a [`RandomSource`](crate::RandomSource) that picks) or has been
/// destroyed at thread exit. `f` returns nothing: callers keep what it finds in a variable
/// of their own, which the compiler handles better than a result passed back through the
/// thread-local access (that cost a pick two stalled stack copies).
#[inline]
pub(crate) fn with_snapshot(core: &Core, f: impl FnOnce(&Snapshot, Option<&mut u32>)) {
    let mut f = Some(f);
    let _ = LOCAL.try_with(|local| {
        if let Some(f) = f.take() {
            match local.try_borrow_mut() {
                Ok(mut ways) => {
                    let (snapshot, turn) = find(&mut ways, core);
                    f(snapshot, Some(turn));
                }
                Err(_) => f(&core.snapshot.load(), None),
            }
        }
    });
    // The thread-local is gone (thread exit): the closure did not run.
    if let Some(f) = f {
        f(&core.snapshot.load(), None);
    }
}

/// `core`'s current snapshot and this thread's turn, from the way that holds the set
/// (filled or refreshed as needed).
#[inline(always)]
fn find<'a>(ways: &'a mut [Way; WAYS], core: &Core) -> (&'a Snapshot, &'a mut u32) {
    // Acquire pairs with the Release in `publish`: the snapshot stored before this number
    // (or a later one) is what an `ArcSwap` load after it returns.
    let publication = core.publication.load(Ordering::Acquire);
    // The usual case, in a few instructions: the first way holds this publication (which,
    // being unique in the process, also tells the set).
    let index = if ways[0].publication == publication {
        0
    } else {
        refill(ways, core, publication)
    };
    let Way { snapshot, turn, .. } = &mut ways[index];
    // Always filled: a way's publication is set only together with its snapshot.
    let snapshot = snapshot.get_or_insert_with(|| core.snapshot.load_full());
    (snapshot, turn)
}

/// The slow path of [`find`]: the index of the way for `core`, holding `publication`.
#[cold]
#[inline(never)]
fn refill(ways: &mut [Way; WAYS], core: &Core, publication: u64) -> usize {
    let index = match ways.iter().position(|w| w.set == core.id) {
        Some(i) => i,
        None => {
            // Evict the oldest way; the new one starts its turn where the set hands out.
            ways.rotate_right(1);
            ways[0] = Way {
                set: core.id,
                publication: 0,
                snapshot: None,
                turn: core.cursor.fetch_add(TURN_SPREAD, Ordering::Relaxed) as u32,
            };
            0
        }
    };
    let way = &mut ways[index];
    if way.publication != publication {
        way.snapshot = Some(core.snapshot.load_full());
        way.publication = publication;
    }
    index
}
