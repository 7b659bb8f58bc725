//! The Job controller's decisions, after pkg/controller/job in Kubernetes 1.33.
//!
//! [`sync_job`] is one `syncJob`: from a Job, the pods it controls, the controller's memory of
//! the Job and the time, it computes an ordered list of [`JobAction`]s. The runner applies them
//! in order and stops at the first that fails (then syncs again), as the real controller does.
//!
//! Kept from the real controller: the `batch.kubernetes.io/job-tracking` finalizer and
//! `status.uncountedTerminatedPods` (two status writes around the finalizer removals), pods
//! deleted without a terminal phase counting as failed (`podReplacementPolicy:
//! TerminatingOrFailed`), `status.terminating`, the interim `SuccessCriteriaMet` and
//! `FailureTarget` conditions (the terminal condition waits for terminating pods), suspend and
//! resume, `activeDeadlineSeconds`, the pod failure back-off (10 s, doubling per failure, at most
//! 10 min), `restartPolicy: OnFailure` restarts counting against `backoffLimit`, and Indexed
//! completion. Left out: `podFailurePolicy`, `successPolicy`, `backoffLimitPerIndex`, `managedBy`
//! and adoption of orphan pods.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::clock::SimTime;
use super::events::{EventSpec, EventType};

pub const CONTROLLER_NAME: &str = "job-controller";
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
/// DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);
/// MaxPodCreateDeletePerSync.
const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;

const COND_COMPLETE: &str = "Complete";
const COND_FAILED: &str = "Failed";
const COND_SUSPENDED: &str = "Suspended";
const COND_FAILURE_TARGET: &str = "FailureTarget";
const COND_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";

/// A pod named for an action; the uid guards against acting on a namesake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub uid: String,
}

/// One step of a sync, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum JobAction {
    /// Create this pod (it has `generateName`); record `SuccessfulCreate` ("Created pod: NAME"),
    /// or `FailedCreate` ("Error creating: ERR") on failure.
    CreatePod(Box<Pod>),
    /// Delete the pod with default options (its own grace period); record `SuccessfulDelete`
    /// ("Deleted pod: NAME"). Not found counts as done.
    DeletePod(PodRef),
    /// Remove [`TRACKING_FINALIZER`] from the pod. Not found counts as done.
    RemoveTrackingFinalizer(PodRef),
    /// Replace the Job's status.
    UpdateStatus(Box<JobStatus>),
    /// Record an Event about the Job.
    Event(EventSpec),
}

/// The pod failure back-off of one Job (the real controller's backoffRecord).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: u32,
    pub last_failure: Option<Timestamp>,
}

impl BackoffRecord {
    fn updated(&self, new_succeeded: usize, new_failed: usize, now: Timestamp) -> Self {
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
    fn delay(&self) -> Duration {
        if self.failures_after_last_success == 0 {
            return Duration::ZERO;
        }
        let mut d = POD_FAILURE_BACKOFF;
        for _ in 1..self.failures_after_last_success {
            d = d.saturating_mul(2);
            if d >= MAX_POD_FAILURE_BACKOFF {
                return MAX_POD_FAILURE_BACKOFF;
            }
        }
        d
    }

    /// Real time left before a replacement may be created.
    fn remaining(&self, t: &SimTime) -> Option<Duration> {
        let last = self.last_failure?;
        t.remaining(last, self.delay())
    }
}

/// What the controller remembers of a Job between syncs (kept in memory, keyed by uid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobMemory {
    pub backoff: BackoffRecord,
    /// The precise `status.startTime` this controller wrote; the stored one has whole seconds,
    /// too coarse for a scaled `activeDeadlineSeconds`.
    pub start_time: Option<Timestamp>,
}

/// The outcome of one sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSync {
    pub actions: Vec<JobAction>,
    /// The memory to keep once the actions are applied.
    pub memory: JobMemory,
    /// Sync again after this much real time, even if nothing changes.
    pub requeue_after: Option<Duration>,
}

impl JobSync {
    fn event(&mut self, type_: EventType, reason: &str, message: &str) {
        self.actions.push(JobAction::Event(EventSpec::new(
            CONTROLLER_NAME,
            type_,
            reason,
            message,
        )));
    }

    fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }
}

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

/// Whether `pod` names `job_uid` as its controller.
pub fn is_controlled_by(pod: &Pod, job_uid: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == job_uid && r.kind == "Job")
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// controller.FilterActivePods: neither terminal nor being deleted.
fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// controller.CountTerminatingPods.
fn is_terminating(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

fn pod_ref(pod: &Pod) -> PodRef {
    PodRef {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: uid(pod).to_string(),
    }
}

fn completion_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX_ANNOTATION)?
        .parse()
        .ok()
        .filter(|i| *i >= 0)
}

/// A pod with a valid completion index for an Indexed Job of `completions`.
fn valid_index(pod: &Pod, completions: i32) -> Option<i32> {
    completion_index(pod).filter(|i| *i < completions)
}

fn new_condition(
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

/// ensureJobConditionStatus: set a condition, appending it only when it is not `False`.
/// Returns whether the list changed.
fn ensure_condition(
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

/// Parses `status.completedIndexes` ("1,3-5") into indexes below `completions`.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(lo), Ok(hi)) = (lo, hi) {
            for i in lo.max(0)..=hi.min(completions - 1) {
                out.insert(i);
            }
        }
    }
    out
}

/// Formats indexes as Kubernetes does: ascending, runs of 2 or more as "a-b".
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// Sort key of controller.ActivePods: pods earlier in the order are deleted first
/// (unscheduled before scheduled, pending before running, not ready before ready, newer first).
fn removal_key(pod: &Pod) -> (bool, u8, bool, std::cmp::Reverse<Option<Timestamp>>) {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase_rank = match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (
        scheduled,
        phase_rank,
        is_ready(pod),
        std::cmp::Reverse(created),
    )
}

/// Active pods to delete: duplicates and invalid indexes first (Indexed), then by removal order.
fn active_pods_for_removal<'a>(
    indexed: Option<i32>,
    active: &[&'a Pod],
    at_least: usize,
) -> Vec<&'a Pod> {
    let mut rm: Vec<&Pod> = Vec::new();
    let mut left: Vec<&Pod> = Vec::new();
    match indexed {
        Some(completions) => {
            let mut sorted: Vec<&Pod> = active.to_vec();
            // Keep the most advanced pod of each index: sort so it comes last.
            sorted.sort_by_key(|p| (valid_index(p, completions), removal_key(p)));
            for (i, p) in sorted.iter().enumerate() {
                let idx = valid_index(p, completions);
                let next_same = sorted
                    .get(i + 1)
                    .is_some_and(|n| idx.is_some() && valid_index(n, completions) == idx);
                if idx.is_none() || next_same {
                    rm.push(p);
                } else {
                    left.push(p);
                }
            }
        }
        None => left = active.to_vec(),
    }
    if rm.len() < at_least {
        left.sort_by_key(|p| removal_key(p));
        let more = at_least - rm.len();
        rm.extend(left.into_iter().take(more));
    }
    rm
}

/// The lowest indexes that neither succeeded nor have an active pod.
fn first_pending_indexes(
    succeeded: &BTreeSet<i32>,
    active: &[&Pod],
    count: usize,
    completions: i32,
) -> Vec<i32> {
    let taken: HashSet<i32> = active
        .iter()
        .filter_map(|p| valid_index(p, completions))
        .collect();
    (0..completions)
        .filter(|i| !succeeded.contains(i) && !taken.contains(i))
        .take(count)
        .collect()
}

