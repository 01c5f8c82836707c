//! The tunnel builder, its settings, and the task body that moves bytes both ways.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::flow::{Flow, FlowError, Pools};
use crate::handle::{Command, TunnelHandle};
use crate::{BufferPool, CloseReason, PipePool, Side, TunnelOutcome};

/// Timeouts and transfer settings of a tunnel; `Default` has no timeout and allows `splice`.
///
/// Timeouts are kept in whole milliseconds, rounded up (so none fires early; the getters give
/// what is kept); one of 49.7 days (2^32 - 1 ms) or more is the same as none and never fires.
/// (HAProxy refuses timeouts past 24.8 days.)
///
/// ```
/// use std::time::Duration;
/// let mut config = gangway_tunnel::TunnelConfig::default();
/// config
///     .idle_timeout(Duration::from_secs(3600)) // HAProxy's `timeout tunnel 1h`
///     .client_fin_timeout(Duration::from_secs(30));
/// assert_eq!(config.idle(), Some(Duration::from_secs(3600)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    idle: Millis,
    max_lifetime: Millis,
    client_fin: Millis,
    server_fin: Millis,
    park_after: Millis,
    splice: bool,
}

/// A timeout in whole milliseconds, rounded up (never early), or none: a quarter of an
/// `Option<Duration>`, which matters in every idle tunnel (a running tunnel keeps its
/// timeouts). One of 2^32 - 1 milliseconds (49.7 days) or more is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Millis(u32);

impl Millis {
    const NONE: Millis = Millis(u32::MAX);

    fn new(timeout: Option<Duration>) -> Millis {
        let Some(t) = timeout else {
            return Millis::NONE;
        };
        let ms = t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0);
        u32::try_from(ms).map_or(Millis::NONE, Millis)
    }

    fn get(self) -> Option<Duration> {
        (self != Millis::NONE).then(|| Duration::from_millis(u64::from(self.0)))
    }
}

/// The timeouts of a running tunnel (its settings less what only the start needs).
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    idle: Millis,
    max_lifetime: Millis,
    client_fin: Millis,
    server_fin: Millis,
    park_after: Millis,
}

impl Timeouts {
    fn idle(&self) -> Option<Duration> {
        self.idle.get()
    }

    fn lifetime(&self) -> Option<Duration> {
        self.max_lifetime.get()
    }

    fn client_fin(&self) -> Option<Duration> {
        self.client_fin.get()
    }

    fn server_fin(&self) -> Option<Duration> {
        self.server_fin.get()
    }

    fn park_after(&self) -> Option<Duration> {
        self.park_after.get()
    }
}

impl Default for TunnelConfig {
    fn default() -> TunnelConfig {
        TunnelConfig {
            idle: Millis::NONE,
            max_lifetime: Millis::NONE,
            client_fin: Millis::NONE,
            server_fin: Millis::NONE,
            park_after: Millis::NONE,
            splice: true,
        }
    }
}

