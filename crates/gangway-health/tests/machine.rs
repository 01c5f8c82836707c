//! The sans-IO state machine driven at explicit instants: rise/fall, fastinter/downinter,
//! initial states, flapping, timeouts, passive observation, spread.

use std::time::{Duration, Instant};

use gangway_health::{
    CheckFailure, CheckReport, Health, HealthMachine, InitialState, Observe, OnError,
    PassivePolicy, Phase, Reason, Timing, TrafficOutcome,
};
use proptest::prelude::*;

const INTER: Duration = Duration::from_secs(2);
const FAST: Duration = Duration::from_millis(500);
const DOWN: Duration = Duration::from_secs(10);

fn timing(rise: u32, fall: u32) -> Timing {
    Timing::new(INTER)
        .fastinter(FAST)
        .downinter(DOWN)
        .rise(rise)
        .fall(fall)
        .spread(0)
}

fn pass() -> CheckReport {
    CheckReport::passed()
}

fn fail() -> CheckReport {
    CheckReport::failed(CheckFailure::ConnectRefused)
}

/// One step: feed a result, expect the state, the phase, the next interval and whether a
/// transition was reported.
struct Step {
    passed: bool,
    state: Health,
    phase: Phase,
    interval: Duration,
    changed: bool,
}

fn step(passed: bool, state: Health, phase: Phase, interval: Duration, changed: bool) -> Step {
    Step {
        passed,
        state,
        phase,
        interval,
        changed,
    }
}

fn run_steps(name: &str, timing: &Timing, initial: InitialState, steps: &[Step]) {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(timing, initial, t0, 42);
    let mut now = t0;
    for (i, s) in steps.iter().enumerate() {
        now += Duration::from_millis(100);
        let before = m.state();
        let t = m.on_check(&if s.passed { pass() } else { fail() }, now);
        assert_eq!(m.state(), s.state, "{name} step {i}: state");
        assert_eq!(m.phase(), s.phase, "{name} step {i}: phase");
        assert_eq!(
            m.next_check_at(),
            now + s.interval,
            "{name} step {i}: interval"
        );
        assert_eq!(t.is_some(), s.changed, "{name} step {i}: transition");
        if let Some(t) = t {
            assert_eq!(
                (t.from, t.to, t.at),
                (before, s.state, now),
                "{name} step {i}"
            );
        }
    }
}

#[test]
fn rise_fall_sequences() {
    use Health::{Down, Up};
    use Phase as P;
    let t = timing(2, 3);
    // Fully up: `fall` consecutive failures bring it down, at fastinter meanwhile.
    run_steps(
        "fall 3 from fully up",
        &t,
        InitialState::FullyUp,
        &[
            step(true, Up, P::FullyUp, INTER, false),
            step(false, Up, P::Up, FAST, false),
            step(false, Up, P::Up, FAST, false),
            step(false, Down, P::FullyDown, DOWN, true),
            step(false, Down, P::FullyDown, DOWN, false),
            step(true, Down, P::Down, FAST, false),
            step(true, Up, P::FullyUp, INTER, true),
        ],
    );
    // A pass on an up server restores the whole fall budget (HAProxy's counter jumps back to
    // `rise + fall - 1`, checked at `inter` again): non-consecutive failures never add up.
    run_steps(
        "full recovery",
        &t,
        InitialState::FullyUp,
        &[
            step(false, Up, P::Up, FAST, false),
            step(false, Up, P::Up, FAST, false),
            step(true, Up, P::FullyUp, INTER, false),
            step(false, Up, P::Up, FAST, false),
            step(false, Up, P::Up, FAST, false),
            step(true, Up, P::FullyUp, INTER, false),
            step(false, Up, P::Up, FAST, false),
            step(false, Up, P::Up, FAST, false),
            step(false, Down, P::FullyDown, DOWN, true),
        ],
    );
    // An up server still short of the top (started `Up`, not `FullyUp`) is topped up by one pass.
    run_steps(
        "up to fully up",
        &t,
        InitialState::Up,
        &[step(true, Up, P::FullyUp, INTER, false)],
    );
    // A failure while rising resets the rise progress.
    run_steps(
        "rise reset",
        &timing(3, 1),
        InitialState::FullyDown,
        &[
            step(true, Down, P::Down, FAST, false),
            step(true, Down, P::Down, FAST, false),
            step(false, Down, P::FullyDown, DOWN, false),
            step(true, Down, P::Down, FAST, false),
            step(true, Down, P::Down, FAST, false),
            step(true, Up, P::FullyUp, INTER, true),
            step(false, Down, P::FullyDown, DOWN, true),
        ],
    );
    // rise 1 fall 1: every result decides.
    run_steps(
        "rise 1 fall 1",
        &timing(1, 1),
        InitialState::FullyUp,
        &[
            step(false, Down, P::FullyDown, DOWN, true),
            step(true, Up, P::FullyUp, INTER, true),
            step(true, Up, P::FullyUp, INTER, false),
        ],
    );
}

