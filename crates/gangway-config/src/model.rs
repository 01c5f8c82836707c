//! The typed gateway definition shared by the HAProxy-style and the TOML front ends.
//!
//! Field names are HAProxy's keywords (`default_backend`, `use_backend`, `http-request`, ...),
//! so a TOML file reads like the HAProxy config it mirrors.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::address::{BindAddress, ServerAddress};
use crate::time::opt_serde;

/// The line a definition came from (HAProxy-style files); ignored by equality so that a model
/// parsed from HAProxy text compares equal to the same model from TOML.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct SourceLine(pub Option<usize>);

impl PartialEq for SourceLine {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// The line where each directive of a section was last written (HAProxy-style files), keyed
/// by keyword (`balance`, `option httpchk`, ...); ignored by equality, like [`SourceLine`].
#[derive(Debug, Clone, Default)]
pub struct DirectiveLines(pub BTreeMap<String, usize>);

impl PartialEq for DirectiveLines {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl DirectiveLines {
    /// The line of `keyword`, else `fallback` (the section's line).
    pub fn of(&self, keyword: &str, fallback: SourceLine) -> SourceLine {
        self.0
            .get(keyword)
            .map_or(fallback, |line| SourceLine(Some(*line)))
    }
}

/// A whole gateway definition: process settings, frontends (listeners and routing) and backends.
///
/// A HAProxy `listen` section becomes one frontend and one backend of the same name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Process-wide settings (`global`).
    #[serde(skip_serializing_if = "is_default")]
    pub global: Global,
    /// Values every frontend and backend inherits unless it sets its own (`defaults`).
    ///
    /// The HAProxy-style parser applies each `defaults` section to the sections after it and
    /// leaves this empty; the TOML loader applies it once after reading the file.
    #[serde(skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// Frontends, in file order (`frontend`, and the front half of `listen`).
    #[serde(rename = "frontend", skip_serializing_if = "Vec::is_empty")]
    pub frontends: Vec<Frontend>,
    /// Backends, in file order (`backend`, and the back half of `listen`).
    #[serde(rename = "backend", skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<Backend>,
}

impl Config {
    /// The backend with this name.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|backend| backend.name == name)
    }

    /// The frontend with this name.
    pub fn frontend(&self, name: &str) -> Option<&Frontend> {
        self.frontends.iter().find(|frontend| frontend.name == name)
    }
}

/// Process-wide settings (`global`). Process-level HAProxy directives (`daemon`, `chroot`,
/// `user`, `log`, `nbthread`, ...) have no field: they are reported as ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Global {
    /// Most connections the whole gateway accepts at once (`maxconn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxconn: Option<u32>,
    /// How long a stopping or reloaded gateway lets established connections run
    /// (`hard-stop-after`).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub hard_stop_after: Option<Duration>,
}

/// Proxy mode (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// HTTP: every request is parsed and routed on its own; upgrades become tunnels.
    Http,
    /// TCP: the connection is a plain tunnel to one server.
    Tcp,
}

impl Mode {
    /// The keyword as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Tcp => "tcp",
        }
    }
}

/// Timeouts (`timeout KIND TIME`); `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Timeouts {
    /// `timeout connect` (also `contimeout`): connecting to a server.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub connect: Option<Duration>,
    /// `timeout client` (also `clitimeout`): client inactivity.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub client: Option<Duration>,
    /// `timeout server` (also `srvtimeout`): server inactivity.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub server: Option<Duration>,
    /// `timeout tunnel`: inactivity of an upgraded (WebSocket) or TCP tunnel.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Duration>,
    /// `timeout http-request`: receiving a complete request head.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub http_request: Option<Duration>,
    /// `timeout http-keep-alive`: waiting for the next request on a kept-alive connection.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub http_keep_alive: Option<Duration>,
    /// `timeout queue`: waiting in a backend queue for a free server slot.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub queue: Option<Duration>,
    /// `timeout check`: reading a health check response (after connecting).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub check: Option<Duration>,
    /// `timeout client-fin`: client inactivity once one side has closed.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub client_fin: Option<Duration>,
    /// `timeout server-fin`: server inactivity once one side has closed.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub server_fin: Option<Duration>,
    /// `timeout client-hs`: a client's whole TLS handshake.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub client_hs: Option<Duration>,
}

