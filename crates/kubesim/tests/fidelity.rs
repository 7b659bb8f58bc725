//! Kubelet signals, the pod GC and the TTL controller's deletes, through the `kube` client.
mod common;

use std::time::{Duration, Instant};

use common::{eventually, namespace};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

/// 1 simulated second is 10 ms.
const SCALE: f64 = 0.01;
/// Finalizer the tests put on pods so their final status can be read after the kubelet's last
/// delete.
const HOLD: &str = "example.com/hold";

async fn sim() -> (kubesim::Handle, Client) {
    common::control_plane(SCALE).await
}

fn pod(name: &str, on_sigterm: Option<&str>, spec: serde_json::Value) -> Pod {
    let mut p = json!({
        "metadata": {"name": name, "finalizers": [HOLD]},
        "spec": {"terminationGracePeriodSeconds": 300,
                 "containers": [{"name": "main", "image": "busybox:1.36"}]}
    });
    if let Some(a) = on_sigterm {
        p["metadata"]["annotations"] = json!({"kubesim.dev/on-sigterm": a});
    }
    for (k, v) in spec.as_object().expect("object") {
        p["spec"][k] = v.clone();
    }
    serde_json::from_value(p).expect("pod")
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn terminated(p: &Pod) -> Option<ContainerStateTerminated> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .terminated
        .clone()
}

/// Each answer to SIGTERM, with a 300 s grace period (3 s real): the exit code, the phase and
/// how soon the container stops after the delete.
#[tokio::test]
async fn containers_answer_sigterm_as_their_annotation_says() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "sigterm").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    // (name, annotation, exit code, reason, phase, earliest and latest stop in real time)
    let cases = [
        ("exit", None, 143, "Error", "Failed", 0.0, 1.4),
        ("ignore", Some("ignore"), 137, "Error", "Failed", 2.9, 10.0),
        (
            "zero",
            Some("exit-code:0"),
            0,
            "Completed",
            "Succeeded",
            0.0,
            1.4,
        ),
        (
            "delay",
            Some("delay:150"),
            143,
            "Error",
            "Failed",
            1.45,
            2.9,
        ),
    ];
    for (name, answer, ..) in &cases {
        pods.create(&PostParams::default(), &pod(name, *answer, json!({})))
            .await
            .expect("create pod");
    }
    for (name, ..) in &cases {
        eventually(20, &format!("{name} running"), || async {
            (phase(&pods.get(name).await.ok()?) == "Running").then_some(())
        })
        .await;
    }
    let start = Instant::now();
    for (name, ..) in &cases {
        pods.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    let stopped = std::sync::Mutex::new(std::collections::HashMap::new());
    let stopped = &stopped;
    eventually(30, "every container stopped", || async {
        for (name, ..) in &cases {
            let seen = stopped.lock().expect("lock").contains_key(name);
            if !seen && terminated(&pods.get(name).await.ok()?).is_some() {
                stopped.lock().expect("lock").insert(*name, start.elapsed());
            }
        }
        (stopped.lock().expect("lock").len() == cases.len()).then_some(())
    })
    .await;
    let stopped = stopped.lock().expect("lock").clone();
    for (name, _, code, reason, want_phase, earliest, latest) in cases {
        let p = pods.get(name).await.expect("held by its finalizer");
        let t = terminated(&p).expect("terminated");
        assert_eq!(t.exit_code, code, "{name}: {t:?}");
        assert_eq!(t.reason.as_deref(), Some(reason), "{name}");
        assert!(t.finished_at.is_some() && t.started_at.is_some(), "{name}");
        assert_eq!(phase(&p), want_phase, "{name}");
        let took = stopped[name];
        assert!(
            took >= Duration::from_secs_f64(earliest) && took <= Duration::from_secs_f64(latest),
            "{name} stopped after {took:?}, expected {earliest}..{latest} s"
        );
    }
}

