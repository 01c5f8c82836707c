//! The side-by-side comparison of gangway with HAProxy and nginx.
//!
//! `cargo run --release -p gangway-benches -- [--runs N] [--quick] [--only NAMES] [--measures
//! GROUPS] [--markdown FILE]` installs HAProxy, nginx and wrk from Debian's packages when they
//! are missing, starts one backend, then in turn direct access, gangway, HAProxy (plain and
//! `option splice-request` + `option splice-response`) and nginx in front of it, all on loopback, measures each the same way
//! and prints one table. See
//! `docs/benchmarks.md` for what each row means and the latest results.
//!
//! The same executable plays the backend (`backend`) and the gangway under test (`gateway`) as
//! child processes, so that each proxy's memory and CPU can be read from its own process.

mod backend;
mod children;
mod client;
mod gateway;
mod pattern;
mod procstat;
mod proxies;
mod report;
mod tls;

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use client::Direction;
use proxies::Contender;
use report::{Better, Report};

/// Options of a comparison run.
#[derive(Debug, Clone)]
struct Options {
    runs: usize,
    bytes_per_run: u64,
    idle_tunnels: usize,
    round_trips: usize,
    wrk_seconds: u32,
    contenders: Vec<Contender>,
    /// Which groups of rows to measure (`--measures`); all by default.
    measures: Vec<Measure>,
    markdown: Option<String>,
}

/// A group of rows of the table, chosen with `--measures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Tunnel throughput each way and the proxy's CPU per GiB.
    Tunnels,
    /// Small-message round trips through a tunnel.
    RoundTrip,
    /// wrk with keep-alive and with a new connection per request.
    Http,
    /// Resident memory per idle tunnel.
    Memory,
    /// The HTTPS and wss rows (contenders with a TLS listener).
    Tls,
}

impl Measure {
    const ALL: [Measure; 5] = [
        Measure::Tunnels,
        Measure::RoundTrip,
        Measure::Http,
        Measure::Memory,
        Measure::Tls,
    ];

    fn parse(name: &str) -> Option<Measure> {
        Some(match name {
            "tunnels" => Measure::Tunnels,
            "round-trip" => Measure::RoundTrip,
            "http" => Measure::Http,
            "memory" => Measure::Memory,
            "tls" => Measure::Tls,
            _ => return None,
        })
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            runs: 3,
            bytes_per_run: 2 << 30,
            idle_tunnels: 5000,
            round_trips: 20_000,
            wrk_seconds: 5,
            contenders: vec![
                Contender::Direct,
                Contender::Gangway,
                Contender::Haproxy,
                Contender::HaproxySplice,
                Contender::Nginx,
            ],
            measures: Measure::ALL.to_vec(),
            markdown: None,
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: gangway-benches [--runs N] [--quick] [--only NAME,NAME] [--measures M,M]\n\
         \x20                      [--markdown FILE]\n\
         \x20      gangway-benches backend\n\
         \x20      gangway-benches gateway --http ADDR --ws ADDR [--crt PEM]\n\
         names: direct gangway haproxy haproxy-splice nginx\n\
         measures: tunnels round-trip http memory tls"
    );
    std::process::exit(2)
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Options {
    let mut o = Options::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                o.runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--quick" => {
                o.runs = 1;
                o.bytes_per_run = 256 << 20;
                o.idle_tunnels = 1000;
                o.round_trips = 2000;
                o.wrk_seconds = 2;
            }
            "--only" => {
                let list = args.next().unwrap_or_else(|| usage());
                o.contenders = list
                    .split(',')
                    .map(|n| match n {
                        "direct" => Contender::Direct,
                        "gangway" => Contender::Gangway,
                        "haproxy" => Contender::Haproxy,
                        "haproxy-splice" => Contender::HaproxySplice,
                        "nginx" => Contender::Nginx,
                        _ => usage(),
                    })
                    .collect();
            }
            "--measures" => {
                let list = args.next().unwrap_or_else(|| usage());
                o.measures = list
                    .split(',')
                    .map(|m| Measure::parse(m).unwrap_or_else(|| usage()))
                    .collect();
            }
            "--markdown" => o.markdown = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    o
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.peek().map(String::as_str) {
        Some("backend") => runtime.block_on(backend::run()),
        Some("gateway") => {
            args.next();
            let (mut http, mut ws, mut crt) = (None, None, None);
            while let Some(a) = args.next() {
                let value = args.next();
                let v = value.as_deref().and_then(|v| v.parse::<SocketAddr>().ok());
                match a.as_str() {
                    "--http" => http = v,
                    "--ws" => ws = v,
                    "--crt" => crt = value,
                    _ => usage(),
                }
            }
            let (Some(http), Some(ws)) = (http, ws) else {
                usage()
            };
            runtime.block_on(gateway::run(http, ws, crt))
        }
        _ => {
            let options = parse_options(args);
            runtime.block_on(compare(options))
        }
    }
}

