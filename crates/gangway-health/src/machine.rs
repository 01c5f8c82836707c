//! The sans-IO per-server health state machine: results and `now` in, state and next-check
//! time out.

use std::fmt;
use std::time::{Duration, Instant};

use crate::{CheckFailure, InitialState, OnError, PassivePolicy, Timing, TrafficOutcome};

/// A server's health as seen by its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// No result yet (only with [`InitialState::Unknown`]).
    Unknown,
    /// Passing its checks: may take traffic.
    Up,
    /// Failing its checks: takes no new traffic.
    Down,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Unknown => "UNKNOWN",
            Health::Up => "UP",
            Health::Down => "DOWN",
        })
    }
}

/// Where a server stands between fully up and fully down; decides the next check interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No result yet: checked at `fastinter`.
    Unknown,
    /// Up with its whole `fall` budget: checked at `inter`.
    FullyUp,
    /// Up, but fewer than `fall` failures from down (it failed lately, or just came up from an
    /// assumed state): checked at `fastinter`.
    Up,
    /// Down, with some passed checks toward `rise`: checked at `fastinter`.
    Down,
    /// Down with no passed check toward `rise`: checked at `downinter`.
    FullyDown,
}

/// Why a server changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Active checks passed (`rise` of them, or the first one from [`Health::Unknown`]).
    CheckPassed,
    /// Active checks failed; this is the last failure.
    CheckFailed(CheckFailure),
    /// Real traffic reached the `error-limit` and the `on-error` action took the server down.
    TrafficErrors {
        /// The action taken.
        action: OnError,
        /// Consecutive traffic errors that triggered it.
        errors: u32,
    },
    /// The state was set by hand ([`HealthMachine::force`]).
    Forced,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::CheckPassed => f.write_str("check passed"),
            Reason::CheckFailed(failure) => write!(f, "check failed: {failure}"),
            Reason::TrafficErrors { action, errors } => {
                write!(f, "{errors} consecutive traffic errors (on-error {action})")
            }
            Reason::Forced => f.write_str("set by hand"),
        }
    }
}

/// A state change produced by the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: Health,
    /// State after.
    pub to: Health,
    /// Why.
    pub reason: Reason,
    /// Consecutive results of the deciding kind that led to the change (passed checks for an
    /// up transition, failed checks or traffic errors for a down transition).
    pub consecutive: u32,
    /// When it happened (the `now` given with the deciding result).
    pub at: Instant,
}

/// The outcome of one active check, as fed to [`HealthMachine::on_check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Passed, with the HTTP status when the check read one; or why it failed.
    pub result: Result<Option<u16>, CheckFailure>,
    /// How long the check took.
    pub duration: Duration,
}

impl CheckReport {
    /// A passed check without a status (TCP) and no duration (handy in tests).
    pub fn passed() -> Self {
        CheckReport {
            result: Ok(None),
            duration: Duration::ZERO,
        }
    }

    /// A failed check with no duration (handy in tests).
    pub fn failed(failure: CheckFailure) -> Self {
        CheckReport {
            result: Err(failure),
            duration: Duration::ZERO,
        }
    }

    /// Whether the check passed.
    pub fn is_passed(&self) -> bool {
        self.result.is_ok()
    }
}

/// Per-server counters kept by the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Active checks run.
    pub checks: u64,
    /// Active checks passed.
    pub checks_passed: u64,
    /// Active checks failed.
    pub checks_failed: u64,
    /// Traffic outcomes reported.
    pub traffic_reports: u64,
    /// Traffic outcomes that counted as errors.
    pub traffic_errors: u64,
    /// Times the `error-limit` was reached and the `on-error` action ran.
    pub on_error_actions: u64,
    /// Changes to [`Health::Up`].
    pub went_up: u64,
    /// Changes to [`Health::Down`].
    pub went_down: u64,
    /// Duration of the last check.
    pub last_check_duration: Option<Duration>,
    /// Sum of all check durations.
    pub total_check_time: Duration,
    /// Why the last failed check failed.
    pub last_failure: Option<CheckFailure>,
}

