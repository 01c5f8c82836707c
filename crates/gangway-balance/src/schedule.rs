//! Precomputed round-robin cycles and the alias table for weighted random draws.
//!
//! They are rebuilt whenever the set changes, so that a pick is an index into a slice.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Longest cycle we precompute; larger weight sums are scaled down to fit (4 MiB of u32).
const MAX_CYCLE: u64 = 1 << 20;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Divides weights by their gcd, and scales them down if their sum exceeds `MAX_CYCLE`.
fn reduced(weights: &[(u32, u32)]) -> Vec<(u32, u64)> {
    let g = weights
        .iter()
        .fold(0u64, |g, &(_, w)| gcd(g, u64::from(w)))
        .max(1);
    let mut out: Vec<(u32, u64)> = weights
        .iter()
        .filter(|&&(_, w)| w > 0)
        .map(|&(i, w)| (i, u64::from(w) / g))
        .collect();
    let sum: u64 = out.iter().map(|&(_, w)| w).sum();
    if sum > MAX_CYCLE {
        for (_, w) in &mut out {
            *w = (*w * MAX_CYCLE / sum).max(1);
        }
    }
    out
}

/// The next turn of one server in the smooth cycle: its `turn`-th pick is due at
/// `(2 * turn - 1) / (2 * weight)` of the cycle (the middle of its share).
#[derive(PartialEq, Eq)]
struct Turn {
    twice_due: u64,
    weight: u64,
    order: usize,
    index: u32,
}

impl Ord for Turn {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest deadline first.
        (u128::from(other.twice_due) * u128::from(self.weight))
            .cmp(&(u128::from(self.twice_due) * u128::from(other.weight)))
            .then_with(|| other.order.cmp(&self.order))
    }
}

impl PartialOrd for Turn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The smooth weighted cycle: every server's turns spread evenly (earliest deadline first,
/// ties to the earlier server). `weights` holds `(index, weight)`; zero weights are skipped.
pub(crate) fn smooth_cycle(weights: &[(u32, u32)]) -> Vec<u32> {
    let servers = reduced(weights);
    let total: u64 = servers.iter().map(|&(_, w)| w).sum();
    let mut heap: BinaryHeap<Turn> = servers
        .iter()
        .enumerate()
        .map(|(order, &(index, weight))| Turn {
            twice_due: 1,
            weight,
            order,
            index,
        })
        .collect();
    let mut cycle = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let Some(mut turn) = heap.pop() else { break };
        cycle.push(turn.index);
        turn.twice_due += 2;
        heap.push(turn);
    }
    cycle
}

/// The classic interleaved weighted cycle (LVS / `static-rr`): in round `r`, every server
/// whose weight exceeds `r` gets one turn, in server order.
pub(crate) fn interleaved_cycle(weights: &[(u32, u32)]) -> Vec<u32> {
    let servers = reduced(weights);
    let rounds = servers.iter().map(|&(_, w)| w).max().unwrap_or(0);
    let total: u64 = servers.iter().map(|&(_, w)| w).sum();
    let mut cycle = Vec::with_capacity(total as usize);
    for round in 0..rounds {
        cycle.extend(servers.iter().filter(|&&(_, w)| w > round).map(|&(i, _)| i));
    }
    cycle
}

/// Walker/Vose alias table: O(1) draws of an index in proportion to weight.
#[derive(Debug)]
pub(crate) struct AliasTable {
    /// Per column: the server index, the alias index, and the threshold out of 2^32 below
    /// which the column's own server is taken.
    columns: Vec<(u32, u32, u64)>,
}

impl AliasTable {
    /// `weights` holds `(index, weight)` with weights > 0 (zero weights are skipped).
    pub(crate) fn build(weights: &[(u32, u32)]) -> AliasTable {
        let servers: Vec<(u32, u64)> = weights
            .iter()
            .filter(|&&(_, w)| w > 0)
            .map(|&(i, w)| (i, u64::from(w)))
            .collect();
        let n = servers.len() as u64;
        let total: u64 = servers.iter().map(|&(_, w)| w).sum();
        // Scaled so that the average column holds exactly `total`.
        let mut mass: Vec<u64> = servers.iter().map(|&(_, w)| w * n).collect();
        let mut columns: Vec<(u32, u32, u64)> =
            servers.iter().map(|&(i, _)| (i, i, 1u64 << 32)).collect();
        let mut small: Vec<usize> = Vec::new();
        let mut large: Vec<usize> = Vec::new();
        for (c, &m) in mass.iter().enumerate() {
            if m < total {
                small.push(c);
            } else {
                large.push(c);
            }
        }
        while let (Some(s), Some(l)) = (small.pop(), large.pop()) {
            columns[s].1 = servers[l].0;
            columns[s].2 = (u128::from(mass[s]) << 32).div_euclid(u128::from(total)) as u64;
            mass[l] = mass[l] + mass[s] - total;
            if mass[l] < total {
                small.push(l);
            } else {
                large.push(l);
            }
        }
        AliasTable { columns }
    }

    /// The server index drawn by the random number `r`.
    pub(crate) fn draw(&self, r: u64) -> u32 {
        let column = (((r >> 32) * self.columns.len() as u64) >> 32) as usize;
        let (own, alias, threshold) = self.columns[column];
        if (r & 0xffff_ffff) < threshold {
            own
        } else {
            alias
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(index, weight)` pairs and the cycle they must give.
    type CycleCase = (&'static [(u32, u32)], &'static [u32]);

    #[test]
    fn smooth_cycles() {
        let cases: [CycleCase; 5] = [
            (&[(0, 5), (1, 1), (2, 1)], &[0, 0, 0, 1, 2, 0, 0]),
            (&[(0, 1), (1, 1), (2, 1)], &[0, 1, 2]),
            (&[(0, 2), (1, 4)], &[1, 0, 1]),
            (&[(0, 0), (1, 3)], &[1]),
            (&[], &[]),
        ];
        for (weights, want) in cases {
            assert_eq!(smooth_cycle(weights), want, "weights {weights:?}");
        }
    }

    #[test]
    fn interleaved_cycles() {
        let cases: [CycleCase; 3] = [
            (&[(0, 5), (1, 1), (2, 1)], &[0, 1, 2, 0, 0, 0, 0]),
            (&[(0, 2), (1, 2), (2, 4)], &[0, 1, 2, 2]),
            (&[(3, 1)], &[3]),
        ];
        for (weights, want) in cases {
            assert_eq!(interleaved_cycle(weights), want, "weights {weights:?}");
        }
    }

    #[test]
    fn huge_weight_sums_are_scaled() {
        let weights: Vec<(u32, u32)> = (0..10_000).map(|i| (i, 255 + i % 2)).collect();
        let cycle = smooth_cycle(&weights);
        assert!(cycle.len() as u64 <= MAX_CYCLE + 10_000);
        assert!(cycle.len() >= 10_000);
    }

    #[test]
    fn alias_draws_follow_weights() {
        let weights = [(10, 1), (11, 3), (12, 0), (13, 6)];
        let table = AliasTable::build(&weights);
        let mut counts = [0u64; 14];
        // An even sweep of the random space gives exact shares.
        let steps = 1u64 << 16;
        for k in 0..steps {
            let r = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            counts[table.draw(r) as usize] += 1;
        }
        assert_eq!(counts[12], 0);
        for (i, w) in [(10usize, 1.0), (11, 3.0), (13, 6.0)] {
            let share = counts[i] as f64 / steps as f64;
            assert!((share - w / 10.0).abs() < 0.01, "{i}: {share}");
        }
    }
}
