//! The pod failure back-off (the real controller's backoffRecord) and the restart count of
//! `restartPolicy: OnFailure` pods.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::pods::phase;
use super::{MAX_POD_FAILURE_BACKOFF, POD_FAILURE_BACKOFF};
use crate::sim::clock::SimTime;

/// The pod failure back-off of one Job (the real controller's backoffRecord).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure: Option<Timestamp>,
}

impl BackoffRecord {
    pub(super) fn updated(&self, new_succeeded: usize, new_failed: usize, now: Timestamp) -> Self {
        match (new_succeeded, new_failed) {
            (0, 0) => self.clone(),
            (0, n) => Self {
                failures_after_last_success: self
                    .failures_after_last_success
                    .saturating_add(u32::try_from(n).unwrap_or(u32::MAX)),
                last_failure: Some(now),
            },
            // Failures and a success seen in one sync: the success is taken as the latest.
            (_, _) => Self::default(),
        }
    }

    /// Simulated delay before a replacement pod may be created.
    pub(super) fn delay(&self) -> Duration {
        delay_after(self.failures_after_last_success)
    }

    /// Real time left before a replacement may be created.
    pub(super) fn remaining(&self, t: &SimTime) -> Option<Duration> {
        let last = self.last_failure?;
        t.remaining(last, self.delay())
    }
}

/// getRemainingTimeForFailuresCount's back-off: none before a failure, then 10 s doubling per
/// failure, at most 10 min (simulated).
pub(super) fn delay_after(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let mut d = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        d = d.saturating_mul(2);
        if d >= MAX_POD_FAILURE_BACKOFF {
            return MAX_POD_FAILURE_BACKOFF;
        }
    }
    d
}

/// pastBackoffLimitOnFailure: container restarts of live pods count when pods restart in place.
pub(super) fn past_backoff_limit_on_failure(job: &Job, pods: &[Pod], backoff_limit: i32) -> bool {
    let restart_policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    if backoff_limit == 0 {
        restarts > 0
    } else {
        restarts >= backoff_limit
    }
}
