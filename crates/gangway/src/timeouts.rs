//! The gateway's timeouts, named after HAProxy's `timeout` keywords.

use std::time::Duration;

/// Every timeout the gateway applies, each named after the HAProxy keyword it mirrors.
///
/// Fields are public so a configuration loader can set them one by one; the chaining setters
/// of the same names read better in code:
///
/// ```
/// use gangway::Timeouts;
/// use std::time::Duration;
///
/// let t = Timeouts::default().tunnel(Duration::from_secs(3600)).connect(Duration::from_secs(2));
/// assert_eq!(t.tunnel, Duration::from_secs(3600));
/// ```
///
/// # Never
///
/// [`Duration::MAX`] in any field means that timeout never expires (a deadline past what
/// an `Instant` can hold is no deadline); the config loader turns HAProxy's `timeout client
/// 0`, `timeout server 0` and `timeout connect 0` into it. [`Duration::ZERO`] is not "never":
/// it expires at once. [`tunnel_park`](Self::tunnel_park) says never with `None`. A running
/// tunnel keeps its timeouts (`tunnel`, `client_fin`, `server_fin`) in whole milliseconds,
/// rounded up: there, 49.7 days or more is the same as never (the config loader accepts up to
/// 24.8 days, as HAProxy).
///
/// ```
/// use gangway::Timeouts;
/// use std::time::Duration;
///
/// // Tunnels are never closed for inactivity.
/// let t = Timeouts::default().tunnel(Duration::MAX);
/// # let _ = t;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// `timeout client`: longest inactivity on the client side while a request or response is
    /// under way (reading a body, writing a response). Default 50 s.
    pub client: Duration,
    /// `timeout server`: longest inactivity on the server side (waiting for the response head,
    /// reading its body). The wait for the response head counts from the end of the request
    /// body's upload: a server reading a long upload is not idle. Default 50 s.
    pub server: Duration,
    /// `timeout connect`: longest time to establish a connection to a server: the TCP connect
    /// and, for a TLS server, its handshake. Default 5 s.
    pub connect: Duration,
    /// `timeout http-request`: the whole request head must arrive within this time after its
    /// first byte (or after accept for the first request), else the client gets a 408. Default 10 s.
    pub http_request: Duration,
    /// `timeout http-keep-alive`: longest wait for the first byte of the next request on an idle
    /// keep-alive client connection; the connection closes silently afterwards. Default 10 s.
    pub http_keep_alive: Duration,
    /// `timeout tunnel`: longest inactivity of an upgraded (WebSocket) tunnel. Default 1 h.
    pub tunnel: Duration,
    /// `timeout client-fin`: client inactivity once the connection is half-closed: in a tunnel
    /// after the server's FIN (counted from it), and when the gateway closes a client
    /// connection. Default 5 s.
    pub client_fin: Duration,
    /// `timeout server-fin`: server inactivity in a tunnel after the client's FIN (counted from
    /// it). Default 5 s.
    pub server_fin: Duration,
    /// `timeout queue`: longest wait for a free slot when every server is at its `maxconn`;
    /// the client gets a 503 afterwards. Default 5 s.
    pub queue: Duration,
    /// `timeout client-hs`: the whole TLS handshake of a client must finish within this time,
    /// else the connection is dropped. Default 10 s (HAProxy falls back to `timeout client`).
    pub client_hs: Duration,
    /// How long a tunnel between two plain TCP connections (no TLS) stays idle before it
    /// *parks*: its sockets leave tokio's reactor for an epoll set shared by all parked
    /// tunnels, which saves about 1 KiB per idle tunnel; a tunnel that starts idle parks at
    /// once. See [`gangway_tunnel::TunnelConfig::park_after`]. `None`: never. Default 1 s; no
    /// HAProxy equivalent.
    pub tunnel_park: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            client: Duration::from_secs(50),
            server: Duration::from_secs(50),
            connect: Duration::from_secs(5),
            http_request: Duration::from_secs(10),
            http_keep_alive: Duration::from_secs(10),
            tunnel: Duration::from_secs(3600),
            client_fin: Duration::from_secs(5),
            server_fin: Duration::from_secs(5),
            queue: Duration::from_secs(5),
            client_hs: Duration::from_secs(10),
            tunnel_park: Some(Duration::from_secs(1)),
        }
    }
}

impl Timeouts {
    /// Sets [`tunnel_park`](Self::tunnel_park).
    #[must_use]
    pub fn tunnel_park(mut self, value: Option<Duration>) -> Self {
        self.tunnel_park = value;
        self
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl Timeouts {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: Duration) -> Self {
                    self.$name = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets `timeout client`.
    client,
    /// Sets `timeout server`.
    server,
    /// Sets `timeout connect`.
    connect,
    /// Sets `timeout http-request`.
    http_request,
    /// Sets `timeout http-keep-alive`.
    http_keep_alive,
    /// Sets `timeout tunnel`.
    tunnel,
    /// Sets `timeout client-fin`.
    client_fin,
    /// Sets `timeout server-fin`.
    server_fin,
    /// Sets `timeout queue`.
    queue,
    /// Sets `timeout client-hs`.
    client_hs,
}

/// Per-backend timeout overrides (HAProxy lets a `backend` section set its own
/// `timeout server/connect/tunnel/queue/server-fin`); `None` keeps the gateway-wide value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendTimeouts {
    /// Overrides [`Timeouts::server`].
    pub server: Option<Duration>,
    /// Overrides [`Timeouts::connect`].
    pub connect: Option<Duration>,
    /// Overrides [`Timeouts::tunnel`].
    pub tunnel: Option<Duration>,
    /// Overrides [`Timeouts::queue`].
    pub queue: Option<Duration>,
    /// Overrides [`Timeouts::server_fin`].
    pub server_fin: Option<Duration>,
}

impl BackendTimeouts {
    /// Applies these overrides on top of the gateway-wide timeouts.
    pub fn apply(&self, base: &Timeouts) -> Timeouts {
        let mut t = *base;
        if let Some(v) = self.server {
            t.server = v;
        }
        if let Some(v) = self.connect {
            t.connect = v;
        }
        if let Some(v) = self.tunnel {
            t.tunnel = v;
        }
        if let Some(v) = self.queue {
            t.queue = v;
        }
        if let Some(v) = self.server_fin {
            t.server_fin = v;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_only_where_set() {
        let base = Timeouts::default();
        let o = BackendTimeouts {
            tunnel: Some(Duration::from_secs(7)),
            ..Default::default()
        };
        let t = o.apply(&base);
        assert_eq!(t.tunnel, Duration::from_secs(7));
        assert_eq!(t.server, base.server);
    }
}