async fn compare(o: Options) -> io::Result<()> {
    let nofile = children::raise_nofile_limit()?;
    if nofile < 4 * o.idle_tunnels as u64 {
        eprintln!("warning: only {nofile} open files allowed; the idle-tunnel rows may fail");
    }
    proxies::ensure_tools()?;
    let mut backend = children::Guarded::spawn(
        Command::new(std::env::current_exe()?)
            .arg("backend")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let line = BufReader::new(
        backend
            .child()
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?,
    )
    .lines()
    .next()
    .transpose()?
    .unwrap_or_default();
    let addrs = backend::BackendAddrs::parse(&line)
        .ok_or_else(|| io::Error::other(format!("backend printed {line:?}")))?;

    let mut report = Report::new(o.contenders.iter().map(|c| c.name()).collect());
    let cert = tls::Certificate::generate()?;
    let result = run_all(&o, addrs, &cert, &mut report).await;
    drop(backend);
    result?;

    let table = report.render();
    println!("\n{table}");
    if let Some(path) = &o.markdown {
        std::fs::write(path, &table)?;
        eprintln!("table written to {path}");
    }
    Ok(())
}

async fn run_all(
    o: &Options,
    addrs: backend::BackendAddrs,
    cert: &tls::Certificate,
    report: &mut Report,
) -> io::Result<()> {
    for run in 1..=o.runs {
        report.start_run(run);
        // Each run starts with the next contender, so that none is always measured first (on a
        // fresh machine) or right after the same neighbour.
        let mut order = o.contenders.clone();
        let first = (run - 1) % order.len().max(1);
        order.rotate_left(first);
        for &c in &order {
            let name = c.name();
            eprintln!("run {run}/{}: {name}", o.runs);
            // A contender that fails to start, routes wrongly, errs or hangs gets its failures
            // counted in the table (and explained under it); the run carries on with the next.
            match tokio::task::block_in_place(|| proxies::start(c, addrs, cert.path())) {
                Ok(proxy) => {
                    measure(o, c, &proxy, report).await;
                    if let Some(https) = proxy.https.filter(|_| o.measures.contains(&Measure::Tls))
                    {
                        // A quarter of the plain tunnels' bytes: TLS costs CPU on both ends.
                        let bytes = o.bytes_per_run / 4;
                        let limit = limit_for(o.wrk_seconds, 2 * bytes);
                        let tls = tls::measure(cert, https, name, o.wrk_seconds, bytes, report);
                        if let Err(e) = within(limit, "https", tls).await {
                            report.failure(name, e);
                        }
                    }
                }
                Err(e) => report.failure(name, format!("start: {e}")),
            }
            report.add(
                "measures failed or timed out (count)",
                Better::Lower,
                name,
                report.failures_in_run(name) as f64,
            );
        }
    }
    Ok(())
}

/// Runs `fut` for at most `limit`; an error or a timeout becomes a message naming `what`.
async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no result within {} s", limit.as_secs())),
    }
}

/// A generous time limit for a measure that runs `seconds` and moves `bytes`: a minute, plus
/// twice the given time, plus the bytes at 20 MiB/s.
fn limit_for(seconds: u32, bytes: u64) -> Duration {
    Duration::from_secs(60 + 2 * u64::from(seconds) + bytes / (20 << 20))
}

