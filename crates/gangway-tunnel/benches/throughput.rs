//! Loopback throughput, both ways at once, of: a direct client-to-server connection, a
//! gangway-tunnel proxy (splice and copy paths), and a `tokio::io::copy_bidirectional` proxy,
//! with 1 and 8 connections; and the round-trip time of small messages through each.
//!
//! `cargo bench -p gangway-tunnel --bench throughput -- --warm-up-time 1 --measurement-time 3`
//!
//! Two groups: `wall` is elapsed time (what a user sees, but on a shared machine it swings with
//! other processes' load); `cpu` reports the CPU time this process spent (all threads, from
//! `/proc/self/stat`) as the "time", which other processes disturb much less. Both include the
//! client and server ends, which run in the same process: `direct` is their share alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gangway_tunnel::Tunnel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Bytes each iteration moves in each direction, spread over the connections.
const BYTES_PER_DIRECTION: usize = 8 * 1024 * 1024;
/// Endpoint read/write size.
const CHUNK: usize = 256 * 1024;

#[derive(Clone, Copy, Debug)]
enum Proxy {
    Direct,
    TunnelSplice,
    TunnelCopy,
    CopyBidirectional,
}

impl Proxy {
    fn name(self) -> &'static str {
        match self {
            Proxy::Direct => "direct",
            Proxy::TunnelSplice => "gangway-tunnel splice",
            Proxy::TunnelCopy => "gangway-tunnel copy",
            Proxy::CopyBidirectional => "copy_bidirectional",
        }
    }
}

/// A server that keeps every accepted connection for the benchmark to drive.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Start `proxy` in front of `backend`; returns the address clients connect to.
async fn start_proxy(proxy: Proxy, backend: SocketAddr) -> SocketAddr {
    if let Proxy::Direct = proxy {
        return backend;
    }
    let (front, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = front.accept().await else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            tokio::spawn(async move {
                match proxy {
                    Proxy::TunnelSplice => {
                        Tunnel::new(client, server).run().await;
                    }
                    Proxy::TunnelCopy => {
                        Tunnel::new(client, server).splice(false).run().await;
                    }
                    Proxy::CopyBidirectional => {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    Proxy::Direct => {}
                }
            });
        }
    });
    addr
}

/// One connection's two ends, split so each end can write and read at once.
struct Connection {
    client: (OwnedReadHalf, OwnedWriteHalf),
    server: (OwnedReadHalf, OwnedWriteHalf),
}

async fn connect(proxy: Proxy, connections: usize) -> Vec<Connection> {
    let (backend, backend_addr) = listener().await;
    let front = start_proxy(proxy, backend_addr).await;
    let mut all = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = TcpStream::connect(front).await.unwrap();
        let (server, _) = backend.accept().await.unwrap();
        client.set_nodelay(true).unwrap();
        server.set_nodelay(true).unwrap();
        all.push(Connection {
            client: client.into_split(),
            server: server.into_split(),
        });
    }
    all
}

async fn send(mut write: OwnedWriteHalf, data: Arc<Vec<u8>>, mut len: usize) -> OwnedWriteHalf {
    while len > 0 {
        let n = len.min(data.len());
        write.write_all(&data[..n]).await.unwrap();
        len -= n;
    }
    write
}

async fn receive(mut read: OwnedReadHalf, mut len: usize) -> OwnedReadHalf {
    let mut buf = vec![0u8; CHUNK];
    while len > 0 {
        let n = read.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed early");
        len -= n;
    }
    read
}

/// Move `per_connection` bytes each way over every connection at once.
async fn transfer(connections: Vec<Connection>, data: &Arc<Vec<u8>>) -> Vec<Connection> {
    let per_connection = BYTES_PER_DIRECTION / connections.len();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|c| {
            let (cr, cw) = c.client;
            let (sr, sw) = c.server;
            (
                tokio::spawn(send(cw, data.clone(), per_connection)),
                tokio::spawn(receive(cr, per_connection)),
                tokio::spawn(send(sw, data.clone(), per_connection)),
                tokio::spawn(receive(sr, per_connection)),
            )
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for (cw, cr, sw, sr) in tasks {
        back.push(Connection {
            client: (cr.await.unwrap(), cw.await.unwrap()),
            server: (sr.await.unwrap(), sw.await.unwrap()),
        });
    }
    back
}

/// CPU time used by this process so far (user + system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which ends with the last ')'; utime and stime are 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    // Linux reports these in USER_HZ, 100 per second on every mainstream architecture.
    Duration::from_millis(ticks * 10)
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    Cpu,
}

fn throughput(c: &mut Criterion) {
    for clock in [Clock::Wall, Clock::Cpu] {
        throughput_by(c, clock);
    }
}

fn throughput_by(c: &mut Criterion, clock: Clock) {
    let runtime = Runtime::new().unwrap();
    let mut data = vec![0u8; CHUNK];
    fastrand::Rng::with_seed(7).fill(&mut data);
    let data = Arc::new(data);
    let mut group = c.benchmark_group(match clock {
        Clock::Wall => "tunnel throughput both ways (wall)",
        Clock::Cpu => "tunnel throughput both ways (cpu)",
    });
    group.sample_size(10);
    group.throughput(Throughput::Bytes(2 * BYTES_PER_DIRECTION as u64));
    for connections in [1, 8] {
        for proxy in [
            Proxy::Direct,
            Proxy::TunnelSplice,
            Proxy::TunnelCopy,
            Proxy::CopyBidirectional,
        ] {
            let mut conns = Some(runtime.block_on(connect(proxy, connections)));
            let id = BenchmarkId::new(proxy.name(), format!("{connections} conn"));
            group.bench_function(id, |b| {
                b.iter_custom(|iterations| {
                    let (wall, cpu) = (Instant::now(), cpu_time());
                    for _ in 0..iterations {
                        let Some(current) = conns.take() else {
                            break;
                        };
                        conns = Some(runtime.block_on(transfer(current, &data)));
                    }
                    match clock {
                        Clock::Wall => wall.elapsed(),
                        Clock::Cpu => cpu_time().saturating_sub(cpu),
                    }
                });
            });
        }
    }
    group.finish();
}

/// Small messages, one at a time: a 64-byte request and its echo per iteration, on one
/// connection (what chatty WebSocket tunnels mostly carry).
fn round_trip(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("tunnel round trip 64 B");
    group.sample_size(20);
    for proxy in [
        Proxy::Direct,
        Proxy::TunnelSplice,
        Proxy::TunnelCopy,
        Proxy::CopyBidirectional,
    ] {
        let mut conns = runtime.block_on(connect(proxy, 1));
        let Some(conn) = conns.pop() else {
            continue;
        };
        let (mut client_read, mut client_write) = conn.client;
        let (mut server_read, mut server_write) = conn.server;
        // The server echoes every message until the connection closes.
        runtime.spawn(async move {
            let mut message = [0u8; 64];
            while server_read.read_exact(&mut message).await.is_ok() {
                if server_write.write_all(&message).await.is_err() {
                    break;
                }
            }
        });
        group.bench_function(proxy.name(), |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut message = [7u8; 64];
                    let started = Instant::now();
                    for _ in 0..iterations {
                        client_write.write_all(&message).await.unwrap();
                        client_read.read_exact(&mut message).await.unwrap();
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, throughput, round_trip);
criterion_main!(benches);
