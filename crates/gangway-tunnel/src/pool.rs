//! Shared pools of copy buffers and splice pipes, lent to a tunnel direction only while bytes
//! are moving.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The lists stay consistent even if a holder panicked: push/pop only.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    idle: Mutex<Vec<Box<[u8]>>>,
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

    pub(crate) fn take(&self) -> BufferLease {
        self.inner.lent.fetch_add(1, Ordering::AcqRel);
        let reused = lock(&self.inner.idle).pop();
        let buf = reused.unwrap_or_else(|| vec![0u8; self.inner.buffer_size].into_boxed_slice());
        BufferLease {
            buf: Some(buf),
            pool: self.clone(),
        }
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

/// A buffer lent by a [`BufferPool`]; goes back to it on drop.
pub(crate) struct BufferLease {
    buf: Option<Box<[u8]>>,
    pool: BufferPool,
}

impl Deref for BufferLease {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or_default()
    }
}

impl DerefMut for BufferLease {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buf.as_deref_mut().unwrap_or_default()
    }
}

impl Drop for BufferLease {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.pool.inner.lent.fetch_sub(1, Ordering::AcqRel);
            let mut idle = lock(&self.pool.inner.idle);
            if idle.len() < self.pool.inner.max_idle {
                idle.push(buf);
            }
        }
    }
}

impl fmt::Debug for BufferLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferLease").field("len", &self.len()).finish()
    }
}

/// A shared, capped pool of kernel pipes for `splice(2)`.
///
/// Pipes cost two file descriptors and kernel memory each, so the pool never has more than
/// `max_pipes` of them open (lent or idle). A tunnel direction borrows one only while bytes move
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
    /// How many pipes [`PipePool::global`] may open.
    pub const DEFAULT_MAX_PIPES: usize = 1024;
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
    pub(crate) fn take(&self) -> Option<PipeLease> {
        if let Some(pipe) = lock(&self.inner.idle).pop() {
            return Some(PipeLease::new(pipe, self));
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
            Ok(pipe) => Some(PipeLease::new(pipe, self)),
            // Out of descriptors or pipe memory: copy instead, and try again on a later burst.
            Err(_) => {
                self.inner.open.fetch_sub(1, Ordering::AcqRel);
                None
            }
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

/// A pipe lent by a [`PipePool`] with the count of bytes it holds. Dropped empty, it goes back to
/// the pool; dropped with bytes in it (the tunnel failed mid-transfer), it is closed.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub(crate) struct PipeLease {
    pipe: Option<crate::sys::Pipe>,
    pool: PipePool,
    /// Bytes spliced in and not yet spliced out.
    pub(crate) len: usize,
}

#[cfg(target_os = "linux")]
impl PipeLease {
    fn new(pipe: crate::sys::Pipe, pool: &PipePool) -> PipeLease {
        PipeLease {
            pipe: Some(pipe),
            pool: pool.clone(),
            len: 0,
        }
    }

    pub(crate) fn pipe(&self) -> Option<&crate::sys::Pipe> {
        self.pipe.as_ref()
    }
}

#[cfg(target_os = "linux")]
impl Drop for PipeLease {
    fn drop(&mut self) {
        if let Some(pipe) = self.pipe.take() {
            if self.len == 0 {
                lock(&self.pool.inner.idle).push(pipe);
            } else {
                drop(pipe);
                self.pool.inner.open.fetch_sub(1, Ordering::AcqRel);
            }
        }
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
        assert_eq!(a.len(), 16);
        drop(a);
        drop(b);
        assert_eq!((pool.idle(), pool.lent()), (1, 0));
        let _c = pool.take();
        assert_eq!(pool.lent(), 1);
        assert_eq!(pool.idle(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pipes_are_capped_and_dirty_ones_closed() {
        let pool = PipePool::new(2, 64 * 1024);
        let a = pool.take().expect("first pipe");
        let mut b = pool.take().expect("second pipe");
        assert!(pool.take().is_none(), "cap of two pipes");
        assert_eq!(pool.open(), 2);
        drop(a);
        assert_eq!((pool.open(), pool.idle()), (2, 1));
        b.len = 10; // still holds bytes: must not be reused
        drop(b);
        assert_eq!((pool.open(), pool.idle()), (1, 1));
        let _again = pool.take().expect("reused");
        let _new = pool.take().expect("a new one under the cap");
        assert!(pool.take().is_none());
    }
}
