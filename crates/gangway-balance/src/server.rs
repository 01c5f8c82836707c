//! One server of a backend: its identity, its configuration and what is known about it.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The largest weight a server can have (as in HAProxy).
pub const MAX_WEIGHT: u16 = 256;

/// A server's identity within one [`ServerSet`](crate::ServerSet).
///
/// Ids are handed out in the order servers are added, starting at 1, and never reused by
/// the same set, so a health event or a retry list naming an old id can never hit a
/// different server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(pub(crate) u32);

impl ServerId {
    /// The id as a number (1 for the first server added).
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Whether a server takes new traffic, as set by health checks or by an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerState {
    /// Healthy: takes new connections.
    #[default]
    Up,
    /// Failed its health checks: takes no new connections (unless the set fails open).
    Down,
    /// Being drained by an operator: keeps its connections, takes no new ones.
    Drain,
    /// In maintenance: takes no new connections, never even when failing open.
    Maint,
}

impl ServerState {
    /// The lower-case name used in configs and logs: `up`, `down`, `drain`, `maint`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServerState::Up => "up",
            ServerState::Down => "down",
            ServerState::Drain => "drain",
            ServerState::Maint => "maint",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given to [`ServerState::from_str`] was not a state name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseStateError {
    text: String,
}

impl fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown server state {:?} (expected up, down, drain or maint)",
            self.text
        )
    }
}

impl std::error::Error for ParseStateError {}

impl FromStr for ServerState {
    type Err = ParseStateError;

    /// Parses `up`, `down`, `drain`, `maint` (or `maintenance`), ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known = [
            ("up", ServerState::Up),
            ("down", ServerState::Down),
            ("drain", ServerState::Drain),
            ("maint", ServerState::Maint),
            ("maintenance", ServerState::Maint),
        ];
        known
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, state)| state)
            .ok_or_else(|| ParseStateError { text: s.to_owned() })
    }
}

/// A server's configuration, given to [`ServerSet::add`](crate::ServerSet::add).
///
/// ```
/// use std::time::Duration;
/// use gangway_balance::Server;
///
/// let s = Server::new("10.0.0.10:3000".parse().unwrap())
///     .name("ws1")
///     .weight(20)
///     .maxconn(Some(1000))
///     .slow_start(Some(Duration::from_secs(30)));
/// assert_eq!(s.get_weight(), 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) weight: u16,
    pub(crate) state: ServerState,
    pub(crate) backup: bool,
    pub(crate) maxconn: Option<u32>,
    pub(crate) maxqueue: Option<u32>,
    pub(crate) slow_start: Option<Duration>,
}

impl Server {
    /// A regular server at `addr`: weight 1, up, no connection limit, unlimited queue,
    /// no slow start.
    pub fn new(addr: SocketAddr) -> Self {
        Server {
            addr,
            name: None,
            weight: 1,
            state: ServerState::Up,
            backup: false,
            maxconn: None,
            maxqueue: None,
            slow_start: None,
        }
    }

    /// Names the server (`server ws1 ...`). The name, when set, is also what consistent
    /// hashing places on its table instead of the address, so keys keep their server
    /// across address changes.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Relative share of traffic, 0 to [`MAX_WEIGHT`]; 0 means no new traffic.
    /// Values above 256 are refused when the server is added.
    pub fn weight(mut self, weight: u16) -> Self {
        self.weight = weight;
        self
    }

    /// The state the server starts in (default [`ServerState::Up`]).
    pub fn state(mut self, state: ServerState) -> Self {
        self.state = state;
        self
    }

    /// Marks a backup server: used only while no regular server can take traffic, and then
    /// only the first backup that is up (lowest id) unless the set was built with
    /// [`all_backups`](crate::ServerSetBuilder::all_backups).
    pub fn backup(mut self, backup: bool) -> Self {
        self.backup = backup;
        self
    }

    /// Most connections the server holds at once (`None`: unlimited, the default).
    /// `Some(0)` is taken as 1.
    pub fn maxconn(mut self, maxconn: Option<u32>) -> Self {
        self.maxconn = maxconn.map(|n| n.max(1));
        self
    }

    /// How many callers may wait in the backend queue on this server's behalf when every
    /// server is full (`None`: unlimited, the default; `Some(0)`: no queueing). The backend's
    /// queue holds the sum over its usable servers, and is unlimited if any is unlimited.
    pub fn maxqueue(mut self, maxqueue: Option<u32>) -> Self {
        self.maxqueue = maxqueue;
        self
    }

    /// Ramp the weight up linearly over `period` after the server comes back up
    /// (from down or maintenance), in 16 steps. Picks advance the ramp as its steps fall
    /// due (each step republishes the weights once); [`ServerSet::refresh`] does it with a
    /// caller-given clock. `static-rr` ignores slow start.
    ///
    /// [`ServerSet::refresh`]: crate::ServerSet::refresh
    pub fn slow_start(mut self, period: Option<Duration>) -> Self {
        self.slow_start = period.filter(|p| !p.is_zero());
        self
    }

    /// The server's address.
    pub fn get_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's name, if it has one.
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The configured weight.
    pub fn get_weight(&self) -> u16 {
        self.weight
    }

    /// The configured state.
    pub fn get_state(&self) -> ServerState {
        self.state
    }

    /// Whether this is a backup server.
    pub fn is_backup(&self) -> bool {
        self.backup
    }

    /// The connection limit.
    pub fn get_maxconn(&self) -> Option<u32> {
        self.maxconn
    }

    /// The queue share.
    pub fn get_maxqueue(&self) -> Option<u32> {
        self.maxqueue
    }

    /// The slow-start period.
    pub fn get_slow_start(&self) -> Option<Duration> {
        self.slow_start
    }
}

/// What a [`ServerSet`](crate::ServerSet) knows about one server at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's id.
    pub id: ServerId,
    /// Its current configuration (weight and state as last set).
    pub server: Server,
    /// The weight picks use now: lower than the configured one during slow start.
    pub effective_weight: u16,
    /// Whether picks may currently choose it (it is in the tier of servers in use).
    pub in_rotation: bool,
    /// Connections now held through [`ConnectionSlot`](crate::ConnectionSlot)s.
    pub active: u32,
    /// Connections handed out since the server was added.
    pub total_picks: u64,
}
