//! Active health checks and passive observation, applied to backend server states.

use std::sync::Arc;

use crate::gateway::Shared;

/// The running health-check tasks of a gateway.
#[derive(Debug, Default)]
pub(crate) struct HealthTasks {
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl HealthTasks {
    /// Stops every check task.
    pub(crate) fn stop(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

/// Starts one check task per checked server.
pub(crate) fn start(_shared: &Arc<Shared>) -> HealthTasks {
    HealthTasks::default()
}

/// Reports a failed connection or response from server `s` of backend `b` (passive health).
pub(crate) fn observe_failure(_shared: &Shared, _b: usize, _s: usize) {}
