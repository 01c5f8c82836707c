//! Reading one header from a tokio stream (feature `tokio`).
//!
//! The module is private; its items are re-exported at the crate root.

use core::fmt;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

use crate::{Error, Header, OwnedHeader, Status, decode, header_len_bound};

/// How long a peer gets to send its header: the spec asks for at least 3 seconds, to cover a
/// TCP retransmit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads exactly one PROXY protocol header from a stream within a timeout.
///
/// Two ways:
/// - [`HeaderReader::read`] works on any `AsyncRead`. It never reads past the end of a v2
///   header (it reads the 16-byte fixed part first, which gives the exact length), but a v1
///   line has no length, so it may read up to 107 bytes at once: bytes after the header are
///   **handed back** in [`ReceivedHeader::rest`] and must be fed to the HTTP parser first.
/// - [`HeaderReader::read_tcp`] works on a `TcpStream` and **peeks**: it only consumes bytes
///   known to be part of the header, so everything after it stays in the socket, untouched
///   ([`ReceivedHeader::rest`] is always empty).
///
/// On any error the connection should be closed, as the spec requires: part of a bad header
/// may already have been consumed.
///
/// ```no_run
/// # async fn run(listener: tokio::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
/// use gangway_proxy_protocol::HeaderReader;
///
/// let (mut stream, peer) = listener.accept().await?;
/// let received = HeaderReader::new().read_tcp(&mut stream).await?;
/// let client = received.header().source().unwrap_or(peer);
/// // `stream` now starts right after the header: hand it to the HTTP parser.
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HeaderReader {
    timeout: Duration,
}

