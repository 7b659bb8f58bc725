//! kubesim: an in-memory Kubernetes API server over real HTTP, with a simulated control plane.
#![forbid(unsafe_code)]

pub mod faults;
pub mod openapi;
pub mod patch;
pub mod rbac;
pub mod schema;
pub mod selectors;
pub mod sim;