impl Timeouts {
    /// The keywords of `timeout KIND`, in the order of the fields.
    pub(crate) const KINDS: [&'static str; 11] = [
        "connect",
        "client",
        "server",
        "tunnel",
        "http-request",
        "http-keep-alive",
        "queue",
        "check",
        "client-fin",
        "server-fin",
        "client-hs",
    ];

    /// The fields, in the order of [`Timeouts::KINDS`].
    fn fields_mut(&mut self) -> [&mut Option<Duration>; 11] {
        [
            &mut self.connect,
            &mut self.client,
            &mut self.server,
            &mut self.tunnel,
            &mut self.http_request,
            &mut self.http_keep_alive,
            &mut self.queue,
            &mut self.check,
            &mut self.client_fin,
            &mut self.server_fin,
            &mut self.client_hs,
        ]
    }

    /// The field `timeout KIND` sets; `None` for a kind not in [`Timeouts::KINDS`].
    pub(crate) fn kind_mut(&mut self, kind: &str) -> Option<&mut Option<Duration>> {
        let index = Self::KINDS.iter().position(|known| *known == kind)?;
        self.fields_mut().into_iter().nth(index)
    }

    /// Fills every unset timeout from `base`.
    pub fn inherit(&mut self, base: &Timeouts) {
        let mut base = base.clone();
        for (mine, theirs) in self.fields_mut().into_iter().zip(base.fields_mut()) {
            if mine.is_none() {
                *mine = *theirs;
            }
        }
    }

    /// Every timeout that is set, as `(keyword, value)` pairs in keyword order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Duration)> {
        // Read through a copy, so that the fields are listed once (in `fields_mut`).
        let values = self.clone().fields_mut().map(|value| *value);
        Self::KINDS
            .into_iter()
            .zip(values)
            .filter_map(|(name, value)| value.map(|value| (name, value)))
    }
}

/// How client and server connections are kept alive in HTTP mode (`option http-keep-alive`,
/// `option http-server-close`, `option httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpConnectionMode {
    /// `option http-keep-alive`: both sides kept alive (HAProxy's default).
    KeepAlive,
    /// `option http-server-close`: client side kept alive, server connection closed after each
    /// response.
    ServerClose,
    /// `option httpclose` (and the old `option forceclose`): both sides closed after each
    /// response.
    Close,
}

impl HttpConnectionMode {
    /// The option keyword that selects this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpConnectionMode::KeepAlive => "http-keep-alive",
            HttpConnectionMode::ServerClose => "http-server-close",
            HttpConnectionMode::Close => "httpclose",
        }
    }
}

/// `option forwardfor [except NETWORK] [header NAME] [if-none]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ForwardFor {
    /// Header to add (default `X-Forwarded-For`).
    pub header: String,
    /// Clients from this network (`ADDR[/LEN]`) get no header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub except: Option<String>,
    /// Only add the header when the request has none.
    #[serde(skip_serializing_if = "is_false")]
    pub if_none: bool,
}

impl Default for ForwardFor {
    fn default() -> Self {
        Self {
            header: "X-Forwarded-For".to_owned(),
            except: None,
            if_none: false,
        }
    }
}

/// `option httpchk [METHOD] [URI] [VERSION]`: the request a health check sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpChk {
    /// Request method (default `OPTIONS`, as in HAProxy).
    pub method: String,
    /// Request URI (default `/`).
    pub uri: String,
    /// HTTP version text (default `HTTP/1.0`).
    pub version: String,
}

impl Default for HttpChk {
    fn default() -> Self {
        Self {
            method: "OPTIONS".to_owned(),
            uri: "/".to_owned(),
            version: "HTTP/1.0".to_owned(),
        }
    }
}