/// `gcUnscheduledTerminating`: a deleted pod that was never bound, held by a finalizer, is
/// marked Failed.
#[tokio::test]
async fn a_deleted_unscheduled_pod_is_marked_failed() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "podgc").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let p = pod(
        "nowhere",
        None,
        json!({"nodeSelector": {"no": "such-node"}}),
    );
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    eventually(20, "unschedulable", || async {
        let p = pods.get("nowhere").await.ok()?;
        let conds = p.status?.conditions?;
        conds
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "False")
            .then_some(())
    })
    .await;
    pods.delete("nowhere", &DeleteParams::default())
        .await
        .expect("delete");
    let p = eventually(20, "marked Failed", || async {
        let p = pods.get("nowhere").await.ok()?;
        (phase(&p) == "Failed").then_some(p)
    })
    .await;
    assert!(p.metadata.deletion_timestamp.is_some());
    assert_eq!(p.metadata.finalizers, Some(vec![HOLD.to_string()]));
}

/// `gcOrphaned`: a pod on a node that was deleted is marked Failed with the DisruptionTarget
/// condition and deleted.
#[tokio::test]
async fn a_pod_on_a_deleted_node_is_failed_and_deleted() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "podgc-node").await;
    let nodes = common::node(&client, "doomed").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let p = pod(
        "stranded",
        None,
        json!({"nodeSelector": {"pool": "doomed"}}),
    );
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    eventually(20, "running on the node", || async {
        (phase(&pods.get("stranded").await.ok()?) == "Running").then_some(())
    })
    .await;
    nodes
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete node");
    let p = eventually(20, "marked Failed", || async {
        let p = pods.get("stranded").await.ok()?;
        (phase(&p) == "Failed").then_some(p)
    })
    .await;
    assert!(p.metadata.deletion_timestamp.is_some());
    let conds = p.status.and_then(|s| s.conditions).unwrap_or_default();
    let dt = conds
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(
        (
            dt.status.as_str(),
            dt.reason.as_deref(),
            dt.message.as_deref()
        ),
        (
            "True",
            Some("DeletionByPodGC"),
            Some("PodGC: node no longer exists")
        )
    );
}

/// A pod created bound to a node that never existed is ended once its quarantine (3 s) is
/// over, with no sweep of every pod: the pod GC looks again when the quarantine ends.
#[tokio::test]
async fn a_pod_bound_to_a_missing_node_is_failed_after_the_quarantine() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "podgc-missing").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let p = pod("lost", None, json!({"nodeName": "never-was"}));
    let t0 = Instant::now();
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    let p = eventually(20, "marked Failed", || async {
        let p = pods.get("lost").await.ok()?;
        (phase(&p) == "Failed").then_some(p)
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_secs(3),
        "ended before the quarantine: {:?}",
        t0.elapsed()
    );
    assert!(p.metadata.deletion_timestamp.is_some());
    let conds = p.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(
        conds.iter().any(
            |c| c.type_ == "DisruptionTarget" && c.reason.as_deref() == Some("DeletionByPodGC")
        ),
        "{conds:?}"
    );
}

/// The TTL-after-finished controller deletes with Foreground: the Job carries the
/// `foregroundDeletion` finalizer until its pods are gone.
#[tokio::test]
async fn ttl_after_finished_deletes_in_the_foreground() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "ttl-fg").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "t"},
        "spec": {"ttlSecondsAfterFinished": 1, "template": {
            "metadata": {"annotations": {"kubesim.dev/exit-after": "0"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "busybox:1.36"}]}}}
    }))
    .expect("job");
    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("create job");
    let rv = created.metadata.resource_version.expect("rv");
    let mut stream = jobs
        .watch(&WatchParams::default().fields("metadata.name=t"), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut foreground = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, stream.try_next())
            .await
            .expect("the Job deleted in time")
            .expect("watch event")
            .expect("stream open");
        match ev {
            WatchEvent::Modified(j) => {
                foreground |= j
                    .metadata
                    .finalizers
                    .unwrap_or_default()
                    .iter()
                    .any(|f| f == "foregroundDeletion");
            }
            WatchEvent::Deleted(_) => break,
            _ => {}
        }
    }
    assert!(foreground, "the Job was never held by foregroundDeletion");
}
