//! The dependency controller: lets a held Job go once every job it depends on has
//! SUCCEEDED, and fails it, without it ever running, as soon as one has FAILED or is gone.
//!
//! A held Job is one SubmitJob created suspended with the `batch-terminator.dev/depends-on`
//! annotation. It is looked at when it changes, when a job it waits for changes (its Job or
//! its termination record, through the index's watches), and when the caches become whole
//! again; never on a timer. State lives only in the cluster: the annotation, and the outcome
//! written with the one guarded patch that acts (`batch-terminator.dev/dependencies`), so a
//! restarted or new leader takes up where the last one stopped.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::run::{Worker, work};
use super::{Context, Next, Result, actions, decide::pointer};
use crate::batch::{self, DependencyOutcome, Gate};
use crate::index::{HeldTriggers, Index, views};
use crate::metrics::Reconciled;
use crate::record::{DEPENDENCIES_ANNOTATION, KUEUE_QUEUE_ANNOTATION, KUEUE_QUEUE_LABEL};

/// Runs the dependency controller until `shutdown` turns true, while `leader` is true.
pub async fn run(
    ctx: Arc<Context>,
    triggers: mpsc::UnboundedReceiver<ObjectRef<Job>>,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) {
    let worker = Worker {
        all: Index::held_refs,
        reconcile: |ctx, (ns, name)| Box::pin(async move { reconcile(&ctx, &ns, &name).await }),
    };
    work(ctx, worker, triggers, leader, shutdown).await
}

/// Sends every held Job to `tx` each time the caches become whole again: a job that was
/// unknown while a watch was failing may turn out gone, which no watch event says.
pub async fn wake_when_complete(index: Index, tx: HeldTriggers) {
    let mut changes = index.health_changes();
    let mut complete = index.is_complete();
    while changes.changed().await.is_ok() {
        let now = index.is_complete();
        if now && !complete {
            for r in index.held_refs() {
                if tx.send(r).is_err() {
                    return;
                }
            }
        }
        complete = now;
    }
}

/// Looks at one held Job: decides from the caches, then acts with one guarded patch.
#[tracing::instrument(skip(ctx))]
pub async fn reconcile(ctx: &Context, namespace: &str, name: &str) -> Result<Next> {
    let started = std::time::Instant::now();
    // Gone, no longer held, or being cancelled or terminated: nothing to do.
    let Some(job) = ctx.index.held_job(namespace, name) else {
        return Ok(Next::Done);
    };
    let deps = views::depends_on(&job);
    let gate = batch::gate(&deps, |id| ctx.index.dependency_state(id, namespace));
    let label = match gate {
        Gate::Hold => return Ok(Next::Done),
        Gate::Release { .. } => Reconciled::Released,
        Gate::Fail => Reconciled::DependencyFailed,
    };
    actions::patch_job(ctx, &job, gate_patch(&job, gate)).await?;
    tracing::info!(outcome = ?label, "dependencies decided");
    ctx.metrics.controller.reconciled(label, started.elapsed());
    Ok(Next::Done)
}

