//! batch-terminator: an AWS Batch compatible HTTP API in front of Kubernetes Jobs.
#![forbid(unsafe_code)]
pub mod index;
pub mod record;
pub mod serve;
