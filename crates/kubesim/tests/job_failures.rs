//! How Jobs fail through the simulated control plane: podFailurePolicy, backoffLimitPerIndex
//! and maxFailedIndexes, with pods the kubelet really runs and ends (`kubesim.dev/exit-code`).
mod common;

use common::{eventually, namespace};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

/// 1 simulated second is 10 ms: the 10 s pod back-off takes 100 ms.
const SCALE: f64 = 0.01;

/// A Job whose pods exit with `code` one simulated second after they start.
fn job(name: &str, code: i32, spec: Value) -> Job {
    let exit = json!({"kubesim.dev/exit-after": "1", "kubesim.dev/exit-code": code.to_string()});
    common::job(name, spec, exit)
}

/// The Job once its `Failed` condition is True.
async fn failed(jobs: &Api<Job>, name: &str) -> Value {
    eventually(30, &format!("{name} Failed"), || async {
        let j = serde_json::to_value(jobs.get(name).await.ok()?).ok()?;
        let failed = j["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Failed" && c["status"] == "True");
        failed.then_some(j)
    })
    .await
}

fn condition<'a>(job: &'a Value, type_: &str) -> &'a Value {
    job["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {job}"))
}

async fn pods(client: &Client, ns: &str, job: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .expect("pods")
        .items
}

fn annotation(p: &Pod, key: &str) -> String {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_exit_code_matching_a_fail_job_rule_fails_the_job_at_once() {
    let (_h, client) = common::control_plane(SCALE).await;
    let ns = namespace(&client, "pfp-failjob").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    // The shape SubmitJob gives an `evaluateOnExit` EXIT rule on exit code 42.
    let spec = json!({"backoffLimit": 3, "podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}]}});
    jobs.create(&PostParams::default(), &job("exit", 42, spec))
        .await
        .expect("create");
    let j = failed(&jobs, "exit").await;
    let pods = pods(&client, &ns, "exit").await;
    assert_eq!(pods.len(), 1, "no retry, though backoffLimit is 3");
    let pod = pods[0].metadata.name.clone().expect("name");
    let message = format!(
        "Container main for pod {ns}/{pod} failed with exit code 42 matching FailJob rule at index 0"
    );
    for type_ in ["FailureTarget", "Failed"] {
        let c = condition(&j, type_);
        assert_eq!(c["reason"], "PodFailurePolicy", "{type_}");
        assert_eq!(c["message"], message.as_str(), "{type_}");
    }
    assert_eq!(j["status"]["failed"], 1);
    assert_eq!(j["spec"]["podReplacementPolicy"], "Failed");
}

#[tokio::test]
async fn an_exit_code_matching_a_count_rule_retries_up_to_the_backoff_limit() {
    let (_h, client) = common::control_plane(SCALE).await;
    let ns = namespace(&client, "pfp-count").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"backoffLimit": 1, "podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}]}});
    jobs.create(&PostParams::default(), &job("retry", 7, spec))
        .await
        .expect("create");
    let j = failed(&jobs, "retry").await;
    assert_eq!(condition(&j, "Failed")["reason"], "BackoffLimitExceeded");
    assert_eq!(j["status"]["failed"], 2);
    assert_eq!(pods(&client, &ns, "retry").await.len(), 2);
}

#[tokio::test]
async fn each_index_retries_on_its_own_and_the_job_ends_with_failed_indexes() {
    let (_h, client) = common::control_plane(SCALE).await;
    let ns = namespace(&client, "per-index").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let spec = json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2,
                      "backoffLimitPerIndex": 1});
    jobs.create(&PostParams::default(), &job("arr", 3, spec))
        .await
        .expect("create");
    let j = failed(&jobs, "arr").await;
    assert_eq!(condition(&j, "FailureTarget")["reason"], "FailedIndexes");
    let c = condition(&j, "Failed");
    assert_eq!(
        (&c["reason"], &c["message"]),
        (&json!("FailedIndexes"), &json!("Job has failed indexes"))
    );
    assert_eq!(j["status"]["failedIndexes"], "0,1");
    assert_eq!(j["status"]["failed"], 4);
    // Two attempts per index, the second one counting the first.
    let mut counts: Vec<(String, String)> = pods(&client, &ns, "arr")
        .await
        .iter()
        .map(|p| {
            (
                annotation(p, "batch.kubernetes.io/job-completion-index"),
                annotation(p, "batch.kubernetes.io/job-index-failure-count"),
            )
        })
        .collect();
    counts.sort();
    let want = [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(counts, want);
}

#[tokio::test]
async fn fail_index_and_max_failed_indexes_end_the_job_on_the_first_failed_index() {
    let (_h, client) = common::control_plane(SCALE).await;
    let ns = namespace(&client, "max-failed").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    // SubmitJob's shape for an array job with an EXIT rule: FailIndex with backoffLimitPerIndex.
    let spec = json!({"completionMode": "Indexed", "completions": 3, "parallelism": 1,
                      "backoffLimitPerIndex": 5, "maxFailedIndexes": 0,
                      "podFailurePolicy": {"rules": [
                          {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [9]}}]}});
    jobs.create(&PostParams::default(), &job("arr", 9, spec))
        .await
        .expect("create");
    let j = failed(&jobs, "arr").await;
    let c = condition(&j, "Failed");
    assert_eq!(
        (&c["reason"], &c["message"]),
        (
            &json!("MaxFailedIndexesExceeded"),
            &json!("Job has exceeded the specified maximal number of failed indexes")
        )
    );
    assert_eq!(j["status"]["failedIndexes"], "0");
    assert_eq!(
        pods(&client, &ns, "arr").await.len(),
        1,
        "no retry of a FailIndex"
    );
}

#[tokio::test]
async fn a_pod_lost_with_its_node_is_ignored_by_a_disruption_target_rule() {
    let (_h, client) = common::control_plane(SCALE).await;
    let ns = namespace(&client, "pfp-disruption").await;
    let nodes = common::node(&client, "doomed").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    // Pods that would run for an hour, on the doomed node; no failure is allowed.
    let mut j = job(
        "lost",
        0,
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}),
    );
    let template = j.spec.as_mut().expect("spec").template.clone();
    let mut template = serde_json::to_value(template).expect("template");
    template["metadata"]["annotations"]["kubesim.dev/exit-after"] = json!("3600");
    template["spec"]["nodeSelector"] = json!({"pool": "doomed"});
    j.spec.as_mut().expect("spec").template = serde_json::from_value(template).expect("t");
    jobs.create(&PostParams::default(), &j)
        .await
        .expect("create");
    let first = eventually(20, "a pod running on the node", || async {
        let ps = pods(&client, &ns, "lost").await;
        let p = ps.into_iter().next()?;
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
    })
    .await;
    nodes
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete node");
    // The pod GC fails the pod with DisruptionTarget; the rule ignores it: a replacement, no
    // failure counted, the Job not failed.
    let first_uid = first.metadata.uid.clone().expect("uid");
    let replacement = eventually(20, "a replacement pod", || async {
        let ps = pods(&client, &ns, "lost").await;
        ps.into_iter()
            .find(|p| p.metadata.uid.as_deref() != Some(first_uid.as_str()))
    })
    .await;
    assert!(replacement.metadata.deletion_timestamp.is_none());
    let j = serde_json::to_value(jobs.get("lost").await.expect("job")).expect("json");
    assert!(j["status"]["failed"].is_null(), "{j}");
    let conditions = j["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        conditions
            .iter()
            .all(|c| c["type"] != "Failed" && c["type"] != "FailureTarget"),
        "{j}"
    );
}
