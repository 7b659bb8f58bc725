//! The TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted
//! (propagationPolicy Foreground, uid precondition) that many seconds, scaled, after it finished.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;

use super::clock::SimTime;
use super::job::finished_condition;

pub const CONTROLLER_NAME: &str = "ttl-after-finished-controller";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlDecision {
    /// No TTL, not finished, or already being deleted.
    None,
    /// Look again after this much real time.
    After(Duration),
    /// Delete it now.
    Delete,
}

/// `observed_finished` is when the controller first saw the Job finished, a precise instant the
/// stored condition time (whole seconds) can't give; the later of the two counts.
pub fn decide(job: &Job, observed_finished: Option<Timestamp>, t: &SimTime) -> TtlDecision {
    if job.metadata.deletion_timestamp.is_some() {
        return TtlDecision::None;
    }
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return TtlDecision::None;
    };
    let Some(cond) = finished_condition(job) else {
        return TtlDecision::None;
    };
    let stored = cond
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| job.status.as_ref()?.completion_time.as_ref().map(|t| t.0));
    let Some(finished) = [stored, observed_finished].into_iter().flatten().max() else {
        return TtlDecision::Delete;
    };
    match t.remaining(
        finished,
        Duration::from_secs(u64::try_from(ttl).unwrap_or(0)),
    ) {
        Some(left) => TtlDecision::After(left),
        None => TtlDecision::Delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::TimeScale;
    use k8s_openapi::jiff::SignedDuration;
    use serde_json::json;

    fn job(ttl: Option<i32>, finished: bool) -> Job {
        let conds = if finished {
            json!([{"type": "Complete", "status": "True", "lastTransitionTime": "2025-06-15T15:06:40Z"}])
        } else {
            json!([])
        };
        serde_json::from_value(json!({
            "metadata": {"name": "j", "namespace": "ns", "uid": "u"},
            "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
            "status": {"conditions": conds}
        }))
        .unwrap()
    }

    #[test]
    fn deletes_after_the_scaled_ttl() {
        let t0 = Timestamp::from_second(1_750_000_000).unwrap();
        let at = |ms| {
            SimTime::new(
                t0.checked_add(SignedDuration::from_millis(ms)).unwrap(),
                TimeScale::new(0.01).unwrap(),
            )
        };
        let j = job(Some(100), true);
        assert_eq!(
            decide(&j, Some(t0), &at(400)),
            TtlDecision::After(Duration::from_millis(600))
        );
        assert_eq!(decide(&j, Some(t0), &at(1000)), TtlDecision::Delete);
        assert_eq!(
            decide(&job(Some(0), true), None, &at(0)),
            TtlDecision::Delete
        );
        assert_eq!(decide(&job(None, true), None, &at(0)), TtlDecision::None);
        assert_eq!(
            decide(&job(Some(0), false), None, &at(0)),
            TtlDecision::None
        );
    }
}
