//! Shared pools of copy buffers and splice pipes, lent to a tunnel direction only while bytes
//! are moving.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The lists stay consistent even if a holder panicked: push/pop only.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A shared pool of fixed-size copy buffers.
///
/// A tunnel direction takes a buffer when its source becomes readable and gives it back as soon
/// as the source has nothing more to read and everything read was written, so idle tunnels hold
/// none. The pool keeps at most `max_idle` returned buffers for reuse; past that it frees them.
/// Taking never fails: with no idle buffer, a new one is allocated.
///
/// ```
/// let pool = gangway_tunnel::BufferPool::new(32 * 1024, 64);
/// assert_eq!(pool.buffer_size(), 32 * 1024);
/// assert_eq!(pool.idle(), 0);
/// ```
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<BufferPoolInner>,
}

struct BufferPoolInner {
    buffer_size: usize,
    max_idle: usize,
    /// Boxed as lent: lending and taking back moves a pointer, and allocates nothing.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Burst>>>,
    /// Buffers lent to tunnels now.
    lent: AtomicUsize,
}

impl BufferPool {
    /// The buffer size of [`BufferPool::global`] and of [`BufferPool::default`].
    pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;
    /// How many idle buffers [`BufferPool::global`] keeps.
    pub const DEFAULT_MAX_IDLE: usize = 64;

    /// A pool of `buffer_size`-byte buffers (at least 1 byte) keeping up to `max_idle` of them.
    #[must_use]
    pub fn new(buffer_size: usize, max_idle: usize) -> BufferPool {
        BufferPool {
            inner: Arc::new(BufferPoolInner {
                buffer_size: buffer_size.max(1),
                max_idle,
                idle: Mutex::new(Vec::new()),
                lent: AtomicUsize::new(0),
            }),
        }
    }

    /// The process-wide pool tunnels use unless given another.
    pub fn global() -> &'static BufferPool {
        static GLOBAL: OnceLock<BufferPool> = OnceLock::new();
        GLOBAL.get_or_init(BufferPool::default)
    }

    /// The size of each buffer.
    #[must_use]
    pub fn buffer_size(&self) -> usize {
        self.inner.buffer_size
    }

    /// How many buffers wait in the pool now.
    #[must_use]
    pub fn idle(&self) -> usize {
        lock(&self.inner.idle).len()
    }

    /// How many buffers are lent to tunnels now (moving bytes at this moment).
    #[must_use]
    pub fn lent(&self) -> usize {
        self.inner.lent.load(Ordering::Acquire)
    }

    /// Lend a buffer, empty and without a pipe: an idle one, else a new one.
    pub(crate) fn take(&self) -> Box<Burst> {
        self.inner.lent.fetch_add(1, Ordering::AcqRel);
        let reused = lock(&self.inner.idle).pop();
        reused.unwrap_or_else(|| {
            Box::new(Burst {
                buf: vec![0u8; self.inner.buffer_size].into_boxed_slice(),
                start: 0,
                end: 0,
                #[cfg(target_os = "linux")]
                pipe: None,
                #[cfg(target_os = "linux")]
                pipe_len: 0,
            })
        })
    }

    /// Take back a buffer lent by [`take`](Self::take), its pipe already given back to its
    /// own pool (the tunnel's `Pools::give` does both).
    pub(crate) fn give(&self, mut burst: Box<Burst>) {
        self.inner.lent.fetch_sub(1, Ordering::AcqRel);
        burst.start = 0;
        burst.end = 0;
        #[cfg(target_os = "linux")]
        {
            debug_assert!(burst.pipe.is_none(), "a pipe goes back to its own pool");
            burst.pipe = None;
            burst.pipe_len = 0;
        }
        let mut idle = lock(&self.inner.idle);
        if idle.len() < self.inner.max_idle {
            idle.push(burst);
        }
    }
}

/// What a tunnel direction holds while bytes move: a pooled copy buffer with the part of it
/// still to be written and, on Linux, a splice pipe with how much it holds. One box, lent by a
/// [`BufferPool`], so that an idle direction keeps one empty pointer instead of the buffer's,
/// the pipe's and their positions' 48 bytes (an idle tunnel has two directions, and an idle
/// tunnel's task must stay small: see `Tunnel::run`).
pub(crate) struct Burst {
    pub(crate) buf: Box<[u8]>,
    /// `buf[start..end]` is still to be written.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Borrowed from a [`PipePool`] for the bulk part of a burst, with `pipe_len` bytes in it.
    #[cfg(target_os = "linux")]
    pub(crate) pipe: Option<crate::sys::Pipe>,
    #[cfg(target_os = "linux")]
    pub(crate) pipe_len: u32,
}

impl Burst {
    /// Whether nothing read is still to be written (in the buffer or the pipe).
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(target_os = "linux")]
        let piped = self.pipe_len > 0;
        #[cfg(not(target_os = "linux"))]
        let piped = false;
        self.start == self.end && !piped
    }
}

impl fmt::Debug for Burst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Burst");
        d.field("capacity", &self.buf.len())
            .field("pending", &(self.start..self.end));
        #[cfg(target_os = "linux")]
        d.field("pipe", &self.pipe.is_some())
            .field("pipe_len", &self.pipe_len);
        d.finish()
    }
}

impl Default for BufferPool {
    fn default() -> BufferPool {
        BufferPool::new(Self::DEFAULT_BUFFER_SIZE, Self::DEFAULT_MAX_IDLE)
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("buffer_size", &self.inner.buffer_size)
            .field("max_idle", &self.inner.max_idle)
            .field("idle", &self.idle())
            .finish()
    }
}

