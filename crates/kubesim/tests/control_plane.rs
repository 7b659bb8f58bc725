//! The simulated control plane through the `kube` client: Jobs, the scheduler, the kubelet.
mod common;

use std::time::{Duration, Instant};

use common::{eventually, job, namespace};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// Time scale of these tests: 1 simulated second is 10 ms.
const SCALE: f64 = 0.01;

async fn sim() -> (kubesim::Handle, Client) {
    common::control_plane(SCALE).await
}

fn condition(job: &Job, type_: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

async fn job_pods(client: &Client, ns: &str, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .expect("list pods")
        .items
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

async fn wait_condition(jobs: &Api<Job>, name: &str, type_: &str, secs: u64) -> Job {
    eventually(secs, &format!("{name} {type_}"), || async {
        let j = jobs.get(name).await.ok()?;
        (condition(&j, type_).map(|c| c.0) == Some("True".into())).then_some(j)
    })
    .await
}

async fn event_reasons(client: &Client, ns: &str, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn default_node_exists_and_is_ready() {
    let (_h, client) = sim().await;
    let nodes: Api<Node> = Api::all(client);
    let n = eventually(5, "node", || async {
        nodes.get("kubesim-node-0").await.ok()
    })
    .await;
    let ready = n
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
}

#[tokio::test]
async fn job_completes() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "complete").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(
        &PostParams::default(),
        &job("ok", json!({}), json!({"kubesim.dev/exit-after": "2"})),
    )
    .await
    .expect("create job");
    let done = wait_condition(&jobs, "ok", "Complete", 20).await;
    let st = done.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(1));
    assert!(st.completion_time.is_some() && st.start_time.is_some());
    assert_eq!(condition(&done, "SuccessCriteriaMet").unwrap().0, "True");
    let pods = job_pods(&client, &ns, "ok").await;
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    assert_eq!(phase(p), "Succeeded");
    assert_eq!(
        p.spec.as_ref().unwrap().node_name.as_deref(),
        Some("kubesim-node-0")
    );
    assert!(
        p.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty()),
        "tracking finalizer removed"
    );
    let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Job", Some(true), Some(true))
    );
    let term = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );
    let reasons = eventually(5, "events", || async {
        let r = event_reasons(&client, &ns, "ok").await;
        r.contains(&"Completed".to_string()).then_some(r)
    })
    .await;
    assert!(
        reasons.contains(&"SuccessfulCreate".to_string()),
        "{reasons:?}"
    );
    let pod_events = event_reasons(&client, &ns, p.metadata.name.as_deref().unwrap()).await;
    for r in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(pod_events.contains(&r.to_string()), "{r} in {pod_events:?}");
    }
}

#[tokio::test]
async fn job_fails_by_backoff() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "backoff").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let annotations = json!({"kubesim.dev/exit-after": "0", "kubesim.dev/exit-code": "3"});
    jobs.create(
        &PostParams::default(),
        &job("bad", json!({"backoffLimit": 1}), annotations),
    )
    .await
    .expect("create job");
    let failed = wait_condition(&jobs, "bad", "Failed", 30).await;
    assert_eq!(
        condition(&failed, "Failed").unwrap().1,
        "BackoffLimitExceeded"
    );
    assert_eq!(
        condition(&failed, "FailureTarget").unwrap().1,
        "BackoffLimitExceeded"
    );
    assert_eq!(failed.status.as_ref().unwrap().failed, Some(2));
    let pods = job_pods(&client, &ns, "bad").await;
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| phase(p) == "Failed"));
    let reasons = event_reasons(&client, &ns, "bad").await;
    assert!(
        reasons.contains(&"BackoffLimitExceeded".to_string()),
        "{reasons:?}"
    );
}

async fn running_pod(client: &Client, ns: &str, job: &str) -> Pod {
    eventually(20, "a running pod", || async {
        job_pods(client, ns, job)
            .await
            .into_iter()
            .find(|p| phase(p) == "Running" && p.metadata.deletion_timestamp.is_none())
    })
    .await
}

