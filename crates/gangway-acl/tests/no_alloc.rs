//! Evaluation never allocates: a counting global allocator watches conditions, every
//! indexed pattern form, and route lookups (after one warm-up pass, which lets the regex
//! engine fill its per-thread cache).

// A global allocator is the one place this crate's tests need `unsafe`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gangway_acl::{AclSet, AlbRule, Condition, RequestView, RouteTable};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluation_does_not_allocate() {
    let many: String = (0..200).map(|i| format!(" /p{i}/")).collect();
    let hosts: String = (0..200).map(|i| format!(" h{i}.example.com")).collect();
    let mut acls = AclSet::new();
    let lines = [
        "acl is_websocket hdr(Upgrade) -i WebSocket".to_owned(),
        "acl is_websocket_server hdr_end(host) -i ws.example.com".to_owned(),
        format!("acl tenant path_beg{many}"),
        format!("acl tenant_end path_end{many}"),
        format!("acl tenant_sub path_sub -i{many}"),
        format!("acl tenant_dir path_dir{many}"),
        format!("acl host_dom hdr_dom(host) -i{hosts}"),
        format!("acl host_str hdr(host) -i{hosts}"),
        "acl re path_reg ^/p[0-9]+/ ^/api/".to_owned(),
        "acl nets src 10.0.0.0/8 192.168.0.0/16 2001:db8::/32 172.16.0.0/12 127.0.0.1 ::1"
            .to_owned(),
        "acl cookie req.cook(sid) -m beg abc".to_owned(),
        "acl param url_param(id) -m int gt 3".to_owned(),
        "acl xff hdr_ip(x-forwarded-for,-1) 10.0.0.0/8".to_owned(),
        "acl count hdr_cnt(x-forwarded-for) ge 2".to_owned(),
        "acl full req.fhdr(connection) -i -m sub upgrade".to_owned(),
        "acl xff_port hdr_ip(x-forwarded-for) 2001:db8::/32 10.0.0.0/8".to_owned(),
        "acl xff_cast hdr(x-forwarded-for) -m ip 192.0.2.0/24".to_owned(),
        "acl version hdr_val(x-version) eq 0".to_owned(),
        "acl host_ports hdr(host) -i h77.example.com:8080 other.example.com".to_owned(),
        "acl sid url_param(sid,;) -m beg ab".to_owned(),
        "acl re_i hdr_reg(upgrade) -i ^web.ocket$".to_owned(),
    ];
    for line in &lines {
        acls.add_line(line).unwrap();
    }
    let conditions: Vec<Condition> = [
        "is_websocket is_websocket_server",
        "tenant || tenant_end || tenant_sub || tenant_dir",
        "host_dom host_str !re",
        "nets cookie param xff count full",
        "{ ssl_fc } || { ssl_fc_sni -m found } || METH_GET HTTP_1.1 !LOCALHOST",
        "xff_port xff_cast version host_ports sid re_i",
    ]
    .iter()
    .map(|c| acls.parse_condition(c).unwrap())
    .collect();
    let alb = AlbRule::new()
        .path_pattern(["/p1*", "*/x", "/a?c", "/exact"])
        .host_header(["*.example.com"])
        .query_string([(Some("id"), "4*")])
        .compile()
        .unwrap();
    let mut table = RouteTable::new();
    for i in 0..300 {
        table.push(format!("{{ path_beg /svc{i}/ }}").parse().unwrap(), i);
    }
    table.push(conditions[0].clone(), 1000);
    table.set_default(usize::MAX);

    let headers = [
        httparse::Header {
            name: "Host",
            value: b"h77.example.com:8080",
        },
        httparse::Header {
            name: "Upgrade",
            value: b"websocket",
        },
        httparse::Header {
            name: "Connection",
            value: b"keep-alive, Upgrade",
        },
        httparse::Header {
            name: "X-Forwarded-For",
            value: b"192.0.2.1, 10.1.1.1:4000",
        },
        httparse::Header {
            name: "X-Version",
            value: b"beta",
        },
        httparse::Header {
            name: "Cookie",
            value: b"a=1; sid=abcdef",
        },
    ];
    let views = [
        RequestView::new("GET", "/p7/x/y;sid=abc?id=42", &headers)
            .with_src("10.1.2.3:9".parse().unwrap())
            .with_ssl(true)
            .with_sni("ws.example.com"),
        RequestView::new("POST", "/svc299/items", &headers)
            .with_src("[2001:db8::5]:9".parse().unwrap()),
        RequestView::new("GET", "http://other/nothing", &[]),
    ];

    let run = || {
        let mut hits = 0usize;
        for view in &views {
            for c in &conditions {
                hits += usize::from(c.eval(view));
            }
            hits += usize::from(alb.eval(view));
            hits += table.route(view).copied().unwrap_or(0) % 7;
        }
        hits
    };
    let warm = run();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        assert_eq!(run(), warm);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "evaluation allocated {} times",
        after - before
    );
}