/// One server's health state machine (sans-IO).
///
/// It uses HAProxy's model: a health counter from `0` to `rise + fall - 1`; the server is up
/// while the counter is at least `rise`. A passed check adds one to a down server's counter and
/// sets it to the top once it reaches `rise`; on an up server a passed check sets it straight
/// back to the top, so only consecutive failures count toward `fall`. A failed check takes one
/// from an up server above `rise`, and otherwise drops the counter to `0` (down).
///
/// Feed it results with the time they arrived; it returns a [`Transition`] when the state
/// changes, and [`next_check_at`](Self::next_check_at) says when to check next.
///
/// ```
/// use std::time::{Duration, Instant};
/// use gangway_health::{CheckFailure, CheckReport, Health, HealthMachine, InitialState, Timing};
///
/// let timing = Timing::new(Duration::from_secs(2)).rise(2).fall(2).spread(0);
/// let t0 = Instant::now();
/// let mut m = HealthMachine::with_seed(&timing, InitialState::Unknown, t0, 7);
///
/// let first = m.on_check(&CheckReport::passed(), t0).expect("the first result is a change");
/// assert_eq!((first.from, first.to), (Health::Unknown, Health::Up));
/// assert_eq!(m.next_check_at(), t0 + Duration::from_secs(2));
///
/// let t1 = t0 + Duration::from_secs(2);
/// assert!(m.on_check(&CheckReport::failed(CheckFailure::ConnectRefused), t1).is_some());
/// assert_eq!(m.state(), Health::Down);
/// ```
#[derive(Debug, Clone)]
pub struct HealthMachine {
    timing: Timing,
    passive: PassivePolicy,
    state: Health,
    health: u32,
    consecutive_passed: u32,
    consecutive_failed: u32,
    consecutive_traffic_errors: u32,
    next_check: Instant,
    /// When an operator last asked for a check ([`check_now`](Self::check_now)), until the
    /// next result: a request made while a check ran is served right after it.
    check_requested: Option<Instant>,
    since: Instant,
    rng: fastrand::Rng,
    counters: Counters,
}

impl HealthMachine {
    /// A machine in `initial` state at `now`, with a randomly seeded spread.
    ///
    /// The first check is due at a uniformly random instant in `[now, now + interval)`, so
    /// servers started together do not check together.
    pub fn new(timing: &Timing, initial: InitialState, now: Instant) -> Self {
        Self::with_seed(timing, initial, now, fastrand::u64(..))
    }

    /// Like [`new`](Self::new) with a fixed seed for the spread (deterministic tests).
    pub fn with_seed(timing: &Timing, initial: InitialState, now: Instant, seed: u64) -> Self {
        let rise = timing.get_rise();
        let top = rise + timing.get_fall() - 1;
        let (state, health) = match initial {
            InitialState::Unknown => (Health::Unknown, rise),
            InitialState::Up => (Health::Up, rise),
            InitialState::FullyUp => (Health::Up, top),
            InitialState::Down => (Health::Down, rise - 1),
            InitialState::FullyDown => (Health::Down, 0),
        };
        let mut machine = HealthMachine {
            timing: timing.clone(),
            passive: PassivePolicy::default(),
            state,
            health,
            consecutive_passed: 0,
            consecutive_failed: 0,
            consecutive_traffic_errors: 0,
            next_check: now,
            check_requested: None,
            since: now,
            rng: fastrand::Rng::with_seed(seed),
            counters: Counters::default(),
        };
        let first = machine.interval();
        machine.next_check = now + first.mul_f64(machine.rng.f64());
        machine
    }

    /// Sets how traffic outcomes act on this server.
    pub fn set_passive(&mut self, policy: PassivePolicy) {
        self.passive = policy;
    }

    /// The current state.
    pub fn state(&self) -> Health {
        self.state
    }