/// The one patch that carries a release or a failure out, guarded by the Job's uid and the
/// resourceVersion the decision was read from: a Job that moved meanwhile refuses it, and is
/// decided again from its watch event. `None` for [`Gate::Hold`].
///
/// - Release: the outcome annotation, then `spec.suspend: false`; for a Kueue queue instead
///   the `kueue.x-k8s.io/queue-name` label, and the Job stays suspended until Kueue admits it
///   (resuming it here would let it run past Kueue's quota). SEQUENTIAL: `parallelism: 1`, so
///   the indexes run one at a time, lowest first.
/// - Fail: the outcome annotation, `activeDeadlineSeconds: 0` and `suspend: false` at once:
///   the Job controller then fails the Job (`DeadlineExceeded`) in the same sync that would
///   start it, before it creates any pod.
pub fn gate_patch(job: &Job, gate: Gate) -> Value {
    let outcome = match gate {
        Gate::Release { .. } => DependencyOutcome::Released,
        Gate::Fail => DependencyOutcome::Failed,
        Gate::Hold => return Value::Array(Vec::new()),
    };
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/uid", "value": job.uid()}),
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": job.resource_version()}),
        // A held Job carries its depends-on annotation, so the map exists.
        json!({"op": "add", "path": format!("/metadata/annotations/{}", pointer(DEPENDENCIES_ANNOTATION)), "value": outcome.as_str()}),
    ];
    let kueue = job
        .annotations()
        .get(KUEUE_QUEUE_ANNOTATION)
        .filter(|q| !q.is_empty());
    match (gate, kueue) {
        (Gate::Release { .. }, Some(queue)) => ops.push(match job.metadata.labels {
            Some(_) => {
                json!({"op": "add", "path": format!("/metadata/labels/{}", pointer(KUEUE_QUEUE_LABEL)), "value": queue})
            }
            None => json!({"op": "add", "path": "/metadata/labels", "value": {KUEUE_QUEUE_LABEL: queue}}),
        }),
        (Gate::Release { .. }, None) => {
            ops.push(json!({"op": "add", "path": "/spec/suspend", "value": false}))
        }
        (Gate::Fail, _) => {
            ops.push(json!({"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 0}));
            ops.push(json!({"op": "add", "path": "/spec/suspend", "value": false}));
        }
        (Gate::Hold, _) => {}
    }
    if let Gate::Release { sequential: true } = gate {
        ops.push(json!({"op": "add", "path": "/spec/parallelism", "value": 1}));
    }
    Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use kube::api::ObjectMeta;

    fn held(annotations: &[(&str, &str)], labels: bool) -> Job {
        let mut a: std::collections::BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        a.insert(
            crate::record::DEPENDS_ON_ANNOTATION.into(),
            r#"[{"jobId":"a"}]"#.into(),
        );
        Job {
            metadata: ObjectMeta {
                name: Some("j".into()),
                uid: Some("uid-1".into()),
                resource_version: Some("7".into()),
                annotations: Some(a),
                labels: labels.then(Default::default),
                ..Default::default()
            },
            spec: Some(JobSpec {
                suspend: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Applies a JSON patch to the Job as the API server would.
    fn apply(job: &Job, patch: Value) -> Job {
        let mut doc = serde_json::to_value(job).unwrap();
        let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
        json_patch::patch(&mut doc, &patch).expect("the patch applies");
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn a_release_resumes_the_job_and_records_the_outcome() {
        let job = held(&[], false);
        let out = apply(&job, gate_patch(&job, Gate::Release { sequential: false }));
        let spec = out.spec.as_ref().unwrap();
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(spec.parallelism, None);
        assert_eq!(
            views::dependency_outcome(&out),
            Some(DependencyOutcome::Released)
        );
        assert!(!crate::index::is_held(&out));
        // Guarded: a Job that moved (or was replaced) refuses it.
        let mut moved = job.clone();
        moved.metadata.resource_version = Some("8".into());
        let patch: json_patch::Patch =
            serde_json::from_value(gate_patch(&job, Gate::Fail)).unwrap();
        let mut doc = serde_json::to_value(&moved).unwrap();
        assert!(json_patch::patch(&mut doc, &patch).is_err());
    }

    #[test]
    fn a_kueue_job_gets_its_queue_label_and_stays_suspended_for_kueue() {
        for labels in [false, true] {
            let job = held(&[(KUEUE_QUEUE_ANNOTATION, "team-a")], labels);
            let out = apply(&job, gate_patch(&job, Gate::Release { sequential: true }));
            assert_eq!(
                out.labels().get(KUEUE_QUEUE_LABEL).map(String::as_str),
                Some("team-a")
            );
            let spec = out.spec.as_ref().unwrap();
            assert_eq!(spec.suspend, Some(true), "Kueue resumes it on admission");
            assert_eq!(spec.parallelism, Some(1), "SEQUENTIAL: one index at a time");
            assert!(!crate::index::is_held(&out));
        }
    }

    #[test]
    fn a_failure_fences_and_resumes_in_one_patch_and_never_adds_the_kueue_label() {
        let job = held(&[(KUEUE_QUEUE_ANNOTATION, "team-a")], true);
        let out = apply(&job, gate_patch(&job, Gate::Fail));
        let spec = out.spec.as_ref().unwrap();
        assert_eq!(spec.active_deadline_seconds, Some(0));
        assert_eq!(spec.suspend, Some(false));
        assert!(!out.labels().contains_key(KUEUE_QUEUE_LABEL));
        assert_eq!(
            views::dependency_outcome(&out),
            Some(DependencyOutcome::Failed)
        );
        assert_eq!(
            crate::index::views::job_view(&out).dependencies,
            Some(DependencyOutcome::Failed)
        );
    }
}
