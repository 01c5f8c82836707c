//! `gangway run -c FILE`: serve, reload on SIGHUP, stop gracefully on SIGTERM/SIGINT.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use gangway::{Gateway, GatewayHandle};
use tokio::signal::unix::{SignalKind, signal};

/// A gateway per frontend, built and ready to start.
pub(crate) struct Built {
    gateways: Vec<(String, Gateway)>,
}

/// Whether [`build_loaded`] logs the config's warnings: once per load, not again when the
/// same config is built once more (retrying a bind, restarting the previous config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Warnings {
    Log,
    Quiet,
}

/// Builds every frontend of an already loaded config.
pub(crate) fn build_loaded(
    loaded: &gangway_config::Loaded,
    access_log: bool,
    warnings: Warnings,
) -> Result<Built, String> {
    let options = gangway_config::PlanOptions { access_log };
    let plan = gangway_config::plan(loaded, options);
    if warnings == Warnings::Log {
        let planned = plan.as_ref().map_or(&[][..], |plan| &plan.warnings[..]);
        for warning in loaded.warnings.iter().chain(planned) {
            tracing::warn!("{warning}");
        }
    }
    let plan = plan.map_err(|e| e.to_string())?;
    let mut gateways = Vec::new();
    for frontend in plan.frontends {
        let gateway = frontend
            .builder
            .build()
            .map_err(|e| format!("frontend '{}': {e}", frontend.name))?;
        gateways.push((frontend.name, gateway));
    }
    Ok(Built { gateways })
}

/// Starts every gateway. Binding is retried for a short while: after a reload the old
/// listeners close a moment after they are told to.
pub(crate) async fn start(built: Built) -> Result<Vec<(String, GatewayHandle)>, String> {
    let mut handles = Vec::new();
    for (name, gateway) in built.gateways {
        match gateway.start().await {
            Ok(handle) => handles.push((name, handle)),
            Err(error) => {
                for (_, handle) in &handles {
                    handle.shutdown().await;
                }
                return Err(format!("frontend '{name}': {error}"));
            }
        }
    }
    Ok(handles)
}

pub(crate) fn print_addresses(handles: &[(String, GatewayHandle)]) {
    for (name, handle) in handles {
        for (i, addr) in handle.local_addrs().iter().enumerate() {
            let scheme = if handle.is_tls(i) { "https" } else { "http" };
            println!("listening: frontend {name} on {scheme}://{addr}/");
        }
    }
}

