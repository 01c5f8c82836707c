//! The seeds' HAProxy frontends (`../shared/seeds/` 000, 001 and 004), routed against
//! requests that must and must not reach the WebSocket backend.

use gangway_acl::{AclSet, RequestView, RouteTable};

/// Builds a route table from a frontend's `acl`, `use_backend` and `default_backend`
/// lines (other directives are ignored), as a configuration loader would.
fn frontend(text: &str) -> RouteTable<String> {
    let mut acls = AclSet::new();
    let mut table = RouteTable::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let line_no = u32::try_from(i + 1).unwrap();
        if line.starts_with("acl ") {
            acls.add_line(line)
                .unwrap_or_else(|e| panic!("{}", e.at_line(line_no)));
        } else if let Some(rest) = line.strip_prefix("use_backend ") {
            let (backend, condition) = rest.split_once(' ').expect("use_backend <name> if <cond>");
            let condition = acls
                .parse_condition(condition)
                .unwrap_or_else(|e| panic!("{}", e.at_line(line_no)));
            table.push(condition, backend.to_owned());
        } else if let Some(backend) = line.strip_prefix("default_backend ") {
            table.set_default(backend.trim().to_owned());
        }
    }
    table
}

struct Request {
    method: &'static str,
    target: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

fn get(target: &'static str, headers: &[(&'static str, &'static str)]) -> Request {
    Request {
        method: "GET",
        target,
        headers: headers.to_vec(),
    }
}

fn route(table: &RouteTable<String>, request: &Request) -> Option<String> {
    let headers: Vec<httparse::Header<'_>> = request
        .headers
        .iter()
        .map(|(name, value)| httparse::Header {
            name,
            value: value.as_bytes(),
        })
        .collect();
    let view = RequestView::new(request.method, request.target, &headers);
    table.route(&view).cloned()
}

fn check(table: &RouteTable<String>, cases: &[(Request, Option<&str>)]) {
    for (request, expected) in cases {
        assert_eq!(
            route(table, request).as_deref(),
            *expected,
            "{} {} {:?}",
            request.method,
            request.target,
            request.headers
        );
    }
}

const UPGRADE: (&str, &str) = ("Upgrade", "WebSocket");

#[test]
fn seed_000_zato_path_or_upgrade() {
    let table = frontend(
        "frontend front_http_plain
         acl is_websocket path_beg /ws
         acl is_websocket hdr(Upgrade) -i WebSocket
         use_backend websockets if is_websocket",
    );
    check(
        &table,
        &[
            (get("/ws", &[]), Some("websockets")),
            (
                get("/ws/channel/1", &[("Host", "zato:11224")]),
                Some("websockets"),
            ),
            (get("/wsx", &[]), Some("websockets")),
            (
                get("/chat", &[("Upgrade", "websocket")]),
                Some("websockets"),
            ),
            (
                get("/chat", &[("upgrade", "WEBSOCKET")]),
                Some("websockets"),
            ),
            (
                get("/chat", &[("Connection", "Upgrade"), ("Upgrade", "h2c")]),
                None,
            ),
            (
                get("/zato/ping", &[("User-Agent", "ELB-HealthChecker/2.0")]),
                None,
            ),
            (get("/api/ws", &[]), None),
            (get("/WS", &[]), None),
        ],
    );
}

#[test]
fn seed_001_anonymous_acl_with_default() {
    let table = frontend(
        "frontend fe_main
         bind :80
         use_backend websocket_servers if { path_beg /ws }
         default_backend http_servers",
    );
    check(
        &table,
        &[
            (get("/ws", &[]), Some("websocket_servers")),
            (get("/ws/echo", &[UPGRADE]), Some("websocket_servers")),
            (get("/", &[]), Some("http_servers")),
            (get("/index.html", &[UPGRADE]), Some("http_servers")),
        ],
    );
    // The first listing routes everything to the WebSocket servers.
    let all = frontend("frontend fe_main\nbind :80\ndefault_backend websocket_servers");
    check(&all, &[(get("/anything", &[]), Some("websocket_servers"))]);
}

#[test]
fn seed_004_subdomain() {
    let table = frontend(
        "frontend public
         bind *:80
         acl is_websocket hdr_end(host) -i ws.example.com
         use_backend ws if is_websocket
         default_backend www",
    );
    check(
        &table,
        &[
            (get("/", &[("Host", "ws.example.com")]), Some("ws")),
            (get("/socket", &[("Host", "WS.Example.COM")]), Some("ws")),
            (get("/", &[("Host", "ws.example.com:80")]), Some("ws")),
            (get("/", &[("Host", "www.example.com")]), Some("www")),
            (
                get("/", &[("Host", "ws.example.com.evil.org")]),
                Some("www"),
            ),
            (get("/", &[]), Some("www")),
        ],
    );
}

#[test]
fn seed_004_uri_and_domain() {
    let table = frontend(
        "frontend public
         bind *:80
         acl is_example hdr_end(host) -i example.com
         acl is_websocket path_beg -i /websockets
         use_backend ws if is_websocket is_example
         default_backend www",
    );
    check(
        &table,
        &[
            (get("/websockets", &[("Host", "example.com")]), Some("ws")),
            (
                get("/WebSockets/feed", &[("Host", "www.example.com")]),
                Some("ws"),
            ),
            (get("/websockets", &[("Host", "example.org")]), Some("www")),
            (get("/api", &[("Host", "example.com")]), Some("www")),
            (get("/websockets", &[]), Some("www")),
        ],
    );
}

#[test]
fn seed_004_upgrade_detection_and_server() {
    let table = frontend(
        "frontend public
         bind *:80
         acl is_websocket hdr(Upgrade) -i WebSocket
         acl is_websocket_server hdr_end(host) -i ws.example.com
         use_backend ws if is_websocket is_websocket_server
         default_backend www",
    );
    check(
        &table,
        &[
            (get("/", &[("Host", "ws.example.com"), UPGRADE]), Some("ws")),
            (
                get(
                    "/chat",
                    &[
                        ("Host", "ws.example.com"),
                        ("Connection", "Upgrade"),
                        ("Upgrade", "websocket"),
                    ],
                ),
                Some("ws"),
            ),
            (get("/", &[("Host", "ws.example.com")]), Some("www")),
            (
                get("/", &[("Host", "www.example.com"), UPGRADE]),
                Some("www"),
            ),
            (get("/", &[UPGRADE]), Some("www")),
        ],
    );
}

#[test]
fn keep_alive_requests_are_routed_one_by_one() {
    // `option http-server-close`'s point: each request on a connection is routed again.
    let table = frontend(
        "acl is_websocket path_beg /ws
         use_backend ws if is_websocket
         default_backend www",
    );
    let on_one_connection = [
        get("/", &[]),
        get("/ws/echo", &[UPGRADE]),
        get("/about", &[]),
    ];
    let routed: Vec<Option<String>> = on_one_connection.iter().map(|r| route(&table, r)).collect();
    assert_eq!(
        routed,
        [Some("www".into()), Some("ws".into()), Some("www".into())]
    );
}
