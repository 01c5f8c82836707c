//! Applying health to a [`gangway_balance::ServerSet`] (feature `balance`).

use std::sync::Arc;

use gangway_balance::{ServerId, ServerSet, ServerState};

use crate::{Health, HealthCheckerBuilder, HealthEvent};

/// Applies one health event to `set`: `Up` and `Down` move the server between
/// [`ServerState::Up`] and [`ServerState::Down`]; an operator's [`ServerState::Drain`] or
/// [`ServerState::Maint`] is never overridden, and [`Health::Unknown`] changes nothing.
///
/// Returns the state the server now has, or `None` when the set does not know the server
/// (it was removed).
///
/// ```
/// use std::time::Instant;
/// use gangway_balance::{Algorithm, Server, ServerSet, ServerState};
/// use gangway_health::{apply_event, Health, HealthEvent, Reason};
///
/// let set = ServerSet::new(Algorithm::RoundRobin);
/// let id = set.add(Server::new("127.0.0.1:8080".parse().unwrap())).unwrap();
/// let event = HealthEvent {
///     server: id,
///     addr: "127.0.0.1:8080".parse().unwrap(),
///     from: Health::Up,
///     to: Health::Down,
///     reason: Reason::Forced,
///     consecutive: 0,
///     check_duration: None,
///     at: Instant::now(),
/// };
/// assert_eq!(apply_event(&set, &event), Some(ServerState::Down));
/// ```
pub fn apply_event(set: &ServerSet, event: &HealthEvent<ServerId>) -> Option<ServerState> {
    apply_health(set, event.server, event.to, event.at).map(|(_, now)| now)
}

/// Applies a health verdict to server `id` of `set` as [`apply_event`] does, at `at` (for
/// slow start), reading and changing its state in one batch so that an operator's drain or
/// maintenance set meanwhile is kept. Returns the state before and after, or `None` when the
/// set does not know the server.
///
/// ```
/// use std::time::Instant;
/// use gangway_balance::{Algorithm, Server, ServerSet, ServerState};
/// use gangway_health::{apply_health, Health};
///
/// let set = ServerSet::new(Algorithm::RoundRobin);
/// let id = set.add(Server::new("127.0.0.1:8080".parse().unwrap())).unwrap();
/// let change = apply_health(&set, id, Health::Down, Instant::now());
/// assert_eq!(change, Some((ServerState::Up, ServerState::Down)));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "balance")))]
pub fn apply_health(
    set: &ServerSet,
    id: ServerId,
    health: Health,
    at: std::time::Instant,
) -> Option<(ServerState, ServerState)> {
    set.update(|batch| {
        let current = batch.state(id).ok()?;
        let Some(target) = state_after(current, health) else {
            return Some((current, current));
        };
        batch.advance_clock(at);
        batch.set_state(id, target).ok()?;
        Some((current, target))
    })
}

/// The state a health verdict moves a server from `current` to, or `None` when it stays:
/// checks move servers between up and down, never out of an operator's drain or maintenance,
/// and an unknown verdict changes nothing.
///
/// ```
/// use gangway_balance::ServerState;
/// use gangway_health::{Health, state_after};
/// assert_eq!(state_after(ServerState::Up, Health::Down), Some(ServerState::Down));
/// assert_eq!(state_after(ServerState::Maint, Health::Up), None);
/// assert_eq!(state_after(ServerState::Up, Health::Up), None);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "balance")))]
pub fn state_after(current: ServerState, health: Health) -> Option<ServerState> {
    let target = match health {
        Health::Up => ServerState::Up,
        Health::Down => ServerState::Down,
        Health::Unknown => return None,
    };
    (matches!(current, ServerState::Up | ServerState::Down) && current != target).then_some(target)
}

#[cfg_attr(docsrs, doc(cfg(feature = "balance")))]
impl HealthCheckerBuilder<ServerId> {
    /// Applies every state change to `set` as it happens (see [`apply_event`]), before the
    /// event is broadcast.
    pub fn apply_to(self, set: Arc<ServerSet>) -> Self {
        self.on_change(move |event| {
            if apply_event(&set, event).is_none() {
                tracing::debug!(server = %event.server, "health event for a server no longer in the set");
            }
        })
    }

    /// Checks every server of `set` (at its traffic address, unless the check overrides
    /// address or port) and applies the results to it.
    ///
    /// Servers added to the set later are not picked up: add them with
    /// [`HealthChecker::add_server`](crate::HealthChecker::add_server).
    pub fn server_set(self, set: Arc<ServerSet>) -> Self {
        let servers: Vec<_> = set
            .servers()
            .into_iter()
            .map(|info| (info.id, info.server.get_addr()))
            .collect();
        self.servers(servers).apply_to(set)
    }
}
