//! The algorithms that choose a server, and what to do when none is up.

use std::fmt;
use std::str::FromStr;

/// How a [`ServerSet`](crate::ServerSet) chooses a server for a new connection.
///
/// Every algorithm honours weights, skips servers that are full or excluded by the caller,
/// and works on the tier of servers in use (regular servers, else backups, else the
/// [`NoServerPolicy`] decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// Smooth weighted round robin: each server's turns are spread evenly over the cycle
    /// (`a a a b c a a` for weights 5, 1, 1, like nginx's `a a b a c a a`, rather than
    /// `a a a a a b c`).
    /// Honours runtime weight changes and slow start. O(1) per pick: the cycle is
    /// precomputed (earliest-deadline-first order) whenever the set changes.
    #[default]
    RoundRobin,
    /// Weighted round robin in the classic interleaved order (LVS/HAProxy `static-rr`),
    /// ignoring slow start. O(1) per pick.
    StaticRr,
    /// Fewest active connections relative to weight (`active / weight`), ties broken by
    /// weighted round robin. The one to use for long-lived WebSocket sessions. O(1) to find
    /// the server, O(log n) to record its new load.
    LeastConn,
    /// Power of `draws` random choices: draw that many servers at random in proportion to
    /// weight and take the one with the fewest active connections relative to weight
    /// (`random(2)` is P2C). `draws` of 0 is taken as 1. O(draws) per pick.
    Random {
        /// How many servers to draw (HAProxy's `random(<draws>)`, default 2).
        draws: u8,
    },
    /// The lowest server id with a free connection slot (HAProxy `first`): fills servers
    /// one after the other so idle ones can be turned off.
    First,
    /// Consistent hashing of a caller-given key (source address, header, URI, URL
    /// parameter) on a weighted Maglev table: the same key goes to the same server in every
    /// process with the same server list (whatever order the servers were added in), and
    /// removing one of N servers moves about 1/N of the keys. The table has 65 537 entries
    /// up to 655 servers in rotation and grows tenfold past each 100-entries-per-server
    /// limit (655, 6553, ...): crossing one of those counts moves most keys. Changing the
    /// largest weight of the set moves more than 1/N too, as every server's share is
    /// relative to it. Picks without a key fall back to [`RoundRobin`](Algorithm::RoundRobin).
    Hash,
}

impl Algorithm {
    /// `random(2)`: power of two choices.
    pub const P2C: Algorithm = Algorithm::Random { draws: 2 };

    /// Whether the algorithm applies slow-start ramps (every one but `static-rr`).
    pub const fn uses_slow_start(self) -> bool {
        !matches!(self, Algorithm::StaticRr)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::RoundRobin => f.write_str("roundrobin"),
            Algorithm::StaticRr => f.write_str("static-rr"),
            Algorithm::LeastConn => f.write_str("leastconn"),
            Algorithm::Random { draws } => write!(f, "random({draws})"),
            Algorithm::First => f.write_str("first"),
            Algorithm::Hash => f.write_str("hash"),
        }
    }
}

/// The text given to [`Algorithm::from_str`] was not an algorithm name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAlgorithmError {
    text: String,
}

impl fmt::Display for ParseAlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown balance algorithm {:?} (expected roundrobin, static-rr, leastconn, \
             random, random(N), first, hash or source/uri/hdr(...)/url_param(...))",
            self.text
        )
    }
}

impl std::error::Error for ParseAlgorithmError {}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    /// Parses HAProxy's `balance` names: `roundrobin`, `static-rr`, `leastconn`, `random`,
    /// `random(N)`, `first`, and the hashing ones (`hash`, `source`, `uri`, `hdr(name)`,
    /// `url_param(name)`, which all mean [`Algorithm::Hash`]: the caller extracts the key).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseAlgorithmError { text: s.to_owned() };
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "roundrobin" | "round_robin" | "round-robin" => Algorithm::RoundRobin,
            "static-rr" | "static_rr" => Algorithm::StaticRr,
            "leastconn" | "least_conn" | "least-conn" => Algorithm::LeastConn,
            "random" | "p2c" => Algorithm::P2C,
            "first" => Algorithm::First,
            "hash" | "source" | "uri" => Algorithm::Hash,
            other => {
                if let Some(inner) = other
                    .strip_prefix("random(")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    let draws: u8 = inner.trim().parse().map_err(|_| err())?;
                    Algorithm::Random { draws }
                } else if (other.starts_with("hdr(") || other.starts_with("url_param("))
                    && other.ends_with(')')
                {
                    Algorithm::Hash
                } else {
                    return Err(err());
                }
            }
        })
    }
}

/// What a pick does when no server is up (no regular or backup server can take traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NoServerPolicy {
    /// Fail the pick with [`PickError::NoServerUp`](crate::PickError::NoServerUp): the
    /// gateway answers 503.
    #[default]
    Fail,
    /// Fail open: pick among the servers marked down (never drained or in maintenance, never
    /// weight 0), as cloud load balancers do when every target is unhealthy, on the grounds
    /// that the health checks are more likely wrong than every server.
    FailOpen,
}
