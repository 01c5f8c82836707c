//! Resident memory added per idle tunnel, with 5000 tunnels open (override with
//! `GANGWAY_IDLE_TUNNELS`, at most 7999: `ulimit -n` is 20000 and a tunnel holds 2 descriptors).
//!
//! `cargo bench -p gangway-tunnel --bench idle_memory`
//!
//! Three processes keep the count honest: this one runs each proxy kind in a fresh child
//! process (so freed memory of one kind is not reused by the next); that child holds only the
//! proxy's side of each tunnel, and a grandchild holds the client and server ends (so their
//! sockets are not counted). RSS comes from `/proc/self/status` (`VmRSS`).
//!
//! The proxy process works as a gateway does: it accepts a client, connects to the server and
//! starts the tunnel, one after the other, then waits for them to settle. Two figures per kind,
//! both counting everything the proxy holds for a tunnel (its sockets' registrations with
//! tokio included): *idle* once every tunnel has settled, which for gangway-tunnel (run with
//! `park_after(1 s)`, as the gangway gateway does) means parked: a tunnel that starts idle parks
//! at once; *after a byte* once one byte went through every tunnel, 200 ms later (a parked
//! tunnel moves a few bytes itself and stays parked).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use gangway_tunnel::{Tunnel, TunnelHandle};
use tokio::net::{TcpListener, TcpStream};

const DEFAULT_TUNNELS: usize = 5000;
const MAX_TUNNELS: usize = 7999;
const KINDS: [&str; 3] = [
    "gangway-tunnel splice",
    "gangway-tunnel copy",
    "copy_bidirectional",
];

fn main() {
    if let Ok(spec) = std::env::var("GANGWAY_IDLE_PEERS") {
        peers(&spec);
    } else if let Ok(kind) = std::env::var("GANGWAY_IDLE_KIND") {
        proxy(&kind, tunnel_count());
    } else {
        orchestrate();
    }
}

