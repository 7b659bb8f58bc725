//! batch-terminator: an AWS Batch compatible HTTP API in front of Kubernetes Jobs.
#![forbid(unsafe_code)]
pub mod admin;
pub mod api;
pub mod auth;
pub mod batch;
pub mod config;
pub mod controller;
pub mod demo;
pub mod index;
pub mod metrics;
pub mod record;
pub mod serve;
pub mod service;
pub mod telemetry;
