//! A handle to stop a running tunnel from another task.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

const RUNNING: u8 = 0;
const DRAIN: u8 = 1;
const ABORT: u8 = 2;
const FINISHED: u8 = 3;

/// A cloneable handle to one tunnel, usable from any task or thread.
///
/// Get it with [`Tunnel::handle`](crate::Tunnel::handle) before running the tunnel. Calling
/// [`abort`](Self::abort) or [`drain`](Self::drain) after the tunnel finished does nothing.
///
/// ```
/// # async fn demo(a: tokio::io::DuplexStream, b: tokio::io::DuplexStream) {
/// let mut tunnel = gangway_tunnel::Tunnel::new(a, b);
/// let handle = tunnel.handle();
/// let task = tokio::spawn(tunnel.run());
/// handle.abort(); // e.g. the server was marked down
/// let outcome = task.await.unwrap();
/// assert!(matches!(outcome.reason, gangway_tunnel::CloseReason::Aborted));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TunnelHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

/// What the owner of the handle asked the tunnel to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Run,
    Drain,
    Abort,
}

impl TunnelHandle {
    /// Close both connections now, dropping bytes in flight; the tunnel ends with
    /// [`CloseReason::Aborted`](crate::CloseReason::Aborted).
    pub fn abort(&self) {
        self.request(ABORT);
    }

    /// Stop reading, deliver the bytes already read, then shut down writing towards both sides;
    /// the tunnel ends with [`CloseReason::Drained`](crate::CloseReason::Drained). Used for a
    /// graceful shutdown: peers see a clean end of stream at a byte boundary the tunnel saw.
    pub fn drain(&self) {
        self.request(DRAIN);
    }

    /// Whether the tunnel has finished: its outcome is decided, or its future was dropped
    /// before that (the task cancelled). Either way both streams are closed by then.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) == FINISHED
    }

    fn request(&self, command: u8) {
        let mut current = self.shared.state.load(Ordering::Acquire);
        // Abort wins over drain; nothing changes a finished tunnel.
        while current < command && current != FINISHED {
            match self.shared.state.compare_exchange(
                current,
                command,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let waker = match self.shared.waker.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Remember the tunnel task's waker, then read the current command.
    pub(crate) fn poll_command(&self, cx: &mut Context<'_>) -> Command {
        // A draining tunnel keeps its waker too: an abort may follow (a shutdown aborts what
        // has not drained after a moment), and a drain stuck on a peer that reads nothing
        // would otherwise never see it.
        if matches!(self.shared.state.load(Ordering::Acquire), RUNNING | DRAIN) {
            let mut slot = match self.shared.waker.lock() {
                Ok(slot) => slot,
                Err(poisoned) => poisoned.into_inner(),
            };
            match slot.as_ref() {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        match self.shared.state.load(Ordering::Acquire) {
            DRAIN => Command::Drain,
            ABORT => Command::Abort,
            _ => Command::Run,
        }
    }

    /// Marks the tunnel finished (its streams are closed) and drops the waker.
    pub(crate) fn finish(&self) {
        self.shared.state.store(FINISHED, Ordering::Release);
        let waker = match self.shared.waker.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn abort_wins_over_drain_and_finish_is_final() {
        let mut cx = Context::from_waker(Waker::noop());
        let handle = TunnelHandle::default();
        assert_eq!(handle.poll_command(&mut cx), Command::Run);
        handle.drain();
        assert_eq!(handle.poll_command(&mut cx), Command::Drain);
        handle.abort();
        assert_eq!(handle.poll_command(&mut cx), Command::Abort);
        handle.drain();
        assert_eq!(handle.poll_command(&mut cx), Command::Abort);
        handle.finish();
        assert!(handle.is_finished());
        handle.abort();
        assert!(handle.is_finished());
    }

    #[test]
    fn an_abort_after_a_drain_wakes_the_draining_task() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let handle = TunnelHandle::default();
        assert_eq!(handle.poll_command(&mut cx), Command::Run);
        handle.drain();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(handle.poll_command(&mut cx), Command::Drain);
        handle.abort();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            2,
            "the abort wakes the task"
        );
        assert_eq!(handle.poll_command(&mut cx), Command::Abort);
    }
}