#[tokio::test]
async fn deleted_pod_is_replaced_and_counted_as_failed() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "replace").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(&PostParams::default(), &job("svc", json!({}), json!({})))
        .await
        .expect("create job");
    let first = running_pod(&client, &ns, "svc").await;
    let first_name = first.metadata.name.clone().unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.delete(&first_name, &DeleteParams::default())
        .await
        .expect("delete pod");
    let replacement = eventually(20, "a replacement pod", || async {
        job_pods(&client, &ns, "svc").await.into_iter().find(|p| {
            p.metadata.name.as_deref() != Some(first_name.as_str()) && phase(p) == "Running"
        })
    })
    .await;
    assert_ne!(replacement.metadata.uid, first.metadata.uid);
    let j = jobs.get("svc").await.unwrap();
    let st = j.status.unwrap();
    assert_eq!(st.failed, Some(1), "the deleted pod counts as failed");
    assert_eq!(st.active, Some(1));
    assert!(condition(&jobs.get("svc").await.unwrap(), "Failed").is_none());
}

#[tokio::test]
async fn suspend_deletes_pods_and_sets_suspended() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "suspend").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(
        &PostParams::default(),
        &job("s", json!({"parallelism": 2, "completions": 2}), json!({})),
    )
    .await
    .expect("create job");
    eventually(20, "two running pods", || async {
        let n = job_pods(&client, &ns, "s")
            .await
            .iter()
            .filter(|p| phase(p) == "Running")
            .count();
        (n == 2).then_some(())
    })
    .await;
    jobs.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await
    .expect("suspend");
    let j = wait_condition(&jobs, "s", "Suspended", 20).await;
    assert_eq!(condition(&j, "Suspended").unwrap().1, "JobSuspended");
    eventually(20, "pods gone", || async {
        job_pods(&client, &ns, "s").await.is_empty().then_some(())
    })
    .await;
    let j = jobs.get("s").await.unwrap();
    let st = j.status.clone().unwrap();
    assert_eq!(st.failed, None, "suspension is not failure");
    assert_eq!(st.active, None);
    assert!(condition(&j, "Failed").is_none());
    let reasons = event_reasons(&client, &ns, "s").await;
    assert!(
        reasons.contains(&"Suspended".to_string())
            && reasons.contains(&"SuccessfulDelete".to_string()),
        "{reasons:?}"
    );

    // Resume: a new start time and new pods.
    let before = st.start_time.clone();
    // Stored times have whole seconds: let one pass so the new start time can differ.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    jobs.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .expect("resume");
    let j = eventually(20, "resumed", || async {
        let j = jobs.get("s").await.ok()?;
        (condition(&j, "Suspended") == Some(("False".into(), "JobResumed".into()))).then_some(j)
    })
    .await;
    assert_ne!(j.status.unwrap().start_time, before);
    eventually(20, "pods again", || async {
        (job_pods(&client, &ns, "s").await.len() == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn deadline_zero_on_running_job_fails_it_without_replacements() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "deadline").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(&PostParams::default(), &job("d", json!({}), json!({})))
        .await
        .expect("create job");
    let pod = running_pod(&client, &ns, "d").await;
    jobs.patch(
        "d",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"activeDeadlineSeconds": 0}})),
    )
    .await
    .expect("set deadline");
    // FailureTarget first, while the pod terminates (30 s grace = 300 ms here).
    let ft = wait_condition(&jobs, "d", "FailureTarget", 20).await;
    assert_eq!(
        condition(&ft, "FailureTarget").unwrap().1,
        "DeadlineExceeded"
    );
    let failed = wait_condition(&jobs, "d", "Failed", 20).await;
    assert_eq!(condition(&failed, "Failed").unwrap().1, "DeadlineExceeded");
    let st = failed.status.unwrap();
    assert_eq!(st.terminating, Some(0));
    assert_eq!(st.active, None);
    // No replacement pod was ever made.
    // Proving an absence: give the controller time to (wrongly) act, then look.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pods = job_pods(&client, &ns, "d").await;
    assert!(
        pods.iter().all(|p| p.metadata.uid == pod.metadata.uid),
        "{:?}",
        pods.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
    );
    let reasons = event_reasons(&client, &ns, "d").await;
    assert!(
        reasons.contains(&"DeadlineExceeded".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn unschedulable_pod_stays_pending() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "pending").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let mut j = job("p", json!({}), json!({}));
    j.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .node_selector = Some([("gpu".to_string(), "true".to_string())].into());
    jobs.create(&PostParams::default(), &j)
        .await
        .expect("create job");
    let pod = eventually(20, "an unschedulable pod", || async {
        job_pods(&client, &ns, "p").await.into_iter().find(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "PodScheduled" && c.status == "False")
                })
        })
    })
    .await;
    let c = pod
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .unwrap()
        .clone();
    assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(
        c.message.as_deref(),
        Some(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )
    );
    // Proving an absence: the pod stays Pending, however long the scheduler retries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pods = job_pods(&client, &ns, "p").await;
    assert_eq!(pods.len(), 1);
    assert_eq!(phase(&pods[0]), "Pending");
    assert!(pods[0].spec.as_ref().unwrap().node_name.is_none());
    let reasons = event_reasons(&client, &ns, pods[0].metadata.name.as_deref().unwrap()).await;
    assert!(
        reasons.contains(&"FailedScheduling".to_string()),
        "{reasons:?}"
    );

    // A matching node appears: the pod is scheduled.
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": "gpu-0", "labels": {"gpu": "true"}}}))
            .unwrap();
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    eventually(20, "pod bound to gpu-0", || async {
        let p = job_pods(&client, &ns, "p").await.into_iter().next()?;
        (p.spec?.node_name.as_deref() == Some("gpu-0")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn graceful_deletion_honours_the_scaled_grace_period() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "grace").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    // A container that ignores SIGTERM runs for the whole grace period.
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "g", "annotations": {"kubesim.dev/on-sigterm": "ignore"}},
        "spec": {"terminationGracePeriodSeconds": 60,
                 "containers": [{"name": "main", "image": "busybox:1.36"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    eventually(20, "running", || async {
        (phase(&pods.get("g").await.ok()?) == "Running").then_some(())
    })
    .await;
    // 60 s at scale 0.01: 600 ms.
    let start = Instant::now();
    pods.delete("g", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = pods.get("g").await.expect("still there");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(60));
    eventually(20, "pod gone", || async {
        match pods.get_opt("g").await {
            Ok(None) => Some(()),
            _ => None,
        }
    })
    .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(550),
        "removed after {took:?}, before the grace period"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // gracePeriodSeconds=0: gone at once.
    let pod2: Pod = serde_json::from_value(json!({
        "metadata": {"name": "g0"},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod2)
        .await
        .expect("create pod");
    eventually(20, "running", || async {
        (phase(&pods.get("g0").await.ok()?) == "Running").then_some(())
    })
    .await;
    pods.delete(
        "g0",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    )
    .await
    .expect("delete");
    eventually(5, "g0 gone", || async {
        matches!(pods.get_opt("g0").await, Ok(None)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn ttl_after_finished_deletes_the_job() {
    let (_h, client) = sim().await;
    let ns = namespace(&client, "ttl").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.create(
        &PostParams::default(),
        &job(
            "t",
            // 1 s real: long enough for the poll below to see the Job Complete first.
            json!({"ttlSecondsAfterFinished": 100}),
            json!({"kubesim.dev/exit-after": "0"}),
        ),
    )
    .await
    .expect("create job");
    wait_condition(&jobs, "t", "Complete", 20).await;
    eventually(20, "job deleted", || async {
        matches!(jobs.get_opt("t").await, Ok(None)).then_some(())
    })
    .await;
    eventually(20, "pods collected", || async {
        job_pods(&client, &ns, "t").await.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn events_expire_after_the_scaled_ttl() {
    let config = kubesim::Config::default()
        .control_plane(true)
        .time_scale(kubesim::sim::TimeScale::new(0.001).unwrap());
    let handle = kubesim::start(config).await.expect("start");
    let client = Client::try_from(kube::Config::new(handle.url().parse().unwrap())).unwrap();
    let ns = namespace(&client, "events").await;
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let e: Event = serde_json::from_value(json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "x", "namespace": ns},
        "reason": "Test", "message": "m", "type": "Normal"
    }))
    .unwrap();
    events
        .create(&PostParams::default(), &e)
        .await
        .expect("create event");
    assert!(events.get("e1").await.is_ok());
    // 3600 s at 0.001 is 3.6 s.
    eventually(15, "event expired", || async {
        matches!(events.get_opt("e1").await, Ok(None)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn control_plane_off_is_a_plain_api_server() {
    let handle = kubesim::start(kubesim::Config::default())
        .await
        .expect("start");
    let client = Client::try_from(kube::Config::new(handle.url().parse().unwrap())).unwrap();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("plain", json!({}), json!({})))
        .await
        .expect("create");
    // Proving an absence: with the control plane off, no controller makes pods.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(job_pods(&client, "default", "plain").await.is_empty());
    let nodes: Api<Node> = Api::all(client);
    assert!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
