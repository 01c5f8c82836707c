//! The stable key hash and the weighted Maglev table used by [`Algorithm::Hash`].
//!
//! [`Algorithm::Hash`]: crate::Algorithm::Hash

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// Digits of pi, so that no input hashes to zero by construction.
const INITIAL: u64 = 0x243f_6a88_85a3_08d3;
/// Seeds of the two hashes that place a server on the Maglev table (fixed: mappings must
/// be the same in every process).
const OFFSET_SEED: u64 = 0x6761_6e67_7761_7901;
const SKIP_SEED: u64 = 0x6761_6e67_7761_7902;

/// Smallest Maglev table, and the number of entries per server a table holds at least.
const MIN_TABLE: usize = 65_537;
const SLOTS_PER_SERVER: usize = 100;
/// How much the table grows when the servers outgrow it.
const TABLE_GROWTH: usize = 10;

/// The 64-bit hash of a key used by [`Algorithm::Hash`](crate::Algorithm::Hash).
///
/// It has no per-process seed and is part of this crate's stability promise: the same bytes
/// hash to the same value on every machine, in every process and in every 0.1.x release, so
/// gateway instances that share a server list send a key to the same server without talking
/// to each other. (Word-at-a-time multiply-rotate mixing, finished with MurmurHash3's
/// `fmix64`.)
///
/// ```
/// assert_eq!(gangway_balance::key_hash(b"10.1.2.3"), gangway_balance::key_hash(b"10.1.2.3"));
/// assert_ne!(gangway_balance::key_hash(b"10.1.2.3"), gangway_balance::key_hash(b"10.1.2.4"));
/// ```
pub fn key_hash(key: &[u8]) -> u64 {
    hash_with_seed(key, 0)
}

pub(crate) fn hash_with_seed(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ INITIAL ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
    }
    fmix64(h)
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// `a % d` for a fixed `d` without a division (Lemire's fastmod), for the round-robin
/// cursor on every pick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastMod {
    multiplier: u64,
    divisor: u32,
}

impl FastMod {
    /// Precomputes for `divisor` (0 is taken as 1).
    pub(crate) fn new(divisor: u32) -> FastMod {
        let divisor = divisor.max(1);
        FastMod {
            multiplier: (u64::MAX / u64::from(divisor)).wrapping_add(1),
            divisor,
        }
    }

    pub(crate) fn rem(self, a: u32) -> u32 {
        let low = self.multiplier.wrapping_mul(u64::from(a));
        ((u128::from(low) * u128::from(self.divisor)) >> 64) as u32
    }
}

/// Maps `hash` onto `0..len` without a division (Lemire's multiply-shift).
pub(crate) fn reduce(hash: u64, len: usize) -> usize {
    ((u128::from(hash) * len as u128) >> 64) as usize
}

fn is_prime(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// The table size for `servers` servers: the first prime from `MIN_TABLE * 10^k`, for the
/// smallest `k` that gives every server at least [`SLOTS_PER_SERVER`] entries.
///
/// The size steps rather than following the number of servers, because a new size moves
/// almost every key (each key's position and each server's permutation depend on it): with
/// a size of `100 n`, every server that came or went in a set of more than 655 servers
/// remapped nearly all keys. Now that happens only when the set crosses 655 or 6553 (and so
/// on) servers in rotation.
fn table_size(servers: usize) -> usize {
    let mut base = MIN_TABLE;
    while base < servers.saturating_mul(SLOTS_PER_SERVER) {
        base = base.saturating_mul(TABLE_GROWTH);
    }
    next_prime(base)
}

fn next_prime(mut n: usize) -> usize {
    while !is_prime(n) {
        n += 1;
    }
    n
}

/// One server as placed on the table: its index in the snapshot, its placement key and
/// its weight (> 0).
pub(crate) struct MaglevServer<'a> {
    pub(crate) index: u32,
    pub(crate) key: &'a [u8],
    pub(crate) weight: u32,
}

