//! The Kubernetes side of batch-terminator: the JobTermination CRD ([`record`]), the watch
//! caches ([`index`]), the controller that carries out records, and the [`JobService`] on
//! Kubernetes ([`service`]).
//!
//! [`JobService`]: batch_terminator_api::JobService
#![forbid(unsafe_code)]

// The layers below, under the module names this crate's modules use.
use batch_terminator_api as api;
use batch_terminator_core::batch;

pub mod controller;
pub mod definition;
pub mod index;
pub mod legacy;
pub mod metrics;
pub mod record;
pub mod service;