    /// Where the server stands between fully up and fully down.
    pub fn phase(&self) -> Phase {
        match self.state {
            Health::Unknown => Phase::Unknown,
            Health::Up if self.health >= self.top() => Phase::FullyUp,
            Health::Up => Phase::Up,
            Health::Down if self.health == 0 => Phase::FullyDown,
            Health::Down => Phase::Down,
        }
    }

    /// HAProxy's health counter, in `0..=rise + fall - 1`.
    pub fn health_counter(&self) -> u32 {
        self.health
    }

    /// When the current state began.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// When the next active check is due.
    pub fn next_check_at(&self) -> Instant {
        self.next_check
    }

    /// Whether a check is due at `now`.
    pub fn is_check_due(&self, now: Instant) -> bool {
        now >= self.next_check
    }

    /// Makes the next check due at `now` (an operator asked for a check). Asked while a
    /// check runs, the next check is due as soon as that one's result comes in
    /// ([`on_check_started`](Self::on_check_started) tells from the check's start).
    pub fn check_now(&mut self, now: Instant) {
        self.next_check = now;
        self.check_requested = Some(now);
    }

    /// The timing in use.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Feeds the result of an active check that finished at `now`; schedules the next check.
    ///
    /// The check is taken to have started at `now - report.duration`; when its duration ends
    /// before the check does (a WebSocket check's ends at its verdict, before its close), use
    /// [`on_check_started`](Self::on_check_started).
    pub fn on_check(&mut self, report: &CheckReport, now: Instant) -> Option<Transition> {
        let started = now.checked_sub(report.duration).unwrap_or(now);
        self.on_check_started(report, started, now)
    }

    /// Like [`on_check`](Self::on_check), for a check that started at `started`: a
    /// [`check_now`](Self::check_now) request made after then is owed a new check at once.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use gangway_health::{CheckReport, HealthMachine, InitialState, Timing};
    ///
    /// let t0 = Instant::now();
    /// let mut m = HealthMachine::new(&Timing::new(Duration::from_secs(2)), InitialState::Up, t0);
    /// // The verdict came 5 ms in; the check then waited 100 ms for the server's close.
    /// let report = CheckReport { result: Ok(Some(101)), duration: Duration::from_millis(5) };
    /// m.check_now(t0 + Duration::from_millis(50));
    /// let done = t0 + Duration::from_millis(105);
    /// m.on_check_started(&report, t0, done);
    /// assert_eq!(m.next_check_at(), done);
    /// ```
    pub fn on_check_started(
        &mut self,
        report: &CheckReport,
        started: Instant,
        now: Instant,
    ) -> Option<Transition> {
        self.counters.checks += 1;
        self.counters.last_check_duration = Some(report.duration);
        self.counters.total_check_time += report.duration;
        let transition = match &report.result {
            Ok(_) => {
                self.counters.checks_passed += 1;
                self.consecutive_passed = self.consecutive_passed.saturating_add(1);
                self.consecutive_failed = 0;
                // HAProxy: a passed check also clears the consecutive traffic errors.
                self.consecutive_traffic_errors = 0;
                self.pass(now)
            }
            Err(failure) => {
                self.counters.checks_failed += 1;
                self.counters.last_failure = Some(failure.clone());
                self.consecutive_failed = self.consecutive_failed.saturating_add(1);
                self.consecutive_passed = 0;
                let consecutive = self.consecutive_failed;
                self.fail(now, Reason::CheckFailed(failure.clone()), consecutive)
            }
        };
        self.schedule_after(now);
        // A check asked for after this one started is still owed.
        if self.check_requested.take().is_some_and(|at| at > started) {
            self.next_check = now;
        }
        transition
    }

