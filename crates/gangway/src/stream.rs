//! A connection as the proxy loop sees it: plain TCP, or TLS over TCP.
//!
//! [`Stream`] is an enum rather than a trait object so a plain TCP read or write costs one
//! branch, no allocation and no dynamic dispatch. A TLS connection is boxed (its state is
//! large) behind a mutex that is only locked once the stream is [`split`](Stream::split) into
//! halves a request's upload and download use at the same time, from the same task (never
//! contended); a whole stream reaches it with `get_mut`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf as TcpReadHalf, WriteHalf as TcpWriteHalf};

#[cfg(feature = "tls")]
use std::sync::Mutex;

/// TLS over TCP, either end (a client connection the gateway terminates, or the gateway's own
/// connection to a server).
#[cfg(feature = "tls")]
pub(crate) type TlsIo = tokio_rustls::TlsStream<TcpStream>;

/// One client or server connection.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<Mutex<TlsIo>>),
}

impl Stream {
    /// Whether an idle connection can carry another request: it must have nothing to read,
    /// as data or EOF (or, over TLS, a close_notify or bytes rustls already holds) make it
    /// unusable. Never blocks.
    pub(crate) fn is_idle_open(&mut self) -> bool {
        match self {
            Stream::Tcp(tcp) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                // One read with a no-op waker: only "nothing yet" (Pending) means idle. The
                // next real read registers the task's own waker.
                let mut probe = [0u8; 1];
                let mut buf = ReadBuf::new(&mut probe);
                let mut cx = Context::from_waker(std::task::Waker::noop());
                Pin::new(tls_mut(tls))
                    .poll_read(&mut cx, &mut buf)
                    .is_pending()
            }
        }
    }

    /// Closes our sending side within `limit`. Over TCP this is one FIN and returns at once;
    /// over TLS the records rustls still holds and the close_notify must be sent first, and a
    /// client that never reads would otherwise keep the connection (and its slot) forever.
    pub(crate) async fn close_within(&mut self, limit: std::time::Duration) {
        use tokio::io::AsyncWriteExt as _;
        let _ = tokio::time::timeout(limit, self.shutdown()).await;
    }

    /// The TCP connection underneath.
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls_mut(tls).get_mut().0,
        }
    }

    /// The plain TCP connection, or the stream back when it is not one.
    pub(crate) fn into_tcp(self) -> Result<TcpStream, Stream> {
        match self {
            Stream::Tcp(tcp) => Ok(tcp),
            #[cfg(feature = "tls")]
            other => Err(other),
        }
    }

    /// For a TLS client connection, the server name the client asked for (SNI), if any;
    /// `None` for plain TCP.
    pub(crate) fn tls_sni(&mut self) -> Option<Option<&str>> {
        match self {
            Stream::Tcp(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => match tls_mut(tls) {
                tokio_rustls::TlsStream::Server(s) => Some(s.get_ref().1.server_name()),
                tokio_rustls::TlsStream::Client(_) => Some(None),
            },
        }
    }

    /// Whether the connection is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Stream::Tcp(_))
    }

    /// Halves to read and write at the same time from one task (a request's upload and
    /// download).
    pub(crate) fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        match self {
            Stream::Tcp(tcp) => {
                let (r, w) = tcp.split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                let tls: &Mutex<TlsIo> = tls;
                (ReadHalf::Tls(tls), WriteHalf::Tls(tls))
            }
        }
    }
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls_mut(tls)).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls_mut(tls)).poll_write(cx, buf),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls_mut(tls)).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls_mut(tls)).poll_shutdown(cx),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls_mut(tls)).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => true,
        }
    }
}

/// The TLS stream of a whole (unsplit) [`Stream`]: no locking needed.
#[cfg(feature = "tls")]
fn tls_mut(tls: &mut Mutex<TlsIo>) -> &mut TlsIo {
    tls.get_mut()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The reading half of a [`Stream::split`].
#[derive(Debug)]
pub(crate) enum ReadHalf<'a> {
    Tcp(TcpReadHalf<'a>),
    #[cfg(feature = "tls")]
    Tls(&'a Mutex<TlsIo>),
}

/// The writing half of a [`Stream::split`].
#[derive(Debug)]
pub(crate) enum WriteHalf<'a> {
    Tcp(TcpWriteHalf<'a>),
    #[cfg(feature = "tls")]
    Tls(&'a Mutex<TlsIo>),
}

/// Runs `f` on the TLS stream a half shares with the other half (same task: never contended).
#[cfg(feature = "tls")]
fn with_locked<R>(tls: &Mutex<TlsIo>, f: impl FnOnce(Pin<&mut TlsIo>) -> R) -> R {
    let mut guard = tls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(Pin::new(&mut *guard))
}

impl AsyncRead for ReadHalf<'_> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(tls) => with_locked(tls, |s| s.poll_read(cx, buf)),
        }
    }
}

impl AsyncWrite for WriteHalf<'_> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(tls) => with_locked(tls, |s| s.poll_write(cx, buf)),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(tls) => with_locked(tls, |s| s.poll_flush(cx)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(tls) => with_locked(tls, |s| s.poll_shutdown(cx)),
        }
    }
}
