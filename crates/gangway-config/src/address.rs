//! Listening and server addresses in HAProxy's notation (`*:80`, `:80`, `127.0.0.1:8080`,
//! `:::80`, `[::1]:80`, `ipv6@::1:80`, `host.example:8080`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// Where a frontend listens (`bind`). `host` `None` means every IPv4 address, as HAProxy's
/// `*:80` and `:80`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BindAddress {
    /// Host name or IP literal; `None` for the wildcard.
    pub host: Option<String>,
    /// Port (0 asks the OS for a free one, handy in tests).
    pub port: u16,
}

impl BindAddress {
    /// Resolves to socket addresses (the wildcard is `0.0.0.0`; `::` stays IPv6).
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        match &self.host {
            None => Ok(vec![SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                self.port,
            )]),
            Some(host) => resolve(host, self.port),
        }
    }
}

/// Where a server is (`server NAME ADDR:PORT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServerAddress {
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl ServerAddress {
    /// Resolves to socket addresses (IP literals need no lookup).
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        resolve(&self.host, self.port)
    }
}

fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok((host, port).to_socket_addrs()?.collect())
}

/// An address that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    text: String,
    reason: &'static str,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid address '{}': {}", self.text, self.reason)
    }
}

impl std::error::Error for AddressError {}

fn address_error(text: &str, reason: &'static str) -> AddressError {
    AddressError {
        text: text.to_owned(),
        reason,
    }
}

/// Splits `HOST:PORT` HAProxy-style: the port is after the last colon, IPv6 may be bracketed.
fn split_host_port(text: &str) -> Result<(&str, &str), AddressError> {
    let text = text
        .strip_prefix("ipv4@")
        .or_else(|| text.strip_prefix("ipv6@"))
        .or_else(|| text.strip_prefix("tcp@"))
        .or_else(|| text.strip_prefix("tcp4@"))
        .or_else(|| text.strip_prefix("tcp6@"))
        .unwrap_or(text);
    if text.starts_with('/') || text.contains('@') {
        return Err(address_error(
            text,
            "only TCP addresses are supported (no UNIX sockets or other families)",
        ));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| address_error(text, "missing ']'"))?;
        let host = &rest[..close];
        let port = rest[close + 1..]
            .strip_prefix(':')
            .ok_or_else(|| address_error(text, "missing ':PORT' after ']'"))?;
        return Ok((host, port));
    }
    let colon = text
        .rfind(':')
        .ok_or_else(|| address_error(text, "missing ':PORT'"))?;
    Ok((&text[..colon], &text[colon + 1..]))
}

fn parse_port(text: &str, port: &str) -> Result<u16, AddressError> {
    if port.is_empty() {
        return Err(address_error(text, "missing port"));
    }
    if port.starts_with('+') || port.starts_with('-') {
        return Err(address_error(
            text,
            "port offsets (+N/-N) are not supported; give an absolute port",
        ));
    }
    port.parse::<u16>()
        .map_err(|_| address_error(text, "port must be a number from 0 to 65535"))
}

fn check_host(text: &str, host: &str) -> Result<(), AddressError> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid_name && !host.contains(':') {
        Ok(())
    } else {
        Err(address_error(
            text,
            "host is neither an IP address nor a host name",
        ))
    }
}

impl FromStr for BindAddress {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (host, port) = split_host_port(text)?;
        let port = parse_port(text, port)?;
        let host = match host {
            "" | "*" | "0.0.0.0" => None,
            host => {
                check_host(text, host)?;
                Some(host.to_owned())
            }
        };
        Ok(Self { host, port })
    }
}

impl FromStr for ServerAddress {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (host, port) = split_host_port(text)?;
        let port = parse_port(text, port)?;
        if host.is_empty() || host == "*" {
            return Err(address_error(text, "a server needs a host"));
        }
        if port == 0 {
            // Every connection to it would fail: the backend would answer 503 with no hint.
            return Err(address_error(
                text,
                "port 0 is no port a server listens on; give the server's port",
            ));
        }
        check_host(text, host)?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

fn write_host_port(f: &mut fmt::Formatter<'_>, host: &str, port: u16) -> fmt::Result {
    if host.parse::<Ipv6Addr>().is_ok() {
        write!(f, "[{host}]:{port}")
    } else {
        write!(f, "{host}:{port}")
    }
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, "*:{}", self.port),
            Some(host) => write_host_port(f, host, self.port),
        }
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_host_port(f, &self.host, self.port)
    }
}

impl TryFrom<String> for BindAddress {
    type Error = AddressError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<BindAddress> for String {
    fn from(address: BindAddress) -> Self {
        address.to_string()
    }
}

impl TryFrom<String> for ServerAddress {
    type Error = AddressError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ServerAddress> for String {
    fn from(address: ServerAddress) -> Self {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected (host, port) of a parsed bind address; `None` for a parse error.
    type BindCase<'a> = (&'a str, Option<(Option<&'a str>, u16)>);

    #[test]
    fn bind_table() {
        let cases: &[BindCase<'_>] = &[
            (":80", Some((None, 80))),
            ("*:80", Some((None, 80))),
            ("0.0.0.0:8080", Some((None, 8080))),
            ("127.0.0.1:0", Some((Some("127.0.0.1"), 0))),
            (":::80", Some((Some("::"), 80))),
            ("[::1]:443", Some((Some("::1"), 443))),
            ("ipv6@::1:443", Some((Some("::1"), 443))),
            ("ipv4@127.0.0.1:81", Some((Some("127.0.0.1"), 81))),
            ("localhost:80", Some((Some("localhost"), 80))),
            ("127.0.0.1", None),
            ("127.0.0.1:", None),
            ("127.0.0.1:70000", None),
            ("/var/run/sock", None),
            ("unix@/tmp/s", None),
            ("bad host:80", None),
        ];
        for (text, expected) in cases {
            let got = text.parse::<BindAddress>().ok();
            let got = got.as_ref().map(|a| (a.host.as_deref(), a.port));
            assert_eq!(got, *expected, "{text}");
        }
    }

    #[test]
    fn server_table() {
        let cases: &[(&str, Option<(&str, u16)>)] = &[
            ("127.0.0.1:8080", Some(("127.0.0.1", 8080))),
            ("192.168.0.10:3000", Some(("192.168.0.10", 3000))),
            ("::1:80", Some(("::1", 80))),
            ("[::1]:80", Some(("::1", 80))),
            ("backend.internal:8080", Some(("backend.internal", 8080))),
            ("*:80", None),
            (":80", None),
            ("127.0.0.1", None),
            ("127.0.0.1:+1", None),
            ("127.0.0.1:0", None),
        ];
        for (text, expected) in cases {
            let got = text.parse::<ServerAddress>().ok();
            let got = got.as_ref().map(|a| (a.host.as_str(), a.port));
            assert_eq!(got, *expected, "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["*:80", "127.0.0.1:0", "[::1]:443", "localhost:80"] {
            assert_eq!(text.parse::<BindAddress>().unwrap().to_string(), text);
        }
        for text in ["127.0.0.1:8080", "[::1]:80", "ws.internal:3000"] {
            assert_eq!(text.parse::<ServerAddress>().unwrap().to_string(), text);
        }
    }
}