#[test]
fn initial_states() {
    use Health::{Down, Unknown, Up};
    use Phase as P;
    let t = timing(2, 2);
    let cases: &[(InitialState, Health, Phase, bool, Health, bool)] = &[
        // initial, state, phase, first result passed, state after, transition?
        (InitialState::Unknown, Unknown, P::Unknown, true, Up, true),
        (
            InitialState::Unknown,
            Unknown,
            P::Unknown,
            false,
            Down,
            true,
        ),
        (InitialState::Up, Up, P::Up, false, Down, true),
        (InitialState::Up, Up, P::Up, true, Up, false),
        (InitialState::FullyUp, Up, P::FullyUp, false, Up, false),
        (InitialState::Down, Down, P::Down, true, Up, true),
        (InitialState::Down, Down, P::Down, false, Down, false),
        (
            InitialState::FullyDown,
            Down,
            P::FullyDown,
            true,
            Down,
            false,
        ),
    ];
    let t0 = Instant::now();
    for &(initial, state, phase, passed, after, changed) in cases {
        let mut m = HealthMachine::with_seed(&t, initial, t0, 3);
        assert_eq!((m.state(), m.phase()), (state, phase), "{initial:?}");
        let result = if passed { pass() } else { fail() };
        let transition = m.on_check(&result, t0);
        assert_eq!(m.state(), after, "{initial:?} then passed={passed}");
        assert_eq!(
            transition.is_some(),
            changed,
            "{initial:?} then passed={passed}"
        );
    }
}

#[test]
fn unknown_first_event_is_always_a_change() {
    // Whatever the first result, a server starting unknown reports exactly one transition
    // from Unknown, so a subscriber that joined before the first check sees it.
    let t0 = Instant::now();
    for first in [
        pass(),
        fail(),
        CheckReport::failed(CheckFailure::ConnectTimeout),
    ] {
        let mut m = HealthMachine::with_seed(&timing(2, 2), InitialState::Unknown, t0, 9);
        let t = m
            .on_check(&first, t0)
            .expect("first result changes Unknown");
        assert_eq!(t.from, Health::Unknown);
        assert_eq!(t.consecutive, 1);
    }
}

#[test]
fn flapping_server_keeps_its_state() {
    // Alternating results never cross the hysteresis band with rise 2 / fall 2.
    let t0 = Instant::now();
    for initial in [InitialState::FullyUp, InitialState::FullyDown] {
        let mut m = HealthMachine::with_seed(&timing(2, 2), initial, t0, 5);
        let start = m.state();
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(i * 500);
            let result = if i % 2 == 0 { fail() } else { pass() };
            let result = if initial == InitialState::FullyDown {
                if i % 2 == 0 { pass() } else { fail() }
            } else {
                result
            };
            assert!(m.on_check(&result, now).is_none(), "{initial:?} step {i}");
        }
        assert_eq!(m.state(), start);
        // It is checked at fastinter all along: it is changing, never settled.
        assert_eq!(m.counters().checks, 100);
    }
    // A flapping server with rise 1 / fall 1 flips on every result, and counts each flip.
    let mut m = HealthMachine::with_seed(&timing(1, 1), InitialState::FullyUp, t0, 5);
    for i in 0..10u64 {
        let now = t0 + Duration::from_secs(i);
        let result = if i % 2 == 0 { fail() } else { pass() };
        assert!(m.on_check(&result, now).is_some());
    }
    assert_eq!((m.counters().went_down, m.counters().went_up), (5, 5));
}

