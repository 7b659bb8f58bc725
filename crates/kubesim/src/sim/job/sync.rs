//! One `syncJob`: counting the pods, deciding whether the Job is finished, managing its pods
//! and tracking finished pods into the status (syncJob, manageJob and
//! trackJobStatusAndRemoveFinalizers in pkg/controller/job/job_controller.go).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::backoff::past_backoff_limit_on_failure;
use super::conditions::{
    COND_COMPLETE, COND_FAILED, COND_FAILURE_TARGET, COND_SUCCESS_CRITERIA_MET, COND_SUSPENDED,
    as_type, ensure_condition, failure_target, is_finished, new_condition,
};
use super::failure_policy::evaluate;
use super::indexes::{format_indexes, parse_indexes};
use super::pods::{
    active_pods_for_removal, first_pending_indexes, has_tracking_finalizer, is_active,
    is_pod_failed, is_ready, is_terminating, phase, pod_from_template, pod_ref, uid, valid_index,
};
use super::{DEFAULT_BACKOFF_LIMIT, JobAction, JobMemory, JobSync, PodRef, per_index};
use crate::sim::clock::SimTime;
use crate::sim::events::EventType;

/// MaxPodCreateDeletePerSync.
const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

/// One `syncJob` for `job`, given the pods it controls (see [`is_controlled_by`]).
pub fn sync_job(job: &Job, pods: &[Pod], memory: &JobMemory, t: &SimTime) -> JobSync {
    let mut out = JobSync {
        memory: memory.clone(),
        ..JobSync::default()
    };
    let Some(spec) = job.spec.as_ref() else {
        return out;
    };

    // A finished Job is left alone; only finalizers left behind are cleaned up (the real
    // controller's orphan worker does that).
    if is_finished(job) {
        for p in pods.iter().filter(|p| has_tracking_finalizer(p)) {
            out.actions
                .push(JobAction::RemoveTrackingFinalizer(pod_ref(p)));
        }
        out.memory = JobMemory::default();
        return out;
    }
    let indexed = match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => None,
        Some("Indexed") => Some(spec.completions.unwrap_or(1)),
        Some(_) => {
            out.event(
                EventType::Warning,
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
            );
            return out;
        }
    };

    let old_status = job.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    let old_uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let uncounted_succeeded: Vec<String> = old_uncounted.succeeded.clone().unwrap_or_default();
    let uncounted_failed: Vec<String> = old_uncounted.failed.clone().unwrap_or_default();
    let only_replace_failed = spec.pod_replacement_policy.as_deref() == Some("Failed")
        || spec.pod_failure_policy.is_some();
    let policy = spec.pod_failure_policy.as_ref();
    let is_pod_failed = |p: &Pod| is_pod_failed(p, only_replace_failed);
    let counts_for_index =
        |p: &Pod| indexed.is_none_or(|completions| valid_index(p, completions).is_some());

    let active_pods: Vec<&Pod> = pods.iter().filter(|p| is_active(p)).collect();
    let mut active = active_pods.len();
    let mut ready = active_pods.iter().filter(|p| is_ready(p)).count();
    let mut terminating = pods.iter().filter(|p| is_terminating(p)).count();

    let new_succeeded = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && !uncounted_succeeded.iter().any(|u| u == uid(p)))
        .filter(|p| counts_for_index(p) && phase(p) == "Succeeded")
        .count();
    let new_failed_pods: Vec<&Pod> = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && !uncounted_failed.iter().any(|u| u == uid(p)))
        .filter(|p| counts_for_index(p) && is_pod_failed(p))
        .collect();
    let new_failed = new_failed_pods.len();
    // nonIgnoredFailedPodsCount: failures an `Ignore` rule matches do not count.
    let new_failed_counted = new_failed_pods
        .iter()
        .filter(|p| evaluate(policy, p).counts())
        .count();
    let to_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let mut succeeded =
        status.succeeded.unwrap_or(0) + to_i32(new_succeeded) + to_i32(uncounted_succeeded.len());
    let failed =
        status.failed.unwrap_or(0) + to_i32(new_failed_counted) + to_i32(uncounted_failed.len());

    let suspended = spec.suspend == Some(true);
    if status.start_time.is_none() && !suspended {
        status.start_time = Some(t.time());
        out.memory.start_time = Some(t.now);
    }
    out.memory.backoff = memory.backoff.updated(new_succeeded, new_failed, t.now);

    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let find = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };
    let mut finished: Option<JobCondition> = find(COND_SUCCESS_CRITERIA_MET);
    if finished.is_none() {
        if let Some(ft) = find(COND_FAILURE_TARGET) {
            finished = Some(as_type(&ft, COND_FAILED, t));
        } else if let Some(message) = fail_job_message(policy, pods, &is_pod_failed) {
            // The interim FailureTarget records the message before the finalizers go.
            finished = Some(failure_target("PodFailurePolicy", &message, t));
        }
    }
    if finished.is_none() {
        if failed > backoff_limit || past_backoff_limit_on_failure(job, pods, backoff_limit) {
            finished = Some(failure_target(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                t,
            ));
        } else if let Some(ads) = spec.active_deadline_seconds
            && !suspended
            && let Some(start) = precise_start(&status, memory, &out.memory)
        {
            match t.remaining(start, Duration::from_secs(u64::try_from(ads).unwrap_or(0))) {
                None => {
                    finished = Some(failure_target(
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                        t,
                    ));
                }
                Some(left) => out.requeue(left),
            }
        }
    }

    let mut succeeded_indexes = BTreeSet::new();
    if let Some(completions) = indexed {
        succeeded_indexes = parse_indexes(
            status.completed_indexes.as_deref().unwrap_or(""),
            completions,
        );
        succeeded_indexes.extend(
            pods.iter()
                .filter(|p| phase(p) == "Succeeded")
                .filter_map(|p| valid_index(p, completions)),
        );
        succeeded = to_i32(succeeded_indexes.len());
    }
    // backoffLimitPerIndex: the failed indexes, and per index to retry its last failed pod.
    let mut failed_indexes: Option<BTreeSet<i32>> = None;
    let mut delayed: BTreeMap<i32, &Pod> = BTreeMap::new();
    if let (Some(completions), Some(limit)) = (indexed, spec.backoff_limit_per_index) {
        let fi = per_index::failed_indexes(
            status.failed_indexes.as_deref(),
            pods,
            completions,
            limit,
            policy,
            &is_pod_failed,
        );
        if finished.is_none() {
            let total = fi.len();
            if spec
                .max_failed_indexes
                .is_some_and(|max| total > usize::try_from(max).unwrap_or(0))
            {
                finished = Some(failure_target(
                    "MaxFailedIndexesExceeded",
                    "Job has exceeded the specified maximal number of failed indexes",
                    t,
                ));
            } else if total > 0
                && total + succeeded_indexes.len() >= usize::try_from(completions).unwrap_or(0)
            {
                finished = Some(failure_target("FailedIndexes", "Job has failed indexes", t));
            }
        }
        let active_indexes: BTreeSet<i32> = active_pods
            .iter()
            .filter_map(|p| valid_index(p, completions))
            .collect();
        delayed = per_index::delayed_deletion(
            pods,
            &active_indexes,
            &succeeded_indexes,
            &fi,
            completions,
            &is_pod_failed,
        );
        failed_indexes = Some(fi);
    }

    // Pods whose finalizer this sync removes before deleting them are not counted.
    let mut finalizer_removed_uids: HashSet<String> = HashSet::new();
    if finished.is_some() {
        // The Job is ending: delete its active pods, keeping their finalizers.
        for p in &active_pods {
            out.actions.push(JobAction::DeletePod(pod_ref(p)));
        }
        terminating += active;
        ready = 0;
        active = 0;
    } else {
        let mut manage_called = false;
        if job.metadata.deletion_timestamp.is_none() {
            manage_called = true;
            let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
            if suspended {
                for p in &active_pods {
                    out.actions
                        .push(JobAction::RemoveTrackingFinalizer(pod_ref(p)));
                    out.actions.push(JobAction::DeletePod(pod_ref(p)));
                    finalizer_removed_uids.insert(uid(p).to_string());
                }
                terminating += active;
                ready = 0;
                active = 0;
            } else {
                let want_active = match spec.completions {
                    None if succeeded > 0 => active,
                    None => parallelism,
                    Some(c) => usize::try_from(c - succeeded).unwrap_or(0).min(parallelism),
                };
                let rm_at_least = active.saturating_sub(want_active);
                let mut to_delete = active_pods_for_removal(
                    indexed,
                    failed_indexes.as_ref(),
                    &active_pods,
                    rm_at_least,
                );
                to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
                if !to_delete.is_empty() {
                    for p in &to_delete {
                        out.actions
                            .push(JobAction::RemoveTrackingFinalizer(pod_ref(p)));
                        out.actions.push(JobAction::DeletePod(pod_ref(p)));
                        finalizer_removed_uids.insert(uid(p).to_string());
                        if is_ready(p) {
                            ready -= 1;
                        }
                    }
                    active -= to_delete.len();
                    terminating += to_delete.len();
                } else {
                    let waiting = if only_replace_failed { terminating } else { 0 };
                    let diff = want_active.saturating_sub(waiting + active);
                    if diff > 0 {
                        // With backoffLimitPerIndex each index waits for its own back-off.
                        let global = match failed_indexes {
                            Some(_) => None,
                            None => out.memory.backoff.remaining(t),
                        };
                        if let Some(left) = global {
                            out.requeue(left);
                        } else {
                            let diff = diff.min(MAX_POD_CREATE_DELETE_PER_SYNC);
                            match indexed {
                                Some(completions) => {
                                    let mut idx = first_pending_indexes(
                                        &succeeded_indexes,
                                        failed_indexes.as_ref(),
                                        &active_pods,
                                        diff,
                                        completions,
                                    );
                                    if failed_indexes.is_some() {
                                        idx.retain(|i| {
                                            match per_index::remaining(delayed.get(i).copied(), t) {
                                                Some(left) => {
                                                    out.requeue(left);
                                                    false
                                                }
                                                None => true,
                                            }
                                        });
                                    }
                                    active += idx.len();
                                    for i in idx {
                                        let mut pod = pod_from_template(job, Some(i));
                                        if failed_indexes.is_some() {
                                            let replaced = delayed.get(&i).copied();
                                            per_index::annotate(&mut pod, policy, replaced);
                                        }
                                        out.actions.push(JobAction::CreatePod(Box::new(pod)));
                                    }
                                }
                                None => {
                                    active += diff;
                                    for _ in 0..diff {
                                        out.actions.push(JobAction::CreatePod(Box::new(
                                            pod_from_template(job, None),
                                        )));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let complete = match spec.completions {
            None => succeeded > 0 && active == 0,
            Some(c) => succeeded >= c && active == 0,
        };
        if complete {
            finished = Some(new_condition(
                COND_SUCCESS_CRITERIA_MET,
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                t,
            ));
        } else if manage_called {
            let mut conds = status.conditions.take().unwrap_or_default();
            let (state, reason, message) = if suspended {
                ("True", "JobSuspended", "Job suspended")
            } else {
                ("False", "JobResumed", "Job resumed")
            };
            let changed = ensure_condition(&mut conds, COND_SUSPENDED, state, reason, message, t);
            status.conditions = (!conds.is_empty()).then_some(conds);
            if changed && suspended {
                out.event(EventType::Normal, "Suspended", "Job suspended");
            } else if changed {
                out.event(EventType::Normal, "Resumed", "Job resumed");
                // The deadline counts from the resume, as for a Job created suspended.
                status.start_time = Some(t.time());
                out.memory.start_time = Some(t.now);
            }
        }
    }
    status.active = (active > 0).then(|| to_i32(active));
    status.ready = Some(to_i32(ready));
    status.terminating = Some(to_i32(terminating));

    // trackJobStatusAndRemoveFinalizers: record finished pods as uncounted, remove their
    // finalizers, then move them into the counters.
    let job_deleting = job.metadata.deletion_timestamp.is_some();
    let finished_is_success = finished
        .as_ref()
        .is_some_and(|c| c.type_ == COND_SUCCESS_CRITERIA_MET);
    let mut uncounted_succ = uncounted_succeeded.clone();
    let mut uncounted_fail = uncounted_failed.clone();
    let mut to_remove: Vec<PodRef> = Vec::new();
    let mut new_indexes: BTreeSet<i32> = BTreeSet::new();
    for p in pods {
        if !has_tracking_finalizer(p) || finalizer_removed_uids.contains(uid(p)) {
            continue;
        }
        let failed_pod = is_pod_failed(p);
        // canRemovePodFinalizer: a failed pod waiting for its index's replacement keeps it.
        let awaits_replacement = indexed
            .and_then(|c| valid_index(p, c))
            .and_then(|i| delayed.get(&i))
            .is_some_and(|d| uid(d) == uid(p));
        let can_remove = job_deleting
            || finished.is_some()
            || phase(p) == "Succeeded"
            || (failed_pod && !awaits_replacement);
        if !can_remove {
            continue;
        }
        to_remove.push(pod_ref(p));
        let u = uid(p).to_string();
        if phase(p) == "Succeeded" && !uncounted_fail.contains(&u) {
            match indexed {
                Some(completions) => {
                    if let Some(i) = valid_index(p, completions) {
                        new_indexes.insert(i);
                    }
                }
                None => {
                    if !uncounted_succ.contains(&u) {
                        uncounted_succ.push(u);
                    }
                }
            }
        } else if (failed_pod || (finished.is_some() && !finished_is_success))
            && !uncounted_fail.contains(&u)
            && counts_for_index(p)
            && evaluate(policy, p).counts()
        {
            uncounted_fail.push(u);
        }
    }
    if let Some(completions) = indexed {
        let mut all = parse_indexes(
            status.completed_indexes.as_deref().unwrap_or(""),
            completions,
        );
        all.extend(new_indexes);
        status.succeeded = (!all.is_empty()).then(|| to_i32(all.len()));
        status.completed_indexes = Some(format_indexes(&all));
        status.failed_indexes = failed_indexes.as_ref().map(format_indexes);
    }

    let mut final_condition = finished;
    // A new interim condition is written on its own before the terminal one (needsFlush).
    let mut interim_condition = false;
    if let Some(c) = &final_condition
        && c.type_ == COND_FAILURE_TARGET
    {
        status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(c.clone());
        interim_condition = true;
        final_condition = Some(as_type(c, COND_FAILED, t));
    }
    if let Some(c) = &final_condition
        && c.type_ == COND_SUCCESS_CRITERIA_MET
    {
        let conds = status.conditions.get_or_insert_with(Vec::new);
        if !conds.iter().any(|x| x.type_ == COND_SUCCESS_CRITERIA_MET) {
            conds.push(c.clone());
            interim_condition = true;
        }
        final_condition = Some(as_type(c, COND_COMPLETE, t));
    }

    // First write: the uncounted pods and interim conditions, before any finalizer goes.
    if interim_condition
        || uncounted_succ.len() != uncounted_succeeded.len()
        || uncounted_fail.len() != uncounted_failed.len()
    {
        let mut interim = status.clone();
        interim.uncounted_terminated_pods = Some(uncounted(&uncounted_succ, &uncounted_fail));
        out.actions.push(JobAction::UpdateStatus(Box::new(interim)));
    }
    for r in to_remove {
        out.actions.push(JobAction::RemoveTrackingFinalizer(r));
    }
    // The finalizers are gone: count the pods.
    if indexed.is_none() {
        status.succeeded =
            Some(status.succeeded.unwrap_or(0) + to_i32(uncounted_succ.len())).filter(|n| *n > 0);
    }
    status.failed =
        Some(status.failed.unwrap_or(0) + to_i32(uncounted_fail.len())).filter(|n| *n > 0);
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());

    // enactJobFinished: the terminal condition waits until no pod is terminating.
    let mut finished_event = None;
    if let Some(c) = final_condition
        && terminating == 0
    {
        let conds = status.conditions.get_or_insert_with(Vec::new);
        ensure_condition(
            conds,
            &c.type_,
            "True",
            c.reason.as_deref().unwrap_or(""),
            c.message.as_deref().unwrap_or(""),
            t,
        );
        if c.type_ == COND_COMPLETE {
            status.completion_time = Some(t.time());
            finished_event = Some((
                EventType::Normal,
                "Completed".to_string(),
                "Job completed".to_string(),
            ));
        } else {
            finished_event = Some((
                EventType::Warning,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            ));
        }
    }
    if status != old_status {
        out.actions.push(JobAction::UpdateStatus(Box::new(status)));
    }
    if let Some((type_, reason, message)) = finished_event {
        out.event(type_, &reason, &message);
        out.memory = JobMemory::default();
        out.requeue_after = None;
    }
    out
}

fn uncounted(succeeded: &[String], failed: &[String]) -> UncountedTerminatedPods {
    UncountedTerminatedPods {
        succeeded: (!succeeded.is_empty()).then(|| succeeded.to_vec()),
        failed: (!failed.is_empty()).then(|| failed.to_vec()),
    }
}

/// The Job's start time at full precision when this controller wrote it.
fn precise_start(status: &JobStatus, before: &JobMemory, now: &JobMemory) -> Option<Timestamp> {
    let stored = status.start_time.as_ref()?.0;
    [now.start_time, before.start_time]
        .into_iter()
        .flatten()
        .find(|p| p.as_second() == stored.as_second())
        .or(Some(stored))
}

/// getFailJobMessage: the message of the first failed pod that matches a `FailJob` rule.
fn fail_job_message(
    policy: Option<&k8s_openapi::api::batch::v1::PodFailurePolicy>,
    pods: &[Pod],
    is_failed: &dyn Fn(&Pod) -> bool,
) -> Option<String> {
    policy?;
    pods.iter()
        .filter(|p| is_failed(p))
        .find_map(|p| evaluate(policy, p).fail_job_message)
}
