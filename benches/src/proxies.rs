//! The contenders: direct access (the limit), gangway, HAProxy (plain and with
//! `option splice-request` + `splice-response`) and nginx, each configured the same way: `/ws` and upgrade requests to
//! the WebSocket port, everything else to the HTTP port, tunnels kept for an hour.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::children::Guarded;
use std::time::{Duration, Instant};

use crate::backend::BackendAddrs;

/// One proxy (or none) under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// The client talks to the backend itself: the upper bound.
    Direct,
    /// gangway, built from this workspace in release mode.
    Gangway,
    /// HAProxy with its defaults (keep-alive both sides).
    Haproxy,
    /// HAProxy with `option splice-request` and `option splice-response` (kernel splicing of
    /// tunnels). `option splice-auto` hardly spliced: strace over the tunnel rows counted
    /// 72 120 `sendto` and 5518 `splice`; with both options, 60 `sendto` and 58 702 `splice`.
    HaproxySplice,
    /// nginx with keep-alive upstreams and the usual upgrade map.
    Nginx,
}

impl Contender {
    /// Column title in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Contender::Direct => "direct",
            Contender::Gangway => "gangway",
            Contender::Haproxy => "haproxy",
            Contender::HaproxySplice => "haproxy-splice",
            Contender::Nginx => "nginx",
        }
    }
}

/// A started contender: where to send plain and upgrade requests, and which processes to watch
/// for memory and CPU.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where plain HTTP requests go.
    pub(crate) http: SocketAddr,
    /// Where upgrade requests go.
    pub(crate) ws: SocketAddr,
    /// The same routes over TLS (every contender but direct access).
    pub(crate) https: Option<SocketAddr>,
    child: Option<Guarded>,
    _dir: Option<TempDir>,
}

impl Running {
    /// The proxy's process id and those of its children (nginx workers), empty for direct.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        let root = child.id();
        let mut pids = vec![root];
        pids.extend(crate::procstat::children(root));
        pids
    }
}

