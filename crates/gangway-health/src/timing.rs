//! How often a server is checked and how many results flip its state.

use std::time::Duration;

/// Check timing: HAProxy's `inter`, `fastinter`, `downinter`, `rise`, `fall`, `timeout check`
/// and `spread-checks`.
///
/// The interval used for the next check depends on where the server stands (see
/// [`Phase`](crate::Phase)):
///
/// - fully up (no failure since it came up): `inter`;
/// - changing state (up but failing, down but passing, or unknown): `fastinter`;
/// - fully down: `downinter`.
///
/// Every interval is spread by a random `±spread` percent, so thousands of servers checked at the
/// same `inter` drift apart instead of firing together.
///
/// ```
/// use std::time::Duration;
/// use gangway_health::Timing;
///
/// let timing = Timing::new(Duration::from_secs(2))
///     .rise(2)
///     .fall(2)
///     .fastinter(Duration::from_millis(500))
///     .timeout(Duration::from_secs(1));
/// assert_eq!(timing.get_rise(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    inter: Duration,
    fastinter: Option<Duration>,
    downinter: Option<Duration>,
    rise: u32,
    fall: u32,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    spread_percent: u8,
}

impl Default for Timing {
    /// HAProxy's defaults, `inter 2s rise 2 fall 3`, plus a 10 % spread (HAProxy's
    /// `spread-checks` defaults to 0; a little spread costs nothing and avoids bursts).
    fn default() -> Self {
        Timing::new(Duration::from_secs(2))
    }
}

/// Keeps an interval between one millisecond (a check loop never spins) and
/// [`Timing::MAX_INTERVAL`] (deadlines stay representable: `Duration::MAX` means "rarely").
fn interval(d: Duration) -> Duration {
    d.clamp(Duration::from_millis(1), Timing::MAX_INTERVAL)
}

impl Timing {
    /// The largest accepted spread, in percent (HAProxy's `spread-checks` limit).
    pub const MAX_SPREAD_PERCENT: u8 = 50;

    /// The longest interval between checks: longer ones (up to `Duration::MAX`) are taken
    /// as this, about 24.8 days (HAProxy's largest timer, 2^31 - 1 ms).
    pub const MAX_INTERVAL: Duration = Duration::from_millis(i32::MAX as u64);

    /// Timing with `inter` and otherwise the defaults: `rise 2`, `fall 3`, `fastinter` and
    /// `downinter` equal to `inter`, a timeout of `inter` for the whole check (HAProxy without
    /// `timeout check`), a 10 % spread.
    ///
    /// A zero `inter` is raised to one millisecond so a check loop can never spin, and every
    /// interval is at most [`MAX_INTERVAL`](Self::MAX_INTERVAL).
    pub fn new(inter: Duration) -> Self {
        Timing {
            inter: interval(inter),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            timeout: None,
            connect_timeout: None,
            spread_percent: 10,
        }
    }

    /// Sets `inter`, the interval between checks of a server that is fully up.
    pub fn inter(mut self, inter: Duration) -> Self {
        self.inter = interval(inter);
        self
    }

    /// Sets `fastinter`, the interval while a server is changing state (default: `inter`).
    pub fn fastinter(mut self, fastinter: Duration) -> Self {
        self.fastinter = Some(interval(fastinter));
        self
    }

    /// Sets `downinter`, the interval while a server is fully down (default: `inter`).
    pub fn downinter(mut self, downinter: Duration) -> Self {
        self.downinter = Some(interval(downinter));
        self
    }

    /// Sets `rise`: consecutive passed checks that bring a down server up (at least 1).
    pub fn rise(mut self, rise: u32) -> Self {
        self.rise = rise.max(1);
        self
    }

    /// Sets `fall`: consecutive failed checks that bring an up server down (at least 1).
    pub fn fall(mut self, fall: u32) -> Self {
        self.fall = fall.max(1);
        self
    }

    /// Sets the longest time one check may take (`timeout check`): the whole check, connect
    /// included, or with [`connect_timeout`](Self::connect_timeout) the part after the connect.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// Bounds the connect on its own; [`timeout`](Self::timeout) then counts from the moment
    /// the connection is established. HAProxy does this when `timeout check` is set, giving
    /// the connect `min(timeout connect, inter)`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// Sets the random spread applied to every interval, in percent (clamped to
    /// [`MAX_SPREAD_PERCENT`](Self::MAX_SPREAD_PERCENT)); `0` disables it.
    pub fn spread(mut self, percent: u8) -> Self {
        self.spread_percent = percent.min(Self::MAX_SPREAD_PERCENT);
        self
    }

