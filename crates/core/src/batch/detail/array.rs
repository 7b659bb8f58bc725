//! The children of an array job (an Indexed Job): each completion index described on its
//! own, from its index's status, its pods and the parent's outcome.

use std::collections::HashMap;

use super::super::pods_state;
use super::super::view::{IndexSet, PodPhase};
use super::*;

/// The detail of child `index` of an Indexed Job (`<parent-id>:<index>`), or `None` when the
/// Job is not indexed or the index is out of range. `ctx.job_id` is the parent's ID.
pub fn array_child_detail(
    job: &JobView,
    pods: &[PodView],
    index: u32,
    termination: Option<&TerminationView>,
    ctx: &DetailContext,
) -> Option<JobDetail> {
    if !job.indexed || i64::from(index) >= i64::from(array_size(job)) {
        return None;
    }
    let of_index: Vec<&PodView> = pods
        .iter()
        .filter(|p| p.completion_index == Some(index))
        .collect();
    let sets = (
        IndexSet::parse(job.completed_indexes.as_deref()),
        IndexSet::parse(job.failed_indexes.as_deref()),
    );
    Some(child_detail(job, &of_index, index, &sets, termination, ctx))
}

/// Every child of an Indexed Job, in index order (empty when the Job is not indexed).
/// `ctx.job_id` is the parent's ID.
pub fn array_children(
    job: &JobView,
    pods: &[PodView],
    termination: Option<&TerminationView>,
    ctx: &DetailContext,
) -> Vec<JobDetail> {
    if !job.indexed {
        return Vec::new();
    }
    children_states(job, pods, termination, ctx)
}

pub(super) fn children_states(
    job: &JobView,
    pods: &[PodView],
    termination: Option<&TerminationView>,
    ctx: &DetailContext,
) -> Vec<JobDetail> {
    let mut by_index: HashMap<u32, Vec<&PodView>> = HashMap::new();
    for pod in pods {
        if let Some(i) = pod.completion_index {
            by_index.entry(i).or_default().push(pod);
        }
    }
    let sets = (
        IndexSet::parse(job.completed_indexes.as_deref()),
        IndexSet::parse(job.failed_indexes.as_deref()),
    );
    let size = u32::try_from(array_size(job)).unwrap_or(0);
    (0..size)
        .map(|i| {
            let of_index = by_index.get(&i).map(Vec::as_slice).unwrap_or_default();
            child_detail(job, of_index, i, &sets, termination, ctx)
        })
        .collect()
}

/// A child's own state: its index's completion status first, then the parent's final
/// state, then its pods.
fn child_state(
    job: &JobView,
    pods: &[&PodView],
    index: u32,
    (completed, failed): &(IndexSet, IndexSet),
) -> BatchState {
    if completed.contains(index) || pods.iter().any(|p| p.phase == PodPhase::Succeeded) {
        return BatchState::Succeeded;
    }
    if failed.contains(index) {
        return BatchState::Failed;
    }
    match batch_state(job, &[]) {
        BatchState::Succeeded => BatchState::Succeeded,
        BatchState::Failed => BatchState::Failed,
        BatchState::Pending => BatchState::Pending,
        BatchState::Submitted
        | BatchState::Runnable
        | BatchState::Starting
        | BatchState::Running => {
            if job.suspended {
                BatchState::Runnable
            } else {
                pods_state(pods.iter().copied())
            }
        }
    }
}

fn child_detail(
    job: &JobView,
    pods: &[&PodView],
    index: u32,
    sets: &(IndexSet, IndexSet),
    termination: Option<&TerminationView>,
    ctx: &DetailContext,
) -> JobDetail {
    let observed = child_state(job, pods, index, sets);
    // The record is the parent's: it applies to every child that has not succeeded.
    let st = status(
        observed,
        job_reason(job, observed),
        child_stop(job, observed, pods),
        termination,
        true,
    );
    let child_id = format!("{}:{index}", ctx.job_id);
    let all_attempts = merge_attempts(&kept(termination, Some(index)), pods.iter().copied());
    let (attempts, eks_attempts) = attempt_details(&all_attempts);
    JobDetail {
        job_arn: job_arn(&ctx.region, &ctx.account, &child_id),
        job_name: job.name.clone(),
        job_id: child_id,
        job_queue: ctx.job_queue.clone(),
        status: st.state,
        status_reason: st.reason,
        is_cancelled: st.is_cancelled,
        is_terminated: st.is_terminated,
        created_at: ms(job.created_at),
        started_at: all_attempts
            .iter()
            .filter_map(|a| a.started_at)
            .chain(pods.iter().filter_map(|p| p.started_at()))
            .min()
            .map(ms),
        stopped_at: st.stopped_at.map(ms),
        attempts,
        eks_attempts,
        eks_properties: eks_properties(current_pod(pods), &all_attempts),
        array_properties: Some(ArrayPropertiesDetail {
            status_summary: None,
            size: None,
            index: i32::try_from(index).ok(),
        }),
        tags: job.labels.clone(),
        depends_on: job.depends_on.clone(),
        submitted: None,
    }
}

fn child_stop(job: &JobView, state: BatchState, pods: &[&PodView]) -> Option<Timestamp> {
    let from_pods = pods.iter().filter_map(|p| p.stopped_at()).max();
    match state {
        BatchState::Succeeded | BatchState::Failed => {
            from_pods.or_else(|| job_stop(job, batch_state(job, &[]), pods))
        }
        BatchState::Submitted
        | BatchState::Pending
        | BatchState::Runnable
        | BatchState::Starting
        | BatchState::Running => None,
    }
}