fn tunnel_count() -> usize {
    std::env::var("GANGWAY_IDLE_TUNNELS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_TUNNELS)
        .clamp(1, MAX_TUNNELS)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn orchestrate() {
    let n = tunnel_count();
    println!("idle memory with {n} tunnels open (RSS added per tunnel)");
    println!(
        "{:<24} {:>11} {:>13} {:>14}",
        "kind", "idle", "after a byte", "task future"
    );
    let exe = std::env::current_exe().expect("own path");
    for kind in KINDS {
        let out = Command::new(&exe)
            .env("GANGWAY_IDLE_KIND", kind)
            .env("GANGWAY_IDLE_TUNNELS", n.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("run the proxy process");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            println!("{kind}: failed ({})", out.status);
        }
    }
}

/// The proxy process: accept `n` clients, connect each to the backend, start `n` idle tunnels.
fn proxy(kind: &str, n: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let front_addr = front.local_addr().expect("address");
        let exe = std::env::current_exe().expect("own path");
        let mut peers = Command::new(exe)
            .env("GANGWAY_IDLE_PEERS", format!("{front_addr} {n}"))
            .env_remove("GANGWAY_IDLE_KIND")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the peers process");
        let mut peer_out = BufReader::new(peers.stdout.take().expect("peer stdout"));
        let mut peer_in = peers.stdin.take().expect("peer stdin");
        let mut line = String::new();
        peer_out.read_line(&mut line).expect("backend address");
        let backend: SocketAddr = line.trim().parse().expect("backend address");

        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_start = rss_kib();
        // As a proxy does: accept a client, connect to the server, start the tunnel; what a
        // gateway keeps per tunnel is a handle to abort or drain it, and the task.
        let mut handles: Vec<Option<TunnelHandle>> = Vec::with_capacity(n);
        let mut tunnel_tasks = Vec::with_capacity(n);
        let mut copy_tasks = Vec::with_capacity(n);
        let mut future_size = 0;
        for _ in 0..n {
            let (mut client, _) = front.accept().await.expect("accept");
            let mut server = TcpStream::connect(backend).await.expect("connect");
            match kind {
                "copy_bidirectional" => {
                    let task = async move {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    };
                    future_size = std::mem::size_of_val(&task);
                    handles.push(None);
                    copy_tasks.push(tokio::spawn(task));
                }
                _ => {
                    // As the gangway gateway runs them: parking after 1 s idle.
                    let mut tunnel = Tunnel::new(client, server)
                        .splice(kind.ends_with("splice"))
                        .idle_timeout(Duration::from_secs(3600))
                        .park_after(Duration::from_secs(1));
                    handles.push(Some(tunnel.handle()));
                    // Spawned as is (no wrapping async block, which would keep a second copy
                    // of the state): the outcome comes back through the JoinHandle.
                    let task = tunnel.run();
                    future_size = std::mem::size_of_val(&task);
                    tunnel_tasks.push(tokio::spawn(task));
                }
            }
        }
        line.clear();
        peer_out.read_line(&mut line).expect("peers ready");
        // Let every task reach its first wait for readiness, and gangway's tunnels park.
        settle(kind, n).await;
        let rss_tunnels = rss_kib();

        // Check the tunnels are alive: one byte through each (which wakes parked ones).
        peer_in.write_all(b"check\n").expect("peer stdin");
        line.clear();
        peer_out.read_line(&mut line).expect("peer check");
        if line.trim() != "ok" {
            println!("{kind}: tunnels did not pass a byte: {}", line.trim());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_woken = rss_kib();
        let per = |kib: u64, base: u64| (kib as f64 - base as f64) * 1024.0 / n as f64;
        println!(
            "{:<24} {:>9.0} B {:>11.0} B {:>12} B",
            kind,
            per(rss_tunnels, rss_start),
            per(rss_woken, rss_start),
            future_size
        );
        for handle in handles.iter().flatten() {
            handle.abort();
        }
        drop(peer_in);
        let _ = peers.wait();
        drop((tunnel_tasks, copy_tasks));
    });
}

/// Waits until every task reached its first wait for readiness and, for gangway-tunnel, until
/// every tunnel has parked (at most 60 s).
async fn settle(kind: &str, n: usize) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    if kind == "copy_bidirectional" || !cfg!(target_os = "linux") {
        return;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while gangway_tunnel::parked_tunnels() < n {
        if tokio::time::Instant::now() > deadline {
            println!(
                "{kind}: only {} of {n} tunnels parked",
                gangway_tunnel::parked_tunnels()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The reactor frees deregistered sockets' state on its next turns.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The peers process: the clients (connecting to the proxy) and the backend (accepting from it).
fn peers(spec: &str) {
    let mut parts = spec.split_whitespace();
    let front: SocketAddr = parts.next().and_then(|a| a.parse().ok()).expect("front");
    let n: usize = parts.next().and_then(|a| a.parse().ok()).expect("count");
    let backend = StdListener::bind("127.0.0.1:0").expect("bind backend");
    println!("{}", backend.local_addr().expect("backend address"));
    std::io::stdout().flush().expect("stdout");
    let acceptor = std::thread::spawn(move || {
        (0..n)
            .map(|_| backend.accept().expect("backend accept").0)
            .collect::<Vec<StdStream>>()
    });
    let mut clients: Vec<StdStream> = (0..n)
        .map(|_| StdStream::connect(front).expect("connect to proxy"))
        .collect();
    let mut servers = acceptor.join().expect("acceptor");
    println!("ready");
    std::io::stdout().flush().expect("stdout");

    let mut command = String::new();
    let stdin = std::io::stdin();
    while stdin.lock().read_line(&mut command).unwrap_or(0) > 0 {
        if command.trim() == "check" {
            for client in &mut clients {
                client.write_all(b"x").expect("write through tunnel");
            }
            let mut all = true;
            for server in &mut servers {
                let mut byte = [0u8; 1];
                all &= server.read_exact(&mut byte).is_ok() && byte == *b"x";
            }
            println!("{}", if all { "ok" } else { "lost bytes" });
            std::io::stdout().flush().expect("stdout");
        }
        command.clear();
    }
}