/// Measures one contender; each group of rows that fails or hangs is recorded as a failure and
/// the next group runs.
async fn measure(o: &Options, c: Contender, p: &proxies::Running, r: &mut Report) {
    let name = c.name();
    // Routing first: a proxy that sends traffic to the wrong place is not measured.
    let routing = async {
        let to = client::plain_get(p.http, "/index.html").await?;
        if to != "http" {
            return Err(io::Error::other(format!("GET / reached the {to} backend")));
        }
        let to = client::plain_get(p.ws, "/ws/info").await?;
        if to != "ws" {
            return Err(io::Error::other(format!(
                "GET /ws/info reached the {to} backend"
            )));
        }
        Ok(())
    };
    if let Err(e) = within(Duration::from_secs(30), "routing", routing).await {
        r.failure(name, e);
        return;
    }

    match within(
        Duration::from_secs(30),
        "half-close",
        client::half_close_propagates(p.ws),
    )
    .await
    {
        Ok(half_close) => r.check(
            "half-close propagated (client FIN, server still answers)",
            name,
            half_close,
        ),
        Err(e) => r.failure(name, e),
    }

    let pids = p.pids();
    if o.measures.contains(&Measure::Tunnels) {
        let limit = limit_for(0, 4 * o.bytes_per_run);
        if let Err(e) = within(limit, "tunnels", tunnels(o, p, &pids, name, r)).await {
            r.failure(name, e);
        }
    }
    if o.measures.contains(&Measure::RoundTrip) {
        let before = procstat::cpu_seconds(&pids);
        // A round trip over loopback takes well under a millisecond.
        let limit = Duration::from_secs(60) + Duration::from_millis(o.round_trips as u64);
        let rtt = match within(
            limit,
            "round trips",
            client::round_trips(p.ws, o.round_trips, 64),
        )
        .await
        {
            Ok(rtt) => rtt,
            Err(e) => {
                r.failure(name, e);
                Vec::new()
            }
        };
        let rtt_cpu = procstat::cpu_seconds(&pids) - before;
        if !rtt.is_empty() {
            round_trip_rows(&rtt, rtt_cpu, &pids, name, r);
        }
    }
    if o.measures.contains(&Measure::Http) {
        let limit = limit_for(2 * o.wrk_seconds, 0);
        if let Err(e) = within(limit, "wrk", http(o, p, &pids, name, r)).await {
            r.failure(name, e);
        }
    }
    if o.measures.contains(&Measure::Memory) && !pids.is_empty() {
        let limit = Duration::from_secs(120);
        if let Err(e) = within(limit, "idle tunnels", memory(o, p, &pids, name, r)).await {
            r.failure(name, e);
        }
    }
}

/// The round-trip rows from the sorted durations and the proxy's CPU meanwhile.
fn round_trip_rows(
    rtt: &[Duration],
    rtt_cpu: f64,
    pids: &[u32],
    name: &'static str,
    r: &mut Report,
) {
    let pct =
        |q: f64| rtt[((rtt.len() as f64 * q) as usize).min(rtt.len() - 1)].as_secs_f64() * 1e6;
    r.add("tunnel round trip p50 (us)", Better::Lower, name, pct(0.50));
    r.add("tunnel round trip p99 (us)", Better::Lower, name, pct(0.99));
    r.add(
        "tunnel round trip p99.9 (us)",
        Better::Lower,
        name,
        pct(0.999),
    );
    if !pids.is_empty() {
        // Steadier than the percentiles: what each round trip (two messages) costs the
        // proxy.
        r.add(
            "proxy CPU per round trip (us)",
            Better::Lower,
            name,
            rtt_cpu * 1e6 / rtt.len() as f64,
        );
    }
}

/// Resident memory per idle tunnel.
async fn memory(
    o: &Options,
    p: &proxies::Running,
    pids: &[u32],
    name: &'static str,
    r: &mut Report,
) -> io::Result<()> {
    // Let the proxy settle before reading RSS: lazy buffers are released after the ping,
    // and gangway's tunnels park after a second without traffic.
    let settle = Duration::from_millis(2500);
    let before = procstat::rss_kib(pids);
    // A fifth first, then the rest: the slope between the two readings leaves out what the
    // first tunnels cost once (allocator arenas, tables growing), which the earlier measures
    // of the same process may or may not have paid already.
    let first = o.idle_tunnels / 5;
    let mut tunnels = client::open_idle(p.ws, first).await?;
    tokio::time::sleep(settle).await;
    let middle = procstat::rss_kib(pids);
    tunnels.extend(client::open_idle(p.ws, o.idle_tunnels - first).await?);
    tokio::time::sleep(settle).await;
    let after = procstat::rss_kib(pids);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / tunnels.len() as f64;
    r.add(
        &format!("memory per idle tunnel, {} open (bytes)", tunnels.len()),
        Better::Lower,
        name,
        per,
    );
    let slope = (after.saturating_sub(middle)) as f64 * 1024.0 / (tunnels.len() - first) as f64;
    r.add(
        &format!(
            "memory per idle tunnel, slope from {first} to {} open (bytes)",
            tunnels.len()
        ),
        Better::Lower,
        name,
        slope,
    );
    drop(tunnels);
    Ok(())
}

