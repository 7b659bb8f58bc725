//! The writes: each one call, guarded by a uid test or precondition (and a resourceVersion on
//! status), each idempotent. Their results go into the index at once, so the next decision
//! sees this process's own writes even before their watch events arrive.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{Context, Error, FIELD_MANAGER, Result};
use crate::record::JobTermination;

fn is_status(error: &kube::Error, codes: &[u16]) -> bool {
    matches!(error, kube::Error::Api(status) if codes.contains(&status.code))
}

/// A create that found the object there already. Only this 409: a Conflict (a write that lost
/// a race, or an API server shedding load) wrote nothing.
pub fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn uid_precondition(uid: Option<String>) -> Preconditions {
    Preconditions {
        uid,
        resource_version: None,
    }
}

/// Applies the JSON patch to the Job. A refusal (404, 409, 422: a `test` failed, or the Job
/// is gone) is an error like any other, not "the Job was replaced": nothing was written, and
/// the record is decided again from the cache, which the watch brings up to date (the Job
/// replaced or gone then completes it, a moved Job gets a new decision).
pub async fn patch_job(ctx: &Context, job: &Job, patch: serde_json::Value) -> Result<()> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let err = |source| Error::Annotate {
        job: format!("{ns}/{name}"),
        source,
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| err(kube::Error::SerdeError(e)))?;
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let patched = jobs
        .patch(&name, &params(), &Patch::<()>::Json(patch))
        .await
        .map_err(err)?;
    ctx.index.store_job(patched);
    Ok(())
}

/// Writes the record's one Event. `Ok(())` also when it exists already (the same name).
pub async fn create_event(ctx: &Context, event: &Event) -> Result<()> {
    let ns = event.namespace().unwrap_or_default();
    let events: Api<Event> = Api::namespaced(ctx.client.clone(), &ns);
    match events.create(&PostParams::default(), event).await {
        Ok(_) => Ok(()),
        Err(e) if is_already_exists(&e) => Ok(()),
        Err(source) => Err(Error::Event {
            job: format!(
                "{ns}/{}",
                event
                    .regarding
                    .as_ref()
                    .and_then(|r| r.name.clone())
                    .unwrap_or_default()
            ),
            source,
        }),
    }
}

/// Deletes the Job with `propagationPolicy: Background` (its pods go too), if it still has
/// the record's uid. Gone already counts as done.
pub async fn delete_job(ctx: &Context, job: &Job) -> Result<()> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams::background().preconditions(uid_precondition(job.uid()));
    match jobs.delete(&name, &params).await {
        Ok(_) => Ok(()),
        // A 409 (another uid, or a conflict) is retried: the cache then shows which.
        Err(e) if is_status(&e, &[404]) => Ok(()),
        Err(source) => Err(Error::Act {
            target: format!("Job {ns}/{name}"),
            source,
        }),
    }
}

/// Deletes one pod, with its grace period, if it still has its uid.
pub async fn delete_pod(ctx: &Context, pod: &Pod) -> Result<()> {
    let ns = pod.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams::default().preconditions(uid_precondition(pod.uid()));
    match pods.delete(&pod.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, &[404]) => Ok(()),
        Err(source) => Err(Error::Act {
            target: format!("Pod {ns}/{}", pod.name_any()),
            source,
        }),
    }
}

/// Merge-patches the record's status, conditioned on the resourceVersion it was read at: a
/// decision from a stale copy must not overwrite a newer status. `None` when the copy was
/// stale; the newer one is looked at next. `Some` holds the record as written.
pub async fn write_status(
    ctx: &Context,
    record: &JobTermination,
    status: serde_json::Value,
) -> Result<Option<JobTermination>> {
    let ns = record.namespace().unwrap_or_default();
    let api: Api<JobTermination> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "metadata": {"resourceVersion": record.resource_version()},
        "status": status,
    });
    match api
        .patch_status(&record.name_any(), &params(), &Patch::Merge(&patch))
        .await
    {
        Ok(written) => {
            ctx.index.store_record(written.clone());
            Ok(Some(written))
        }
        Err(e) if is_status(&e, &[404, 409]) => Ok(None),
        Err(source) => Err(Error::Status {
            record: format!("{ns}/{}", record.name_any()),
            source,
        }),
    }
}

/// Deletes an expired record, if it is still the one decided on.
pub async fn delete_record(ctx: &Context, record: &JobTermination) -> Result<()> {
    let ns = record.namespace().unwrap_or_default();
    let api: Api<JobTermination> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams::default().preconditions(uid_precondition(record.uid()));
    match api.delete(&record.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, &[404]) => Ok(()),
        Err(source) => Err(Error::Cleanup {
            record: format!("{ns}/{}", record.name_any()),
            source,
        }),
    }
}