#[test]
fn timeouts_count_as_failures_and_are_reported() {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 2), InitialState::FullyUp, t0, 1);
    let slow = CheckReport {
        result: Err(CheckFailure::ResponseTimeout { received: 0 }),
        duration: Duration::from_secs(1),
    };
    assert!(m.on_check(&slow, t0).is_none());
    let t = m
        .on_check(&slow, t0 + Duration::from_millis(1500))
        .expect("second timeout brings it down");
    assert_eq!(
        t.reason,
        Reason::CheckFailed(CheckFailure::ResponseTimeout { received: 0 })
    );
    assert_eq!(t.consecutive, 2);
    let c = m.counters();
    assert_eq!((c.checks, c.checks_failed, c.went_down), (2, 2, 1));
    assert_eq!(c.total_check_time, Duration::from_secs(2));
    assert_eq!(c.last_check_duration, Some(Duration::from_secs(1)));
    assert_eq!(
        c.last_failure,
        Some(CheckFailure::ResponseTimeout { received: 0 })
    );
}

#[test]
fn first_check_is_spread_within_the_first_interval() {
    let t0 = Instant::now();
    let t = timing(2, 2);
    let mut earliest = Duration::MAX;
    let mut latest = Duration::ZERO;
    for seed in 0..1000 {
        let m = HealthMachine::with_seed(&t, InitialState::FullyUp, t0, seed);
        let offset = m.next_check_at() - t0;
        assert!(offset < INTER, "seed {seed}: {offset:?}");
        earliest = earliest.min(offset);
        latest = latest.max(offset);
    }
    // 1000 uniform draws cover the interval well.
    assert!(earliest < Duration::from_millis(100), "{earliest:?}");
    assert!(latest > Duration::from_millis(1900), "{latest:?}");
}

#[test]
fn check_now_and_due() {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 2), InitialState::FullyUp, t0, 1);
    let later = t0 + Duration::from_secs(5);
    assert!(m.is_check_due(later));
    m.on_check(&pass(), later);
    assert!(!m.is_check_due(later));
    m.check_now(later);
    assert!(m.is_check_due(later));
}

#[test]
fn force_sets_state_by_hand() {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 2), InitialState::FullyUp, t0, 1);
    let t = m.force(Health::Down, t0).expect("a change");
    assert_eq!(
        (t.from, t.to, t.reason),
        (Health::Up, Health::Down, Reason::Forced)
    );
    assert!(m.force(Health::Down, t0).is_none());
    assert_eq!(m.phase(), Phase::FullyDown);
    // Checks go on: rise passes bring it back.
    assert!(m.on_check(&pass(), t0).is_none());
    assert!(m.on_check(&pass(), t0).is_some());
}

fn passive(on_error: OnError, limit: u32) -> PassivePolicy {
    PassivePolicy::default()
        .on_error(on_error)
        .error_limit(limit)
        .observe(Observe::Layer7)
}

#[test]
fn passive_modes() {
    // (mode, rise, fall, errors reported in groups of error-limit, expected state after each group)
    let cases: &[(OnError, u32, u32, &[Health])] = &[
        (
            OnError::FastInter,
            2,
            3,
            &[Health::Up, Health::Up, Health::Up],
        ),
        (
            OnError::FailCheck,
            2,
            3,
            &[Health::Up, Health::Up, Health::Down],
        ),
        (OnError::SuddenDeath, 2, 3, &[Health::Up, Health::Down]),
        (OnError::MarkDown, 2, 3, &[Health::Down]),
        (OnError::SuddenDeath, 2, 1, &[Health::Down]),
    ];
    let limit = 3;
    for &(mode, rise, fall, expected) in cases {
        let t0 = Instant::now();
        let mut m = HealthMachine::with_seed(&timing(rise, fall), InitialState::FullyUp, t0, 1);
        m.set_passive(passive(mode, limit));
        let mut now = t0;
        for (group, state) in expected.iter().enumerate() {
            for i in 0..limit {
                now += Duration::from_millis(10);
                let t = m.on_traffic(TrafficOutcome::Status(503), now);
                if i + 1 < limit {
                    assert!(t.is_none(), "{mode} group {group}: below the limit");
                } else if let Some(t) = t {
                    assert_eq!(
                        t.reason,
                        Reason::TrafficErrors {
                            action: mode,
                            errors: limit
                        }
                    );
                }
            }
            assert_eq!(
                m.state(),
                *state,
                "{mode} rise {rise} fall {fall} group {group}"
            );
            // Every mode brings the next check forward to fastinter.
            assert!(m.next_check_at() <= now + FAST, "{mode}: fastinter forced");
        }
        assert_eq!(m.counters().on_error_actions, expected.len() as u64);
        // Active checks bring it back.
        if m.state() == Health::Down {
            m.on_check(&pass(), now);
            assert!(
                m.on_check(&pass(), now).is_some(),
                "{mode}: rise brings it back"
            );
            assert_eq!(m.state(), Health::Up);
        }
    }
}

