//! Job conditions: reading the terminal one, and setting them as the controller does.

use k8s_openapi::api::batch::v1::{Job, JobCondition};

use crate::sim::clock::SimTime;

pub(super) const COND_COMPLETE: &str = "Complete";
pub(super) const COND_FAILED: &str = "Failed";
pub(super) const COND_SUSPENDED: &str = "Suspended";
pub(super) const COND_FAILURE_TARGET: &str = "FailureTarget";
pub(super) const COND_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";

/// Whether the Job has a `Complete` or `Failed` condition that is `True`.
pub fn is_finished(job: &Job) -> bool {
    finished_condition(job).is_some()
}

/// The Job's `Complete` or `Failed` condition, when `True`.
pub fn finished_condition(job: &Job) -> Option<&JobCondition> {
    conditions(job)
        .iter()
        .find(|c| (c.type_ == COND_COMPLETE || c.type_ == COND_FAILED) && c.status == "True")
}

fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

pub(super) fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    t: &SimTime,
) -> JobCondition {
    JobCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_probe_time: Some(t.time()),
        last_transition_time: Some(t.time()),
    }
}

/// newFailureCondition on 1.31+: the interim `FailureTarget`; `Failed` follows once no pod is
/// terminating.
pub(super) fn failure_target(reason: &str, message: &str, t: &SimTime) -> JobCondition {
    new_condition(COND_FAILURE_TARGET, "True", reason, message, t)
}

/// The condition `c` turns into with another type, keeping its reason and message.
pub(super) fn as_type(c: &JobCondition, type_: &str, t: &SimTime) -> JobCondition {
    new_condition(
        type_,
        "True",
        c.reason.as_deref().unwrap_or(""),
        c.message.as_deref().unwrap_or(""),
        t,
    )
}

/// ensureJobConditionStatus: set a condition, appending it only when it is not `False`.
/// Returns whether the list changed.
pub(super) fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    t: &SimTime,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or("") != reason
            || c.message.as_deref().unwrap_or("") != message
        {
            *c = new_condition(type_, status, reason, message, t);
            return true;
        }
        return false;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, t));
        return true;
    }
    false
}
