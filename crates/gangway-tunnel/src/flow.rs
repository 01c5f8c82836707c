//! One direction of a tunnel: read from one side, write to the other, then shut down writing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::Side;
use crate::pool::{BufferPool, Burst, PipePool};

/// Rounds of read/write one direction makes per poll before yielding to other tasks.
const ROUNDS_PER_POLL: usize = 32;

/// Where a direction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Reading from the source.
    Open,
    /// The source ended (or the tunnel drains): deliver what is pending, then shut down.
    Closing,
    /// Writing towards the destination is shut down.
    Done,
}

/// An IO failure, with the side whose connection failed.
#[derive(Debug)]
pub(crate) struct FlowError {
    pub(crate) side: Side,
    pub(crate) error: io::Error,
}

/// The pools a direction borrows from while bytes move: the global ones unless the tunnel
/// was given its own (one pointer in every tunnel either way).
#[derive(Debug)]
pub(crate) struct Pools {
    custom: Option<Box<(BufferPool, PipePool)>>,
}

impl Pools {
    pub(crate) fn new(buffers: Option<BufferPool>, pipes: Option<PipePool>) -> Pools {
        let custom = match (buffers, pipes) {
            (None, None) => None,
            (buffers, pipes) => Some(Box::new((
                buffers.unwrap_or_else(|| BufferPool::global().clone()),
                pipes.unwrap_or_else(|| PipePool::global().clone()),
            ))),
        };
        Pools { custom }
    }

    pub(crate) fn buffers(&self) -> &BufferPool {
        match &self.custom {
            Some(custom) => &custom.0,
            None => BufferPool::global(),
        }
    }

    pub(crate) fn pipes(&self) -> &PipePool {
        match &self.custom {
            Some(custom) => &custom.1,
            None => PipePool::global(),
        }
    }

    /// Gives back a burst: its pipe to the pipe pool (kept for reuse only if empty), then the
    /// buffer to the buffer pool.
    fn give(&self, mut burst: Box<Burst>) {
        #[cfg(target_os = "linux")]
        if let Some(pipe) = burst.pipe.take() {
            self.pipes().give(pipe, burst.pipe_len == 0);
        }
        self.buffers().give(burst);
    }
}

/// One direction of a tunnel, from the `from` side to its peer.
#[derive(Debug)]
pub(crate) struct Flow {
    from: Side,
    stage: Stage,
    /// Bytes read from `from` before the tunnel started, delivered before anything else; boxed
    /// so that tunnels without any (or done with them) keep one pointer, not a `Bytes`.
    read_ahead: Option<Box<Bytes>>,
    /// The copy buffer and splice pipe, held only while bytes move.
    burst: Option<Box<Burst>>,
    /// Whether to try `splice(2)` (TCP to TCP, not found unsupported yet).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    splice: bool,
    /// Whether the current burst is bulk data (a read filled the buffer): splice the rest.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    bulk: bool,
    /// Whether bytes were written since the destination was last flushed (generic streams).
    unflushed: bool,
    /// Whether the source reached end of stream (as opposed to a drain).
    pub(crate) source_ended: bool,
    /// Bytes written to the destination.
    pub(crate) delivered: u64,
    /// Whether bytes were read or written, or the source ended, since the tunnel last looked.
    moved: bool,
    /// Bytes delivered with `splice(2)`.
    pub(crate) spliced: u64,
}

fn failed(side: Side, error: io::Error) -> FlowError {
    FlowError { side, error }
}

