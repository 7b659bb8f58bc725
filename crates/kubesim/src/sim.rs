//! The simulated control plane: Job controller, scheduler, kubelet, TTL-after-finished
//! controller, Event expiry and simulated Nodes.
//!
//! Each controller is a pure decision function from typed objects and the time ([`SimTime`])
//! to actions, unit-tested without a server; the runner that feeds them from the store lives
//! beside them.

pub mod clock;
pub mod events;
pub mod job;
pub mod kubelet;
pub mod nodes;
pub mod runner;
pub mod scheduler;
pub mod ttl;

pub use clock::{SimTime, TimeScale};
pub use nodes::NodeConfig;

use std::time::Duration;

/// Settings of the simulated control plane.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Multiplies every delay and grace period of the simulation (0.01: a 30 s grace period
    /// takes 0.3 s). Timestamps written stay real wall-clock time.
    pub time_scale: TimeScale,
    /// The simulated nodes; by default one Ready node, `kubesim-node-0`.
    pub nodes: Vec<NodeConfig>,
    /// How long Events live (simulated time), one hour by default.
    pub event_ttl: Duration,
    /// Time from binding until a pod's containers run (simulated), one second by default.
    pub start_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            time_scale: TimeScale::default(),
            nodes: vec![NodeConfig::new(nodes::DEFAULT_NODE_NAME)],
            event_ttl: events::DEFAULT_EVENT_TTL,
            start_delay: kubelet::DEFAULT_START_DELAY,
        }
    }
}
