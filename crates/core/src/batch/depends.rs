//! `dependsOn`: the jobs a submitted job waits for, in the AWS shape, and the pure rule that
//! says what becomes of a held job given the states of what it waits for.
//!
//! SubmitJob stores the list, serialized as JSON in this exact shape, in the Job's annotation
//! `batch-terminator.dev/depends-on` (see the k8s crate), so the dependency survives restarts
//! and is what DescribeJobs reports back. The outcome ([`DependencyOutcome`]) is written next
//! to it when the dependency controller releases or fails the job.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::BatchState;

/// The `statusReason` AWS gives a job that fails because a job it depends on failed.
/// From memory of real DescribeJobs answers: no AWS document or model in reach states it.
pub const DEPENDENT_JOB_FAILED: &str = "Dependent Job failed";

/// One entry of SubmitJob's `dependsOn` (AWS `JobDependency`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDependency {
    /// The job waited for: a job ID, or `<array job ID>:<index>` for one child. Empty for a
    /// `SEQUENTIAL` dependency, which AWS takes without a job ID (the array's own children).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    /// For array jobs only: how the children wait.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ArrayJobDependency>,
}

/// AWS `ArrayJobDependency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ArrayJobDependency {
    /// Child N waits for child N of the array job it depends on.
    #[serde(rename = "N_TO_N")]
    NToN,
    /// Child N waits for child N-1 of its own array job.
    #[serde(rename = "SEQUENTIAL")]
    Sequential,
}

impl JobDependency {
    /// The job this entry waits for; `None` for a `SEQUENTIAL` entry without a job ID, which
    /// orders the job's own children and waits for nothing else.
    pub fn waits_for(&self) -> Option<&str> {
        Some(self.job_id.as_str()).filter(|id| !id.is_empty())
    }
}

/// True when the children of the job run one after the other (a `SEQUENTIAL` entry).
pub fn is_sequential(deps: &[JobDependency]) -> bool {
    deps.iter()
        .any(|d| d.kind == Some(ArrayJobDependency::Sequential))
}

/// What the dependency controller decided, as recorded on the Job (annotation
/// `batch-terminator.dev/dependencies`). Absent while the job is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DependencyOutcome {
    /// Every dependency succeeded: the job was let go to run (or to its Kueue queue).
    Released,
    /// A dependency failed or vanished: the job failed without ever running.
    Failed,
}

impl DependencyOutcome {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyOutcome::Released => "released",
            DependencyOutcome::Failed => "failed",
        }
    }

    /// From the annotation value; anything else is no outcome (the job is still held).
    pub fn parse(value: &str) -> Option<DependencyOutcome> {
        match value {
            "released" => Some(DependencyOutcome::Released),
            "failed" => Some(DependencyOutcome::Failed),
            _ => None,
        }
    }
}

/// What is known of one job waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyState {
    /// Its Batch state (from its Job, its pods and its termination record).
    Known(BatchState),
    /// No Job and no record, while every cache is whole: it was deleted.
    Gone,
    /// Not in the caches, but they are not whole (starting, or a watch is failing): it may
    /// be there.
    Unknown,
}

/// What to do with a held job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Keep waiting.
    Hold,
    /// Every dependency succeeded. `sequential`: run the children one at a time.
    Release { sequential: bool },
    /// A dependency failed or is gone: the job fails with [`DEPENDENT_JOB_FAILED`] and never
    /// runs.
    Fail,
}