impl TunnelConfig {
    /// End the tunnel when no byte moved either way for this long (`None`: never); a FIN
    /// counts as activity.
    pub fn idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.idle = Millis::new(timeout.into());
        self
    }

    /// End the tunnel this long after it started, busy or not (`None`: never).
    pub fn max_lifetime(&mut self, lifetime: impl Into<Option<Duration>>) -> &mut Self {
        self.max_lifetime = Millis::new(lifetime.into());
        self
    }

    /// HAProxy's `timeout client-fin`: the inactivity timeout on the client side of a
    /// half-closed tunnel, that is after the *server* sent its FIN, while the client may still
    /// send; counted from that FIN, reset by any byte. `None` keeps the idle timeout.
    pub fn client_fin_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.client_fin = Millis::new(timeout.into());
        self
    }

    /// HAProxy's `timeout server-fin`: the inactivity timeout on the server side of a
    /// half-closed tunnel, that is after the *client* sent its FIN, while the server may still
    /// answer; counted from that FIN, reset by any byte. `None` keeps the idle timeout.
    pub fn server_fin_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.server_fin = Millis::new(timeout.into());
        self
    }

    /// Whether to move bytes with `splice(2)` when both streams are
    /// [`TcpStream`](tokio::net::TcpStream)s on Linux (default `true`). `false` copies through
    /// pooled buffers.
    pub fn splice(&mut self, enabled: bool) -> &mut Self {
        self.splice = enabled;
        self
    }

    /// The idle timeout.
    #[must_use]
    pub fn idle(&self) -> Option<Duration> {
        self.idle.get()
    }

    /// The maximum lifetime.
    #[must_use]
    pub fn lifetime(&self) -> Option<Duration> {
        self.max_lifetime.get()
    }

    /// The half-closed timeout on the client side (applies after the server's FIN).
    #[must_use]
    pub fn client_fin(&self) -> Option<Duration> {
        self.client_fin.get()
    }

    /// The half-closed timeout on the server side (applies after the client's FIN).
    #[must_use]
    pub fn server_fin(&self) -> Option<Duration> {
        self.server_fin.get()
    }

    /// After this long without a byte either way, a tunnel between two
    /// [`TcpStream`](tokio::net::TcpStream)s on Linux *parks* (default `None`: never; the
    /// gangway gateway uses 1 s). With parking on, a tunnel that starts idle (no read-ahead,
    /// nothing to read yet) parks at once.
    ///
    /// A parked tunnel takes its two sockets out of tokio's reactor, whose registrations cost
    /// about 480 bytes each, and leaves them in one epoll set shared by all parked tunnels of
    /// the process; its next deadline joins one shared heap, and its own timer (128 bytes) is
    /// dropped. One thread (`gangway-tunnel-park`, started on first use, serving every runtime
    /// of the process) wakes the tunnel when a socket becomes readable or the deadline passes.
    /// Woken by bytes, the tunnel moves them itself with non-blocking calls, 16 wake-ups with
    /// bytes in a row without a pause of `park_after` (a wake-up with nothing to move leaves it
    /// parked and does not count); end of stream, a partial write, a full buffer or a busier
    /// tunnel take the sockets back to tokio (four `epoll_ctl` calls and two registrations),
    /// and it parks again after `park_after` without traffic. Timeouts, half-close, [`TunnelHandle::abort`] and
    /// [`TunnelHandle::drain`] work the same parked or not.
    ///
    /// Parking needs what timeouts need: a tokio runtime with the time driver, polling the
    /// tunnel in its context (a tunnel polled outside one does not park). That runtime also
    /// needs its IO driver, as any runtime that runs sockets does: unparking registers the
    /// sockets with it, and tokio panics if it has none. Under tokio's paused
    /// clock (`start_paused`), leave parking off: the runtime cannot see the parker's pending
    /// wake-ups and may jump its clock past a timeout first.
    pub fn park_after(&mut self, idle: impl Into<Option<Duration>>) -> &mut Self {
        self.park_after = Millis::new(idle.into());
        self
    }

    /// How long a TCP tunnel stays idle before it parks.
    #[must_use]
    pub fn parks_after(&self) -> Option<Duration> {
        self.park_after.get()
    }

    /// Whether `splice(2)` is allowed.
    #[must_use]
    pub fn splice_enabled(&self) -> bool {
        self.splice
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            idle: self.idle,
            max_lifetime: self.max_lifetime,
            client_fin: self.client_fin,
            server_fin: self.server_fin,
            park_after: self.park_after,
        }
    }
}

/// A bidirectional pipe between a client and a server stream, built then [`run`](Self::run).
///
/// When both streams are [`tokio::net::TcpStream`] (checked at run time), bytes move with
/// readiness-based IO and, on Linux, `splice(2)`; any other pair of `AsyncRead + AsyncWrite`
/// streams is copied through pooled buffers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
/// let (mut client, client_end) = duplex(64);
/// let (server_end, mut server) = duplex(64);
/// let tunnel = gangway_tunnel::Tunnel::new(client_end, server_end)
///     .client_read_ahead(&b"read past the head, "[..]);
/// let task = tokio::spawn(tunnel.run());
/// client.write_all(b"then more").await.unwrap();
/// client.shutdown().await.unwrap();
/// let mut got = String::new();
/// server.read_to_string(&mut got).await.unwrap();
/// assert_eq!(got, "read past the head, then more");
/// drop(server);
/// let outcome = task.await.unwrap();
/// assert_eq!(outcome.client_to_server, 29);
/// # }
/// ```
#[derive(Debug)]
pub struct Tunnel<C, S> {
    client: C,
    server: S,
    client_read_ahead: Bytes,
    server_read_ahead: Bytes,
    config: TunnelConfig,
    buffers: Option<BufferPool>,
    pipes: Option<PipePool>,
    handle: Option<TunnelHandle>,
}