pub(crate) fn init_tracing(verbose: bool) {
    // Access lines only with -v; health changes and errors always.
    let default = if verbose {
        "info"
    } else {
        "info,gangway::access=off"
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

pub(crate) fn run(path: &Path, verbose: bool) -> ExitCode {
    init_tracing(verbose);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gangway: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let status = runtime.block_on(serve(path, verbose));
    // Without waiting for a reload's build abandoned by a stop signal (names, certificates).
    runtime.shutdown_timeout(Duration::from_millis(100));
    status
}

async fn serve(path: &Path, verbose: bool) -> ExitCode {
    // Installed before anything is printed: a signal sent once the addresses are known must
    // not find the default action (which would kill the process).
    let signals = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let (Ok(mut hangup), Ok(mut terminate), Ok(mut interrupt)) = signals else {
        eprintln!("gangway: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    // The running config is kept: a reload whose listeners cannot start brings it back.
    let loaded = match gangway_config::load(path) {
        Ok(loaded) => std::sync::Arc::new(loaded),
        Err(e) => {
            eprintln!("gangway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let built = match build_loaded(&loaded, verbose, Warnings::Log) {
        Ok(built) => built,
        Err(message) => {
            eprintln!("gangway: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut running = loaded;
    let mut current = match start(built).await {
        Ok(handles) => handles,
        Err(message) => {
            eprintln!("gangway: {message}");
            return ExitCode::FAILURE;
        }
    };
    print_addresses(&current);
    // Gateways replaced by a reload: no longer accepting, their connections run on.
    let mut retired: Vec<GatewayHandle> = Vec::new();
    let mut status = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                let stop = StopSignals { terminate: &mut terminate, interrupt: &mut interrupt };
                match reload(path, verbose, &mut running, &mut current, &mut retired, stop).await {
                    Ok(Reloaded::Running) => {}
                    Ok(Reloaded::Stop) => break,
                    Err(Fatal(message)) => {
                        eprintln!("gangway: {message}");
                        status = ExitCode::FAILURE;
                        break;
                    }
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("stopping: letting established connections finish");
    let everything: Vec<GatewayHandle> = current
        .into_iter()
        .map(|(_, handle)| handle)
        .chain(retired)
        .collect();
    // Every gateway drains at the same time, and their grace periods run at the same time:
    // `hard-stop-after` bounds the whole stop, not each gateway's.
    for handle in &everything {
        handle.begin_shutdown();
    }
    let stops: Vec<_> = everything
        .into_iter()
        .map(|handle| tokio::spawn(async move { handle.shutdown().await }))
        .collect();
    let stopped = async {
        for stop in stops {
            let _ = stop.await;
        }
    };
    // A second SIGTERM or Ctrl-C does not wait for the grace period: the process exits now,
    // closing what is still open.
    tokio::select! {
        () = stopped => {}
        _ = terminate.recv() => tracing::warn!("second stop signal: exiting without waiting"),
        _ = interrupt.recv() => tracing::warn!("second stop signal: exiting without waiting"),
    }
    status
}

struct Fatal(String);

/// How a reload ended, when it did not fail for good.
enum Reloaded {
    /// The new config runs, or the previous one again.
    Running,
    /// A stop signal came while the listeners were being started: stop now.
    Stop,
}

/// The stop signals, watched during a reload's wait for its listeners.
struct StopSignals<'a> {
    terminate: &'a mut tokio::signal::unix::Signal,
    interrupt: &'a mut tokio::signal::unix::Signal,
}

impl StopSignals<'_> {
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

/// Builds the new config first (a bad file keeps the running gateways), then stops the old
/// listeners and starts the new ones; established connections stay with the old gateways
/// until they end. If the new listeners cannot start (an address another process holds),
/// the previous config (`running`) starts again; `Fatal` only if that fails too.
async fn reload(
    path: &Path,
    verbose: bool,
    running: &mut std::sync::Arc<gangway_config::Loaded>,
    current: &mut Vec<(String, GatewayHandle)>,
    retired: &mut Vec<GatewayHandle>,
    mut stop: StopSignals<'_>,
) -> Result<Reloaded, Fatal> {
    tracing::info!(file = %path.display(), "SIGHUP: reloading");
    // Reading the files, resolving host names and parsing certificates all block: not on a
    // runtime worker, which serves connections meanwhile.
    let file = path.to_path_buf();
    let built = tokio::task::spawn_blocking(move || {
        let loaded = gangway_config::load(&file).map_err(|e| e.to_string())?;
        let built = build_loaded(&loaded, verbose, Warnings::Log)?;
        Ok::<_, String>((std::sync::Arc::new(loaded), built))
    })
    .await
    .unwrap_or_else(|e| Err(format!("loading the configuration failed: {e}")));
    let (loaded, built) = match built {
        Ok(pair) => pair,
        Err(message) => {
            eprintln!("gangway: reload rejected, still running the previous config:\n{message}");
            println!("reload rejected: {}", path.display());
            return Ok(Reloaded::Running);
        }
    };
    for (_, handle) in current.iter() {
        handle.begin_shutdown();
    }
    let started = start_with_retry(built, &loaded, verbose, &mut stop).await;
    let old = std::mem::take(current);
    for (_, handle) in old {
        retire(handle.clone());
        retired.push(handle);
    }
    let started = match started {
        Ok(Some(handles)) => Ok(handles),
        Ok(None) => return Ok(Reloaded::Stop),
        Err(message) => Err(message),
    };
    // Forget retired gateways whose connections have all ended.
    retired.retain(|handle| handle.active_connections() > 0);
    match started {
        Ok(handles) => {
            println!("reloaded: {}", path.display());
            print_addresses(&handles);
            *current = handles;
            *running = loaded;
            Ok(Reloaded::Running)
        }
        Err(message) => {
            eprintln!(
                "gangway: reload failed after the old listeners closed: {message}\n\
                 gangway: starting the previous config again"
            );
            let previous = std::sync::Arc::clone(running);
            // Its warnings were logged when it was loaded.
            let rebuilt = tokio::task::spawn_blocking(move || {
                build_loaded(&previous, verbose, Warnings::Quiet)
            })
            .await
            .unwrap_or_else(|e| Err(format!("building the configuration failed: {e}")));
            let restarted = match rebuilt {
                Ok(built) => match start_with_retry(built, running, verbose, &mut stop).await {
                    Ok(Some(handles)) => Ok(handles),
                    Ok(None) => return Ok(Reloaded::Stop),
                    Err(message) => Err(message),
                },
                Err(e) => Err(e),
            };
            match restarted {
                Ok(handles) => {
                    println!("reload failed: {}", path.display());
                    print_addresses(&handles);
                    *current = handles;
                    Ok(Reloaded::Running)
                }
                Err(again) => Err(Fatal(format!(
                    "reload failed ({message}), and the previous config did not start again: {again}"
                ))),
            }
        }
    }
}

/// Starts the listeners, retrying for up to 5 s while an address is still held. A stop
/// signal during a wait ends it with `Ok(None)`; one never cuts `start` itself short, so
/// no gateway is left started but unknown.
async fn start_with_retry(
    built: Built,
    loaded: &std::sync::Arc<gangway_config::Loaded>,
    verbose: bool,
    stop: &mut StopSignals<'_>,
) -> Result<Option<Vec<(String, GatewayHandle)>>, String> {
    let mut built = Some(built);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = match built.take() {
            Some(built) => built,
            // Building again resolves names and reads certificates: off the runtime too.
            None => {
                let loaded = std::sync::Arc::clone(loaded);
                let build = tokio::task::spawn_blocking(move || {
                    build_loaded(&loaded, verbose, Warnings::Quiet)
                });
                tokio::select! {
                    built = build => built
                        .map_err(|e| format!("building the configuration failed: {e}"))??,
                    () = stop.recv() => return Ok(None),
                }
            }
        };
        match start(attempt).await {
            Ok(handles) => return Ok(Some(handles)),
            Err(message) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%message, "listeners not free yet; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    () = stop.recv() => return Ok(None),
                }
            }
            Err(message) => return Err(message),
        }
    }
}

/// Lets a replaced gateway finish its connections, then stops its health checks.
fn retire(handle: GatewayHandle) {
    tokio::spawn(async move {
        while handle.active_connections() > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        handle.shutdown().await;
    });
}