#[test]
fn passive_successes_reset_the_error_count() {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 3), InitialState::FullyUp, t0, 1);
    m.set_passive(passive(OnError::MarkDown, 3));
    for _ in 0..10 {
        assert!(m.on_traffic(TrafficOutcome::ConnectRefused, t0).is_none());
        assert!(m.on_traffic(TrafficOutcome::Reset, t0).is_none());
        assert!(m.on_traffic(TrafficOutcome::Success, t0).is_none());
        // 501 and 404 are not server errors.
        assert!(m.on_traffic(TrafficOutcome::Status(501), t0).is_none());
        assert!(m.on_traffic(TrafficOutcome::Status(404), t0).is_none());
    }
    assert_eq!(m.state(), Health::Up);
    assert_eq!(m.counters().traffic_errors, 20);
    assert_eq!(m.counters().traffic_reports, 50);
    // Layer 4 observation ignores statuses entirely.
    m.set_passive(passive(OnError::MarkDown, 1).observe(Observe::Layer4));
    assert!(m.on_traffic(TrafficOutcome::Status(500), t0).is_none());
    assert!(m.on_traffic(TrafficOutcome::ConnectTimeout, t0).is_some());
}

#[test]
fn a_passed_check_resets_the_traffic_error_count() {
    // As in HAProxy: errors on either side of a passed check are not consecutive.
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 3), InitialState::FullyUp, t0, 1);
    m.set_passive(passive(OnError::MarkDown, 3));
    for round in 0..5 {
        assert!(m.on_traffic(TrafficOutcome::ConnectRefused, t0).is_none());
        assert!(m.on_traffic(TrafficOutcome::Reset, t0).is_none());
        assert!(m.on_check(&pass(), t0).is_none(), "round {round}");
    }
    assert_eq!(m.state(), Health::Up);
    assert_eq!(m.counters().on_error_actions, 0);
    // A failed check does not reset it.
    assert!(m.on_traffic(TrafficOutcome::Reset, t0).is_none());
    assert!(m.on_traffic(TrafficOutcome::Reset, t0).is_none());
    m.on_check(&fail(), t0);
    assert!(m.on_traffic(TrafficOutcome::Reset, t0).is_some());
    assert_eq!(m.state(), Health::Down);
}

#[test]
fn check_now_during_a_running_check_is_not_lost() {
    let t0 = Instant::now();
    let mut m = HealthMachine::with_seed(&timing(2, 3), InitialState::FullyUp, t0, 1);
    let took = |secs| CheckReport {
        result: Ok(None),
        duration: Duration::from_secs(secs),
    };
    // Asked before the check started: that check serves it.
    m.check_now(t0);
    let t1 = t0 + Duration::from_secs(1);
    m.on_check(&took(1), t1);
    assert_eq!(m.next_check_at(), t1 + INTER);
    // Asked while a check ran (it started at t1 + 1 s): another one is due at once.
    let t2 = t1 + Duration::from_secs(3);
    m.check_now(t2 - Duration::from_secs(1));
    m.on_check(&took(2), t2);
    assert_eq!(m.next_check_at(), t2);
    // Served: the one after is on the usual schedule.
    let t3 = t2 + Duration::from_secs(1);
    m.on_check(&took(1), t3);
    assert_eq!(m.next_check_at(), t3 + INTER);
}

