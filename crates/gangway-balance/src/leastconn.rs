//! The leastconn winner tree: the least loaded server is always at the root, so finding it
//! is O(1) and recording a changed load is O(log n), without a lock.
//!
//! Each internal node holds the leaf that wins its subtree. A pick reads the root, takes a
//! slot on that server and replays the matches on its path; a released connection replays
//! its path until its leaf stops winning. With concurrent pickers a node may briefly hold a
//! stale winner (a slightly worse pick); the next update on that path repairs it. Run
//! sequentially, every pick is exactly a least loaded server.

use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::set::Member;

pub(crate) const NONE: u32 = u32::MAX;

/// Stride numerator for the weighted round robin among equally loaded servers.
pub(crate) const STRIDE_ONE: u64 = 1 << 24;

#[derive(Debug)]
pub(crate) struct LeastConnTree {
    /// Winner per internal node, `nodes[1]` is the root; index 0 is unused.
    nodes: Vec<AtomicU32>,
    /// Number of leaves (a power of two, at least 2); leaf `i` is member `i`.
    capacity: usize,
    len: usize,
}

/// Orders two members by load: full servers last, then `active / weight`, then the
/// weighted round-robin pass, then server order.
pub(crate) fn compare_load(members: &[Member], a: u32, b: u32) -> CmpOrdering {
    let (ma, mb) = (&members[a as usize], &members[b as usize]);
    let (aa, ab) = (ma.active(), mb.active());
    let (full_a, full_b) = (aa >= ma.maxconn, ab >= mb.maxconn);
    full_a
        .cmp(&full_b)
        .then_with(|| (u64::from(aa) * mb.weight).cmp(&(u64::from(ab) * ma.weight)))
        .then_with(|| ma.pass().cmp(&mb.pass()))
        .then_with(|| a.cmp(&b))
}

impl LeastConnTree {
    pub(crate) fn build(members: &[Member]) -> LeastConnTree {
        let len = members.len();
        let capacity = len.next_power_of_two().max(2);
        let mut tree = LeastConnTree {
            nodes: (0..capacity).map(|_| AtomicU32::new(NONE)).collect(),
            capacity,
            len,
        };
        for node in (1..capacity).rev() {
            let w = tree.play(members, node);
            *tree.nodes[node].get_mut() = w;
        }
        tree
    }

    fn winner(&self, node: usize) -> u32 {
        if node >= self.capacity {
            let leaf = node - self.capacity;
            if leaf < self.len { leaf as u32 } else { NONE }
        } else {
            self.nodes[node].load(Ordering::Acquire)
        }
    }

    /// The winner of `node`'s two children.
    fn play(&self, members: &[Member], node: usize) -> u32 {
        let (l, r) = (self.winner(2 * node), self.winner(2 * node + 1));
        match (l, r) {
            (NONE, x) | (x, NONE) => x,
            _ => {
                if compare_load(members, l, r) == CmpOrdering::Greater {
                    r
                } else {
                    l
                }
            }
        }
    }

    /// The least loaded member, or `NONE` for an empty tree.
    pub(crate) fn root(&self) -> u32 {
        self.nodes[1].load(Ordering::Acquire)
    }

    /// Replays the matches above `member` after its load changed.
    pub(crate) fn update(&self, members: &[Member], member: u32) {
        let mut node = (self.capacity + member as usize) / 2;
        while node >= 1 {
            let old = self.nodes[node].load(Ordering::Acquire);
            let new = self.play(members, node);
            if new != old {
                self.nodes[node].store(new, Ordering::Release);
            }
            // Neither before nor after the winner here: nothing above can change.
            if old != member && new != member {
                break;
            }
            node /= 2;
        }
    }

    /// The least loaded member for which `allowed` holds, searching only the subtrees whose
    /// winner is refused. Sets `saw_full` when it met a full server (a full winner means its
    /// whole subtree is full, as full servers sort last).
    pub(crate) fn best_allowed(
        &self,
        members: &[Member],
        node: usize,
        allowed: &dyn Fn(u32) -> bool,
        saw_full: &mut bool,
    ) -> u32 {
        let w = self.winner(node);
        if w == NONE {
            return NONE;
        }
        let m = &members[w as usize];
        if m.active() >= m.maxconn {
            *saw_full = true;
            return NONE;
        }
        if allowed(w) {
            return w;
        }
        if node >= self.capacity {
            return NONE;
        }
        let l = self.best_allowed(members, 2 * node, allowed, saw_full);
        let r = self.best_allowed(members, 2 * node + 1, allowed, saw_full);
        match (l, r) {
            (NONE, x) | (x, NONE) => x,
            _ => {
                if compare_load(members, l, r) == CmpOrdering::Greater {
                    r
                } else {
                    l
                }
            }
        }
    }
}
