//! The requests and ACLs the `eval` bench and the `eval_profile` example evaluate.

use gangway_acl::{AclSet, Condition, Expr};

/// A browser's WebSocket upgrade to the seed's WebSocket host.
pub(crate) fn websocket_headers() -> Vec<httparse::Header<'static>> {
    vec![
        httparse::Header {
            name: "Host",
            value: b"ws.example.com",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"Mozilla/5.0 (X11; Linux x86_64)",
        },
        httparse::Header {
            name: "Accept",
            value: b"*/*",
        },
        httparse::Header {
            name: "Connection",
            value: b"Upgrade",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
        httparse::Header {
            name: "Sec-WebSocket-Key",
            value: b"dGhlIHNhbXBsZSBub25jZQ==",
        },
        httparse::Header {
            name: "Sec-WebSocket-Version",
            value: b"13",
        },
    ]
}

/// A plain request to another host.
pub(crate) fn plain_headers() -> Vec<httparse::Header<'static>> {
    vec![
        httparse::Header {
            name: "Host",
            value: b"www.example.com",
        },
        httparse::Header {
            name: "User-Agent",
            value: b"curl/8.5.0",
        },
        httparse::Header {
            name: "Accept",
            value: b"*/*",
        },
    ]
}

/// Seed 004's condition: `if is_websocket is_websocket_server`.
pub(crate) fn seed_condition() -> Condition {
    let acls = AclSet::parse(
        "acl is_websocket hdr(Upgrade) -i WebSocket\n\
         acl is_websocket_server hdr_end(host) -i ws.example.com\n",
    )
    .expect("seed ACLs parse");
    acls.parse_condition("if is_websocket is_websocket_server")
        .expect("seed condition parses")
}

/// `path_beg -f` with 10 000 prefixes.
pub(crate) fn prefix_expr() -> Expr {
    let prefixes: String = (0..10_000)
        .map(|i| format!("/api/v{}/tenant{i}/\n", i % 7))
        .collect();
    let acls = AclSet::new().with_pattern_loader(move |_| Ok(prefixes.clone()));
    acls.parse_expr("path_beg -f prefixes.lst")
        .expect("prefix ACL parses")
}

/// A target [`prefix_expr`] matches, and one it does not.
pub(crate) const PREFIX_HIT: &str = "/api/v2/tenant9998/orders/17?expand=1";
pub(crate) const PREFIX_MISS: &str = "/api/v3/tenant99999/orders";
