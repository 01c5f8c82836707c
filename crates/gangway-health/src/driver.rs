//! The tokio driver: checks a whole set of servers and publishes their state changes.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use futures_util::Stream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

use crate::{
    Check, Counters, Error, Health, HealthMachine, InitialState, PassivePolicy, Probe, Reason,
    Timing, TrafficOutcome, Transition,
};

/// A server's state change, as published by [`HealthChecker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent<K> {
    /// The server (the key it was added with).
    pub server: K,
    /// The server's traffic address.
    pub addr: SocketAddr,
    /// State before.
    pub from: Health,
    /// State after.
    pub to: Health,
    /// Why.
    pub reason: Reason,
    /// Consecutive results of the deciding kind (see [`Transition::consecutive`]).
    pub consecutive: u32,
    /// Duration of the deciding check (`None` when traffic or an operator decided).
    pub check_duration: Option<Duration>,
    /// When it happened.
    pub at: Instant,
}

type Hook<K> = Arc<dyn Fn(&HealthEvent<K>) + Send + Sync>;

/// Anything usable as a server key: a `gangway_balance::ServerId`, a name, an index...
pub trait ServerKey: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static> ServerKey for T {}

/// Builds a [`HealthChecker`].
pub struct HealthCheckerBuilder<K> {
    check: Check,
    timing: Timing,
    initial: InitialState,
    passive: PassivePolicy,
    max_concurrent: Option<usize>,
    event_capacity: usize,
    servers: Vec<(K, SocketAddr)>,
    hooks: Vec<Hook<K>>,
}

