//! Helpers shared by the workspace's integration tests (the product's scenarios and chart
//! tests, and kubesim's tests): polling with a deadline and, with the `product` feature,
//! posting to the AWS API and the service's settings for tests.
#![forbid(unsafe_code)]

use std::future::Future;
use std::time::Duration;

mod poll;

pub use poll::{POLL, TimedOut, eventually_within, poll_within};

/// How long a wait polls before it fails; kubesim runs its control plane on a fast clock.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `check` until it returns Some, or panics with `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

#[cfg(feature = "product")]
mod product;

#[cfg(feature = "product")]
pub use product::{describe, describe_retryable, first_job, post, send, settings};