#[test]
fn fastinter_never_delays_a_sooner_check() {
    let t0 = Instant::now();
    let t = Timing::new(Duration::from_millis(100))
        .fastinter(Duration::from_secs(5))
        .spread(0);
    let mut m = HealthMachine::with_seed(&t, InitialState::FullyUp, t0, 1);
    m.set_passive(passive(OnError::FastInter, 1));
    m.on_check(&pass(), t0);
    assert_eq!(m.next_check_at(), t0 + Duration::from_millis(100));
    m.on_traffic(TrafficOutcome::Reset, t0);
    assert_eq!(m.next_check_at(), t0 + Duration::from_millis(100));
}

#[test]
fn many_servers_checks_are_spread() {
    // 1000 servers at `inter 1s` with a 10 % spread: simulate 10 s of perfect checks and count
    // the checks that start in each 10 ms window. Uniform spreading means 10 per window on
    // average; all at once would mean 1000.
    let t = Timing::new(Duration::from_secs(1)).spread(10);
    let t0 = Instant::now();
    let mut machines: Vec<_> = (0..1000)
        .map(|i| HealthMachine::with_seed(&t, InitialState::FullyUp, t0, i))
        .collect();
    let window = Duration::from_millis(10);
    let mut buckets = vec![0u32; 1000];
    for m in &mut machines {
        while m.next_check_at() < t0 + Duration::from_secs(10) {
            let at = m.next_check_at();
            let bucket = ((at - t0).as_nanos() / window.as_nanos()) as usize;
            buckets[bucket] += 1;
            m.on_check(&pass(), at);
        }
    }
    let total: u32 = buckets.iter().sum();
    let peak = *buckets.iter().max().unwrap();
    assert!((9_500..=10_500).contains(&total), "{total}");
    assert!(peak <= 40, "peak {peak} checks in one 10 ms window");
}

proptest! {
    /// Invariants against a reference reading of rise/fall on random result sequences.
    #[test]
    fn rise_fall_invariants(
        rise in 1u32..5,
        fall in 1u32..5,
        initial in prop_oneof![
            Just(InitialState::Unknown),
            Just(InitialState::Up),
            Just(InitialState::FullyUp),
            Just(InitialState::Down),
            Just(InitialState::FullyDown),
        ],
        results in proptest::collection::vec(any::<bool>(), 0..60),
        spread in 0u8..=50,
    ) {
        let t = Timing::new(INTER).fastinter(FAST).downinter(DOWN).rise(rise).fall(fall).spread(spread);
        let t0 = Instant::now();
        let mut m = HealthMachine::with_seed(&t, initial, t0, 11);
        let mut now = t0;
        let (mut run_pass, mut run_fail) = (0u32, 0u32);
        // Whether the server holds its whole `fall` budget (fully up, or passed while up).
        let mut topped = initial == InitialState::FullyUp;
        for passed in results {
            now += Duration::from_millis(250);
            let before = m.state();
            let transition = m.on_check(&if passed { pass() } else { fail() }, now);
            let after = m.state();
            if passed { run_pass += 1; run_fail = 0 } else { run_fail += 1; run_pass = 0 }
            // A transition is reported exactly when the state changes.
            prop_assert_eq!(transition.is_some(), before != after);
            // Up only on a pass, down only on a failure.
            if after != before {
                prop_assert_eq!(after, if passed { Health::Up } else { Health::Down });
            }
            // `fall` consecutive failures always leave it down, `rise` passes always up.
            if run_fail >= fall { prop_assert_eq!(after, Health::Down); }
            if run_pass >= rise { prop_assert_eq!(after, Health::Up); }
            // ...and once topped up, only `fall` consecutive failures take it down.
            if before == Health::Up && after == Health::Down && topped {
                prop_assert!(run_fail >= fall, "down after {} failures, fall {}", run_fail, fall);
            }
            // (The first pass from unknown leaves it one failure from down, by design.)
            topped = after == Health::Up && (topped || (passed && before != Health::Unknown));
            // The counter stays in HAProxy's range and agrees with the state.
            prop_assert!(m.health_counter() < rise + fall);
            prop_assert_eq!(after == Health::Up, m.health_counter() >= rise);
            // The next check is the phase's interval, within the spread.
            let base = match m.phase() {
                Phase::FullyUp => INTER,
                Phase::FullyDown => DOWN,
                _ => FAST,
            };
            let s = f64::from(spread) / 100.0;
            let wait = (m.next_check_at() - now).as_secs_f64();
            prop_assert!(wait >= base.as_secs_f64() * (1.0 - s) - 1e-6);
            prop_assert!(wait <= base.as_secs_f64() * (1.0 + s) + 1e-6);
        }
    }
}