/// Tunnel throughput, 1 and 8 connections each way, and the proxy's CPU per GiB.
async fn tunnels(
    o: &Options,
    p: &proxies::Running,
    pids: &[u32],
    name: &'static str,
    r: &mut Report,
) -> io::Result<()> {
    let mut cpu = 0.0;
    let mut moved = 0u64;
    let mut lost = 0u64;
    // Recorded even when a test fails below: the bytes lost so far.
    let mut result = Ok(());
    'tests: for conns in [1usize, 8] {
        for dir in [Direction::Upload, Direction::Download] {
            let per_conn = o.bytes_per_run / conns as u64;
            let before = procstat::cpu_seconds(pids);
            let (elapsed, missing) = match client::throughput(p.ws, conns, per_conn, dir).await {
                Ok(t) => t,
                Err(e) => {
                    result = Err(e);
                    break 'tests;
                }
            };
            cpu += procstat::cpu_seconds(pids) - before;
            moved += per_conn * conns as u64;
            if missing > 0 {
                lost += missing;
                result = Err(io::Error::other(format!(
                    "{missing} bytes lost, {conns} conn, {dir:?}"
                )));
                continue;
            }
            let mib_s = (per_conn * conns as u64) as f64 / (1 << 20) as f64 / elapsed.as_secs_f64();
            let label = match dir {
                Direction::Upload => format!("tunnel upload, {conns} conn (MiB/s)"),
                Direction::Download => format!("tunnel download, {conns} conn (MiB/s)"),
            };
            r.add(&label, Better::Higher, name, mib_s);
        }
    }
    r.add(
        "bytes lost in tunnels (must be 0)",
        Better::Lower,
        name,
        lost as f64,
    );
    if !pids.is_empty() && result.is_ok() {
        r.add(
            "proxy CPU per GiB tunnelled (s)",
            Better::Lower,
            name,
            cpu / (moved as f64 / (1u64 << 30) as f64),
        );
    }
    result
}

/// wrk with keep-alive (rate, latency, the proxy's CPU per request) and without.
async fn http(
    o: &Options,
    p: &proxies::Running,
    pids: &[u32],
    name: &'static str,
    r: &mut Report,
) -> io::Result<()> {
    let before = procstat::cpu_seconds(pids);
    let ka = wrk(p.http, o.wrk_seconds, false).await?;
    let ka_cpu = procstat::cpu_seconds(pids) - before;
    r.add(
        "wrk errors, keep-alive (socket errors + non-2xx)",
        Better::Lower,
        name,
        ka.errors,
    );
    // Error responses mean the proxy is broken, not fast: no rate is reported with them.
    if ka.non_2xx == 0.0 {
        r.add(
            "HTTP keep-alive, 50 conns (req/s)",
            Better::Higher,
            name,
            ka.rps,
        );
    }
    if !pids.is_empty() && ka.requests > 0.0 {
        // Steadier than the rate on a shared machine: what each request costs the proxy.
        r.add(
            "proxy CPU per keep-alive request (us)",
            Better::Lower,
            name,
            ka_cpu * 1e6 / ka.requests,
        );
    }
    r.add(
        "HTTP keep-alive latency p99 at saturation, closed loop (us)",
        Better::Lower,
        name,
        ka.p99_us,
    );
    let nc = wrk(p.http, o.wrk_seconds, true).await?;
    r.add(
        "wrk errors, new connections (socket errors + non-2xx)",
        Better::Lower,
        name,
        nc.errors,
    );
    if nc.non_2xx == 0.0 {
        r.add(
            "new connections, 50 at once (conn/s)",
            Better::Higher,
            name,
            nc.rps,
        );
    }

    Ok(())
}

/// What wrk reported.
#[derive(Debug)]
struct WrkResult {
    rps: f64,
    /// Requests completed in the whole run.
    requests: f64,
    p99_us: f64,
    /// Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses.
    errors: f64,
    /// Non-2xx/3xx responses alone.
    non_2xx: f64,
}

async fn wrk(addr: SocketAddr, seconds: u32, close: bool) -> io::Result<WrkResult> {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{seconds}s"), "--latency"]);
    if close {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(format!("http://{addr}/"));
    cmd.kill_on_drop(true);
    let out = cmd.output().await?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(io::Error::other(format!("wrk failed: {text}")));
    }
    // "  Socket errors: connect 0, read 12, write 0, timeout 3"
    // "  Non-2xx or 3xx responses: 7"
    let mut socket_errors = 0.0;
    let mut non_2xx = 0.0;
    for line in text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        eprintln!(
            "  wrk {}: {}",
            if close { "(close)" } else { "(keep-alive)" },
            line.trim()
        );
        let (_, counts) = line.split_once(':').unwrap_or_default();
        let sum: f64 = counts
            .split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<f64>().ok())
            .sum();
        if line.contains("Non-2xx") {
            non_2xx += sum;
        } else {
            socket_errors += sum;
        }
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no Requests/sec in wrk output: {text}")))?;
    let p99_us = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| parse_wrk_time(v.trim()))
        .unwrap_or(f64::NAN);
    // "  123456 requests in 5.00s, ..."
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(0.0);
    Ok(WrkResult {
        rps,
        requests,
        p99_us,
        errors: socket_errors + non_2xx,
        non_2xx,
    })
}

fn parse_wrk_time(v: &str) -> Option<f64> {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        "m" => n * 60e6,
        _ => return None,
    })
}
