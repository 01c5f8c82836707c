//! The HTTPS rows: every proxy also listens with TLS, using one certificate generated at run
//! time, and a rustls client measures full TLS handshakes per second (new connections, session
//! resumption off on the client, so every connection pays a full handshake whatever the server
//! caches) and wss tunnel throughput (an upgrade over TLS, then bulk bytes, every one counted).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::client::Direction;
use crate::pattern::{self, CHUNK};
use crate::report::{Better, Report};

/// The name the certificate is for and the client asks for.
const NAME: &str = "localhost";

/// The certificate every contender presents: one PEM file with the chain and the key (HAProxy's
/// `crt`, nginx's `ssl_certificate` and `ssl_certificate_key`, gangway's `cert_file`).
#[derive(Debug)]
pub(crate) struct Certificate {
    dir: PathBuf,
    /// The PEM file.
    pub(crate) pem: PathBuf,
    client: Arc<rustls::ClientConfig>,
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Certificate {
    /// A fresh self-signed ECDSA P-256 certificate for `localhost`, and a client trusting it.
    pub(crate) fn generate() -> io::Result<Certificate> {
        let dir = std::env::temp_dir().join(format!("gangway-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let c =
            rcgen::generate_simple_self_signed(vec![NAME.to_string()]).map_err(io::Error::other)?;
        let pem = dir.join("site.pem");
        std::fs::write(
            &pem,
            format!("{}{}", c.cert.pem(), c.signing_key.serialize_pem()),
        )?;
        let client = client_config(c.cert.der().clone())?;
        Ok(Certificate { dir, pem, client })
    }

    /// The PEM file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.pem
    }
}

fn client_config(cert: CertificateDer<'static>) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).map_err(io::Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every connection a full handshake, whatever session cache the server keeps.
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn connect(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(NAME).map_err(io::Error::other)?;
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
}

/// Reads to the end, counting a missing TLS close_notify at the end as the end.
async fn read_all<S: AsyncRead + Unpin>(s: &mut S, out: &mut Vec<u8>) -> io::Result<()> {
    match s.read_to_end(out).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        Err(e) => Err(e),
    }
}

/// One GET with `Connection: close` on a new TLS connection; returns the `X-Backend` value.
async fn get(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    path: &str,
) -> io::Result<String> {
    let mut s = connect(addr, config).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut resp = Vec::new();
    read_all(&mut s, &mut resp).await?;
    let text = String::from_utf8_lossy(&resp);
    if !text.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "https GET {path}: {:?}",
            text.lines().next().unwrap_or("")
        )));
    }
    Ok(text
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("x-backend")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into()))
}

/// `conns` clients, each opening connection after connection (handshake, one GET, close) for
/// `seconds`; returns completed connections per second.
async fn handshakes(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    conns: usize,
    seconds: u32,
) -> io::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(u64::from(seconds));
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (config, done) = (config.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                get(addr, &config, "/").await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), io::Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(io::Error::other)??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Upgrades a TLS connection on `path`; returns it and the bytes behind the 101.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, path: &str) -> io::Result<Vec<u8>> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(512);
    let mut tmp = [0u8; 512];
    loop {
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(io::Error::other("closed before the 101"));
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            let head = buf[..end].to_ascii_lowercase();
            if !head.starts_with(b"http/1.1 101") {
                return Err(io::Error::other("expected a 101 over TLS"));
            }
            if memchr::memmem::find(&head, b"x-backend: ws").is_none() {
                return Err(io::Error::other("wss upgrade reached the HTTP backend"));
            }
            return Ok(buf[end + 4..].to_vec());
        }
        if buf.len() > 16 * 1024 {
            return Err(io::Error::other("response head too large"));
        }
    }
}

/// Moves `bytes` through one wss tunnel in `direction`, checking the count; returns the time.
async fn wss_throughput(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    bytes: u64,
    direction: Direction,
) -> io::Result<Duration> {
    let mut s = connect(addr, config).await?;
    let path = match direction {
        Direction::Upload => format!("/ws/sink/{bytes}"),
        Direction::Download => format!("/ws/source/{bytes}"),
    };
    let rest = upgrade(&mut s, &path).await?;
    let start = Instant::now();
    match direction {
        Direction::Upload => {
            let mut sent = 0;
            while sent < bytes {
                let n = (bytes - sent).min(CHUNK as u64) as usize;
                s.write_all(pattern::slice(sent, n)).await?;
                sent += n as u64;
            }
            s.flush().await?;
            let mut answer = rest;
            read_all(&mut s, &mut answer).await?;
            let got = pattern::parse_sink_answer(&answer)?;
            if got != bytes {
                return Err(io::Error::other(format!(
                    "sink received {got} bytes over wss, {bytes} were sent"
                )));
            }
        }
        Direction::Download => {
            pattern::check(0, &rest)?;
            let mut total = rest.len() as u64;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    break;
                }
                pattern::check(total, &buf[..n])?;
                total += n as u64;
            }
            if total != bytes {
                return Err(io::Error::other(format!(
                    "received {total} bytes over wss, the source sent {bytes}"
                )));
            }
        }
    }
    Ok(start.elapsed())
}

/// The HTTPS rows for one contender listening with TLS on `addr`.
pub(crate) async fn measure(
    cert: &Certificate,
    addr: SocketAddr,
    name: &'static str,
    seconds: u32,
    bytes: u64,
    r: &mut Report,
) -> io::Result<()> {
    let config = &cert.client;
    let to = get(addr, config, "/index.html").await?;
    if to != "http" {
        return Err(io::Error::other(format!(
            "https GET / reached the {to} backend"
        )));
    }
    let rate = handshakes(addr, config, 50, seconds).await?;
    r.add(
        "TLS handshakes: new HTTPS connections, 50 at once (conn/s)",
        Better::Higher,
        name,
        rate,
    );
    for dir in [Direction::Upload, Direction::Download] {
        let elapsed = wss_throughput(addr, config, bytes, dir).await?;
        let mib_s = bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
        let label = match dir {
            Direction::Upload => "wss tunnel upload, 1 conn (MiB/s)",
            Direction::Download => "wss tunnel download, 1 conn (MiB/s)",
        };
        r.add(label, Better::Higher, name, mib_s);
    }
    Ok(())
}