proptest! {
    /// A fully up server that starts failing at `fail_at` is down within
    /// `inter + (fall - 1) * fastinter` (each stretched by the spread); once it recovers at
    /// `heal_at` it is up within `downinter + (rise - 1) * fastinter`.
    #[test]
    fn detection_latency_is_bounded(
        inter_ms in 100u64..5000,
        fast_ms in 10u64..2000,
        down_ms in 100u64..10_000,
        rise in 1u32..5,
        fall in 1u32..5,
        spread in 0u8..=50,
        fail_after_ms in 0u64..20_000,
        seed in any::<u64>(),
    ) {
        let t = Timing::new(Duration::from_millis(inter_ms))
            .fastinter(Duration::from_millis(fast_ms))
            .downinter(Duration::from_millis(down_ms))
            .rise(rise)
            .fall(fall)
            .spread(spread);
        let stretch = 1.0 + f64::from(spread) / 100.0;
        let t0 = Instant::now();
        let fail_at = t0 + Duration::from_millis(fail_after_ms);
        let mut m = HealthMachine::with_seed(&t, InitialState::FullyUp, t0, seed);
        // Healthy until `fail_at`, failing after.
        let down_at = loop {
            let now = m.next_check_at();
            let result = if now < fail_at { pass() } else { fail() };
            if let Some(tr) = m.on_check(&result, now) {
                prop_assert_eq!(tr.to, Health::Down);
                break now;
            }
        };
        let bound = Duration::from_millis(inter_ms).mul_f64(stretch)
            + Duration::from_millis(fast_ms).mul_f64(stretch) * (fall - 1);
        prop_assert!(down_at - fail_at <= bound + Duration::from_millis(1),
            "down {:?} after the failure, bound {:?}", down_at - fail_at, bound);
        // Healthy again right away.
        let heal_at = down_at + Duration::from_millis(1);
        let up_at = loop {
            let now = m.next_check_at();
            let result = if now < heal_at { fail() } else { pass() };
            if let Some(tr) = m.on_check(&result, now) {
                prop_assert_eq!(tr.to, Health::Up);
                break now;
            }
        };
        let bound = Duration::from_millis(down_ms).mul_f64(stretch)
            + Duration::from_millis(fast_ms).mul_f64(stretch) * (rise - 1);
        prop_assert!(up_at - heal_at <= bound + Duration::from_millis(1),
            "up {:?} after recovery, bound {:?}", up_at - heal_at, bound);
    }
}

/// `Duration::MAX` as an interval means "as rarely as possible" (about 24.8 days), never a
/// panic: every step that schedules a check adds an interval (spread included) to now.
#[test]
fn the_longest_intervals_never_overflow() {
    let timing = Timing::new(Duration::MAX)
        .fastinter(Duration::MAX)
        .downinter(Duration::MAX)
        .spread(Timing::MAX_SPREAD_PERCENT)
        .rise(1)
        .fall(1);
    let now = Instant::now();
    let mut machine = HealthMachine::new(&timing, InitialState::Up, now);
    assert!(machine.next_check_at() <= now + Duration::from_secs(60 * 86_400));
    machine.on_check(&fail(), now);
    assert_eq!(machine.state(), Health::Down);
    machine.on_check(&pass(), now);
    assert_eq!(machine.state(), Health::Up);
    machine.on_traffic(TrafficOutcome::ConnectRefused, now);
    let later = now + Duration::from_secs(1);
    assert!(machine.next_check_at() > later);
}
