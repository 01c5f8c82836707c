//! The bytes the throughput tests move: a position-dependent pattern that the receiving end
//! checks, so that a proxy which loses, repeats, reorders or corrupts bytes fails the run
//! instead of being measured.
//!
//! Byte `i` of a stream is `TABLE[i % PERIOD]`, where `TABLE` holds pseudo-random bytes and
//! `PERIOD` is a prime (so no buffer or pipe size lines up with it). Writing and checking are
//! slices of one table: a `memcpy`-free write and a `memcmp` per read.

use std::io;
use std::sync::OnceLock;

/// The largest piece written or checked at once.
pub(crate) const CHUNK: usize = 256 * 1024;
/// The pattern repeats every `PERIOD` bytes: the largest prime under 64 KiB.
const PERIOD: usize = 65_521;

fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // xorshift64: cheap, and no byte sequence repeats within the period.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut period = Vec::with_capacity(PERIOD);
        for _ in 0..PERIOD {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            period.push((x >> 56) as u8);
        }
        let mut t = Vec::with_capacity(PERIOD + CHUNK);
        while t.len() < PERIOD + CHUNK {
            let n = (PERIOD + CHUNK - t.len()).min(PERIOD);
            t.extend_from_slice(&period[..n]);
        }
        t
    })
}

/// The `len` (at most [`CHUNK`]) bytes of the stream starting at `offset`.
pub(crate) fn slice(offset: u64, len: usize) -> &'static [u8] {
    let start = (offset % PERIOD as u64) as usize;
    &table()[start..start + len.min(CHUNK)]
}

/// Where `data`, found at `offset` in the stream, first differs from the pattern, if anywhere.
pub(crate) fn first_mismatch(offset: u64, data: &[u8]) -> Option<u64> {
    let mut at = 0;
    for piece in data.chunks(CHUNK) {
        let want = slice(offset + at as u64, piece.len());
        if piece != want {
            let i = piece
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Some(offset + (at + i) as u64);
        }
        at += piece.len();
    }
    None
}

/// Checks `data`, found at `offset` in the stream, against the pattern.
pub(crate) fn check(offset: u64, data: &[u8]) -> io::Result<()> {
    match first_mismatch(offset, data) {
        None => Ok(()),
        Some(at) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("byte {at} of the stream differs from what was sent"),
        )),
    }
}

/// What `/ws/sink/N` answers: the byte count, then the offset of the first byte that differed
/// from the pattern (`u64::MAX` if none), 8 bytes big-endian each.
pub(crate) fn sink_answer(count: u64, mismatch: Option<u64>) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&count.to_be_bytes());
    a[8..].copy_from_slice(&mismatch.unwrap_or(u64::MAX).to_be_bytes());
    a
}

/// Reads a sink's answer: `Ok(count)` if every byte matched the pattern.
pub(crate) fn parse_sink_answer(answer: &[u8]) -> io::Result<u64> {
    let a = <[u8; 16]>::try_from(answer).map_err(|_| {
        io::Error::other(format!(
            "the sink answered {} bytes instead of a 16-byte count and check",
            answer.len()
        ))
    })?;
    let count = u64::from_be_bytes(a[..8].try_into().unwrap_or_default());
    let bad = u64::from_be_bytes(a[8..].try_into().unwrap_or_default());
    if bad != u64::MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the sink found byte {bad} of the stream different from what was sent"),
        ));
    }
    Ok(count)
}
