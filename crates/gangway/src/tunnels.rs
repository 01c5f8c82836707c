//! The gateway's open tunnels: one task each, holding only what the tunnel needs, and a
//! per-backend set of their handles that a kill (`shutdown-sessions`) or a shutdown reaches.
//!
//! An idle tunnel is the resident cost that matters (thousands of WebSocket connections wait
//! for hours), so nothing waits on its behalf: no watcher task, no subscription to the
//! gateway's phase or the server's kill switch. Those rare events walk the sets instead.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use gangway_tunnel::{TunnelHandle, TunnelOutcome};

use crate::gateway::{Admission, Phase};
use crate::metrics::add;
use crate::upstream::ServerRt;

/// How long tunnels get to drain once a shutdown's grace period is over.
pub(crate) const CLOSING_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);

/// The handles of one backend's open tunnels, each with its server (a slab: a slot per
/// tunnel, reused). Backends live as long as the gateway; servers may be removed meanwhile.
#[derive(Debug, Default)]
pub(crate) struct TunnelSet {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// Each handle with its server's address (the tunnel holds the server: it stays unique).
    handles: Vec<Option<(TunnelHandle, usize)>>,
    free: Vec<u32>,
}

impl TunnelSet {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, handle: TunnelHandle, server: usize) -> u32 {
        let entry = Some((handle, server));
        let mut slots = self.lock();
        match slots.free.pop() {
            Some(key) => {
                slots.handles[key as usize] = entry;
                key
            }
            None => {
                slots.handles.push(entry);
                u32::try_from(slots.handles.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    fn remove(&self, key: u32) {
        let mut slots = self.lock();
        if let Some(slot) = slots.handles.get_mut(key as usize)
            && slot.take().is_some()
        {
            slots.free.push(key);
        }
        if slots.free.len() == slots.handles.len() {
            // None open: give the memory back (a burst of tunnels may have been large).
            *slots = Slots::default();
        }
    }

    /// Aborts every open tunnel (both sides closed at once).
    pub(crate) fn abort_all(&self) {
        self.lock()
            .handles
            .iter()
            .flatten()
            .for_each(|(h, _)| h.abort());
    }

    /// Aborts the open tunnels to `srv`.
    pub(crate) fn abort_server(&self, srv: &ServerRt) {
        let slots = self.lock();
        let to = std::ptr::from_ref(srv).addr();
        for (handle, _) in slots.handles.iter().flatten().filter(|(_, s)| *s == to) {
            handle.abort();
        }
    }

    /// Drains every open tunnel: bytes already read are delivered, then both sides get a FIN.
    pub(crate) fn drain_all(&self) {
        self.lock()
            .handles
            .iter()
            .flatten()
            .for_each(|(h, _)| h.drain());
    }

    /// How many tunnels are open.
    #[cfg(test)]
    fn len(&self) -> usize {
        let slots = self.lock();
        slots.handles.len() - slots.free.len()
    }
}

/// A running tunnel as the gateway spawns it: the tunnel's own future, then what is released
/// when it ends (its connection's admission, its server's slot) and where its bytes count.
pub(crate) struct GatewayTunnel<F> {
    run: F,
    admission: Admission,
    srv: Arc<ServerRt>,
    slot: Option<gangway_balance::ConnectionSlot>,
    backend: u32,
    key: u32,
}

impl<F> GatewayTunnel<F>
where
    F: Future<Output = TunnelOutcome> + Unpin,
{
    /// Registers the tunnel with its server's set (drained at once when the gateway is already
    /// closing) and counts it open until it ends.
    pub(crate) fn new(
        run: F,
        handle: TunnelHandle,
        admission: Admission,
        backend: usize,
        srv: Arc<ServerRt>,
        slot: gangway_balance::ConnectionSlot,
    ) -> Self {
        let shared = &admission.shared;
        let be = &shared.backends[backend];
        add(&be.counters.active_tunnels, 1);
        add(&srv.counters.active_tunnels, 1);
        // Insert first, then look at the phase: a shutdown that walks the set before this
        // insert has already set the phase, so this tunnel sees it and drains itself; one
        // that walks after it finds the tunnel there (and aborts it later if need be).
        let key = be.tunnels.insert(handle.clone(), Arc::as_ptr(&srv).addr());
        if *shared.phase.borrow() >= Phase::Closing {
            handle.drain();
        }
        GatewayTunnel {
            run,
            admission,
            srv,
            slot: Some(slot),
            backend: u32::try_from(backend).unwrap_or(u32::MAX),
            key,
        }
    }
}

impl<F> Future for GatewayTunnel<F>
where
    F: Future<Output = TunnelOutcome> + Unpin,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let outcome = std::task::ready!(Pin::new(&mut this.run).poll(cx));
        let be = &this.admission.shared.backends[this.backend as usize];
        let srv = &this.srv;
        add(&be.counters.bytes_in, outcome.client_to_server);
        add(&srv.counters.bytes_in, outcome.client_to_server);
        add(&be.counters.bytes_out, outcome.server_to_client);
        add(&srv.counters.bytes_out, outcome.server_to_client);
        tracing::debug!(backend = %be.name, server = %srv.name, reason = %outcome.reason, up = outcome.client_to_server, down = outcome.server_to_client, spliced = outcome.bytes_spliced, "tunnel closed");
        // The server's slot goes before the admission, as when the connection itself ends.
        this.slot = None;
        Poll::Ready(())
    }
}

impl<F> Drop for GatewayTunnel<F> {
    fn drop(&mut self) {
        let be = &self.admission.shared.backends[self.backend as usize];
        be.tunnels.remove(self.key);
        be.counters
            .active_tunnels
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.srv
            .counters
            .active_tunnels
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.slot = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `f` returns, and of the task future wrapping it.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn sizes<A, B, R>(_: &impl Fn(A, B) -> R) -> (usize, usize) {
        (size_of::<R>(), size_of::<GatewayTunnel<R>>())
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn an_idle_tunnel_task_stays_in_a_384_byte_allocation() {
        // tokio stores a task in a 128-byte aligned cell: its own header and trailer plus the
        // future. Up to 280 bytes of future the cell is 384 bytes, from 288 it is 512
        // (x86_64 Linux, tokio 1.5x: gangway-tunnel's `tests/task_size.rs` reads the cell
        // sizes from the allocator). Every idle tunnel has one.
        let tcp = |c: tokio::net::TcpStream, s: tokio::net::TcpStream| {
            gangway_tunnel::Tunnel::new(c, s).run()
        };
        let (tunnel, task) = sizes(&tcp);
        assert!(
            task <= 280,
            "the tunnel task's future is {task} bytes ({tunnel} of tunnel)"
        );
    }

    #[test]
    fn slots_are_reused_and_freed_when_empty() {
        let set = TunnelSet::default();
        let (a, b, c) = (
            TunnelHandle::default(),
            TunnelHandle::default(),
            TunnelHandle::default(),
        );
        let ka = set.insert(a.clone(), 1);
        let kb = set.insert(b.clone(), 2);
        assert_eq!(set.len(), 2);
        set.remove(ka);
        let kc = set.insert(c.clone(), 1);
        assert_eq!(kc, ka, "a freed slot is reused");
        set.drain_all();
        set.abort_all();
        set.remove(kb);
        set.remove(kb);
        assert_eq!(set.len(), 1);
        set.remove(kc);
        assert_eq!(set.len(), 0);
        assert_eq!(
            set.lock().handles.capacity(),
            0,
            "an empty set holds no memory"
        );
    }
}