impl<K: ServerKey> fmt::Debug for HealthCheckerBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheckerBuilder")
            .field("check", &self.check)
            .field("timing", &self.timing)
            .field("initial", &self.initial)
            .field("passive", &self.passive)
            .field("max_concurrent", &self.max_concurrent)
            .field("servers", &self.servers)
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl<K: ServerKey> HealthCheckerBuilder<K> {
    /// Sets the timing (default [`Timing::default`]).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Sets the state servers start in (default [`InitialState::Unknown`]).
    pub fn initial_state(mut self, initial: InitialState) -> Self {
        self.initial = initial;
        self
    }

    /// Sets how reported traffic outcomes act on servers.
    pub fn passive(mut self, policy: PassivePolicy) -> Self {
        self.passive = policy;
        self
    }

    /// Caps the number of checks running at once (HAProxy's `tune.max-checks-per-thread`);
    /// checks beyond it wait their turn. Unlimited by default: the spread keeps checks apart.
    pub fn max_concurrent_checks(mut self, limit: usize) -> Self {
        self.max_concurrent = Some(limit.max(1));
        self
    }

    /// Sets how many events the broadcast channel holds for slow subscribers (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Adds a server to check.
    pub fn server(mut self, key: K, addr: SocketAddr) -> Self {
        self.servers.push((key, addr));
        self
    }

    /// Adds servers to check.
    pub fn servers(mut self, servers: impl IntoIterator<Item = (K, SocketAddr)>) -> Self {
        self.servers.extend(servers);
        self
    }

    /// Calls `hook` on every state change, synchronously, before the event is broadcast.
    ///
    /// The hook runs while the server's state is locked (so hooks see changes in order): it
    /// must be quick and must not call back into the [`HealthChecker`] for the same server.
    pub fn on_change(mut self, hook: impl Fn(&HealthEvent<K>) + Send + Sync + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Validates the check and builds the checker. Nothing runs until
    /// [`HealthChecker::start`].
    pub fn build(self) -> Result<HealthChecker<K>, Error> {
        self.check.validate()?;
        let (events, _) = broadcast::channel(self.event_capacity);
        let shared = Arc::new(Shared {
            check: Arc::new(self.check),
            timing: self.timing,
            initial: self.initial,
            passive: self.passive,
            servers: RwLock::new(HashMap::new()),
            events,
            hooks: self.hooks,
            limit: self.max_concurrent.map(|n| Arc::new(Semaphore::new(n))),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            started: AtomicBool::new(false),
        });
        let checker = HealthChecker { shared };
        for (key, addr) in self.servers {
            checker.add_server(key, addr);
        }
        Ok(checker)
    }
}

struct ServerEntry<K> {
    key: K,
    addr: SocketAddr,
    machine: Mutex<HealthMachine>,
    state: watch::Sender<Health>,
    wake: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl<K> ServerEntry<K> {
    fn machine(&self) -> MutexGuard<'_, HealthMachine> {
        // A panic elsewhere cannot leave the machine half-updated in a harmful way.
        self.machine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn abort(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

struct Shared<K> {
    check: Arc<Check>,
    timing: Timing,
    initial: InitialState,
    passive: PassivePolicy,
    servers: RwLock<HashMap<K, Arc<ServerEntry<K>>>>,
    events: broadcast::Sender<HealthEvent<K>>,
    hooks: Vec<Hook<K>>,
    limit: Option<Arc<Semaphore>>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    started: AtomicBool,
}

impl<K: ServerKey> Shared<K> {
    fn entry(&self, key: &K) -> Option<Arc<ServerEntry<K>>> {
        self.servers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Publishes a transition; called with the server's machine locked so events stay ordered.
    fn publish(&self, entry: &ServerEntry<K>, t: &Transition, check_duration: Option<Duration>) {
        let event = HealthEvent {
            server: entry.key.clone(),
            addr: entry.addr,
            from: t.from,
            to: t.to,
            reason: t.reason.clone(),
            consecutive: t.consecutive,
            check_duration,
            at: t.at,
        };
        let duration_ms = check_duration.map(|d| d.as_secs_f64() * 1000.0);
        if t.to == Health::Down {
            tracing::warn!(
                server = ?event.server, addr = %event.addr, from = %t.from, to = %t.to,
                reason = %t.reason, consecutive = t.consecutive, check_duration_ms = duration_ms,
                "server is DOWN"
            );
        } else {
            tracing::info!(
                server = ?event.server, addr = %event.addr, from = %t.from, to = %t.to,
                reason = %t.reason, consecutive = t.consecutive, check_duration_ms = duration_ms,
                "server is {}", t.to
            );
        }
        for hook in &self.hooks {
            hook(&event);
        }
        entry.state.send_replace(t.to);
        // No subscriber is fine: the watch channels still hold the state.
        let _ = self.events.send(event);
    }
}

/// Runs active checks for a set of servers, folds in reported traffic outcomes, and publishes
/// every state change: per-server [`watch`] channels, a [`broadcast`] of [`HealthEvent`]s (also
/// as a [`Stream`]), synchronous hooks, and `tracing` logs.
///
/// Each server gets its own task; checks are spread in time by the [`Timing`] spread and by a
/// random first check within the first interval. Dropping the checker stops every task.
///
/// ```no_run
/// # async fn demo() -> Result<(), gangway_health::Error> {
/// use std::time::Duration;
/// use gangway_health::{Check, HealthChecker, Timing};
///
/// let checker = HealthChecker::builder(Check::websocket("/ws/echo"))
///     .timing(Timing::new(Duration::from_secs(2)).rise(2).fall(2))
///     .server("ws1", "10.0.0.10:3000".parse().unwrap())
///     .server("ws2", "10.0.0.11:3000".parse().unwrap())
///     .build()?;
/// let mut events = checker.subscribe(); // before start: the first event cannot be missed
/// checker.start();
/// while let Ok(event) = events.recv().await {
///     println!("{:?}: {} -> {} ({})", event.server, event.from, event.to, event.reason);
/// }
/// # Ok(()) }
/// ```
pub struct HealthChecker<K> {
    shared: Arc<Shared<K>>,
}

impl<K: ServerKey> fmt::Debug for HealthChecker<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthChecker")
            .field("check", &self.shared.check)
            .field("timing", &self.shared.timing)
            .field("servers", &self.len())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl<K: ServerKey> HealthChecker<K> {
    /// Starts building a checker running `check`.
    pub fn builder(check: Check) -> HealthCheckerBuilder<K> {
        HealthCheckerBuilder {
            check,
            timing: Timing::default(),
            initial: InitialState::default(),
            passive: PassivePolicy::default(),
            max_concurrent: None,
            event_capacity: 1024,
            servers: Vec::new(),
            hooks: Vec::new(),
        }
    }

    /// Starts checking every server (idempotent).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (it spawns one task per server).
    pub fn start(&self) {
        if self.shared.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let entries: Vec<_> = self.read_servers().values().cloned().collect();
        for entry in entries {
            self.spawn(&entry);
        }
    }

    /// Whether [`start`](Self::start) was called.
    pub fn is_started(&self) -> bool {
        self.shared.started.load(Ordering::SeqCst)
    }

    /// Stops every check task; states, counters and channels stay readable.
    pub fn stop(&self) {
        self.shared.started.store(false, Ordering::SeqCst);
        for entry in self.read_servers().values() {
            entry.abort();
        }
    }

    /// Adds a server (checked at once if the checker is started). Replaces a server with the
    /// same key.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime when the checker is started.
    pub fn add_server(&self, key: K, addr: SocketAddr) {
        let now = tokio::time::Instant::now().into_std();
        let mut machine = HealthMachine::new(&self.shared.timing, self.shared.initial, now);
        machine.set_passive(self.shared.passive.clone());
        let (state, _) = watch::channel(machine.state());
        let entry = Arc::new(ServerEntry {
            key: key.clone(),
            addr,
            machine: Mutex::new(machine),
            state,
            wake: Notify::new(),
            task: Mutex::new(None),
        });
        let old = self
            .shared
            .servers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&entry));
        if let Some(old) = old {
            old.abort();
        }
        if self.is_started() {
            self.spawn(&entry);
        }
    }

    /// Removes a server and stops its checks; `false` if it was not there.
    pub fn remove_server(&self, key: &K) -> bool {
        let removed = self
            .shared
            .servers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        match removed {
            Some(entry) => {
                entry.abort();
                true
            }
            None => false,
        }
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.read_servers().len()
    }

    /// Whether there is no server.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Receives every state change from now on. Subscribe before [`start`](Self::start) to see
    /// the first events; a receiver that falls more than the event capacity behind loses the
    /// oldest events (the [`watch`](Self::watch) channels always hold the latest state).
    pub fn subscribe(&self) -> broadcast::Receiver<HealthEvent<K>> {
        self.shared.events.subscribe()
    }

    /// The state changes from now on as a [`Stream`] (lagging skips lost events).
    pub fn events(&self) -> impl Stream<Item = HealthEvent<K>> + Send + 'static {
        let receiver = self.subscribe();
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(broadcast::error::RecvError::Lagged(lost)) => {
                        tracing::warn!(lost, "health event stream lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// A channel holding the server's current state.
    pub fn watch(&self, key: &K) -> Option<watch::Receiver<Health>> {
        self.shared.entry(key).map(|e| e.state.subscribe())
    }

    /// The server's current state.
    pub fn state(&self, key: &K) -> Option<Health> {
        self.shared.entry(key).map(|e| e.machine().state())
    }

    /// Every server with its state.
    pub fn states(&self) -> Vec<(K, Health)> {
        self.read_servers()
            .iter()
            .map(|(k, e)| (k.clone(), e.machine().state()))
            .collect()
    }

    /// The server's counters.
    pub fn counters(&self, key: &K) -> Option<Counters> {
        self.shared
            .entry(key)
            .map(|e| e.machine().counters().clone())
    }

    /// When the server's next check is due.
    pub fn next_check_at(&self, key: &K) -> Option<Instant> {
        self.shared.entry(key).map(|e| e.machine().next_check_at())
    }

    /// Reports what real traffic to the server saw (passive health). May change the state
    /// (see [`PassivePolicy`]) and bring the next check forward; returns the new state.
    pub fn report(&self, key: &K, outcome: TrafficOutcome) -> Option<Health> {
        let entry = self.shared.entry(key)?;
        let now = tokio::time::Instant::now().into_std();
        let mut machine = entry.machine();
        let before = machine.next_check_at();
        if let Some(t) = machine.on_traffic(outcome, now) {
            self.shared.publish(&entry, &t, None);
        }
        let state = machine.state();
        if machine.next_check_at() < before {
            entry.wake.notify_one();
        }
        Some(state)
    }

    /// Sets a server's state by hand; checks go on and may change it again.
    pub fn force(&self, key: &K, state: Health) -> Option<Health> {
        let entry = self.shared.entry(key)?;
        let now = tokio::time::Instant::now().into_std();
        let mut machine = entry.machine();
        if let Some(t) = machine.force(state, now) {
            self.shared.publish(&entry, &t, None);
        }
        Some(machine.state())
    }

    /// Runs the server's next check now.
    pub fn check_now(&self, key: &K) -> bool {
        let Some(entry) = self.shared.entry(key) else {
            return false;
        };
        entry
            .machine()
            .check_now(tokio::time::Instant::now().into_std());
        entry.wake.notify_one();
        true
    }

    /// Checks running right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// The most checks that ran at once since the checker was built.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak_in_flight.load(Ordering::Relaxed)
    }

    fn read_servers(&self) -> std::sync::RwLockReadGuard<'_, HashMap<K, Arc<ServerEntry<K>>>> {
        self.shared
            .servers
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(&self, entry: &Arc<ServerEntry<K>>) {
        let task = tokio::spawn(run_server(Arc::clone(&self.shared), Arc::clone(entry)));
        let old = entry
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
    }
}

impl<K> Drop for HealthChecker<K> {
    fn drop(&mut self) {
        let servers = self
            .shared
            .servers
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for entry in servers.values() {
            entry.abort();
        }
    }
}

/// Counts a running check; decrements on drop, even if the task is aborted mid-check.
struct InFlight<'a> {
    counter: &'a AtomicUsize,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<'a> InFlight<'a> {
    fn enter<K>(shared: &'a Shared<K>, permit: Option<OwnedSemaphorePermit>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        shared.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight {
            counter: &shared.in_flight,
            _permit: permit,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_server<K: ServerKey>(shared: Arc<Shared<K>>, entry: Arc<ServerEntry<K>>) {
    let mut probe = Probe::new(Arc::clone(&shared.check), entry.addr);
    let timeout = shared.timing.get_timeout();
    let connect_timeout = shared.timing.get_connect_timeout();
    loop {
        let next = entry.machine().next_check_at();
        let woken = entry.wake.notified();
        tokio::select! {
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
            () = woken => continue,
        }
        let permit = match &shared.limit {
            Some(limit) => match Arc::clone(limit).acquire_owned().await {
                Ok(permit) => Some(permit),
                Err(_) => return,
            },
            None => None,
        };
        let (report, started) = {
            let _running = InFlight::enter(&shared, permit);
            let started = tokio::time::Instant::now().into_std();
            (probe.run_split(connect_timeout, timeout).await, started)
        };
        let now = tokio::time::Instant::now().into_std();
        let mut machine = entry.machine();
        // The report's duration ends at the verdict, before a WebSocket check's close: a
        // check_now made after the verdict must not look served by this check.
        let transition = machine.on_check_started(&report, started, now);
        tracing::debug!(
            server = ?entry.key, target = %probe.target(), check = %shared.check,
            result = ?report.result, duration_us = report.duration.as_micros() as u64,
            health = machine.health_counter(), "health check done"
        );
        if let Some(t) = transition {
            shared.publish(&entry, &t, Some(report.duration));
        }
    }
}
