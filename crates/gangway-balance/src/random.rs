//! Where `random(n)` draws its numbers from: injectable so tests are deterministic.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of uniformly distributed 64-bit numbers shared by all threads picking from a
/// set. Implementations must be cheap and must not block.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// The next random number.
    fn next_u64(&self) -> u64;
}

/// The default source: `fastrand`'s thread-local generator (no shared state between
/// threads, seeded per thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl RandomSource for ThreadRandom {
    fn next_u64(&self) -> u64 {
        fastrand::u64(..)
    }
}

/// A deterministic source (SplitMix64 over an atomic counter) for tests and simulations:
/// the same seed gives the same sequence of numbers, whichever thread draws them.
///
/// ```
/// use gangway_balance::{RandomSource, SeededRandom};
/// let a = SeededRandom::new(7);
/// let b = SeededRandom::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Debug)]
pub struct SeededRandom {
    state: AtomicU64,
}

impl SeededRandom {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom {
            state: AtomicU64::new(seed),
        }
    }
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl RandomSource for SeededRandom {
    fn next_u64(&self) -> u64 {
        let z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
