//! Pods as the Job controller sees them: their state, their completion index, which to delete
//! first, and the pod a Job's template makes.

use std::collections::{BTreeSet, HashSet};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::{COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV, PodRef, TRACKING_FINALIZER};

/// Whether `pod` names `job_uid` as its controller.
pub fn is_controlled_by(pod: &Pod, job_uid: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.uid == job_uid && r.kind == "Job")
}

pub(super) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// controller.FilterActivePods: neither terminal nor being deleted.
pub(super) fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// controller.CountTerminatingPods.
pub(super) fn is_terminating(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

/// isPodFailed: Failed, or (unless only failed pods are replaced) deleted before it succeeded.
pub(super) fn is_pod_failed(pod: &Pod, only_replace_failed: bool) -> bool {
    phase(pod) == "Failed"
        || (!only_replace_failed
            && pod.metadata.deletion_timestamp.is_some()
            && phase(pod) != "Succeeded")
}

pub(super) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(super) fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

pub(super) fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

pub(super) fn pod_ref(pod: &Pod) -> PodRef {
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
pub(super) fn valid_index(pod: &Pod, completions: i32) -> Option<i32> {
    completion_index(pod).filter(|i| *i < completions)
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

/// Active pods to delete: duplicates, invalid and failed indexes first (Indexed), then by
/// removal order.
pub(super) fn active_pods_for_removal<'a>(
    indexed: Option<i32>,
    failed_indexes: Option<&BTreeSet<i32>>,
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
                // The pods of an index that failed go too (backoffLimitPerIndex).
                let failed = idx.is_some_and(|i| failed_indexes.is_some_and(|f| f.contains(&i)));
                if idx.is_none() || next_same || failed {
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

/// The lowest indexes that neither succeeded, nor failed, nor have an active pod.
pub(super) fn first_pending_indexes(
    succeeded: &BTreeSet<i32>,
    failed: Option<&BTreeSet<i32>>,
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
        .filter(|i| failed.is_none_or(|f| !f.contains(i)))
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