/// `option` flags; `None` means "not set here" (inherited from `defaults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Keep-alive handling (`http-keep-alive`, `http-server-close`, `httpclose`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_connection: Option<HttpConnectionMode>,
    /// `option redispatch`: a retry may go to another server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redispatch: Option<bool>,
    /// `option allbackups`: when no regular server is up, every backup server that is up
    /// takes traffic (without it, only the first one, in declaration order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allbackups: Option<bool>,
    /// `option forwardfor`: add the client address to requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwardfor: Option<ForwardFor>,
    /// `option httpchk`: health checks are HTTP requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub httpchk: Option<HttpChk>,
    /// `option logasap`: log a request as soon as the response starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logasap: Option<bool>,
    /// `option httplog`: detailed HTTP access lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub httplog: Option<bool>,
    /// `option dontlognull`: no access line for connections that sent nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dontlognull: Option<bool>,
}

impl Options {
    /// Fills every unset option from `base`.
    pub fn inherit(&mut self, base: &Options) {
        inherit(&mut self.http_connection, &base.http_connection);
        inherit(&mut self.redispatch, &base.redispatch);
        inherit(&mut self.allbackups, &base.allbackups);
        inherit(&mut self.forwardfor, &base.forwardfor);
        inherit(&mut self.httpchk, &base.httpchk);
        inherit(&mut self.logasap, &base.logasap);
        inherit(&mut self.httplog, &base.httplog);
        inherit(&mut self.dontlognull, &base.dontlognull);
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_false(value: &bool) -> bool {
    !*value
}

pub(crate) fn inherit<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
    if mine.is_none() {
        mine.clone_from(theirs);
    }
}

/// Adds each of `theirs` (`errorfile` of `defaults`) for a status code `mine` has no file for.
fn inherit_errorfiles(mine: &mut BTreeMap<u16, PathBuf>, theirs: &BTreeMap<u16, PathBuf>) {
    for (code, path) in theirs {
        mine.entry(*code).or_insert_with(|| path.clone());
    }
}

/// Load-balancing algorithm (`balance ALGO [ARGS]`).
///
/// In TOML a table tagged by `algorithm`; a key the algorithm does not take is an error.
///
/// The algorithms without arguments refuse any other key themselves: serde accepts
/// any key beside the tag of a unit variant, `deny_unknown_fields` or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Balance {
    /// `roundrobin`: weighted round robin (HAProxy's default).
    #[serde(deserialize_with = "crate::de::no_arguments")]
    Roundrobin,
    /// `static-rr`: weighted round robin with weights fixed at start.
    #[serde(deserialize_with = "crate::de::no_arguments")]
    StaticRr,
    /// `leastconn`: the server with the fewest active connections.
    #[serde(deserialize_with = "crate::de::no_arguments")]
    Leastconn,
    /// `first`: the first server (by declaration order) with a free slot.
    #[serde(deserialize_with = "crate::de::no_arguments")]
    First,
    /// `source`: hash of the client address.
    #[serde(deserialize_with = "crate::de::no_arguments")]
    Source,
    /// `uri [len N] [depth N] [whole]`: hash of the request URI.
    Uri {
        /// Only the first `len` characters are hashed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        len: Option<u32>,
        /// Only the first `depth` directories are hashed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<u32>,
        /// Hash the query string too.
        #[serde(default)]
        whole: bool,
    },
    /// `url_param NAME`: hash of a query-string parameter.
    UrlParam {
        /// Parameter name.
        name: String,
    },
    /// `hdr(NAME) [use_domain_only]`: hash of a request header.
    Hdr {
        /// Header name.
        name: String,
        /// Hash only the domain part (for `Host`).
        #[serde(default)]
        use_domain_only: bool,
    },
    /// `random[(DRAWS)]`: random choice, best of `draws` (power of two choices by default).
    Random {
        /// Number of draws (default 2).
        #[serde(default = "default_draws")]
        draws: u32,
    },
}

