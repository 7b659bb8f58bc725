//! The pure core of batch-terminator: the AWS Batch domain ([`batch`]) and SigV4
//! authentication ([`auth`]). No kube, no HTTP framework, no async runtime: the build enforces it
//! (this crate does not depend on them).
#![forbid(unsafe_code)]
pub mod auth;
pub mod batch;