/// A weighted Maglev lookup table (Eisenbud et al., NSDI 2016): each entry holds the
/// snapshot index of a server; servers own entries in proportion to their weight.
#[derive(Debug)]
pub(crate) struct Maglev {
    /// Entries in `table` (kept apart: finding a position does not branch on the width).
    len: usize,
    table: Table,
}

/// The entries: in 16 bits while the snapshot indexes fit (up to 65 536 servers in
/// rotation), which halves the table's memory and cache footprint (1.3 MB rather than 2.6
/// MB from 656 servers).
#[derive(Debug)]
enum Table {
    Narrow(Box<[u16]>),
    Wide(Box<[u32]>),
}

impl Maglev {
    /// Builds the table for `servers` (all weights > 0, at least one server). The result
    /// depends only on the servers' keys and weights, not on their order (servers are
    /// placed in key order, so processes that added the same servers in another order
    /// build the same table).
    pub(crate) fn build(servers: &[MaglevServer<'_>]) -> Maglev {
        if servers.is_empty() {
            return Maglev {
                len: 0,
                table: Table::Wide(Box::new([])),
            };
        }
        let mut sorted: Vec<&MaglevServer<'_>> = servers.iter().collect();
        // Stable: servers that share a key keep their order.
        sorted.sort_by(|a, b| a.key.cmp(b.key));
        let servers = &sorted[..];
        let size = table_size(servers.len());
        let mut table = vec![u32::MAX; size];
        let perms: Vec<(usize, usize)> = servers
            .iter()
            .map(|s| {
                let offset = reduce(hash_with_seed(s.key, OFFSET_SEED), size);
                let skip = reduce(hash_with_seed(s.key, SKIP_SEED), size - 1) + 1;
                (offset, skip)
            })
            .collect();
        let max_weight = servers.iter().map(|s| s.weight).max().unwrap_or(1).max(1);
        let mut next = vec![0usize; servers.len()];
        let mut owned = vec![0u64; servers.len()];
        let mut filled = 0usize;
        let mut round = 0u64;
        'fill: loop {
            round += 1;
            for (i, s) in servers.iter().enumerate() {
                // A server of weight w owns round * w / max_weight entries after `round` rounds.
                let due = round * u64::from(s.weight) / u64::from(max_weight);
                while owned[i] < due {
                    let (offset, skip) = perms[i];
                    let mut slot = (offset + next[i] * skip) % size;
                    while table[slot] != u32::MAX {
                        next[i] += 1;
                        slot = (offset + next[i] * skip) % size;
                    }
                    table[slot] = s.index;
                    next[i] += 1;
                    owned[i] += 1;
                    filled += 1;
                    if filled == size {
                        break 'fill;
                    }
                }
            }
        }
        let table = if servers.iter().all(|s| s.index <= u32::from(u16::MAX)) {
            Table::Narrow(table.iter().map(|&i| i as u16).collect())
        } else {
            Table::Wide(table.into_boxed_slice())
        };
        Maglev { len: size, table }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Table position for a key hash.
    pub(crate) fn position(&self, hash: u64) -> usize {
        reduce(hash, self.len)
    }

    /// The server index at `position` (at most one lap past the end wraps around).
    #[inline]
    pub(crate) fn at(&self, position: usize) -> u32 {
        let len = self.len;
        let position = if position >= len {
            position - len
        } else {
            position
        };
        match &self.table {
            Table::Narrow(t) => u32::from(t[position]),
            Table::Wide(t) => t[position],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_fixed() {
        // These values are a compatibility promise: changing them remaps every key.
        let cases: [(&[u8], u64); 3] = [
            (b"", 0x7acd_bb98_b134_4213),
            (b"10.0.0.1", 0xde75_1a68_3426_be20),
            (b"/ws/echo?room=7", 0x6cb3_469d_1cbb_23d4),
        ];
        for (key, expected) in cases {
            assert_eq!(key_hash(key), expected, "{key:?}");
        }
        assert_ne!(key_hash(b"a"), key_hash(b"a\0"));
        assert_ne!(key_hash(b""), key_hash(b"\0"));
    }

    #[test]
    fn fastmod_matches_remainder() {
        for d in [1u32, 2, 3, 7, 10, 1000, 65_537, 1 << 20, u32::MAX] {
            let f = FastMod::new(d);
            for a in [
                0u32,
                1,
                2,
                d - 1,
                d,
                d.wrapping_add(1),
                123_456_789,
                u32::MAX,
            ] {
                assert_eq!(f.rem(a), a % d, "{a} % {d}");
            }
        }
    }

    #[test]
    fn primes() {
        let cases = [(65_537, 65_537), (100_000, 100_003), (2, 2), (4, 5)];
        for (n, p) in cases {
            assert_eq!(next_prime(n), p, "next prime from {n}");
        }
    }

    #[test]
    fn table_size_steps() {
        assert_eq!(table_size(1), 65_537);
        assert_eq!(table_size(655), 65_537);
        let second = next_prime(655_370);
        assert!(second >= 656 * SLOTS_PER_SERVER);
        assert_eq!(table_size(656), second);
        assert_eq!(table_size(1000), second);
        assert_eq!(table_size(6553), second);
        assert_eq!(table_size(6554), next_prime(6_553_700));
    }

    fn servers_of<'a>(keys: &'a [String], weights: &[u32]) -> Vec<MaglevServer<'a>> {
        keys.iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (k, &w))| MaglevServer {
                index: i as u32,
                key: k.as_bytes(),
                weight: w,
            })
            .collect()
    }

    /// The same servers added in another order give the same key -> server mapping.
    #[test]
    fn table_ignores_server_order() {
        let keys: Vec<String> = (0..7).map(|i| format!("10.0.0.{i}:80")).collect();
        let weights = [1, 3, 1, 2, 5, 1, 4];
        let forward = servers_of(&keys, &weights);
        let mut backward = servers_of(&keys, &weights);
        backward.reverse();
        let (a, b) = (Maglev::build(&forward), Maglev::build(&backward));
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() {
            // Both lists number server `k` as `k`.
            assert_eq!(a.at(i), b.at(i), "entry {i}");
        }
    }

    /// A table of 16-bit entries maps every position to the same server as one of 32-bit
    /// entries (built when a snapshot index does not fit in 16 bits).
    #[test]
    fn narrow_and_wide_tables_agree() {
        let keys: Vec<String> = (0..50).map(|i| format!("10.0.1.{i}:80")).collect();
        let weights: Vec<u32> = (0..50).map(|i| 1 + i % 5).collect();
        let narrow = Maglev::build(&servers_of(&keys, &weights));
        let shift = 1 << 16;
        let shifted: Vec<MaglevServer<'_>> = servers_of(&keys, &weights)
            .into_iter()
            .map(|s| MaglevServer {
                index: s.index + shift,
                ..s
            })
            .collect();
        let wide = Maglev::build(&shifted);
        assert!(matches!(narrow.table, Table::Narrow(_)));
        assert!(matches!(wide.table, Table::Wide(_)));
        assert_eq!(narrow.len(), wide.len());
        for i in 0..narrow.len() {
            assert_eq!(narrow.at(i) + shift, wide.at(i), "entry {i}");
        }
        // One lap past the end wraps around.
        assert_eq!(narrow.at(narrow.len()), narrow.at(0));
    }

    #[test]
    fn weighted_table_shares() {
        let keys: Vec<String> = (0..4).map(|i| format!("10.0.0.{i}:80")).collect();
        let weights = [1u32, 2, 3, 4];
        let servers: Vec<MaglevServer<'_>> = keys
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (k, w))| MaglevServer {
                index: i as u32,
                key: k.as_bytes(),
                weight: w,
            })
            .collect();
        let m = Maglev::build(&servers);
        let mut counts = [0usize; 4];
        for i in 0..m.len() {
            counts[m.at(i) as usize] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            let share = *c as f64 / m.len() as f64;
            let want = weights[i] as f64 / 10.0;
            assert!((share - want).abs() < 0.01, "server {i}: {share} vs {want}");
        }
    }
}