/// A shared, capped pool of kernel pipes for `splice(2)`.
///
/// Pipes cost two file descriptors and kernel memory each, so the pool never has more than
/// `max_pipes` of them open (lent or idle): size it to the process's descriptor limit. A tunnel direction borrows one only while bytes move
/// and returns it empty; when none is left it copies through a [`BufferPool`] buffer instead.
/// On platforms other than Linux the pool never lends a pipe.
///
/// ```
/// let pipes = gangway_tunnel::PipePool::new(256, 256 * 1024);
/// assert_eq!(pipes.max_pipes(), 256);
/// assert_eq!(pipes.open(), 0); // pipes are created on first use
/// ```
#[derive(Clone)]
pub struct PipePool {
    inner: Arc<PipePoolInner>,
}

struct PipePoolInner {
    max_pipes: usize,
    pipe_size: usize,
    /// Pipes open now, lent or idle.
    open: AtomicUsize,
    #[cfg(target_os = "linux")]
    idle: Mutex<Vec<crate::sys::Pipe>>,
}

impl PipePool {
    /// How many pipes [`PipePool::global`] may open: 512 descriptors at most, leaving room
    /// under common `ulimit -n` settings. Pipes are lent only while bytes move (or wait for a
    /// slow reader), so a few hundred serve many thousands of tunnels.
    pub const DEFAULT_MAX_PIPES: usize = 256;
    /// The pipe size [`PipePool::global`] asks for.
    pub const DEFAULT_PIPE_SIZE: usize = 256 * 1024;

    /// A pool of at most `max_pipes` pipes, each resized to `pipe_size` bytes when the kernel
    /// allows (otherwise the kernel's default, 64 KiB).
    #[must_use]
    pub fn new(max_pipes: usize, pipe_size: usize) -> PipePool {
        PipePool {
            inner: Arc::new(PipePoolInner {
                max_pipes,
                pipe_size,
                open: AtomicUsize::new(0),
                #[cfg(target_os = "linux")]
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The process-wide pool tunnels use unless given another.
    pub fn global() -> &'static PipePool {
        static GLOBAL: OnceLock<PipePool> = OnceLock::new();
        GLOBAL.get_or_init(PipePool::default)
    }

    /// The most pipes this pool opens at once.
    #[must_use]
    pub fn max_pipes(&self) -> usize {
        self.inner.max_pipes
    }

    /// How many pipes are open now, lent to tunnels or idle in the pool.
    #[must_use]
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// How many pipes are lent to tunnels now (moving bytes at this moment).
    #[must_use]
    pub fn lent(&self) -> usize {
        self.open().saturating_sub(self.idle())
    }

    /// How many open pipes wait idle in the pool now.
    #[must_use]
    pub fn idle(&self) -> usize {
        #[cfg(target_os = "linux")]
        return lock(&self.inner.idle).len();
        #[cfg(not(target_os = "linux"))]
        return 0;
    }

    /// An empty pipe from the pool, a new one if fewer than `max_pipes` are open, else `None`.
    #[cfg(target_os = "linux")]
    pub(crate) fn take(&self) -> Option<crate::sys::Pipe> {
        if let Some(pipe) = lock(&self.inner.idle).pop() {
            return Some(pipe);
        }
        let reserved = self
            .inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.inner.max_pipes).then_some(open + 1)
            });
        if reserved.is_err() {
            return None;
        }
        match crate::sys::Pipe::new(self.inner.pipe_size) {
            Ok(pipe) => Some(pipe),
            // Out of descriptors or pipe memory: copy instead, and try again on a later burst.
            Err(_) => {
                self.inner.open.fetch_sub(1, Ordering::AcqRel);
                None
            }
        }
    }

    /// Take back a pipe lent by [`take`](Self::take): kept for reuse when `empty`, else closed
    /// (bytes left in it belong to a tunnel that failed).
    #[cfg(target_os = "linux")]
    pub(crate) fn give(&self, pipe: crate::sys::Pipe, empty: bool) {
        if empty {
            lock(&self.inner.idle).push(pipe);
        } else {
            drop(pipe);
            self.inner.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Default for PipePool {
    fn default() -> PipePool {
        PipePool::new(Self::DEFAULT_MAX_PIPES, Self::DEFAULT_PIPE_SIZE)
    }
}

impl fmt::Debug for PipePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipePool")
            .field("max_pipes", &self.inner.max_pipes)
            .field("pipe_size", &self.inner.pipe_size)
            .field("open", &self.open())
            .field("idle", &self.idle())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_up_to_max_idle() {
        let pool = BufferPool::new(16, 1);
        let a = pool.take();
        let b = pool.take();
        assert_eq!((a.buf.len(), pool.lent()), (16, 2));
        pool.give(a);
        pool.give(b);
        assert_eq!((pool.idle(), pool.lent()), (1, 0));
        let _c = pool.take();
        assert_eq!((pool.idle(), pool.lent()), (0, 1));
        assert_eq!(pool.idle(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pipes_are_capped_and_dirty_ones_closed() {
        let pool = PipePool::new(2, 64 * 1024);
        let a = pool.take().expect("first pipe");
        let b = pool.take().expect("second pipe");
        assert!(pool.take().is_none(), "cap of two pipes");
        assert_eq!((pool.open(), pool.lent()), (2, 2));
        pool.give(a, true);
        assert_eq!((pool.open(), pool.idle()), (2, 1));
        pool.give(b, false); // still holds bytes: must not be reused
        assert_eq!((pool.open(), pool.idle()), (1, 1));
        let _again = pool.take().expect("reused");
        let _new = pool.take().expect("a new one under the cap");
        assert!(pool.take().is_none());
    }
}