    /// `inter`.
    pub fn get_inter(&self) -> Duration {
        self.inter
    }

    /// `fastinter` (falls back to `inter`).
    pub fn get_fastinter(&self) -> Duration {
        self.fastinter.unwrap_or(self.inter)
    }

    /// `downinter` (falls back to `inter`).
    pub fn get_downinter(&self) -> Duration {
        self.downinter.unwrap_or(self.inter)
    }

    /// `rise`.
    pub fn get_rise(&self) -> u32 {
        self.rise
    }

    /// `fall`.
    pub fn get_fall(&self) -> u32 {
        self.fall
    }

    /// The check timeout (falls back to `inter`).
    pub fn get_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.inter)
    }

    /// The connect timeout, when the connect is bounded on its own.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The spread in percent.
    pub fn get_spread(&self) -> u8 {
        self.spread_percent
    }

    /// Applies the spread to `interval` given a uniform random `unit` in `[0, 1)`: the result
    /// lies in `[interval * (1 - s), interval * (1 + s))`.
    pub(crate) fn spread_interval(&self, interval: Duration, unit: f64) -> Duration {
        if self.spread_percent == 0 {
            return interval;
        }
        let s = f64::from(self.spread_percent) / 100.0;
        let factor = 1.0 - s + 2.0 * s * unit.clamp(0.0, 1.0);
        interval.mul_f64(factor)
    }
}

/// The state a server starts in, before any check result (HAProxy's `init-state`).
///
/// [`Unknown`](Self::Unknown) is the default: the first result decides, and that first decision
/// is always a state change (`Unknown -> Up` or `Unknown -> Down`), so every subscriber sees a
/// first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InitialState {
    /// No state until the first result: a pass makes it up (one failure away from down, like
    /// HAProxy's `init-state up`), a failure makes it fully down.
    #[default]
    Unknown,
    /// Assumed up, but the first failed check marks it down (HAProxy's `init-state up`).
    Up,
    /// Assumed up; `fall` failed checks are needed to mark it down (`init-state fully-up`).
    FullyUp,
    /// Assumed down, but the first passed check marks it up (`init-state down`).
    Down,
    /// Assumed down; `rise` passed checks are needed to mark it up (`init-state fully-down`).
    FullyDown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_haproxy() {
        let t = Timing::default();
        assert_eq!(t.get_inter(), Duration::from_secs(2));
        assert_eq!(t.get_fastinter(), t.get_inter());
        assert_eq!(t.get_downinter(), t.get_inter());
        assert_eq!((t.get_rise(), t.get_fall()), (2, 3));
        assert_eq!(t.get_timeout(), Duration::from_secs(2));
        let long = Timing::new(Duration::from_secs(5));
        assert_eq!(
            long.get_timeout(),
            Duration::from_secs(5),
            "inter, as in HAProxy"
        );
        assert_eq!(long.get_connect_timeout(), None);
        let short = Timing::new(Duration::from_millis(300));
        assert_eq!(short.get_timeout(), Duration::from_millis(300));
        let short = short.rise(0).fall(0).spread(200);
        assert_eq!((short.get_rise(), short.get_fall()), (1, 1));
        assert_eq!(short.get_spread(), Timing::MAX_SPREAD_PERCENT);
    }

    #[test]
    fn spread_stays_within_bounds() {
        let t = Timing::new(Duration::from_secs(1)).spread(20);
        let cases = [
            (0.0, Duration::from_millis(800)),
            (0.5, Duration::from_millis(1000)),
            (0.999_999, Duration::from_millis(1200)),
        ];
        for (unit, expected) in cases {
            let got = t.spread_interval(Duration::from_secs(1), unit);
            let diff = got.abs_diff(expected);
            assert!(
                diff < Duration::from_millis(1),
                "{unit}: {got:?} vs {expected:?}"
            );
        }
        let t = t.spread(0);
        assert_eq!(
            t.spread_interval(Duration::from_secs(1), 0.9),
            Duration::from_secs(1)
        );
    }
}