impl Default for HeaderReader {
    fn default() -> Self {
        HeaderReader {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl HeaderReader {
    /// A reader with the default 3 s timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set how long the whole header may take to arrive.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// The configured timeout.
    pub fn timeout_duration(&self) -> Duration {
        self.timeout
    }

    /// Read one header from any stream. Bytes read past the header (v1 only) are returned in
    /// [`ReceivedHeader::rest`]; the stream continues after them.
    pub async fn read<S>(&self, stream: &mut S) -> Result<ReceivedHeader, ReadError>
    where
        S: AsyncRead + Unpin + ?Sized,
    {
        match tokio::time::timeout(self.timeout, read_buffered(stream)).await {
            Ok(result) => result,
            Err(_) => Err(ReadError::Timeout),
        }
    }

    /// Read one header from a TCP stream, consuming exactly its bytes (peek, then read): the
    /// stream continues right after the header and [`ReceivedHeader::rest`] is empty.
    pub async fn read_tcp(&self, stream: &mut TcpStream) -> Result<ReceivedHeader, ReadError> {
        match tokio::time::timeout(self.timeout, read_peeking(stream)).await {
            Ok(result) => result,
            Err(_) => Err(ReadError::Timeout),
        }
    }
}

async fn read_buffered<S>(stream: &mut S) -> Result<ReceivedHeader, ReadError>
where
    S: AsyncRead + Unpin + ?Sized,
{
    let mut buf: Vec<u8> = Vec::with_capacity(crate::V1_MAX_LEN);
    loop {
        if let Some(done) = try_complete(&mut buf)? {
            return Ok(done);
        }
        let have = buf.len();
        // Never past a v2 header; at most the 107-byte v1 bound otherwise.
        let want = header_len_bound(&buf).saturating_sub(have).max(1);
        buf.resize(have + want, 0);
        let n = stream.read(&mut buf[have..]).await;
        buf.truncate(have + *n.as_ref().unwrap_or(&0));
        match n {
            Ok(0) => return Err(ReadError::UnexpectedEof { received: have }),
            Ok(_) => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

async fn read_peeking(stream: &mut TcpStream) -> Result<ReceivedHeader, ReadError> {
    // Bytes consumed so far, all of them header bytes.
    let mut buf: Vec<u8> = Vec::with_capacity(crate::V1_MAX_LEN);
    loop {
        let consumed = buf.len();
        // Peeking past the header is harmless, so start with the whole v1 bound.
        let bound = if consumed == 0 {
            crate::V1_MAX_LEN
        } else {
            header_len_bound(&buf)
        };
        let want = bound.saturating_sub(consumed).max(1);
        buf.resize(consumed + want, 0);
        let peeked = match stream.peek(&mut buf[consumed..]).await {
            Ok(0) => return Err(ReadError::UnexpectedEof { received: consumed }),
            Ok(n) => n,
            Err(e) => return Err(ReadError::Io(e)),
        };
        buf.truncate(consumed + peeked);
        let take = match decode(&buf) {
            Ok(Status::Complete((_, len))) => len - consumed,
            // Partial: no header end among the peeked bytes, so all of them are header bytes.
            Ok(Status::Partial) => peeked,
            Err(e) => return Err(ReadError::Invalid(e)),
        };
        buf.truncate(consumed + take);
        // These bytes are already in the socket buffer, so this read returns at once.
        stream
            .read_exact(&mut buf[consumed..])
            .await
            .map_err(ReadError::Io)?;
        if let Some(done) = try_complete(&mut buf)? {
            return Ok(done);
        }
    }
}

/// Decode what `buf` holds; on a complete header split off the bytes after it.
fn try_complete(buf: &mut Vec<u8>) -> Result<Option<ReceivedHeader>, ReadError> {
    let len = match decode(buf) {
        Ok(Status::Complete((_, len))) => len,
        Ok(Status::Partial) => return Ok(None),
        Err(e) => return Err(ReadError::Invalid(e)),
    };
    let rest = buf.split_off(len);
    match decode(buf) {
        Ok(Status::Complete((header, _))) => Ok(Some(ReceivedHeader {
            header: header.to_owned_header(),
            rest,
        })),
        // Decoding is deterministic, so the same bytes decode the same way.
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(ReadError::Invalid(e)),
    }
}

/// A header read from a stream, plus any bytes read after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedHeader {
    header: OwnedHeader,
    rest: Vec<u8>,
}

impl ReceivedHeader {
    /// The decoded header.
    pub fn header(&self) -> Header<'_> {
        self.header.header()
    }

    /// The header as an owned value.
    pub fn owned_header(&self) -> &OwnedHeader {
        &self.header
    }

    /// Bytes read from the stream after the header: the start of the proxied data (e.g. the
    /// HTTP request). Always empty after [`HeaderReader::read_tcp`].
    pub fn rest(&self) -> &[u8] {
        &self.rest
    }

    /// The owned header and the bytes after it.
    pub fn into_parts(self) -> (OwnedHeader, Vec<u8>) {
        (self.header, self.rest)
    }
}

/// Why no header could be read from a stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The header did not arrive in full within the timeout.
    Timeout,
    /// The peer closed the connection before a whole header arrived.
    UnexpectedEof {
        /// Header bytes received before the end.
        received: usize,
    },
    /// The bytes are not a valid header.
    Invalid(Error),
    /// Reading from the stream failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Timeout => write!(f, "PROXY protocol header not received in time"),
            ReadError::UnexpectedEof { received } => write!(
                f,
                "connection closed after {received} bytes, before the PROXY protocol header was complete"
            ),
            ReadError::Invalid(e) => write!(f, "invalid PROXY protocol header: {e}"),
            ReadError::Io(e) => write!(f, "reading the PROXY protocol header: {e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Invalid(e) => Some(e),
            ReadError::Io(e) => Some(e),
            ReadError::Timeout | ReadError::UnexpectedEof { .. } => None,
        }
    }
}

impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => e,
            ReadError::Timeout => io::Error::new(io::ErrorKind::TimedOut, e),
            ReadError::UnexpectedEof { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            ReadError::Invalid(_) => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}
