//! The leastconn winner tree: the least loaded server is always at the root, so finding it
//! is O(1) and recording a changed load is O(log n), without a lock.
//!
//! Each node caches the rank of the leaf that wins its subtree. A pick reads the root,
//! takes a slot on that server and replays the matches on its path; a released connection
//! replays its path until nothing changes. A replay starts from the leaf's rank computed
//! from the live counters, so it repairs every node on its path. With concurrent pickers a
//! node may briefly hold a stale or mixed rank (a slightly worse pick); the next replay
//! through it repairs it. Run sequentially, every pick is exactly a least loaded server.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::set::Member;

pub(crate) const NONE: u32 = u32::MAX;

/// Stride numerator for the weighted round robin among equally loaded servers.
pub(crate) const STRIDE_ONE: u64 = 1 << 24;

/// Marks a full server's key: full servers sort after all others.
const FULL: u64 = 1 << 63;

/// A leaf's place in the order: full servers last, then `active / weight`, then the
/// weighted round-robin pass, then server order. Smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rank {
    /// `active * 2^16 / weight`, plus `FULL`. With weights up to 256 the fixed point keeps
    /// every comparison of `a1 / w1` with `a2 / w2` exact.
    key: u64,
    pass: u64,
    leaf: u32,
}

const EMPTY: Rank = Rank {
    key: u64::MAX,
    pass: u64::MAX,
    leaf: NONE,
};

/// `ceil(2^64 / weight)`, so that [`load_key`] needs no division (a 64-bit division
/// cost more than the rest of a pick).
pub(crate) fn reciprocal(weight: u64) -> u128 {
    ((1u128 << 64) + u128::from(weight) - 1) / u128::from(weight.max(1))
}

/// `floor(active * 2^16 / weight)` from `reciprocal(weight)`: exact, because the
/// reciprocal's rounding error stays below `2^-16 < 1 / weight` for weights up to 256.
fn load_key(active: u32, reciprocal: u128) -> u64 {
    (((u128::from(active) << 16) * reciprocal) >> 64) as u64
}

impl Rank {
    fn of(members: &[Member], leaf: usize) -> Rank {
        let Some(m) = members.get(leaf) else {
            return EMPTY;
        };
        let active = m.active();
        let full = if active >= m.maxconn { FULL } else { 0 };
        Rank {
            key: full | load_key(active, m.reciprocal),
            pass: m.pass(),
            leaf: leaf as u32,
        }
    }

    fn is_full(&self) -> bool {
        self.key & FULL != 0
    }

    /// The better (smaller) of two ranks. Which side wins is unpredictable, so the common
    /// case (different keys) selects without a branch; equal keys (idle servers) go to the
    /// weighted round-robin pass, then to server order.
    #[inline]
    fn min(self, other: Rank) -> Rank {
        let other_wins = if self.key != other.key {
            other.key < self.key
        } else {
            (other.pass, other.leaf) < (self.pass, self.leaf)
        };
        let mask = 0u64.wrapping_sub(u64::from(other_wins));
        Rank {
            key: (other.key & mask) | (self.key & !mask),
            pass: (other.pass & mask) | (self.pass & !mask),
            leaf: (other.leaf & mask as u32) | (self.leaf & !(mask as u32)),
        }
    }
}

#[derive(Debug)]
#[repr(align(32))]
struct Node {
    key: AtomicU64,
    pass: AtomicU64,
    leaf: AtomicU32,
}

impl Node {
    fn load(&self) -> Rank {
        Rank {
            key: self.key.load(Ordering::Relaxed),
            pass: self.pass.load(Ordering::Relaxed),
            leaf: self.leaf.load(Ordering::Relaxed),
        }
    }

    fn store(&self, rank: Rank) {
        self.key.store(rank.key, Ordering::Relaxed);
        self.pass.store(rank.pass, Ordering::Relaxed);
        self.leaf.store(rank.leaf, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct LeastConnTree {
    /// `nodes[1]` is the root; index 0 is unused. Node `i` has children `2i` and `2i + 1`;
    /// indices from `capacity` on are the leaves (member `i - capacity`), each caching its
    /// member's rank as of that member's latest update.
    nodes: Vec<Node>,
    capacity: usize,
}

impl LeastConnTree {
    pub(crate) fn build(members: &[Member]) -> LeastConnTree {
        let capacity = members.len().next_power_of_two().max(2);
        let tree = LeastConnTree {
            nodes: (0..2 * capacity)
                .map(|_| Node {
                    key: AtomicU64::new(u64::MAX),
                    pass: AtomicU64::new(u64::MAX),
                    leaf: AtomicU32::new(NONE),
                })
                .collect(),
            capacity,
        };
        tree.resync(members);
        tree
    }

    /// Recomputes every node from the live counters (after publishing, so that releases
    /// that raced with the build are accounted for).
    pub(crate) fn resync(&self, members: &[Member]) {
        for leaf in 0..self.capacity {
            self.nodes[self.capacity + leaf].store(Rank::of(members, leaf));
        }
        for node in (1..self.capacity).rev() {
            let best = self.rank(2 * node).min(self.rank(2 * node + 1));
            self.nodes[node].store(best);
        }
    }

    fn rank(&self, node: usize) -> Rank {
        self.nodes[node].load()
    }

    /// Replays the matches above `member` after its load changed.
    pub(crate) fn update(&self, members: &[Member], member: u32) {
        let mut child = self.capacity + member as usize;
        let mut rising = Rank::of(members, member as usize);
        self.nodes[child].store(rising);
        while child > 1 {
            let parent = child / 2;
            let best = rising.min(self.rank(child ^ 1));
            let node = &self.nodes[parent];
            let old = node.leaf.load(Ordering::Relaxed);
            if old != member && old == best.leaf {
                // The same other server still wins here: nothing above changes.
                break;
            }
            node.store(best);
            rising = best;
            child = parent;
        }
    }

    /// The least loaded member, or `NONE` for an empty tree.
    pub(crate) fn root(&self) -> u32 {
        self.nodes[1].leaf.load(Ordering::Relaxed)
    }

    /// The least loaded member for which `allowed` holds, searching only the subtrees whose
    /// winner is refused; `NONE` if there is none. Sets `saw_full` when it met a full
    /// server (a full winner means its whole subtree is full, as full servers sort last).
    pub(crate) fn best_allowed(&self, allowed: &dyn Fn(u32) -> bool, saw_full: &mut bool) -> u32 {
        self.search(1, allowed, saw_full).leaf
    }

    fn search(&self, node: usize, allowed: &dyn Fn(u32) -> bool, saw_full: &mut bool) -> Rank {
        let rank = self.rank(node);
        if rank.leaf == NONE {
            return EMPTY;
        }
        if rank.is_full() {
            *saw_full = true;
            return EMPTY;
        }
        if allowed(rank.leaf) {
            return rank;
        }
        if node >= self.capacity {
            return EMPTY;
        }
        let left = self.search(2 * node, allowed, saw_full);
        let right = self.search(2 * node + 1, allowed, saw_full);
        left.min(right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_keys_are_exact() {
        for weight in 1..=256u64 {
            let r = reciprocal(weight);
            let samples = (0..2000u32).chain([u32::MAX, u32::MAX - 1, 1 << 31, 65_535, 65_536]);
            for active in samples {
                let want = (u64::from(active) << 16) / weight;
                assert_eq!(load_key(active, r), want, "{active} / {weight}");
            }
        }
    }
}