/// The rule, as AWS applies it: a job leaves PENDING for RUNNABLE once every dependency has
/// SUCCEEDED, and for FAILED as soon as one has FAILED (whatever the others do). A dependency
/// that no longer exists can never succeed, so it fails the job too; one that may exist
/// (caches not whole) holds it.
///
/// `state_of` is asked for each job waited for (`<id>` or `<id>:<index>`). An `N_TO_N` entry
/// waits for the whole array it names (see the README: one Kubernetes Job cannot release
/// single indexes).
pub fn gate(deps: &[JobDependency], mut state_of: impl FnMut(&str) -> DependencyState) -> Gate {
    let mut waiting = false;
    for id in deps.iter().filter_map(JobDependency::waits_for) {
        match state_of(id) {
            DependencyState::Known(BatchState::Succeeded) => {}
            DependencyState::Known(BatchState::Failed) | DependencyState::Gone => {
                return Gate::Fail;
            }
            DependencyState::Known(
                BatchState::Submitted
                | BatchState::Pending
                | BatchState::Runnable
                | BatchState::Starting
                | BatchState::Running,
            )
            | DependencyState::Unknown => waiting = true,
        }
    }
    match waiting {
        true => Gate::Hold,
        false => Gate::Release {
            sequential: is_sequential(deps),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_aws() {
        let deps: Vec<JobDependency> =
            serde_json::from_str(r#"[{"jobId":"a"},{"jobId":"b","type":"N_TO_N"}]"#).unwrap();
        assert_eq!(deps[1].kind, Some(ArrayJobDependency::NToN));
        assert_eq!(
            serde_json::to_string(&deps).unwrap(),
            r#"[{"jobId":"a"},{"jobId":"b","type":"N_TO_N"}]"#
        );
        assert!(serde_json::from_str::<JobDependency>(r#"{"jobId":"a","type":"x"}"#).is_err());
        // AWS takes SEQUENTIAL without a job ID, and sends it back the same way.
        let seq: JobDependency = serde_json::from_str(r#"{"type":"SEQUENTIAL"}"#).unwrap();
        assert_eq!(seq.waits_for(), None);
        assert_eq!(
            serde_json::to_string(&seq).unwrap(),
            r#"{"type":"SEQUENTIAL"}"#
        );
    }

    fn dep(id: &str) -> JobDependency {
        JobDependency {
            job_id: id.into(),
            kind: None,
        }
    }

    fn states<'a>(
        pairs: &'a [(&'a str, DependencyState)],
    ) -> impl FnMut(&str) -> DependencyState + use<'a> {
        move |id| {
            pairs
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, s)| *s)
                .unwrap_or_else(|| panic!("{id} was not asked for"))
        }
    }

    use DependencyState::{Gone, Known, Unknown};

    #[test]
    fn every_dependency_must_succeed_and_one_failure_fails_at_once() {
        let deps = [dep("a"), dep("b")];
        let ok = Known(BatchState::Succeeded);
        assert_eq!(
            gate(&deps, states(&[("a", ok), ("b", ok)])),
            Gate::Release { sequential: false }
        );
        for waiting in [
            BatchState::Submitted,
            BatchState::Pending,
            BatchState::Runnable,
            BatchState::Starting,
            BatchState::Running,
        ] {
            assert_eq!(
                gate(&deps, states(&[("a", ok), ("b", Known(waiting))])),
                Gate::Hold,
                "{waiting}"
            );
            // A failure wins over any other dependency still running, in either order.
            assert_eq!(
                gate(
                    &deps,
                    states(&[("a", Known(waiting)), ("b", Known(BatchState::Failed))])
                ),
                Gate::Fail
            );
        }
        assert_eq!(
            gate(
                &deps,
                states(&[("a", Known(BatchState::Failed)), ("b", ok)])
            ),
            Gate::Fail
        );
    }

    #[test]
    fn a_vanished_dependency_fails_and_an_unknown_one_holds() {
        let deps = [dep("a")];
        assert_eq!(gate(&deps, states(&[("a", Gone)])), Gate::Fail);
        assert_eq!(gate(&deps, states(&[("a", Unknown)])), Gate::Hold);
    }

    #[test]
    fn sequential_waits_for_nothing_but_orders_the_children() {
        let seq = JobDependency {
            job_id: String::new(),
            kind: Some(ArrayJobDependency::Sequential),
        };
        assert_eq!(
            gate(std::slice::from_ref(&seq), states(&[])),
            Gate::Release { sequential: true }
        );
        let n_to_n = JobDependency {
            job_id: "other".into(),
            kind: Some(ArrayJobDependency::NToN),
        };
        let deps = [seq, n_to_n];
        assert_eq!(
            gate(&deps, states(&[("other", Known(BatchState::Running))])),
            Gate::Hold
        );
        assert_eq!(
            gate(&deps, states(&[("other", Known(BatchState::Succeeded))])),
            Gate::Release { sequential: true }
        );
        // A child named as `<id>:<index>` is asked for as such.
        let child = [dep("arr:3")];
        assert_eq!(
            gate(&child, states(&[("arr:3", Known(BatchState::Succeeded))])),
            Gate::Release { sequential: false }
        );
    }

    #[test]
    fn outcomes_round_trip_through_the_annotation() {
        for o in [DependencyOutcome::Released, DependencyOutcome::Failed] {
            assert_eq!(DependencyOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(DependencyOutcome::parse("maybe"), None);
    }
}