fn default_draws() -> u32 {
    2
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Balance::Roundrobin => f.write_str("roundrobin"),
            Balance::StaticRr => f.write_str("static-rr"),
            Balance::Leastconn => f.write_str("leastconn"),
            Balance::First => f.write_str("first"),
            Balance::Source => f.write_str("source"),
            Balance::Uri { len, depth, whole } => {
                f.write_str("uri")?;
                if let Some(len) = len {
                    write!(f, " len {len}")?;
                }
                if let Some(depth) = depth {
                    write!(f, " depth {depth}")?;
                }
                if *whole {
                    f.write_str(" whole")?;
                }
                Ok(())
            }
            Balance::UrlParam { name } => write!(f, "url_param {name}"),
            Balance::Hdr {
                name,
                use_domain_only,
            } => {
                write!(f, "hdr({name})")?;
                if *use_domain_only {
                    f.write_str(" use_domain_only")?;
                }
                Ok(())
            }
            Balance::Random { draws } => write!(f, "random({draws})"),
        }
    }
}

/// How hash-based algorithms map keys to servers (`hash-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashType {
    /// `map-based`: static modulo over weights (HAProxy's default).
    MapBased,
    /// `consistent`: a hash ring; adding or removing a server moves few keys.
    Consistent,
}

/// Which PROXY protocol header to send to a server (`send-proxy`, `send-proxy-v2`), or none
/// (`no-send-proxy`, TOML `"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyVersion {
    /// Text header (`send-proxy`).
    V1,
    /// Binary header (`send-proxy-v2`).
    V2,
    /// No header (`no-send-proxy`), even when `default-server` asks for one.
    Off,
}

/// What to do on errors observed on live traffic (`on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// `fastinter`: check faster (HAProxy's default).
    Fastinter,
    /// `fail-check`: count the error as a failed check.
    FailCheck,
    /// `sudden-death`: count it as a failed check, leaving only one before marking down.
    SuddenDeath,
    /// `mark-down`: mark the server down at once.
    MarkDown,
}

/// What to observe on live traffic for passive health (`observe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observe {
    /// `layer4`: connection errors.
    Layer4,
    /// `layer7`: HTTP errors (5xx, invalid responses) too.
    Layer7,
}

/// Per-server settings (the options of `server` and `default-server`); `None` means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerOptions {
    /// `check`: run health checks on this server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<bool>,
    /// `inter`: time between checks (default 2s).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub inter: Option<Duration>,
    /// `fastinter`: time between checks while a state change is pending (default `inter`).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub fastinter: Option<Duration>,
    /// `downinter`: time between checks while down (default `inter`).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub downinter: Option<Duration>,
    /// `rise`: consecutive successes to mark up (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    /// `fall`: consecutive failures to mark down (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fall: Option<u32>,
    /// `weight` 0..=256 (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// `maxconn`: concurrent connections to this server (0 or unset: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxconn: Option<u32>,
    /// `maxqueue`: requests queued for this server (0 or unset: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxqueue: Option<u32>,
    /// `backup`: only used when no non-backup server is up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<bool>,
    /// `slowstart`: ramp the weight up over this time after coming up.
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub slowstart: Option<Duration>,
    /// `pool-max-conn`: idle connections to this server kept for reuse (-1: no limit,
    /// 0: none; default 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_max_conn: Option<i64>,
    /// `pool-purge-delay`: how long an idle connection to this server is kept (default 5s).
    #[serde(with = "opt_serde", skip_serializing_if = "Option::is_none")]
    pub pool_purge_delay: Option<Duration>,
    /// `send-proxy` / `send-proxy-v2`: send a PROXY protocol header on connect;
    /// `no-send-proxy` ([`ProxyVersion::Off`]) overrides a `default-server` that sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_proxy: Option<ProxyVersion>,
    /// `port`: port for health checks (default: the server's port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `addr`: address for health checks (default: the server's address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `disabled`: start in maintenance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// `on-marked-down shutdown-sessions`: close this server's connections when it goes down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_sessions_on_down: Option<bool>,
    /// `on-error`: reaction to errors on live traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// `error-limit`: errors on live traffic before `on-error` applies (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_limit: Option<u32>,
    /// `observe`: watch live traffic for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observe: Option<Observe>,
    /// `ssl`: speak TLS to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// `verify none|required`: whether the server's certificate is checked (default required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// `ca-file FILE`: the CA certificates (PEM) a server's certificate is checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// `sni str(NAME)`: the TLS server name sent and verified (default: the server's host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

/// Whether a server's TLS certificate is verified (`verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// `verify none`: any certificate is accepted.
    None,
    /// `verify required`: the certificate must chain to `ca-file` and name the server.
    Required,
}