/// The pod the controller creates for `job` (with completion `index` for Indexed Jobs).
pub fn pod_from_template(job: &Job, index: Option<i32>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let mut finalizers = tmeta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.to_string());
    }
    let generate_name = match index {
        Some(i) => {
            annotations.insert(COMPLETION_INDEX_ANNOTATION.to_string(), i.to_string());
            labels.insert(COMPLETION_INDEX_ANNOTATION.to_string(), i.to_string());
            spec.hostname = Some(format!("{name}-{i}"));
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.to_string(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.labels['{COMPLETION_INDEX_ANNOTATION}']"),
                    }),
                    ..EnvVarSource::default()
                }),
            };
            let containers = spec
                .init_containers
                .iter_mut()
                .flatten()
                .chain(spec.containers.iter_mut());
            for c in containers {
                let envs = c.env.get_or_insert_with(Vec::new);
                if !envs.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
                    envs.push(env.clone());
                }
            }
            format!("{name}-{i}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".to_string(),
                kind: "Job".to_string(),
                name,
                uid: job.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// pastBackoffLimitOnFailure: container restarts of live pods count when pods restart in place.
fn past_backoff_limit_on_failure(job: &Job, pods: &[Pod], backoff_limit: i32) -> bool {
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
    let is_pod_failed = |p: &Pod| {
        phase(p) == "Failed"
            || (!only_replace_failed
                && p.metadata.deletion_timestamp.is_some()
                && phase(p) != "Succeeded")
    };
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
    let new_failed = pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && !uncounted_failed.iter().any(|u| u == uid(p)))
        .filter(|p| counts_for_index(p) && is_pod_failed(p))
        .count();
    let to_i32 = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let mut succeeded =
        status.succeeded.unwrap_or(0) + to_i32(new_succeeded) + to_i32(uncounted_succeeded.len());
    let failed = status.failed.unwrap_or(0) + to_i32(new_failed) + to_i32(uncounted_failed.len());

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
    if finished.is_none()
        && let Some(ft) = find(COND_FAILURE_TARGET)
    {
        finished = Some(new_condition(
            COND_FAILED,
            "True",
            ft.reason.as_deref().unwrap_or(""),
            ft.message.as_deref().unwrap_or(""),
            t,
        ));
    }
    if finished.is_none() {
        if failed > backoff_limit || past_backoff_limit_on_failure(job, pods, backoff_limit) {
            finished = Some(new_condition(
                COND_FAILURE_TARGET,
                "True",
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
                    finished = Some(new_condition(
                        COND_FAILURE_TARGET,
                        "True",
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
                let mut to_delete = active_pods_for_removal(indexed, &active_pods, rm_at_least);
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
                        if let Some(left) = out.memory.backoff.remaining(t) {
                            out.requeue(left);
                        } else {
                            let diff = diff.min(MAX_POD_CREATE_DELETE_PER_SYNC);
                            match indexed {
                                Some(completions) => {
                                    let idx = first_pending_indexes(
                                        &succeeded_indexes,
                                        &active_pods,
                                        diff,
                                        completions,
                                    );
                                    active += idx.len();
                                    for i in idx {
                                        out.actions.push(JobAction::CreatePod(Box::new(
                                            pod_from_template(job, Some(i)),
                                        )));
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
        let can_remove =
            job_deleting || finished.is_some() || phase(p) == "Succeeded" || failed_pod;
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
    }

    let mut final_condition = finished;
    if let Some(c) = &final_condition
        && c.type_ == COND_FAILURE_TARGET
    {
        status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(c.clone());
        final_condition = Some(new_condition(
            COND_FAILED,
            "True",
            c.reason.as_deref().unwrap_or(""),
            c.message.as_deref().unwrap_or(""),
            t,
        ));
    }
    if let Some(c) = &final_condition
        && c.type_ == COND_SUCCESS_CRITERIA_MET
    {
        let conds = status.conditions.get_or_insert_with(Vec::new);
        if !conds.iter().any(|x| x.type_ == COND_SUCCESS_CRITERIA_MET) {
            conds.push(c.clone());
        }
        final_condition = Some(new_condition(
            COND_COMPLETE,
            "True",
            c.reason.as_deref().unwrap_or(""),
            c.message.as_deref().unwrap_or(""),
            t,
        ));
    }

    // First write: the uncounted pods and interim conditions, before any finalizer goes.
    if uncounted_succ.len() != uncounted_succeeded.len()
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

/// The defaulting kube-apiserver applies to a new batch/v1 Job (SetDefaults_Job and the
/// registry's PrepareForCreate). The caller must have set `metadata.uid` (the generated
/// selector uses it) and `metadata.name`. Status is reset, as a create ignores it.
pub fn default_job(job: &mut Value) {
    let name = job["metadata"]["name"].as_str().unwrap_or("").to_string();
    let uid = job["metadata"]["uid"].as_str().unwrap_or("").to_string();
    if !job["spec"].is_object() {
        job["spec"] = json!({});
    }
    let spec = &mut job["spec"];

    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    if spec["parallelism"].is_null() {
        spec["parallelism"] = json!(1);
    }
    if spec["backoffLimit"].is_null() {
        spec["backoffLimit"] = if spec["backoffLimitPerIndex"].is_null() {
            json!(DEFAULT_BACKOFF_LIMIT)
        } else {
            json!(i32::MAX)
        };
    }
    if spec["completionMode"].is_null() {
        spec["completionMode"] = json!("NonIndexed");
    }
    if spec["suspend"].is_null() {
        spec["suspend"] = json!(false);
    }
    if spec["podReplacementPolicy"].is_null() {
        spec["podReplacementPolicy"] = if spec["podFailurePolicy"].is_null() {
            json!("TerminatingOrFailed")
        } else {
            json!("Failed")
        };
    }
    if !spec["template"].is_object() {
        spec["template"] = json!({});
    }
    if !spec["template"]["metadata"].is_object() {
        spec["template"]["metadata"] = json!({});
    }

    // generateSelector, unless the user asked to choose the selector.
    if spec["manualSelector"].as_bool() != Some(true) {
        let tmeta = &mut spec["template"]["metadata"];
        if !tmeta["labels"].is_object() {
            tmeta["labels"] = json!({});
        }
        if let Some(labels) = tmeta["labels"].as_object_mut() {
            for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
                labels.entry(key).or_insert_with(|| json!(name));
            }
            for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
                labels.entry(key).or_insert_with(|| json!(uid));
            }
        }
        if !spec["selector"].is_object() {
            spec["selector"] = json!({});
        }
        if !spec["selector"]["matchLabels"].is_object() {
            spec["selector"]["matchLabels"] = json!({});
        }
        if let Some(ml) = spec["selector"]["matchLabels"].as_object_mut() {
            ml.entry(CONTROLLER_UID_LABEL).or_insert_with(|| json!(uid));
        }
    }
    if let Some(pod_spec) = spec["template"].get_mut("spec") {
        default_pod_spec(pod_spec);
    }

    // A Job without labels takes its template's.
    let template_labels = job["spec"]["template"]["metadata"]["labels"].clone();
    let has_labels = job["metadata"]["labels"]
        .as_object()
        .is_some_and(|m| !m.is_empty());
    if !has_labels && template_labels.as_object().is_some_and(|m| !m.is_empty()) {
        job["metadata"]["labels"] = template_labels;
    }
    job["status"] = json!({});
}

/// The pod spec defaults of SetDefaults_PodSpec and SetDefaults_Container that `kubectl get
/// -o yaml` shows. Applied to Job templates and, by the server, to created Pods.
pub fn default_pod_spec(spec: &mut Value) {
    let Some(obj) = spec.as_object_mut() else {
        return;
    };
    let defaults: [(&str, Value); 6] = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
    ];
    for (k, v) in defaults {
        if obj.get(k).is_none_or(Value::is_null) {
            obj.insert(k.to_string(), v);
        }
    }
    for key in ["initContainers", "containers"] {
        if let Some(cs) = obj.get_mut(key).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                default_container(c);
            }
        }
    }
}

fn default_container(c: &mut Map<String, Value>) {
    let latest = c.get("image").and_then(Value::as_str).is_some_and(|i| {
        let last = i.rsplit('/').next().unwrap_or(i);
        !last.contains(':') || last.ends_with(":latest")
    }) && !c
        .get("image")
        .and_then(Value::as_str)
        .is_some_and(|i| i.contains('@'));
    let defaults: [(&str, Value); 4] = [
        ("terminationMessagePath", json!("/dev/termination-log")),
        ("terminationMessagePolicy", json!("File")),
        (
            "imagePullPolicy",
            json!(if latest { "Always" } else { "IfNotPresent" }),
        ),
        ("resources", json!({})),
    ];
    for (k, v) in defaults {
        if c.get(k).is_none_or(Value::is_null) {
            c.insert(k.to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests;