    /// Feeds one outcome of real traffic seen at `now`.
    ///
    /// `error-limit` consecutive errors run the `on-error` action and bring the next check
    /// forward to at most `fastinter` from `now`; a success, or a passed active check,
    /// resets the error count.
    pub fn on_traffic(&mut self, outcome: TrafficOutcome, now: Instant) -> Option<Transition> {
        self.counters.traffic_reports += 1;
        if !outcome.is_error(self.passive.get_observe()) {
            self.consecutive_traffic_errors = 0;
            return None;
        }
        self.counters.traffic_errors += 1;
        self.consecutive_traffic_errors += 1;
        let errors = self.consecutive_traffic_errors;
        if errors < self.passive.get_error_limit() {
            return None;
        }
        self.consecutive_traffic_errors = 0;
        self.counters.on_error_actions += 1;
        let action = self.passive.get_on_error();
        let reason = Reason::TrafficErrors { action, errors };
        let rise = self.timing.get_rise();
        let transition = match action {
            OnError::FastInter => None,
            OnError::FailCheck => self.fail(now, reason, errors),
            OnError::SuddenDeath => {
                if self.state == Health::Up && self.health > rise {
                    self.health = rise + 1;
                }
                self.fail(now, reason, errors)
            }
            OnError::MarkDown => {
                if self.state == Health::Up {
                    self.health = rise;
                }
                self.fail(now, reason, errors)
            }
        };
        let soon = now + self.timing.get_fastinter();
        if self.next_check > soon {
            self.next_check = soon;
        }
        transition
    }

    /// Sets the state by hand (an operator's `set server ... health up|down`): up means fully
    /// up, down fully down, unknown starts over as if no check had run. Returns the
    /// transition when the state changed.
    pub fn force(&mut self, state: Health, now: Instant) -> Option<Transition> {
        let from = self.state;
        self.health = match state {
            Health::Up => self.top(),
            Health::Down => 0,
            Health::Unknown => self.timing.get_rise(),
        };
        self.consecutive_passed = 0;
        self.consecutive_failed = 0;
        if from == state {
            return None;
        }
        Some(self.change(state, Reason::Forced, 0, now))
    }

    fn top(&self) -> u32 {
        self.timing.get_rise() + self.timing.get_fall() - 1
    }

    fn pass(&mut self, now: Instant) -> Option<Transition> {
        let rise = self.timing.get_rise();
        let consecutive = self.consecutive_passed;
        match self.state {
            Health::Unknown => {
                self.health = rise;
                Some(self.change(Health::Up, Reason::CheckPassed, consecutive, now))
            }
            Health::Up => {
                // HAProxy: any pass on an up server restores the whole `fall` budget.
                self.health = self.top();
                None
            }
            Health::Down => {
                self.health += 1;
                if self.health >= rise {
                    self.health = self.top();
                    Some(self.change(Health::Up, Reason::CheckPassed, consecutive, now))
                } else {
                    None
                }
            }
        }
    }

    fn fail(&mut self, now: Instant, reason: Reason, consecutive: u32) -> Option<Transition> {
        match self.state {
            Health::Up if self.health > self.timing.get_rise() => {
                self.health -= 1;
                None
            }
            Health::Down => {
                self.health = 0;
                None
            }
            Health::Up | Health::Unknown => {
                self.health = 0;
                Some(self.change(Health::Down, reason, consecutive, now))
            }
        }
    }

    fn change(&mut self, to: Health, reason: Reason, consecutive: u32, now: Instant) -> Transition {
        let from = self.state;
        self.state = to;
        self.since = now;
        match to {
            Health::Up => self.counters.went_up += 1,
            Health::Down => self.counters.went_down += 1,
            Health::Unknown => {}
        }
        Transition {
            from,
            to,
            reason,
            consecutive,
            at: now,
        }
    }

    fn interval(&self) -> Duration {
        match self.phase() {
            Phase::FullyUp => self.timing.get_inter(),
            Phase::FullyDown => self.timing.get_downinter(),
            Phase::Unknown | Phase::Up | Phase::Down => self.timing.get_fastinter(),
        }
    }

    fn schedule_after(&mut self, now: Instant) {
        let interval = self.timing.spread_interval(self.interval(), self.rng.f64());
        self.next_check = now + interval;
    }
}
