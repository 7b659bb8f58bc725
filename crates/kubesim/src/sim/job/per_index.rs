//! `backoffLimitPerIndex` for Indexed Jobs, after pkg/controller/job/indexed_job_utils.go and
//! backoff_utils.go in Kubernetes 1.33.
//!
//! Each pod carries its index's failures so far in the annotation
//! [`INDEX_FAILURE_COUNT_ANNOTATION`] (and failures a policy ignored in
//! [`INDEX_IGNORED_FAILURE_COUNT_ANNOTATION`]). An index fails when a pod whose count has
//! reached the limit fails again (or a `FailIndex` rule matches); failed indexes are never
//! retried and are listed in `status.failedIndexes`. A failed pod keeps its tracking finalizer
//! until its replacement exists, so the replacement can take its count; the replacement waits
//! for the index's own back-off, not the Job's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::PodFailurePolicy;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::backoff::delay_after;
use super::failure_policy::{Action, evaluate};
use super::indexes::parse_indexes;
use super::pods::{has_tracking_finalizer, valid_index};
use crate::sim::clock::SimTime;

pub const INDEX_FAILURE_COUNT_ANNOTATION: &str = "batch.kubernetes.io/job-index-failure-count";
pub const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";

/// getAnnotationAsInt32: 0 when missing or unreadable.
fn annotation(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The failures of the pod's index before it, counted and ignored together.
fn absolute_failure_count(pod: &Pod) -> i32 {
    annotation(pod, INDEX_FAILURE_COUNT_ANNOTATION)
        .saturating_add(annotation(pod, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION))
}

/// isIndexFailed, for a pod the controller considers failed.
fn is_index_failed(policy: Option<&PodFailurePolicy>, limit: i32, pod: &Pod) -> bool {
    let verdict = evaluate(policy, pod);
    if verdict.action == Some(Action::FailIndex) {
        return true;
    }
    verdict.counts() && annotation(pod, INDEX_FAILURE_COUNT_ANNOTATION) >= limit
}

/// calculateFailedIndexes: the indexes already in `status.failedIndexes` and those of failed
/// pods not yet counted (still holding the tracking finalizer).
pub(super) fn failed_indexes(
    previous: Option<&str>,
    pods: &[Pod],
    completions: i32,
    limit: i32,
    policy: Option<&PodFailurePolicy>,
    is_failed: &dyn Fn(&Pod) -> bool,
) -> BTreeSet<i32> {
    let mut out = parse_indexes(previous.unwrap_or(""), completions);
    out.extend(
        pods.iter()
            .filter(|p| has_tracking_finalizer(p) && is_failed(p))
            .filter(|p| is_index_failed(policy, limit, p))
            .filter_map(|p| valid_index(p, completions)),
    );
    out
}

/// getPodsWithDelayedDeletionPerIndex: per index still to be retried (neither succeeded, nor
/// failed, nor active), its latest failed pod, whose finalizer stays until it is replaced.
pub(super) fn delayed_deletion<'a>(
    pods: &'a [Pod],
    active_indexes: &BTreeSet<i32>,
    succeeded: &BTreeSet<i32>,
    failed: &BTreeSet<i32>,
    completions: i32,
    is_failed: &dyn Fn(&Pod) -> bool,
) -> BTreeMap<i32, &'a Pod> {
    let mut out: BTreeMap<i32, &Pod> = BTreeMap::new();
    for p in pods
        .iter()
        .filter(|p| has_tracking_finalizer(p) && is_failed(p))
    {
        let Some(ix) = valid_index(p, completions) else {
            continue;
        };
        if succeeded.contains(&ix) || failed.contains(&ix) || active_indexes.contains(&ix) {
            continue;
        }
        let later = out.get(&ix).is_none_or(|last| {
            absolute_failure_count(last) <= absolute_failure_count(p)
                && finished_time(p) >= finished_time(last)
        });
        if later {
            out.insert(ix, p);
        }
    }
    out
}

/// getFinishedTime: the last container's finish, else the deletion, else the creation.
fn finished_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let init = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    containers
        .iter()
        .chain(init)
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// getRemainingTimePerIndex: real time left before the index of `last_failed` may get a new
/// pod; `None` when it may now.
pub(super) fn remaining(last_failed: Option<&Pod>, t: &SimTime) -> Option<Duration> {
    let pod = last_failed?;
    let failures = u32::try_from(absolute_failure_count(pod).saturating_add(1)).unwrap_or(0);
    t.remaining(finished_time(pod)?, delay_after(failures))
}

/// addIndexFailureCountAnnotation: the replacement of `replaced` (none for a first pod)
/// carries the index's failures so far.
pub(super) fn annotate(pod: &mut Pod, policy: Option<&PodFailurePolicy>, replaced: Option<&Pod>) {
    let (mut failures, mut ignored) = (0, 0);
    if let Some(r) = replaced {
        failures = annotation(r, INDEX_FAILURE_COUNT_ANNOTATION);
        ignored = annotation(r, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
        if evaluate(policy, r).counts() {
            failures = failures.saturating_add(1);
        } else {
            ignored = ignored.saturating_add(1);
        }
    }
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(
        INDEX_FAILURE_COUNT_ANNOTATION.to_string(),
        failures.to_string(),
    );
    if ignored > 0 {
        annotations.insert(
            INDEX_IGNORED_FAILURE_COUNT_ANNOTATION.to_string(),
            ignored.to_string(),
        );
    }
}