impl ServerOptions {
    /// Fills every unset option from `base` (a `default-server` line).
    pub fn inherit(&mut self, base: &ServerOptions) {
        inherit(&mut self.check, &base.check);
        inherit(&mut self.inter, &base.inter);
        inherit(&mut self.fastinter, &base.fastinter);
        inherit(&mut self.downinter, &base.downinter);
        inherit(&mut self.rise, &base.rise);
        inherit(&mut self.fall, &base.fall);
        inherit(&mut self.weight, &base.weight);
        inherit(&mut self.maxconn, &base.maxconn);
        inherit(&mut self.maxqueue, &base.maxqueue);
        inherit(&mut self.backup, &base.backup);
        inherit(&mut self.slowstart, &base.slowstart);
        inherit(&mut self.pool_max_conn, &base.pool_max_conn);
        inherit(&mut self.pool_purge_delay, &base.pool_purge_delay);
        inherit(&mut self.send_proxy, &base.send_proxy);
        inherit(&mut self.port, &base.port);
        inherit(&mut self.addr, &base.addr);
        inherit(&mut self.disabled, &base.disabled);
        inherit(
            &mut self.shutdown_sessions_on_down,
            &base.shutdown_sessions_on_down,
        );
        inherit(&mut self.on_error, &base.on_error);
        inherit(&mut self.error_limit, &base.error_limit);
        inherit(&mut self.observe, &base.observe);
        inherit(&mut self.ssl, &base.ssl);
        inherit(&mut self.verify, &base.verify);
        inherit(&mut self.ca_file, &base.ca_file);
        inherit(&mut self.sni, &base.sni);
    }

    /// Whether health checks run (`check`).
    pub fn checks(&self) -> bool {
        self.check.unwrap_or(false)
    }

    /// Effective `inter` (HAProxy default 2s).
    pub fn effective_inter(&self) -> Duration {
        self.inter.unwrap_or(Duration::from_secs(2))
    }

    /// Effective `fastinter` (defaults to `inter`).
    pub fn effective_fastinter(&self) -> Duration {
        self.fastinter.unwrap_or_else(|| self.effective_inter())
    }

    /// Effective `downinter` (defaults to `inter`).
    pub fn effective_downinter(&self) -> Duration {
        self.downinter.unwrap_or_else(|| self.effective_inter())
    }

    /// Effective `rise` (HAProxy default 2).
    pub fn effective_rise(&self) -> u32 {
        self.rise.unwrap_or(2)
    }

    /// Effective `fall` (HAProxy default 3).
    pub fn effective_fall(&self) -> u32 {
        self.fall.unwrap_or(3)
    }

    /// Effective `weight` (HAProxy default 1).
    pub fn effective_weight(&self) -> u32 {
        self.weight.unwrap_or(1)
    }
}

/// A server of a backend (`server NAME ADDR:PORT [options]`).
///
/// In TOML the options sit beside `name` and `address`; an unknown key is an error (its
/// `Deserialize` is written out: serde's `flatten` would accept any key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Server {
    /// Name, unique in its backend.
    pub name: String,
    /// Where to connect.
    pub address: ServerAddress,
    /// Options; after loading, `default-server` values are already merged in.
    #[serde(flatten)]
    pub options: ServerOptions,
    /// Line of the `server` directive.
    #[serde(skip)]
    pub line: SourceLine,
}

/// `http-check expect [!] status|rstatus|string|rstring PATTERN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpCheckExpect {
    /// `!`: the check passes when the pattern does NOT match.
    #[serde(default)]
    pub negate: bool,
    /// What the pattern is matched against.
    pub kind: ExpectKind,
    /// The pattern: a status list/range (`200`, `200-399`), a string or a regex.
    pub pattern: String,
}

/// What an `http-check expect` pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectKind {
    /// `status`: the response status equals / is in a range.
    Status,
    /// `rstatus`: the status text matches a regex.
    Rstatus,
    /// `string`: the body contains the string.
    String,
    /// `rstring`: the body matches a regex.
    Rstring,
}

