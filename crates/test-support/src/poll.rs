//! Waiting by polling with a deadline.

use std::future::Future;
use std::time::Duration;

/// How often a condition is checked again.
pub const POLL: Duration = Duration::from_millis(50);

/// A poll that ran out of time without its condition holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long it polled.
    pub waited: Duration,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timed out after {:?}", self.waited)
    }
}

impl std::error::Error for TimedOut {}

/// Polls `check` every `every` until it returns Some, or answers [`TimedOut`] once `within`
/// has passed (checking once more at the end). It never panics, so a tool (the bench) can
/// report the timeout as its own error; a check that fails for good stops the poll by
/// returning `Some(Err(..))`.
pub async fn poll_within<T, F, Fut>(
    within: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= until {
            return Err(TimedOut { waited: within });
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls `check` until it returns Some, or panics with `what` once `deadline` has passed.
pub async fn eventually_within<T, F, Fut>(deadline: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_within(deadline, POLL, check)
        .await
        .unwrap_or_else(|timeout| panic!("{timeout} waiting for {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn a_poll_answers_the_value_or_times_out_without_panicking() {
        let calls = Cell::new(0);
        let third = poll_within(Duration::from_secs(5), Duration::from_millis(1), || async {
            calls.set(calls.get() + 1);
            (calls.get() == 3).then_some("ready")
        })
        .await;
        assert_eq!(third, Ok("ready"));
        let within = Duration::from_millis(30);
        let started = std::time::Instant::now();
        let never = poll_within(within, Duration::from_millis(5), || async { None::<()> }).await;
        assert_eq!(never, Err(TimedOut { waited: within }));
        assert!(started.elapsed() >= within);
    }
}
