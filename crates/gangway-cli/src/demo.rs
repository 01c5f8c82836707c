//! `gangway demo`: seed 001's page and two WebSocket chat servers that share every message,
//! behind a gateway with the live status page, all on 127.0.0.1: the demo of the `gangway`
//! crate's `single_port` example ([`gangway::demo::Demo`]).

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

use crate::run;

pub(crate) fn run(verbose: bool) -> ExitCode {
    run::init_tracing(verbose);
    let runtime = match run::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gangway: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(demo())
}

async fn demo() -> ExitCode {
    // Installed before anything is printed: a signal sent once the address is known must not
    // find the default action (which would kill the process).
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("gangway: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let demo = match gangway::demo::Demo::start().await {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("gangway: cannot start the demo backends: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Port 8080 when free, else any free port.
    let mut handle = None;
    for listen in ["127.0.0.1:8080", "127.0.0.1:0"] {
        let gateway = match demo.gateway(listen).build() {
            Ok(gateway) => gateway,
            Err(error) => {
                eprintln!("gangway: demo gateway: {error}");
                return ExitCode::FAILURE;
            }
        };
        match gateway.start().await {
            Ok(started) => {
                handle = Some(started);
                break;
            }
            Err(error) if listen.ends_with(":8080") => tracing::debug!(%error, "port 8080 busy"),
            Err(error) => {
                eprintln!("gangway: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(handle) = handle else {
        return ExitCode::FAILURE;
    };
    let addr = handle.local_addr();
    let [chat1, chat2] = demo.chat_addrs();
    println!("listening: frontend gangway on http://{addr}/");
    println!(
        "demo backends: page on {}, chat1 on {chat1}, chat2 on {chat2}",
        demo.page_addr()
    );
    println!(
        "open http://{addr}/ in two browser tabs (WebSocket at ws://{addr}/ws/echo) and http://{addr}/status"
    );
    println!(
        "type 'stop chat2' / 'start chat2' here to watch the status page; Ctrl-C stops the demo"
    );
    let control = async {
        demo.control_stdin().await;
        // Without a stdin (it ends at once), serve until a signal.
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
        () = control => {}
    }
    handle.shutdown().await;
    ExitCode::SUCCESS
}