impl<C, S> Tunnel<C, S>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// A tunnel between the `client` and `server` streams with the default [`TunnelConfig`].
    pub fn new(client: C, server: S) -> Tunnel<C, S> {
        Tunnel {
            client,
            server,
            client_read_ahead: Bytes::new(),
            server_read_ahead: Bytes::new(),
            config: TunnelConfig::default(),
            buffers: None,
            pipes: None,
            handle: None,
        }
    }

    /// Bytes already read from the client past the request head; they go to the server before
    /// anything else.
    #[must_use]
    pub fn client_read_ahead(mut self, bytes: impl Into<Bytes>) -> Self {
        self.client_read_ahead = bytes.into();
        self
    }

    /// Bytes already read from the server past the response head; they go to the client before
    /// anything else.
    #[must_use]
    pub fn server_read_ahead(mut self, bytes: impl Into<Bytes>) -> Self {
        self.server_read_ahead = bytes.into();
        self
    }

    /// Replace all settings at once.
    #[must_use]
    pub fn config(mut self, config: TunnelConfig) -> Self {
        self.config = config;
        self
    }

    /// See [`TunnelConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.idle_timeout(timeout);
        self
    }

    /// See [`TunnelConfig::max_lifetime`].
    #[must_use]
    pub fn max_lifetime(mut self, lifetime: impl Into<Option<Duration>>) -> Self {
        self.config.max_lifetime(lifetime);
        self
    }

    /// See [`TunnelConfig::client_fin_timeout`].
    #[must_use]
    pub fn client_fin_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.client_fin_timeout(timeout);
        self
    }

    /// See [`TunnelConfig::server_fin_timeout`].
    #[must_use]
    pub fn server_fin_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.server_fin_timeout(timeout);
        self
    }

    /// See [`TunnelConfig::park_after`].
    #[must_use]
    pub fn park_after(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.config.park_after(idle);
        self
    }

    /// See [`TunnelConfig::splice`].
    #[must_use]
    pub fn splice(mut self, enabled: bool) -> Self {
        self.config.splice(enabled);
        self
    }

    /// Borrow copy buffers from `pool` instead of [`BufferPool::global`].
    #[must_use]
    pub fn buffer_pool(mut self, pool: BufferPool) -> Self {
        self.buffers = Some(pool);
        self
    }

    /// Borrow pipes from `pool` instead of [`PipePool::global`].
    #[must_use]
    pub fn pipe_pool(mut self, pool: PipePool) -> Self {
        self.pipes = Some(pool);
        self
    }

    /// A handle to abort or drain this tunnel from another task (the same one on every call).
    pub fn handle(&mut self) -> TunnelHandle {
        self.handle
            .get_or_insert_with(TunnelHandle::default)
            .clone()
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &TunnelConfig {
        &self.config
    }

    /// Move bytes both ways until the tunnel ends, then close both streams and report.
    ///
    /// The returned future is the whole tunnel (a few hundred bytes, no buffer while idle):
    /// spawn it as is (`tokio::spawn(tunnel.run())`; a wrapping `async` block would keep a
    /// second copy of the state) or await it. IO errors end the tunnel with
    /// [`CloseReason::Error`] (and the other side is then closed with a reset, when it is TCP),
    /// never a panic. Timeouts and parking need a tokio runtime with the time driver enabled.
    /// Dropping the
    /// future closes both streams, like [`TunnelHandle::abort`], and its handle then reports
    /// [`is_finished`](TunnelHandle::is_finished).
    ///
    /// The streams must be `'static`: the TCP fast path is chosen by checking at run time
    /// whether both are [`TcpStream`]s.
    pub fn run(self) -> impl Future<Output = TunnelOutcome> + Unpin
    where
        C: 'static,
        S: 'static,
    {
        self.running()
    }

    /// The running tunnel, as [`run`](Self::run) returns it.
    fn running(self) -> Running<C, S>
    where
        C: 'static,
        S: 'static,
    {
        let Tunnel {
            mut client,
            mut server,
            client_read_ahead,
            server_read_ahead,
            config,
            buffers,
            pipes,
            handle,
        } = self;
        let tcp = is_tcp(&mut client) && is_tcp(&mut server);
        let splice = config.splice && tcp && cfg!(target_os = "linux");
        let started = Instant::now();
        Running {
            streams: Streams::Live(client, server),
            upstream: Flow::new(Side::Client, client_read_ahead, splice),
            downstream: Flow::new(Side::Server, server_read_ahead, splice),
            pools: Pools::new(buffers, pipes),
            timeouts: config.timeouts(),
            started,
            idle_since: 0,
            timer: None,
            handle,
            first_fin: None,
            draining: false,
            park_blocked: false,
            parked_serves: 0,
            park_never: false,
        }
    }
}

/// A running tunnel's streams.
#[derive(Debug)]
enum Streams<C, S> {
    /// Client and server, with tokio.
    Live(C, S),
    /// Both TCP sockets, parked outside tokio's reactor while the tunnel is idle.
    #[cfg(target_os = "linux")]
    Parked(crate::park::Parked),
    /// The tunnel ended: both were dropped (closed) as soon as it did.
    Closed,
}

/// What a deadline does when it passes.
#[derive(Debug)]
enum Expiry {
    Close(CloseReason),
    Park,
}

