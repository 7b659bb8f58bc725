//! The one-time release of pods that versions before 0.2 held with their attempt finalizer
//! ([`LEGACY_ATTEMPT_FINALIZER`]), which strands a pod Terminating whenever that version is not
//! running. The service itself may not patch pods; the chart's post-upgrade hook runs this,
//! with a short-lived grant of its own (`batch-terminator release-legacy-finalizers`).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::controller::FIELD_MANAGER;
use crate::record::LEGACY_ATTEMPT_FINALIZER;

/// Passes over the pods: a pod that changed between the list and its patch is looked at again
/// in the next one.
const PASSES: usize = 3;
/// Pods per list page.
const PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing the pods of {scope}")]
    List {
        scope: String,
        #[source]
        source: kube::Error,
    },
    #[error("releasing Pod {pod}")]
    Release {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("{} pods kept changing and still carry the finalizer: {}", .0.len(), .0.join(", "))]
    StillHeld(Vec<String>),
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    /// Pods whose finalizer this run removed.
    pub released: Vec<String>,
    /// Pods that went away between the list and the patch.
    pub gone: usize,
}

/// A JSON patch that removes [`LEGACY_ATTEMPT_FINALIZER`], guarded by `test`s of the pod's uid
/// and of the finalizer at its index; `None` when the pod does not carry it.
pub fn release_patch(pod: &Pod) -> Option<serde_json::Value> {
    let i = pod
        .finalizers()
        .iter()
        .position(|f| f == LEGACY_ATTEMPT_FINALIZER)?;
    let path = format!("/metadata/finalizers/{i}");
    Some(json!([
        {"op": "test", "path": "/metadata/uid", "value": pod.uid()},
        {"op": "test", "path": path, "value": LEGACY_ATTEMPT_FINALIZER},
        {"op": "remove", "path": path},
    ]))
}

/// The pods of `scope` (a namespace, or "" for all) that carry the finalizer.
async fn held(client: &Client, scope: &str) -> Result<Vec<Pod>, Error> {
    let api: Api<Pod> = match scope {
        "" => Api::all(client.clone()),
        ns => Api::namespaced(client.clone(), ns),
    };
    let err = |source| Error::List {
        scope: match scope {
            "" => "all namespaces".into(),
            ns => format!("namespace {ns}"),
        },
        source,
    };
    let mut held = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list_metadata(&params).await.map_err(err)?;
        held.extend(
            page.items
                .into_iter()
                .filter(|p| p.finalizers().iter().any(|f| f == LEGACY_ATTEMPT_FINALIZER))
                .map(|p| Pod {
                    metadata: p.metadata,
                    ..Default::default()
                }),
        );
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(held),
        }
    }
}

enum Outcome {
    Released,
    Gone,
    Changed,
}

async fn release(client: &Client, pod: &Pod) -> Result<Outcome, Error> {
    let Some(patch) = release_patch(pod) else {
        return Ok(Outcome::Released);
    };
    let ns = pod.namespace().unwrap_or_default();
    let err = |source| Error::Release {
        pod: format!("{ns}/{}", pod.name_any()),
        source,
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| err(kube::Error::SerdeError(e)))?;
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api
        .patch(&pod.name_any(), &params, &Patch::<()>::Json(patch))
        .await
    {
        Ok(_) => Ok(Outcome::Released),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Outcome::Gone),
        // A failed `test` (the finalizers moved, or another pod took the name) or a conflict.
        Err(kube::Error::Api(s)) if matches!(s.code, 409 | 422) => Ok(Outcome::Changed),
        Err(source) => Err(err(source)),
    }
}

/// Removes the finalizer from every pod of `namespaces` (all when empty) that carries it, each
/// with one guarded patch. A pod that changed meanwhile is listed again, up to [`PASSES`]
/// times; the first other failure ends the run.
pub async fn release_legacy_finalizers(
    client: &Client,
    namespaces: &[String],
) -> Result<Released, Error> {
    let scopes = match namespaces {
        [] => vec![String::new()],
        some => some.to_vec(),
    };
    let mut done = Released::default();
    let mut changed = Vec::new();
    for _ in 0..PASSES {
        changed.clear();
        for scope in &scopes {
            for pod in held(client, scope).await? {
                let name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
                match release(client, &pod).await? {
                    Outcome::Released => {
                        tracing::info!(pod = name, "released");
                        done.released.push(name);
                    }
                    Outcome::Gone => done.gone += 1,
                    Outcome::Changed => changed.push(name),
                }
            }
        }
        if changed.is_empty() {
            return Ok(done);
        }
    }
    Err(Error::StillHeld(changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn the_release_patch_tests_the_uid_and_the_finalizer() {
        let held = Pod {
            metadata: ObjectMeta {
                uid: Some("pod-uid".into()),
                finalizers: Some(vec![
                    "batch.kubernetes.io/job-tracking".into(),
                    LEGACY_ATTEMPT_FINALIZER.into(),
                ]),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            release_patch(&held).expect("held"),
            json!([
                {"op": "test", "path": "/metadata/uid", "value": "pod-uid"},
                {"op": "test", "path": "/metadata/finalizers/1", "value": LEGACY_ATTEMPT_FINALIZER},
                {"op": "remove", "path": "/metadata/finalizers/1"},
            ])
        );
        let mut free = held;
        free.metadata.finalizers = None;
        assert_eq!(release_patch(&free), None);
    }
}
