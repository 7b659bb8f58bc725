//! Attempts: one per pod that ran. A terminated or cancelled job's pods are deleted, so the
//! controller keeps their attempts in the JobTermination record ([`keep_attempts`]), and
//! DescribeJobs merges the kept ones with the pods that still exist ([`merge_attempts`]).

use std::collections::HashSet;

use super::truncate_utf8;
use super::view::{AttemptContainerView, AttemptView, PodView};

/// At most this many attempts are kept in a record: the newest.
pub const MAX_KEPT_ATTEMPTS: usize = 10;
/// At most this many containers per kept attempt.
pub const MAX_KEPT_CONTAINERS: usize = 10;
/// Names (pod, namespace, node, container) are cut to this many bytes (a DNS subdomain's limit).
pub const MAX_KEPT_NAME_BYTES: usize = 253;
/// Reasons are cut to this many bytes.
pub const MAX_KEPT_REASON_BYTES: usize = 256;

impl AttemptView {
    /// The attempt of a pod, or `None` when the pod never ran.
    pub fn of_pod(pod: &PodView) -> Option<AttemptView> {
        if !pod.ran() {
            return None;
        }
        Some(AttemptView {
            pod_name: pod.name.clone(),
            pod_namespace: pod.namespace.clone(),
            node_name: pod.node_name.clone(),
            completion_index: pod.completion_index,
            started_at: pod.started_at(),
            stopped_at: pod.stopped_at(),
            status_reason: pod_reason(pod),
            containers: pod
                .containers
                .iter()
                .map(|c| AttemptContainerView {
                    name: c.name.clone(),
                    exit_code: c.exit_code,
                    reason: c.reason.clone(),
                })
                .collect(),
        })
    }

    /// The container that decided the outcome: the first with a non-zero exit code, else the
    /// first that exited, else the first.
    pub fn main_container(&self) -> Option<&AttemptContainerView> {
        self.containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|e| e != 0))
            .or_else(|| self.containers.iter().find(|c| c.exit_code.is_some()))
            .or_else(|| self.containers.first())
    }

    /// Cut to the record's limits.
    fn bounded(mut self) -> AttemptView {
        let name = |s: &mut String| *s = truncate_utf8(s, MAX_KEPT_NAME_BYTES).to_owned();
        let reason = |s: &mut Option<String>| {
            if let Some(r) = s {
                *r = truncate_utf8(r, MAX_KEPT_REASON_BYTES).to_owned();
            }
        };
        name(&mut self.pod_name);
        name(&mut self.pod_namespace);
        if let Some(node) = &mut self.node_name {
            name(node);
        }
        reason(&mut self.status_reason);
        self.containers.truncate(MAX_KEPT_CONTAINERS);
        for c in &mut self.containers {
            name(&mut c.name);
            reason(&mut c.reason);
        }
        self
    }
}

/// The attempts of `pods` that ran, plus the `kept` ones of pods no longer among them (a
/// live pod wins over the kept attempt of the same name), oldest first.
pub fn merge_attempts<'a>(
    kept: &[AttemptView],
    pods: impl IntoIterator<Item = &'a PodView>,
) -> Vec<AttemptView> {
    let live: Vec<AttemptView> = pods.into_iter().filter_map(AttemptView::of_pod).collect();
    let names: HashSet<&str> = live.iter().map(|a| a.pod_name.as_str()).collect();
    let mut all: Vec<AttemptView> = kept
        .iter()
        .filter(|a| !names.contains(a.pod_name.as_str()))
        .cloned()
        .collect();
    all.extend(live);
    all.sort_by(|a, b| (a.started_at, &a.pod_name).cmp(&(b.started_at, &b.pod_name)));
    all
}

/// What a record keeps: [`merge_attempts`], cut to the newest [`MAX_KEPT_ATTEMPTS`] and to
/// the length limits. An attempt already kept stays unless a newer one pushes it out.
pub fn keep_attempts(kept: &[AttemptView], pods: &[PodView]) -> Vec<AttemptView> {
    let mut all = merge_attempts(kept, pods);
    let excess = all.len().saturating_sub(MAX_KEPT_ATTEMPTS);
    all.drain(..excess);
    all.into_iter().map(AttemptView::bounded).collect()
}

/// The pod's own reason (`Evicted`, `DeadlineExceeded`), else, once it has stopped, the
/// first failed container's reason and exit code.
fn pod_reason(pod: &PodView) -> Option<String> {
    if let Some(reason) = pod.reason.clone().filter(|r| !r.is_empty()) {
        return Some(match pod.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => format!("{reason}: {m}"),
            None => reason,
        });
    }
    pod.stopped_at()?;
    let failed = pod
        .containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|e| e != 0));
    match failed {
        Some(c) => Some(format!(
            "container {} exited with code {}{}",
            c.name,
            c.exit_code.unwrap_or_default(),
            c.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
        None => Some("all containers exited with code 0".to_owned()),
    }
}
