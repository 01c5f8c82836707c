//! A tour of gangway-balance: the seeds' two backends (WebSocket servers balanced by
//! leastconn, web servers by smooth round robin) plus source hashing, health changes,
//! backups and retries.
//!
//! Run with `cargo run -p gangway-balance --example pick`.

use std::error::Error;
use std::net::SocketAddr;

use gangway_balance::{
    Algorithm, NoServerPolicy, PickError, Server, ServerId, ServerSet, ServerState,
};

fn addr(text: &str) -> Result<SocketAddr, Box<dyn Error>> {
    Ok(text.parse()?)
}

fn main() -> Result<(), Box<dyn Error>> {
    // backend web: balance roundrobin, two servers weighted 3:1.
    let web = ServerSet::new(Algorithm::RoundRobin);
    web.add(Server::new(addr("10.0.0.20:8080")?).name("web1").weight(3))?;
    web.add(Server::new(addr("10.0.0.21:8080")?).name("web2").weight(1))?;
    let order: Vec<String> = (0..8)
        .map(|_| {
            web.pick(None, &[])
                .map(|c| c.server_name().unwrap_or("?").to_owned())
        })
        .collect::<Result<_, _>>()?;
    println!("roundrobin 3:1      -> {}", order.join(" "));

    // backend ws: balance leastconn; sessions are long, so the guard is held.
    let ws = ServerSet::new(Algorithm::LeastConn);
    let ws1 = ws.add(
        Server::new(addr("10.0.0.10:3000")?)
            .name("ws1")
            .maxconn(Some(2)),
    )?;
    ws.add(
        Server::new(addr("10.0.0.11:3000")?)
            .name("ws2")
            .maxconn(Some(2)),
    )?;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(ws.pick(None, &[])?);
    }
    print_load("leastconn, 4 open", &ws);
    match ws.pick(None, &[]) {
        Err(PickError::AllFull) => println!("fifth session        -> all full (queue or 503)"),
        other => println!("fifth session        -> {other:?}"),
    }
    sessions.retain(|s| s.server_id() != ws1);
    print_load("ws1's sessions ended", &ws);

    // Source hashing: a client address always lands on the same server.
    let sticky = ServerSet::new(Algorithm::Hash);
    for i in 1..=4 {
        sticky.add(Server::new(addr(&format!("10.0.1.{i}:80"))?))?;
    }
    let client = b"198.51.100.23";
    let first = sticky.pick(Some(client), &[])?;
    println!(
        "hash 198.51.100.23  -> {} (again: {})",
        first.addr(),
        sticky.pick(Some(client), &[])?.addr()
    );
    // A retry after a failed connect excludes the server already tried.
    let retry = sticky.pick(Some(client), &[first.server_id()])?;
    println!("retry elsewhere     -> {}", retry.addr());

    // Health: a backup takes over when every regular server is down; fail-open after that.
    let api = ServerSet::builder()
        .no_server_policy(NoServerPolicy::FailOpen)
        .server(Server::new(addr("10.0.2.1:80")?))
        .server(Server::new(addr("10.0.2.9:80")?).backup(true))
        .build()?;
    let ids: Vec<ServerId> = api.ids();
    for (id, state) in [(ids[0], ServerState::Down), (ids[1], ServerState::Down)] {
        api.set_state(id, state)?;
        let picked = api.pick(None, &[])?;
        println!(
            "{id} {state:<5}            -> rotation {:?}, picked {}",
            api.rotation(),
            picked.addr()
        );
    }
    Ok(())
}

fn print_load(what: &str, set: &ServerSet) {
    let load: Vec<String> = set
        .servers()
        .iter()
        .map(|s| format!("{}={}", s.server.get_name().unwrap_or("?"), s.active))
        .collect();
    println!("{what:<20} -> {}", load.join(" "));
}
