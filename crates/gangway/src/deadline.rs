//! One lazy timer per connection for the timeouts of its reads.
//!
//! `tokio::time::timeout` registers a timer in the runtime's wheel for every read and removes
//! it again when the read completes: two locked wheel operations per read, two reads per
//! keep-alive request. A connection's reads never overlap, so one timer serves them all, and
//! it is moved only when it would fire: a read that completes before the timer's instant
//! leaves it armed where it is; when it fires before the read's own deadline (armed for an
//! earlier read), it is re-armed for that deadline and the wait goes on. In a busy keep-alive
//! connection the timer is touched once per timeout period, not twice per request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// A connection's read timer, created on first use (one allocation per connection).
#[derive(Debug, Default)]
pub(crate) struct LazyTimer {
    sleep: Option<Pin<Box<Sleep>>>,
}

/// The time allowed ran out.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// `now + limit`; a deadline past what an `Instant` holds (a timeout of `Duration::MAX`) is
/// far enough to be never: 30 years.
pub(crate) fn deadline_from(now: Instant, limit: Duration) -> Instant {
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

impl LazyTimer {
    /// Runs `fut` to completion unless `limit` passes first.
    pub(crate) async fn within<F: Future>(
        &mut self,
        limit: Duration,
        fut: F,
    ) -> Result<F::Output, Elapsed> {
        let now = Instant::now();
        let deadline = deadline_from(now, limit);
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                // Armed later than this deadline (or already fired): move it now. Armed
                // earlier: leave it, it is pushed back if it fires before the read is done.
                if sleep.deadline() > deadline || sleep.deadline() <= now {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        Within {
            fut: std::pin::pin!(fut),
            sleep: sleep.as_mut(),
            deadline,
        }
        .await
    }
}

struct Within<'a, F> {
    fut: Pin<&'a mut F>,
    sleep: Pin<&'a mut Sleep>,
    deadline: Instant,
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        while self.sleep.as_mut().poll(cx).is_ready() {
            if Instant::now() >= self.deadline {
                return Poll::Ready(Err(Elapsed));
            }
            // Fired for an earlier read's deadline: wait on for this one's.
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn times_out_at_each_reads_own_deadline() {
        let mut timer = LazyTimer::default();
        // Completes at once: the timer stays armed at +10 s.
        assert!(
            timer
                .within(Duration::from_secs(10), async {})
                .await
                .is_ok()
        );
        // A later deadline than armed: the early firing at +10 s is pushed back to +50 s.
        let started = Instant::now();
        let r = timer
            .within(Duration::from_secs(50), std::future::pending::<()>())
            .await;
        assert!(r.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(50));
        // An earlier deadline than armed: moved forward.
        let started = Instant::now();
        timer
            .within(Duration::from_secs(1), async {})
            .await
            .unwrap();
        let r = timer
            .within(Duration::from_secs(2), std::future::pending::<()>())
            .await;
        assert!(r.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // A read that finishes in time is not cut short by a timer armed earlier.
        let r = timer
            .within(
                Duration::from_secs(30),
                tokio::time::sleep(Duration::from_secs(20)),
            )
            .await;
        assert!(r.is_ok());
        // Huge limits mean no timeout in practice, never a panic.
        let r = timer.within(Duration::MAX, async { 7 }).await;
        assert_eq!(r.unwrap(), 7);
    }
}
