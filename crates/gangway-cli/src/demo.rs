//! `gangway demo`: seed 001's page and WebSocket broadcast server behind a gateway that is
//! itself described by an HAProxy-style config, all on 127.0.0.1.

use std::process::ExitCode;

use crate::run;

/// The demo gateway, in the syntax `gangway run` reads; the backend ports are filled in.
const DEMO_CONFIG: &str = "\
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    timeout tunnel 1h

frontend demo
    bind 127.0.0.1:{LISTEN}
    acl is_websocket path_beg /ws/
    acl is_websocket hdr(Upgrade) -i WebSocket
    use_backend websocket_servers if is_websocket
    default_backend http_servers

backend websocket_servers
    balance leastconn
    option http-server-close
    server ws1 127.0.0.1:{WS} check inter 2s rise 2 fall 2

backend http_servers
    option httpchk GET /health
    http-check expect status 200
    server www1 127.0.0.1:{PAGE} check
";

pub(crate) fn run(verbose: bool) -> ExitCode {
    run::init_tracing(verbose);
    let runtime = match run::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gangway: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(demo(verbose))
}

fn config_text(listen: u16, ws: u16, page: u16) -> String {
    DEMO_CONFIG
        .replace("{LISTEN}", &listen.to_string())
        .replace("{WS}", &ws.to_string())
        .replace("{PAGE}", &page.to_string())
}

async fn demo(verbose: bool) -> ExitCode {
    let backends = async {
        let page = gangway::demo::serve_page("127.0.0.1:0").await?;
        let chat = gangway::demo::serve_websocket_broadcast("127.0.0.1:0").await?;
        Ok::<_, std::io::Error>((page, chat))
    };
    let (page, chat) = match backends.await {
        Ok(servers) => servers,
        Err(error) => {
            eprintln!("gangway: cannot start the demo backends: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Port 8080 when free, else any free port.
    let mut handles = None;
    for listen in [8080, 0] {
        let text = config_text(listen, chat.addr().port(), page.addr().port());
        let loaded = match gangway_config::parse_haproxy(&text, "demo.cfg") {
            Ok(loaded) => loaded,
            Err(error) => {
                eprintln!("gangway: demo config: {error}");
                return ExitCode::FAILURE;
            }
        };
        let started = match run::build_loaded(&loaded, verbose) {
            Ok(built) => run::start(built).await,
            Err(message) => Err(message),
        };
        match started {
            Ok(started) => {
                println!("demo gateway config:\n{text}");
                handles = Some(started);
                break;
            }
            Err(message) if listen != 0 => tracing::debug!(%message, "port 8080 busy"),
            Err(message) => {
                eprintln!("gangway: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(handles) = handles else {
        return ExitCode::FAILURE;
    };
    run::print_addresses(&handles);
    if let Some((_, handle)) = handles.first() {
        let addr = handle.local_addr();
        println!(
            "open http://{addr}/ws in a browser (WebSocket at ws://{addr}/ws/echo); Ctrl-C stops the demo"
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    for (_, handle) in &handles {
        handle.shutdown().await;
    }
    drop((page, chat));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_config_is_valid() {
        let text = super::config_text(0, 9001, 9002);
        let loaded = gangway_config::parse_haproxy(&text, "demo.cfg").unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        gangway_config::plan(&loaded, gangway_config::PlanOptions::default()).unwrap();
    }
}
