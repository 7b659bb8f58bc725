//! Waiting by polling with a deadline.

use std::future::Future;
use std::time::Duration;

/// How often a condition is checked again.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns Some, or panics with `what` once `deadline` has passed.
pub async fn eventually_within<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