impl ExpectKind {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectKind::Status => "status",
            ExpectKind::Rstatus => "rstatus",
            ExpectKind::String => "string",
            ExpectKind::Rstring => "rstring",
        }
    }
}

/// A condition attached to a rule: `if COND` or `unless COND`.
///
/// `COND` is HAProxy condition text: ACL names (implicitly and-ed), `!`, `||`/`or`, and
/// anonymous ACLs in braces, e.g. `is_websocket is_example` or `{ path_beg /ws }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleCondition {
    /// `if COND`: the rule applies when the condition holds.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_true: Option<String>,
    /// `unless COND`: the rule applies when the condition does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
}

impl RuleCondition {
    /// A rule condition from `if`.
    pub fn when(text: impl Into<String>) -> Self {
        Self {
            if_true: Some(text.into()),
            unless: None,
        }
    }

    /// A rule condition from `unless`.
    pub fn unless(text: impl Into<String>) -> Self {
        Self {
            if_true: None,
            unless: Some(text.into()),
        }
    }

    /// Whether the rule is unconditional.
    pub fn is_always(&self) -> bool {
        self.if_true.is_none() && self.unless.is_none()
    }
}

impl fmt::Display for RuleCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.if_true, &self.unless) {
            (Some(cond), _) => write!(f, "if {cond}"),
            (None, Some(cond)) => write!(f, "unless {cond}"),
            (None, None) => f.write_str("always"),
        }
    }
}

/// A named ACL line (`acl NAME CRITERION [FLAGS] [OPERATOR] VALUE...`). Several lines with the
/// same name are or-ed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// ACL name.
    pub name: String,
    /// The test text after the name, e.g. `hdr(Upgrade) -i WebSocket`.
    pub expr: String,
    /// Line of the `acl` directive.
    #[serde(skip)]
    pub line: SourceLine,
}

/// `use_backend NAME [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseBackend {
    /// Target backend name.
    pub backend: String,
    /// Condition (`if` / `unless`).
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub if_true: Option<String>,
    /// Negated condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
    /// Line of the directive.
    #[serde(skip)]
    pub line: SourceLine,
}

impl UseBackend {
    /// The rule's condition.
    pub fn condition(&self) -> RuleCondition {
        RuleCondition {
            if_true: self.if_true.clone(),
            unless: self.unless.clone(),
        }
    }
}

/// `monitor fail if|unless COND`: the monitor URI answers 503 when the condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorFail {
    /// Condition (`if`).
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub if_true: Option<String>,
    /// Negated condition (`unless`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
    /// Line of the directive.
    #[serde(skip)]
    pub line: SourceLine,
}

impl MonitorFail {
    /// The rule's condition.
    pub fn condition(&self) -> RuleCondition {
        RuleCondition {
            if_true: self.if_true.clone(),
            unless: self.unless.clone(),
        }
    }
}

/// What `http-request redirect` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectKind {
    /// `location URL`: the whole target.
    Location,
    /// `prefix PREFIX`: prepended to the original path.
    Prefix,
    /// `scheme SCHEME`: same host and path, new scheme.
    Scheme,
}

/// `http-request ACTION ... [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HttpRequestAction {
    /// `redirect location|prefix|scheme TARGET [code N] [drop-query] [append-slash]`.
    Redirect {
        /// What `to` replaces.
        kind: RedirectKind,
        /// The location, prefix or scheme.
        to: String,
        /// Status code: 301, 302 (default), 303, 307 or 308.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
        /// Drop the query string (`drop-query`).
        #[serde(default)]
        drop_query: bool,
        /// Append `/` to a path not ending in one (`append-slash`).
        #[serde(default)]
        append_slash: bool,
    },
    /// `deny [deny_status N]`: answer with an error (default 403).
    Deny {
        /// Status code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// `add-header NAME VALUE`.
    AddHeader {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// `set-header NAME VALUE`: replace any existing header of that name.
    SetHeader {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// `del-header NAME`.
    DelHeader {
        /// Header name.
        name: String,
    },
}

/// `http-response ACTION ... [if|unless COND]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HttpResponseAction {
    /// `add-header NAME VALUE`.
    AddHeader {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// `set-header NAME VALUE`.
    SetHeader {
        /// Header name.
        name: String,
        /// Header value.
        value: String,
    },
    /// `del-header NAME`.
    DelHeader {
        /// Header name.
        name: String,
    },
}

/// An `http-request` rule. In TOML the action's keys, `if` and `unless` share one table; an
/// unknown key is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequestRule {
    /// The action.
    #[serde(flatten)]
    pub action: HttpRequestAction,
    /// Condition (`if` / `unless`).
    #[serde(flatten)]
    pub condition: RuleCondition,
    /// Line of the directive.
    #[serde(skip)]
    pub line: SourceLine,
}

/// An `http-response` rule (TOML: as [`HttpRequestRule`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponseRule {
    /// The action.
    #[serde(flatten)]
    pub action: HttpResponseAction,
    /// Condition (`if` / `unless`).
    #[serde(flatten)]
    pub condition: RuleCondition,
    /// Line of the directive.
    #[serde(skip)]
    pub line: SourceLine,
}