fn is_would_block(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

impl Flow {
    pub(crate) fn new(from: Side, read_ahead: Bytes, splice: bool) -> Flow {
        Flow {
            from,
            stage: Stage::Open,
            read_ahead: (!read_ahead.is_empty()).then(|| Box::new(read_ahead)),
            burst: None,
            splice,
            bulk: false,
            unflushed: false,
            source_ended: false,
            delivered: 0,
            moved: false,
            spliced: 0,
        }
    }

    /// Whether writing towards the destination has been shut down.
    pub(crate) fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Whether the direction is open and holds nothing: no read-ahead, no bytes in a buffer
    /// or pipe (so its sockets can wait anywhere).
    pub(crate) fn is_idle(&self) -> bool {
        self.stage == Stage::Open
            && self.read_ahead.is_none()
            && self.burst.as_ref().is_none_or(|burst| burst.is_empty())
    }

    /// Whether bytes were read or written since the last call.
    pub(crate) fn take_moved(&mut self) -> bool {
        std::mem::take(&mut self.moved)
    }

    fn to(&self) -> Side {
        self.from.peer()
    }

    /// Give back the buffer and pipe if they hold nothing.
    pub(crate) fn release(&mut self, pools: &Pools) {
        let Some(burst) = self.burst.as_mut() else {
            return;
        };
        #[cfg(target_os = "linux")]
        if burst.pipe_len == 0
            && let Some(pipe) = burst.pipe.take()
        {
            pools.pipes().give(pipe, true);
        }
        if burst.is_empty()
            && let Some(burst) = self.burst.take()
        {
            pools.give(burst);
        }
    }

    /// Give back the buffer and pipe whatever they hold (the tunnel ended).
    pub(crate) fn release_all(&mut self, pools: &Pools) {
        if let Some(burst) = self.burst.take() {
            pools.give(burst);
        }
    }

    /// Drive the direction between two TCP streams with readiness-based IO. A burst starts by
    /// copying through a pooled buffer (cheapest for the small messages most tunnels carry);
    /// once a read fills the whole buffer (bulk data), the rest of the burst moves with
    /// `splice(2)` through a pooled pipe, when allowed and one is available.
    pub(crate) fn poll_tcp(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut TcpStream,
        dst: &mut TcpStream,
        pools: &Pools,
        draining: bool,
    ) -> Poll<Result<(), FlowError>> {
        let to = self.to();
        for _ in 0..ROUNDS_PER_POLL {
            if let Some(read_ahead) = self.read_ahead.as_deref_mut() {
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, read_ahead))
                    .and_then(nonzero_write)
                    .map_err(|e| failed(to, e))?;
                read_ahead.advance(n);
                if read_ahead.is_empty() {
                    self.read_ahead = None;
                }
                self.delivered += n as u64;
                self.moved = true;
                continue;
            }
            #[cfg(target_os = "linux")]
            if let Some(burst) = self.burst.as_mut()
                && burst.pipe_len > 0
            {
                ready!(dst.poll_write_ready(cx)).map_err(|e| failed(to, e))?;
                let Some(pipe) = burst.pipe.as_ref() else {
                    burst.pipe_len = 0;
                    continue;
                };
                let fd = std::os::fd::AsRawFd::as_raw_fd(&*dst);
                let len = burst.pipe_len as usize;
                match dst.try_io(tokio::io::Interest::WRITABLE, || pipe.splice_out(fd, len)) {
                    Ok(n) => {
                        // At most `len`, which fits.
                        burst.pipe_len -= n.min(len) as u32;
                        self.delivered += n as u64;
                        self.spliced += n as u64;
                        self.moved = true;
                    }
                    Err(e) if is_would_block(&e) => {}
                    Err(e) => return Poll::Ready(Err(failed(to, e))),
                }
                continue;
            }
            if let Some(burst) = self.burst.as_mut()
                && burst.start < burst.end
            {
                let pending = &burst.buf[burst.start..burst.end];
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, pending))
                    .and_then(nonzero_write)
                    .map_err(|e| failed(to, e))?;
                burst.start += n;
                self.delivered += n as u64;
                self.moved = true;
                if burst.start == burst.end {
                    burst.start = 0;
                    burst.end = 0;
                }
                continue;
            }
            match self.stage {
                Stage::Open if draining => self.stage = Stage::Closing,
                Stage::Open => {
                    match src.poll_read_ready(cx) {
                        Poll::Pending => {
                            // Idle: hold no buffer and no pipe while waiting.
                            self.release(pools);
                            self.bulk = false;
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(failed(self.from, e))),
                        Poll::Ready(Ok(())) => {}
                    }
                    #[cfg(target_os = "linux")]
                    if self.bulk && self.splice && self.splice_in(src, pools)? {
                        continue;
                    }
                    let burst = self.burst.get_or_insert_with(|| pools.buffers().take());
                    let mut window = ReadBuf::new(&mut burst.buf);
                    // tokio's read notes a short read as "drained", saving the EAGAIN round.
                    let read = Pin::new(&mut *src)
                        .poll_read(cx, &mut window)
                        .map_ok(|()| (window.filled().len(), window.capacity()));
                    match read {
                        Poll::Pending => {
                            self.release(pools);
                            self.bulk = false;
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(failed(self.from, e))),
                        Poll::Ready(Ok((0, _))) => self.end_of_source(),
                        Poll::Ready(Ok((n, capacity))) => {
                            self.bulk = n == capacity;
                            burst.start = 0;
                            burst.end = n;
                            self.moved = true;
                        }
                    }
                }
                Stage::Closing => {
                    self.release(pools);
                    ready!(Pin::new(&mut *dst).poll_shutdown(cx)).map_err(|e| failed(to, e))?;
                    self.stage = Stage::Done;
                }
                Stage::Done => return Poll::Ready(Ok(())),
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Moves what a parked tunnel's `src` has to `dst` with plain non-blocking calls, so that
    /// occasional small messages do not take the sockets back to tokio. `Ok(true)`: `src` has
    /// nothing more to read and everything was written (stay parked); `Ok(false)`: the live
    /// path must carry on (end of stream, `dst` full, a full buffer of bulk data, or still
    /// busy after a few rounds), with any unwritten bytes kept in the buffer.
    pub(crate) fn pump_parked(
        &mut self,
        mut src: &std::net::TcpStream,
        mut dst: &std::net::TcpStream,
        pools: &Pools,
    ) -> Result<bool, FlowError> {
        use std::io::{Read, Write};
        if !self.is_idle() {
            return Ok(false);
        }
        let to = self.to();
        for _ in 0..4 {
            let burst = self.burst.get_or_insert_with(|| pools.buffers().take());
            let n = match src.read(&mut burst.buf) {
                Ok(0) => {
                    self.end_of_source();
                    return Ok(false);
                }
                Ok(n) => n,
                Err(e) if is_would_block(&e) => {
                    self.release(pools);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(self.from, e)),
            };
            self.moved = true;
            burst.start = 0;
            burst.end = n;
            self.bulk = n == burst.buf.len();
            let written = loop {
                match dst.write(&burst.buf[..n]) {
                    Ok(0) => return Err(failed(to, io::ErrorKind::WriteZero.into())),
                    Ok(m) => break m,
                    Err(e) if is_would_block(&e) => break 0,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(failed(to, e)),
                }
            };
            self.delivered += written as u64;
            burst.start = written;
            if written < n || self.bulk {
                return Ok(false);
            }
            burst.start = 0;
            burst.end = 0;
        }
        Ok(false)
    }

    /// Try one `splice(2)` from `src` into a pooled pipe. `Ok(false)`: no pipe, or splice
    /// unsupported — copy instead.
    #[cfg(target_os = "linux")]
    fn splice_in(&mut self, src: &TcpStream, pools: &Pools) -> Result<bool, FlowError> {
        // Bulk mode starts with a full buffer, so a burst is there; without one, copy.
        let Some(burst) = self.burst.as_mut() else {
            return Ok(false);
        };
        if burst.pipe.is_none() {
            burst.pipe = pools.pipes().take();
        }
        let Some(pipe) = burst.pipe.as_ref() else {
            return Ok(false);
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(src);
        let capacity = pipe.capacity();
        match src.try_io(tokio::io::Interest::READABLE, || {
            pipe.splice_in(fd, capacity)
        }) {
            Ok(0) => self.end_of_source(),
            Ok(n) => {
                // At most the pipe's capacity, a `u32`.
                burst.pipe_len = u32::try_from(n).unwrap_or(u32::MAX);
                self.moved = true;
            }
            // The burst is over: the next one starts by copying again.
            Err(e) if is_would_block(&e) => self.bulk = false,
            Err(e) if crate::sys::splice_unsupported(&e) => {
                self.splice = false;
                if let Some(pipe) = burst.pipe.take() {
                    pools.pipes().give(pipe, true);
                }
            }
            Err(e) => return Err(failed(self.from, e)),
        }
        Ok(true)
    }

    fn end_of_source(&mut self) {
        self.source_ended = true;
        self.stage = Stage::Closing;
        // A FIN is activity (as in HAProxy): the half-closed timeout runs from it, not from the
        // last byte before it.
        self.moved = true;
    }

    /// Drive the direction between any two streams: wait for the first byte with a one-byte
    /// probe read (so an idle direction holds no buffer), then copy through a pooled buffer.
    pub(crate) fn poll_stream<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut R,
        dst: &mut W,
        pools: &Pools,
        draining: bool,
    ) -> Poll<Result<(), FlowError>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        let to = self.to();
        for _ in 0..ROUNDS_PER_POLL {
            if let Some(read_ahead) = self.read_ahead.as_deref_mut() {
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, read_ahead))
                    .and_then(nonzero_write)
                    .map_err(|e| failed(to, e))?;
                read_ahead.advance(n);
                if read_ahead.is_empty() {
                    self.read_ahead = None;
                }
                self.delivered += n as u64;
                self.moved = true;
                self.unflushed = true;
                continue;
            }
            if let Some(burst) = self.burst.as_mut()
                && burst.start < burst.end
            {
                let pending = &burst.buf[burst.start..burst.end];
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, pending))
                    .and_then(nonzero_write)
                    .map_err(|e| failed(to, e))?;
                burst.start += n;
                self.delivered += n as u64;
                self.moved = true;
                self.unflushed = true;
                if burst.start == burst.end {
                    burst.start = 0;
                    burst.end = 0;
                }
                continue;
            }
            match self.stage {
                Stage::Open if draining => self.stage = Stage::Closing,
                Stage::Open => {
                    let read = match self.burst.as_mut() {
                        Some(burst) => {
                            let mut window = ReadBuf::new(&mut burst.buf);
                            Pin::new(&mut *src)
                                .poll_read(cx, &mut window)
                                .map_ok(|()| window.filled().len())
                        }
                        None => {
                            let mut probe = [0u8; 1];
                            let mut window = ReadBuf::new(&mut probe);
                            let read = Pin::new(&mut *src)
                                .poll_read(cx, &mut window)
                                .map_ok(|()| window.filled().len());
                            if let Poll::Ready(Ok(1)) = read {
                                let burst = self.burst.insert(pools.buffers().take());
                                burst.buf[0] = probe[0];
                                burst.end = 1;
                                self.moved = true;
                                // Read what else is there now, so the first byte is not sent alone.
                                let mut window = ReadBuf::new(&mut burst.buf[1..]);
                                match Pin::new(&mut *src).poll_read(cx, &mut window) {
                                    Poll::Ready(Ok(())) if !window.filled().is_empty() => {
                                        let n = window.filled().len();
                                        burst.end += n;
                                    }
                                    // End of stream or an error shows again on the next read.
                                    _ => {}
                                }
                                continue;
                            }
                            read
                        }
                    };
                    match read {
                        Poll::Pending => {
                            self.release(pools);
                            if self.unflushed {
                                match Pin::new(&mut *dst).poll_flush(cx) {
                                    Poll::Ready(Ok(())) => self.unflushed = false,
                                    Poll::Ready(Err(e)) => return Poll::Ready(Err(failed(to, e))),
                                    Poll::Pending => {}
                                }
                            }
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(failed(self.from, e))),
                        Poll::Ready(Ok(0)) => self.end_of_source(),
                        Poll::Ready(Ok(n)) => {
                            if let Some(burst) = self.burst.as_mut() {
                                burst.start = 0;
                                burst.end = n;
                            }
                            self.moved = true;
                        }
                    }
                }
                Stage::Closing => {
                    self.release(pools);
                    ready!(Pin::new(&mut *dst).poll_shutdown(cx)).map_err(|e| failed(to, e))?;
                    self.unflushed = false;
                    self.stage = Stage::Done;
                }
                Stage::Done => return Poll::Ready(Ok(())),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn nonzero_write(n: usize) -> io::Result<usize> {
    if n == 0 {
        Err(io::ErrorKind::WriteZero.into())
    } else {
        Ok(n)
    }
}