/// A scratch directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("gangway-bench-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A loopback listener on a port the kernel picks, handed to the proxy as an open socket.
#[allow(unsafe_code)]
fn listener() -> io::Result<(StdListener, SocketAddr)> {
    let l = StdListener::bind("127.0.0.1:0")?;
    // The backlog the proxies are configured with (std listens with 128).
    // SAFETY: `listen` on a descriptor this function owns; no memory is passed.
    if unsafe { libc::listen(l.as_raw_fd(), 4096) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let addr = l.local_addr()?;
    Ok((l, addr))
}

/// Polls until something accepts connections on `addr`, or the deadline passes.
fn wait_listening(addr: SocketAddr, child: &mut Child, what: &str) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if StdStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(io::Error::other(format!("{what} exited early: {status}")));
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "{what} did not listen on {addr} within 20 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `contender` in front of `backend`, with a TLS listener presenting the certificate
/// and key in the PEM file `crt`.
pub(crate) fn start(
    contender: Contender,
    backend: BackendAddrs,
    crt: &Path,
) -> io::Result<Running> {
    match contender {
        Contender::Direct => Ok(Running {
            http: backend.http,
            ws: backend.ws,
            https: None,
            child: None,
            _dir: None,
        }),
        Contender::Gangway => start_gangway(backend, crt),
        Contender::Haproxy => start_haproxy(backend, false, crt),
        Contender::HaproxySplice => start_haproxy(backend, true, crt),
        Contender::Nginx => start_nginx(backend, crt),
    }
}

fn start_gangway(backend: BackendAddrs, crt: &Path) -> io::Result<Running> {
    let exe = std::env::current_exe()?;
    let mut child = Guarded::spawn(
        Command::new(exe)
            .args([
                "gateway",
                "--http",
                &backend.http.to_string(),
                "--ws",
                &backend.ws.to_string(),
            ])
            .arg("--crt")
            .arg(crt)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let addrs = read_addr_lines(child.child(), &["listen=", "listen-tls="])?;
    let (addr, https) = (addrs[0], addrs[1]);
    wait_listening(addr, child.child(), "gangway")?;
    Ok(Running {
        http: addr,
        ws: addr,
        https: Some(https),
        child: Some(child),
        _dir: None,
    })
}

/// Reads the child's stdout until lines starting with each of `prefixes` (in this order) gave
/// an address each.
pub(crate) fn read_addr_lines(child: &mut Child, prefixes: &[&str]) -> io::Result<Vec<SocketAddr>> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut out = Vec::new();
    for prefix in prefixes {
        loop {
            let Some(line) = lines.next().transpose()? else {
                return Err(io::Error::other(format!(
                    "child exited without printing `{prefix}ADDR`"
                )));
            };
            if let Some(rest) = line.strip_prefix(prefix) {
                out.push(rest.trim().parse().map_err(io::Error::other)?);
                break;
            }
        }
    }
    Ok(out)
}

fn start_haproxy(backend: BackendAddrs, splice: bool, crt: &Path) -> io::Result<Running> {
    let dir = TempDir::new(if splice { "haproxy-splice" } else { "haproxy" })?;
    let (listen_socket, listen) = listener()?;
    let (tls_socket, tls) = listener()?;
    // HAProxy binds `fd@3` and `fd@4`: the sockets the harness opened.
    let cfg = haproxy_config("fd@3", backend, splice, Some(("fd@4", crt)));
    let path = dir.0.join("haproxy.cfg");
    fs::write(&path, cfg)?;
    let mut child = Guarded::spawn_with(
        Command::new("haproxy")
            .arg("-db") // foreground, no master-worker: one process to measure
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
        [listen_socket.as_raw_fd(), tls_socket.as_raw_fd()],
    )?;
    drop((listen_socket, tls_socket));
    wait_listening(listen, child.child(), "haproxy")?;
    wait_listening(tls, child.child(), "haproxy")?;
    Ok(Running {
        http: listen,
        ws: listen,
        https: Some(tls),
        child: Some(child),
        _dir: Some(dir),
    })
}

/// The HAProxy configuration of the comparison (also printed in docs/benchmarks.md); `tls`
/// adds `bind ADDR ssl crt PEM` to the same frontend.
///
/// `tune.bufsize 65536` and `tune.pipesize 262144`: the sizes of gangway's tunnel buffers and
/// pipes (HAProxy's defaults are 16 KiB and the kernel's 64 KiB pipe).
///
/// `http-reuse always`: with the default `safe`, the first request of a client connection never
/// takes an idle server connection, so with `Connection: close` clients (the new-connections
/// and TLS-handshake rows) HAProxy opened one server connection per request (strace: 3455
/// `connect` for 3458 `accept4`) while gangway and nginx reused their pools (`always`: 29
/// `connect` for 8002 `accept4`). All three now keep server connections for reuse.
pub(crate) fn haproxy_config(
    listen: &str,
    backend: BackendAddrs,
    splice: bool,
    tls: Option<(&str, &Path)>,
) -> String {
    let splice = if splice {
        "    option splice-request\n    option splice-response\n"
    } else {
        ""
    };
    let tls = tls.map_or(String::new(), |(addr, crt)| {
        format!("    bind {addr} ssl crt {}\n", crt.display())
    });
    format!(
        "global
    maxconn 7000
    nbthread 2
    tune.bufsize 65536
    tune.pipesize 262144
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    maxconn 7000
    http-reuse always
{splice}frontend fe
    bind {listen}
{tls}    acl is_websocket path_beg /ws
    acl is_websocket hdr(Upgrade) -i WebSocket
    use_backend ws if is_websocket
    default_backend http
backend http
    server s1 {http}
backend ws
    server s1 {ws}
",
        http = backend.http,
        ws = backend.ws,
    )
}

fn start_nginx(backend: BackendAddrs, crt: &Path) -> io::Result<Running> {
    let dir = TempDir::new("nginx")?;
    // nginx binds its ports itself: handed over sockets (`NGINX=3;4;`, its binary-upgrade
    // hand-over) were accepted but never served in a try. A port is picked by binding port 0
    // and releasing it, so another process may take it first: nginx then exits, and a few
    // tries with new ports follow.
    let mut tries = 0;
    loop {
        tries += 1;
        match start_nginx_once(backend, crt, &dir) {
            Err(e) if tries < 3 => eprintln!("  nginx did not start ({e}); new ports"),
            Err(e) => return Err(e),
            Ok((child, listen, tls)) => {
                return Ok(Running {
                    http: listen,
                    ws: listen,
                    https: Some(tls),
                    child: Some(child),
                    _dir: Some(dir),
                });
            }
        }
    }
}

fn start_nginx_once(
    backend: BackendAddrs,
    crt: &Path,
    dir: &TempDir,
) -> io::Result<(Guarded, SocketAddr, SocketAddr)> {
    let listen = free_port()?;
    let tls = free_port()?;
    let cfg = nginx_config(listen, backend, &dir.0, Some((tls, crt)));
    let path = dir.0.join("nginx.conf");
    fs::write(&path, cfg)?;
    let mut child = Guarded::spawn(
        Command::new("nginx")
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    )?;
    wait_listening(listen, child.child(), "nginx")?;
    wait_listening(tls, child.child(), "nginx")?;
    Ok((child, listen, tls))
}

/// A free loopback port for nginx: bound to port 0, then released for it to bind.
fn free_port() -> io::Result<SocketAddr> {
    StdListener::bind("127.0.0.1:0")?.local_addr()
}

/// The nginx configuration of the comparison (also printed in docs/benchmarks.md); `tls` adds
/// `listen ADDR ssl` with the certificate and key from one PEM file to the same server.
///
/// `proxy_buffer_size 64k`: nginx copies both directions of an upgraded connection through
/// buffers of this size (4 KiB by default), and gangway's tunnel copies through 64 KiB;
/// `proxy_buffers 4 64k` only because nginx refuses a `proxy_buffer_size` above the buffers'
/// (unused here: `proxy_buffering off`).
pub(crate) fn nginx_config(
    listen: SocketAddr,
    backend: BackendAddrs,
    dir: &Path,
    tls: Option<(SocketAddr, &Path)>,
) -> String {
    let dir = dir.display();
    // nginx 1.22 leaves TLS 1.3 out of its default `ssl_protocols`: name it as the others have it.
    let tls = tls.map_or(String::new(), |(addr, crt)| {
        let crt = crt.display();
        format!(
            "        listen {addr} ssl backlog=4096;\n        ssl_certificate {crt};\n        ssl_certificate_key {crt};\n        ssl_protocols TLSv1.2 TLSv1.3;\n"
        )
    });
    format!(
        "worker_processes 2;
worker_rlimit_nofile 19000;
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log error;
events {{ worker_connections 19000; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream http_servers {{ server {http}; keepalive 64; }}
    upstream websocket_servers {{ server {ws}; }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    map $http_upgrade $by_upgrade {{ default http_servers; ~*websocket websocket_servers; }}
    server {{
        listen {listen} backlog=4096;
{tls}        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
        proxy_buffering off;
        proxy_buffer_size 64k;
        proxy_buffers 4 64k;
        location /ws {{ proxy_pass http://websocket_servers; }}
        location / {{ proxy_pass http://$by_upgrade; }}
    }}
}}
",
        http = backend.http,
        ws = backend.ws,
    )
}

/// Makes sure haproxy, nginx and wrk are installed, installing Debian's packages if not.
pub(crate) fn ensure_tools() -> io::Result<()> {
    let missing: Vec<&str> = [
        ("haproxy", "haproxy"),
        ("nginx", "nginx-light"),
        ("wrk", "wrk"),
    ]
    .into_iter()
    .filter(|(bin, _)| !on_path(bin))
    .map(|(_, pkg)| pkg)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing {missing:?} from Debian's packages");
    let ok = Command::new("apt-get")
        .arg("update")
        .arg("-qq")
        .status()?
        .success()
        && Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()?
            .success();
    if !ok {
        return Err(io::Error::other(format!(
            "apt-get install {missing:?} failed"
        )));
    }
    // The packages start their system services on port 80; the comparison does not use them.
    for svc in ["nginx", "haproxy"] {
        let _ = Command::new("service")
            .args([svc, "stop"])
            .stdout(Stdio::null())
            .status();
    }
    Ok(())
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(bin).is_file()
}
