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
pub mod scheduler;
pub mod ttl;

pub use clock::{SimTime, TimeScale};
