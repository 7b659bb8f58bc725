//! kubesim: an in-memory Kubernetes API server over real HTTP.
#![forbid(unsafe_code)]
