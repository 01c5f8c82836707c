//! Routes a few requests with the seeds' HAProxy frontend and an ALB-style rule.
//!
//! Run with `cargo run -p gangway-acl --example route`.

use gangway_acl::{AclSet, AlbRule, Error, RequestView, RouteTable};

/// Method, target and header fields of a request to route.
type Request<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

fn main() -> Result<(), Error> {
    // HAProxy text, as in the seed configuration (004).
    let mut acls = AclSet::new();
    acls.add_lines(
        "acl is_websocket hdr(Upgrade) -i WebSocket
         acl is_websocket_server hdr_end(host) -i ws.example.com",
    )?;

    let mut table = RouteTable::new();
    table.push(
        acls.parse_condition("if is_websocket is_websocket_server")?,
        "ws",
    );
    table.push(
        "{ path_beg /ws } || { path_beg /socket.io/ }".parse()?,
        "ws",
    );
    // The same kind of rule written as an ALB listener rule.
    table.push(
        AlbRule::new()
            .host_header(["api.*"])
            .path_pattern(["/v?/*"])
            .compile()?,
        "api",
    );
    table.set_default("www");

    let requests: [Request<'_>; 5] = [
        (
            "GET",
            "/",
            &[("Host", "ws.example.com"), ("Upgrade", "websocket")],
        ),
        ("GET", "/ws/echo", &[("Host", "example.com")]),
        ("GET", "/v2/users?id=7", &[("Host", "api.example.com:443")]),
        ("GET", "/", &[("Host", "ws.example.com")]),
        ("POST", "/login", &[("Host", "www.example.com")]),
    ];
    for (method, target, fields) in requests {
        let headers: Vec<httparse::Header<'_>> = fields
            .iter()
            .map(|(name, value)| httparse::Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let view = RequestView::new(method, target, &headers);
        let backend = table.route(&view).copied().unwrap_or("<none>");
        println!("{method} {target} {fields:?} -> {backend}");
    }
    Ok(())
}