/// A running tunnel: the future [`Tunnel::run`] returns.
#[derive(Debug)]
struct Running<C, S> {
    streams: Streams<C, S>,
    /// Client to server.
    upstream: Flow,
    /// Server to client.
    downstream: Flow,
    pools: Pools,
    timeouts: Timeouts,
    started: Instant,
    /// When bytes last moved or a side's FIN arrived, in nanoseconds after `started` (half the
    /// size of an `Instant`): inactivity and half-closed timeouts count from it.
    idle_since: u64,
    /// Armed at the earliest deadline in force; created on first need.
    timer: Option<Pin<Box<Sleep>>>,
    handle: Option<TunnelHandle>,
    first_fin: Option<Side>,
    draining: bool,
    /// Do not park until bytes move again (parking, or watching again, was refused).
    park_blocked: bool,
    /// Wake-ups with bytes served while parked since the last pause (see `busy_parked`).
    parked_serves: u8,
    /// Polled outside a runtime's context: never park.
    park_never: bool,
}

/// How many wake-ups with bytes in a row a parked tunnel serves itself; with the next one's
/// bytes moved, it goes back to tokio. Enough for a few request/response exchanges after a
/// pause, few enough that a busy tunnel does not pay the parker's wake-up for long. A wake-up
/// with nothing to move does not count.
#[cfg(target_os = "linux")]
const PARKED_SERVES: u8 = 16;

