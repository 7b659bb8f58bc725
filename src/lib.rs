//! batch-terminator: an AWS Batch compatible HTTP API in front of Kubernetes Jobs.
//!
//! This crate wires the layers into the service (`serve`), and holds its configuration, logs,
//! metrics and probes. The layers are their own crates, re-exported under their module names:
//! [`batch`] and [`auth`] (pure), [`api`] (HTTP, no kube), and the Kubernetes side.
#![forbid(unsafe_code)]
pub mod admin;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod serve;
pub mod telemetry;

pub use batch_terminator_api as api;
pub use batch_terminator_core::{auth, batch};
pub use batch_terminator_k8s::{controller, definition, index, legacy, metrics, record, service};