/// A listening address (`bind ADDR:PORT [accept-proxy] [name N] [ssl crt FILE [crt FILE]...
/// [strict-sni]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bind {
    /// Address to listen on.
    pub address: BindAddress,
    /// Expect a PROXY protocol header (v1 or v2) first on every connection.
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept_proxy: bool,
    /// `v6only`: an IPv6 wildcard (`:::80`) takes only IPv6 clients; without it, as in
    /// HAProxy on Linux, it takes IPv4 clients too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub v6only: bool,
    /// `ssl`: terminate TLS with the certificates of `crt`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ssl: bool,
    /// `crt FILE`: PEM files with a certificate chain and its key (or the key in `FILE.key`);
    /// the first is the default, the others are picked by SNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crt: Vec<String>,
    /// `strict-sni`: refuse clients whose SNI names no certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict_sni: bool,
    /// `name N`: the listener's name in logs (default: its address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Line of the directive.
    #[serde(skip)]
    pub line: SourceLine,
}

/// Values inherited by the sections that follow (`defaults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Defaults {
    /// `mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `timeout ...`.
    #[serde(skip_serializing_if = "is_default")]
    pub timeout: Timeouts,
    /// `maxconn` (frontends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxconn: Option<u32>,
    /// `retries` (backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// `option ...`.
    #[serde(skip_serializing_if = "is_default")]
    pub option: Options,
    /// `balance` (backends).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::de::balance"
    )]
    pub balance: Option<Balance>,
    /// `hash-type` (backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_type: Option<HashType>,
    /// `default-server` (backends).
    #[serde(skip_serializing_if = "is_default")]
    pub default_server: ServerOptions,
    /// `http-check expect` (backends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_check_expect: Option<HttpCheckExpect>,
    /// `default_backend` (frontends).
    #[serde(rename = "default_backend", skip_serializing_if = "Option::is_none")]
    pub default_backend: Option<String>,
    /// `monitor-uri` (frontends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_uri: Option<String>,
    /// `stats uri` / `stats enable` (frontends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_uri: Option<String>,
    /// `errorfile CODE FILE`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errorfile: BTreeMap<u16, PathBuf>,
}

impl Defaults {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Defaults::default()
    }
}

/// A frontend: where connections arrive and how requests pick a backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Frontend {
    /// Name.
    pub name: String,
    /// Listening addresses.
    pub bind: Vec<Bind>,
    /// `mode` (gangway's default is `http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `timeout ...` (client-side ones apply here).
    #[serde(skip_serializing_if = "is_default")]
    pub timeout: Timeouts,
    /// `maxconn`: concurrent connections this frontend accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxconn: Option<u32>,
    /// `option ...`.
    #[serde(skip_serializing_if = "is_default")]
    pub option: Options,
    /// Named ACLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<Acl>,
    /// `use_backend` rules, first match wins.
    #[serde(rename = "use_backend", skip_serializing_if = "Vec::is_empty")]
    pub use_backend: Vec<UseBackend>,
    /// `default_backend`.
    #[serde(rename = "default_backend", skip_serializing_if = "Option::is_none")]
    pub default_backend: Option<String>,
    /// Line of the `default_backend` directive.
    #[serde(skip)]
    pub default_backend_line: SourceLine,
    /// `monitor-uri`: requests for this path are answered 200 by the gateway itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_uri: Option<String>,
    /// `monitor fail` conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monitor_fail: Vec<MonitorFail>,
    /// `stats uri PATH` (or `stats enable`, path `/haproxy?stats`): the gateway's status page,
    /// with its JSON, events and Prometheus text beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_uri: Option<String>,
    /// `http-request` rules, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_request: Vec<HttpRequestRule>,
    /// `http-response` rules, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_response: Vec<HttpResponseRule>,
    /// `errorfile CODE FILE`: raw HTTP responses served instead of built-in errors.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errorfile: BTreeMap<u16, PathBuf>,
    /// Line of the section header.
    #[serde(skip)]
    pub line: SourceLine,
    /// Lines of the section's directives.
    #[serde(skip)]
    pub lines: DirectiveLines,
}

