//! batch-terminator: an AWS Batch compatible HTTP API in front of Kubernetes Jobs.
#![forbid(unsafe_code)]
pub mod admin;
pub mod config;
pub mod index;
pub mod metrics;
pub mod record;
pub mod serve;
pub mod telemetry;