impl<C, S> Future for Running<C, S>
where
    C: AsyncRead + AsyncWrite + Unpin + Any,
    S: AsyncRead + AsyncWrite + Unpin + Any,
{
    type Output = TunnelOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TunnelOutcome> {
        let this = self.get_mut();
        if matches!(this.streams, Streams::Closed) {
            // Polled after completion: report nothing new.
            return Poll::Pending;
        }
        let reason = match this.handle.as_ref().map(|h| h.poll_command(cx)) {
            Some(Command::Abort) => Some(CloseReason::Aborted),
            Some(Command::Drain) => {
                this.draining = true;
                None
            }
            _ => None,
        };
        // A new tunnel with nothing to deliver parks before it looks for bytes: most wait a
        // while for their first message, and their sockets' registrations are freed while the
        // connections after them are being accepted (which reuse the memory).
        let reason = match reason {
            None if this.idle_since == 0
                && this.timeouts.park_after().is_some()
                && this.may_park() =>
            {
                this.park(cx).err()
            }
            other => other,
        };
        let reason = match reason {
            Some(reason) => reason,
            None => match this.poll_live(cx) {
                Poll::Ready(reason) => reason,
                Poll::Pending => loop {
                    match this.poll_deadline(cx) {
                        Poll::Ready(Expiry::Close(reason)) => break reason,
                        // Then look again: the next deadline is a closing one.
                        Poll::Ready(Expiry::Park) => {
                            if let Err(reason) = this.park(cx) {
                                break reason;
                            }
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                },
            },
        };
        Poll::Ready(this.finish(reason))
    }
}

impl<C, S> Running<C, S> {
    /// Close both streams, give back buffers and pipes, and report.
    fn finish(&mut self, reason: CloseReason) -> TunnelOutcome
    where
        C: Any,
        S: Any,
    {
        if let CloseReason::Error(side, _) = &reason {
            // Pass an abortive close on to the other side rather than a clean end of stream.
            match &mut self.streams {
                Streams::Live(client, server) => match side {
                    Side::Client => reset_on_close(server),
                    Side::Server => reset_on_close(client),
                },
                #[cfg(target_os = "linux")]
                Streams::Parked(parked) => parked.reset_on_close(*side),
                Streams::Closed => {}
            }
        }
        self.streams = Streams::Closed;
        self.upstream.release_all(&self.pools);
        self.downstream.release_all(&self.pools);
        self.timer = None;
        if let Some(handle) = &self.handle {
            handle.finish();
        }
        TunnelOutcome {
            reason,
            client_to_server: self.upstream.delivered,
            server_to_client: self.downstream.delivered,
            bytes_spliced: self.upstream.spliced + self.downstream.spliced,
            duration: self.started.elapsed(),
        }
    }
}

impl<C, S> Drop for Running<C, S> {
    fn drop(&mut self) {
        // Dropped before the end (e.g. the task was cancelled): the pools get their loans back,
        // both streams close, and then the handle reports the tunnel finished.
        self.upstream.release_all(&self.pools);
        self.downstream.release_all(&self.pools);
        if !matches!(self.streams, Streams::Closed) {
            self.streams = Streams::Closed;
            if let Some(handle) = &self.handle {
                handle.finish();
            }
        }
    }
}

/// The parked sockets, if the tunnel is TCP and parked.
#[cfg(target_os = "linux")]
fn parked_of<C: Any, S: Any>(streams: &Streams<C, S>) -> Option<&crate::park::Parked> {
    match (streams as &dyn Any).downcast_ref::<Streams<TcpStream, TcpStream>>()? {
        Streams::Parked(parked) => Some(parked),
        _ => None,
    }
}

fn is_tcp<T: Any>(stream: &mut T) -> bool {
    (stream as &mut dyn Any).is::<TcpStream>()
}

fn reset_on_close<T: Any>(stream: &mut T) {
    if let Some(tcp) = (stream as &mut dyn Any).downcast_mut::<TcpStream>() {
        // Best effort: the stream is dropped right after, whatever the outcome.
        let _ = socket2::SockRef::from(&*tcp).set_linger(Some(Duration::ZERO));
    }
}

impl<C, S> Running<C, S>
where
    C: AsyncRead + AsyncWrite + Unpin + Any,
    S: AsyncRead + AsyncWrite + Unpin + Any,
{
    /// Moves bytes, first taking the sockets back from the parker if they became readable (or
    /// the tunnel drains); parked and idle, waits for the parker.
    fn poll_live(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        #[cfg(target_os = "linux")]
        if let Some(parked) = parked_of(&self.streams) {
            // A deadline that passed is for `poll_deadline` to act on, parked.
            if !self.draining && (self.close_is_due() || !parked.poll_woken(cx)) {
                return Poll::Pending;
            }
            let until = self.close_deadline();
            let rearmed = !self.draining && parked.rearm(until, cx);
            if rearmed {
                self.note_pause();
            }
            if rearmed && let Some(parked) = parked_of(&self.streams) {
                // Bytes after a pause (or the first ones): move them without taking the
                // sockets back to tokio, if they are few.
                match parked.pump(&mut self.upstream, &mut self.downstream, &self.pools) {
                    // Woken with nothing to move (an event meant for the slot's previous
                    // tunnel, or bytes an earlier pump already took): stay parked, and do
                    // not count it as a wake-up served.
                    Ok(true) if !self.note_moved() => return Poll::Pending,
                    Ok(true) => {
                        if !self.busy_parked() {
                            let until = self.close_deadline();
                            if let Some(parked) = parked_of(&self.streams) {
                                parked.postpone(until);
                            }
                            return Poll::Pending;
                        }
                        // A busier tunnel: back to tokio, and parks again after `park_after`
                        // without bytes.
                    }
                    Ok(false) => {}
                    Err(FlowError { side, error }) => {
                        return Poll::Ready(CloseReason::Error(side, error));
                    }
                }
            }
            if tokio::runtime::Handle::try_current().is_err() {
                // Parked in a runtime's context, polled outside any: it cannot go back.
                let error = std::io::Error::other("tunnel polled outside a tokio runtime");
                return Poll::Ready(CloseReason::Error(Side::Client, error));
            }
            let Some(streams) =
                (&mut self.streams as &mut dyn Any).downcast_mut::<Streams<TcpStream, TcpStream>>()
            else {
                return Poll::Pending;
            };
            let Streams::Parked(parked) = std::mem::replace(streams, Streams::Closed) else {
                return Poll::Pending;
            };
            match parked.unpark() {
                Ok((client, server)) => *streams = Streams::Live(client, server),
                Err((side, error)) => return Poll::Ready(CloseReason::Error(side, error)),
            }
            // Only a parker that refused must not be asked again before bytes move. Otherwise
            // the tunnel is back for bytes that moved (or are left to move, or an end of
            // stream, or a drain): it parks again after `park_after` without traffic.
            if !rearmed && !self.draining {
                self.park_blocked = true;
            }
        }
        self.poll_flows(cx)
    }

    /// Parks an idle TCP tunnel's sockets outside tokio's reactor (see
    /// [`TunnelConfig::park_after`]); `Err` if that lost a socket.
    fn park(&mut self, cx: &mut Context<'_>) -> Result<(), CloseReason> {
        // Refused or done, do not try again before bytes move.
        self.park_blocked = true;
        // Unparking registers the sockets with the runtime in whose context the tunnel runs,
        // and the park deadline needs its timer: polled outside one, it never parks (looked
        // up here, not on every poll: the lookup clones the runtime's handle).
        if tokio::runtime::Handle::try_current().is_err() {
            self.park_never = true;
            return Ok(());
        }
        // A poll that ran out of rounds may still hold a (drained) buffer or pipe.
        self.upstream.release(&self.pools);
        self.downstream.release(&self.pools);
        // The parker watches the next deadline instead of the tunnel's timer.
        #[cfg(target_os = "linux")]
        let until = self.close_deadline();
        #[cfg(target_os = "linux")]
        if let Some(streams) =
            (&mut self.streams as &mut dyn Any).downcast_mut::<Streams<TcpStream, TcpStream>>()
        {
            match std::mem::replace(streams, Streams::Closed) {
                Streams::Live(client, server) => match crate::park::park(client, server, until, cx)
                {
                    Ok(parked) => {
                        *streams = Streams::Parked(parked);
                        self.timer = None;
                    }
                    Err(crate::park::NotParked::Live(client, server)) => {
                        *streams = Streams::Live(client, server);
                    }
                    Err(crate::park::NotParked::Failed(side, error)) => {
                        return Err(CloseReason::Error(side, error));
                    }
                },
                other => *streams = other,
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = cx;
        Ok(())
    }

    /// Starts counting served wake-ups afresh after a pause of `park_after` (or before the
    /// first bytes); called before a parked tunnel moves bytes.
    #[cfg(target_os = "linux")]
    fn note_pause(&mut self) {
        let paused = self.idle_since == 0
            || self.timeouts.park_after().is_some_and(|t| {
                self.started.elapsed() >= Duration::from_nanos(self.idle_since).saturating_add(t)
            });
        if paused {
            self.parked_serves = 0;
        }
    }

    /// Counts a wake-up whose bytes a parked tunnel moved itself (see [`Flow::pump_parked`]);
    /// whether that makes more than [`PARKED_SERVES`] in a row without a pause: a busier
    /// tunnel goes back to tokio.
    #[cfg(target_os = "linux")]
    fn busy_parked(&mut self) -> bool {
        self.parked_serves = self.parked_serves.saturating_add(1);
        self.parked_serves > PARKED_SERVES
    }

    /// The earliest deadline that would close the tunnel, as the parker takes it.
    #[cfg(target_os = "linux")]
    fn close_deadline(&self) -> Option<std::time::Instant> {
        match self.next_deadline() {
            Some((at, Expiry::Close(_))) => Some(at.into_std()),
            _ => None,
        }
    }

    /// Records that bytes moved, if they did (each flow's flag is cleared).
    fn note_moved(&mut self) -> bool {
        // Both calls run: each clears its flag.
        if self.upstream.take_moved() | self.downstream.take_moved() {
            let since = self.started.elapsed().as_nanos();
            // Never 0 again: 0 means no byte has moved yet.
            self.idle_since = u64::try_from(since).unwrap_or(u64::MAX).max(1);
            self.park_blocked = false;
            true
        } else {
            false
        }
    }

    /// Whether the earliest deadline closes the tunnel and has passed.
    fn close_is_due(&self) -> bool {
        matches!(self.next_deadline(), Some((at, Expiry::Close(_))) if Instant::now() >= at)
    }

    /// Whether the tunnel is parked.
    fn is_parked(&self) -> bool {
        #[cfg(target_os = "linux")]
        return parked_of(&self.streams).is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Whether the tunnel may park now: TCP both ways, nothing held, both directions open.
    fn may_park(&self) -> bool {
        !self.park_blocked
            && !self.draining
            && cfg!(target_os = "linux")
            && self.upstream.is_idle()
            && self.downstream.is_idle()
            && matches!(
                (&self.streams as &dyn Any).downcast_ref::<Streams<TcpStream, TcpStream>>(),
                Some(Streams::Live(..))
            )
            && !self.park_never
    }

    fn poll_flows(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason>
    where
        C: AsyncRead + AsyncWrite + Unpin + Any,
        S: AsyncRead + AsyncWrite + Unpin + Any,
    {
        let Streams::Live(client, server) = &mut self.streams else {
            return Poll::Pending;
        };
        let pools = &self.pools;
        let (up, down) = match (
            (client as &mut dyn Any).downcast_mut::<TcpStream>(),
            (server as &mut dyn Any).downcast_mut::<TcpStream>(),
        ) {
            (Some(client), Some(server)) => (
                self.upstream
                    .poll_tcp(cx, client, server, pools, self.draining),
                self.downstream
                    .poll_tcp(cx, server, client, pools, self.draining),
            ),
            _ => (
                self.upstream
                    .poll_stream(cx, client, server, pools, self.draining),
                self.downstream
                    .poll_stream(cx, server, client, pools, self.draining),
            ),
        };
        if let Poll::Ready(Err(FlowError { side, error })) = up {
            return Poll::Ready(CloseReason::Error(side, error));
        }
        if let Poll::Ready(Err(FlowError { side, error })) = down {
            return Poll::Ready(CloseReason::Error(side, error));
        }
        if self.first_fin.is_none() {
            if self.upstream.source_ended {
                self.first_fin = Some(Side::Client);
            } else if self.downstream.source_ended {
                self.first_fin = Some(Side::Server);
            }
        }
        if self.upstream.is_done() && self.downstream.is_done() {
            return Poll::Ready(match (self.draining, self.first_fin) {
                (true, _) => CloseReason::Drained,
                (false, Some(Side::Server)) => CloseReason::ServerClosed,
                (false, _) => CloseReason::ClientClosed,
            });
        }
        self.note_moved();
        Poll::Pending
    }

    /// The earliest deadline in force and what happens when it passes.
    fn next_deadline(&self) -> Option<(Instant, Expiry)> {
        let config = &self.timeouts;
        let half_closed = match (
            self.upstream.source_ended,
            self.downstream.source_ended,
            self.draining,
        ) {
            // The client sent its FIN: the server side is half-closed (as in HAProxy, where the
            // shutdown towards the server arms its `timeout server-fin`), and vice versa.
            (true, false, false) => config
                .server_fin()
                .map(|t| (t, CloseReason::HalfClosedTimeout(Side::Client))),
            (false, true, false) => config
                .client_fin()
                .map(|t| (t, CloseReason::HalfClosedTimeout(Side::Server))),
            _ => None,
        };
        let inactivity = half_closed.or(config.idle().map(|t| (t, CloseReason::IdleTimeout)));
        // A deadline past what `Instant` can hold is the same as none.
        let last_activity = self
            .started
            .checked_add(Duration::from_nanos(self.idle_since));
        let inactivity =
            inactivity.and_then(|(t, why)| Some((last_activity?.checked_add(t)?, why)));
        let lifetime = config
            .lifetime()
            .and_then(|t| Some((self.started.checked_add(t)?, CloseReason::MaxLifetime)));
        let close = match (inactivity, lifetime) {
            (Some(a), Some(b)) => Some(if b.0 <= a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
        .map(|(at, why)| (at, Expiry::Close(why)));
        // A tunnel no byte has gone through yet parks at once (see `poll`).
        let park = config
            .park_after()
            .filter(|_| self.may_park())
            .and_then(|t| {
                let quiet = if self.idle_since == 0 {
                    Duration::ZERO
                } else {
                    t
                };
                Some((last_activity?.checked_add(quiet)?, Expiry::Park))
            });
        match (close, park) {
            // Closing wins a tie: no point parking a tunnel that ends now.
            (Some(c), Some(p)) => Some(if p.0 < c.0 { p } else { c }),
            (c, p) => c.or(p),
        }
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<Expiry> {
        let Some((deadline, reason)) = self.next_deadline() else {
            return Poll::Pending;
        };
        let now = Instant::now();
        if now >= deadline {
            return Poll::Ready(reason);
        }
        if self.is_parked() {
            // The parker wakes the tunnel at the deadline: no timer of its own meanwhile.
            return Poll::Pending;
        }
        if self.timer.is_none()
            && matches!(reason, Expiry::Park)
            && tokio::runtime::Handle::try_current().is_err()
        {
            // Polled outside a runtime's context: no timer to park by, so never park, and
            // look again for a closing deadline (whose timer needs a runtime anyway).
            self.park_never = true;
            return self.poll_deadline(cx);
        }
        let timer = &mut self.timer;
        match timer {
            None => *timer = Some(Box::pin(sleep_until(deadline))),
            // Activity only pushes the deadline later: re-arm lazily, when the timer fires.
            Some(sleep) if sleep.deadline() > deadline || sleep.deadline() <= now => {
                sleep.as_mut().reset(deadline);
            }
            Some(_) => {}
        }
        if let Some(sleep) = timer
            && sleep.as_mut().poll(cx).is_ready()
        {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_tunnel_future_stays_small() {
        // Every idle tunnel is one task holding this future. Up to 280 bytes of future, tokio's
        // task is a 384-byte cell (`tests/task_size.rs` reads it); the gateway's task adds 40
        // bytes to this future and must stay within that (see gangway's `tunnels` module).
        let size = std::mem::size_of::<Running<TcpStream, TcpStream>>();
        assert!(size <= 240, "Running<TcpStream, TcpStream> is {size} bytes");
    }

    /// Parking, with real loopback sockets: the test holds the tunnel's future and polls it.
    #[cfg(target_os = "linux")]
    mod parking {
        use super::*;

        /// One poll of `future`.
        async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
        }

        /// Two ends of one loopback TCP connection.
        async fn connected_pair() -> (TcpStream, TcpStream) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (outer, inner) = tokio::join!(TcpStream::connect(addr), listener.accept());
            (outer.unwrap(), inner.unwrap().0)
        }

        /// Generous bound for what should happen promptly, on a busy 2-core machine.
        const PROMPTLY: Duration = Duration::from_secs(120);

        /// Drives the tunnel (it must not end) until `to` has read `bytes`, sent by the other end.
        async fn deliver(
            running: &mut Running<TcpStream, TcpStream>,
            from: &mut TcpStream,
            to: &mut TcpStream,
            bytes: &[u8],
        ) {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            from.write_all(bytes).await.unwrap();
            let mut got = vec![0u8; bytes.len()];
            let drive = std::future::poll_fn(|cx| Pin::new(&mut *running).poll(cx));
            let read = tokio::time::timeout(PROMPTLY, to.read_exact(&mut got));
            tokio::select! {
                outcome = drive => panic!("the tunnel ended: {}", outcome.reason),
                read = read => read.expect("bytes arrive promptly").map(drop).unwrap(),
            }
            assert_eq!(got, bytes);
        }

        /// Polls the tunnel (it must not end) until `done` holds, failing after [`PROMPTLY`].
        async fn drive_until(
            running: &mut Running<TcpStream, TcpStream>,
            what: &str,
            done: impl Fn(&Running<TcpStream, TcpStream>) -> bool,
        ) {
            let deadline = Instant::now() + PROMPTLY;
            loop {
                assert!(
                    poll_once(running).await.is_pending(),
                    "{what}: the tunnel ended"
                );
                if done(running) {
                    return;
                }
                assert!(Instant::now() < deadline, "timed out: {what}");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }

        #[tokio::test]
        async fn a_wake_up_with_nothing_to_move_leaves_the_tunnel_parked() {
            let (mut client, tunnel_client) = connected_pair().await;
            let (tunnel_server, mut server) = connected_pair().await;
            // Every wake-up below comes without a pause of `park_after`.
            let mut running = Tunnel::new(tunnel_client, tunnel_server)
                .park_after(Duration::from_secs(3600))
                .running();
            assert!(poll_once(&mut running).await.is_pending());
            assert!(
                running.is_parked(),
                "a tunnel that starts idle parks at once"
            );
            deliver(&mut running, &mut client, &mut server, b"up").await;
            assert!(running.is_parked(), "a few bytes are moved parked");
            // Woken again and again with nothing to read (as by an event meant for the slot's
            // previous tunnel): it stays parked, however many there are in a row.
            for round in 0..2 * usize::from(PARKED_SERVES) {
                parked_of(&running.streams)
                    .expect("parked")
                    .wake_spuriously();
                assert!(poll_once(&mut running).await.is_pending());
                assert!(running.is_parked(), "left the parker on wake-up {round}");
            }
            deliver(&mut running, &mut server, &mut client, b"down").await;
            assert!(running.is_parked());
        }

        #[tokio::test]
        async fn a_busy_parked_tunnel_goes_back_to_tokio_then_parks_again() {
            let (mut client, tunnel_client) = connected_pair().await;
            let (tunnel_server, mut server) = connected_pair().await;
            let mut running = Tunnel::new(tunnel_client, tunnel_server)
                .park_after(Duration::from_millis(300))
                .running();
            drive_until(&mut running, "it parks", Running::is_parked).await;
            // Wake-ups with bytes in a row (a pause of 300 ms on a loaded machine starts the
            // count again: keep going until the tunnel leaves).
            let deadline = Instant::now() + PROMPTLY;
            while running.is_parked() {
                assert!(Instant::now() < deadline, "a busy tunnel stays parked");
                deliver(&mut running, &mut client, &mut server, b"tick").await;
            }
            // Back with tokio, after moving the last bytes itself; without traffic it parks
            // again after `park_after`, though nothing moved since it left.
            drive_until(&mut running, "it parks again", Running::is_parked).await;
            deliver(&mut running, &mut server, &mut client, b"still there").await;
        }
    }

    #[test]
    fn timeouts_round_trip_and_huge_ones_mean_never() {
        let most = Duration::from_millis(u64::from(u32::MAX - 1));
        let cases = [
            (None, None),
            (Some(Duration::ZERO), Some(Duration::ZERO)),
            (
                Some(Duration::from_millis(1500)),
                Some(Duration::from_millis(1500)),
            ),
            // Whole milliseconds, rounded up: never early.
            (
                Some(Duration::from_nanos(7)),
                Some(Duration::from_millis(1)),
            ),
            (
                Some(Duration::from_micros(1500)),
                Some(Duration::from_millis(2)),
            ),
            (Some(most), Some(most)),
            // 49.7 days and more: none, and the getters say so.
            (Some(most + Duration::from_nanos(1)), None),
            (Some(Duration::MAX), None),
        ];
        for (set, got) in cases {
            let mut config = TunnelConfig::default();
            config
                .idle_timeout(set)
                .max_lifetime(set)
                .client_fin_timeout(set)
                .server_fin_timeout(set);
            assert_eq!(config.idle(), got, "{set:?}");
            assert_eq!(config.lifetime(), got, "{set:?}");
            assert_eq!(config.client_fin(), got, "{set:?}");
            assert_eq!(config.server_fin(), got, "{set:?}");
        }
        assert!(TunnelConfig::default().splice_enabled());
    }
}