impl Frontend {
    /// Fills unset values from `defaults`.
    pub fn inherit(&mut self, defaults: &Defaults) {
        inherit(&mut self.mode, &defaults.mode);
        self.timeout.inherit(&defaults.timeout);
        inherit(&mut self.maxconn, &defaults.maxconn);
        self.option.inherit(&defaults.option);
        inherit(&mut self.default_backend, &defaults.default_backend);
        inherit(&mut self.monitor_uri, &defaults.monitor_uri);
        inherit(&mut self.stats_uri, &defaults.stats_uri);
        inherit_errorfiles(&mut self.errorfile, &defaults.errorfile);
    }

    /// Effective mode (gangway defaults to `http`, see docs/config.md).
    pub fn effective_mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Http)
    }
}

/// A backend: a set of servers and how to pick one, check them and talk to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Backend {
    /// Name.
    pub name: String,
    /// `mode` (gangway's default is `http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `timeout ...` (server-side ones apply here).
    #[serde(skip_serializing_if = "is_default")]
    pub timeout: Timeouts,
    /// `retries`: connection attempts after the first fails (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// `option ...`.
    #[serde(skip_serializing_if = "is_default")]
    pub option: Options,
    /// `balance` (default `roundrobin`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::de::balance"
    )]
    pub balance: Option<Balance>,
    /// `hash-type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_type: Option<HashType>,
    /// `http-check expect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_check_expect: Option<HttpCheckExpect>,
    /// `default-server` options (already merged into each server after loading).
    #[serde(skip_serializing_if = "is_default")]
    pub default_server: ServerOptions,
    /// Servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<Server>,
    /// Named ACLs (for `http-request` / `http-response` rules here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<Acl>,
    /// `http-request` rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_request: Vec<HttpRequestRule>,
    /// `http-response` rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_response: Vec<HttpResponseRule>,
    /// `errorfile CODE FILE`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errorfile: BTreeMap<u16, PathBuf>,
    /// Line of the section header.
    #[serde(skip)]
    pub line: SourceLine,
    /// Lines of the section's directives.
    #[serde(skip)]
    pub lines: DirectiveLines,
}

impl Backend {
    /// Fills unset values from `defaults` (not touching servers).
    pub fn inherit(&mut self, defaults: &Defaults) {
        inherit(&mut self.mode, &defaults.mode);
        self.timeout.inherit(&defaults.timeout);
        inherit(&mut self.retries, &defaults.retries);
        self.option.inherit(&defaults.option);
        inherit(&mut self.balance, &defaults.balance);
        inherit(&mut self.hash_type, &defaults.hash_type);
        inherit(&mut self.http_check_expect, &defaults.http_check_expect);
        self.default_server.inherit(&defaults.default_server);
        inherit_errorfiles(&mut self.errorfile, &defaults.errorfile);
    }

    /// Effective mode (gangway defaults to `http`).
    pub fn effective_mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Http)
    }

    /// Effective algorithm (`roundrobin` when unset).
    pub fn effective_balance(&self) -> Balance {
        self.balance.clone().unwrap_or(Balance::Roundrobin)
    }

    /// Effective retries (HAProxy default 3).
    pub fn effective_retries(&self) -> u32 {
        self.retries.unwrap_or(3)
    }
}
