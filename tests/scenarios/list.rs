//! ListJobs and DescribeJobs' full detail end to end: queues (Kueue label, our label, the
//! namespace), the RUNNING default, paging to a last page without nextToken, the filters,
//! newest first, the JobSummary fields, attempts, placement and a failure's own reason.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::PostParams;
use serde_json::{Value, json};

use crate::harness::{Env, eventually};

pub const JOB_QUEUE_LABEL: &str = "batch-terminator.dev/job-queue";
pub const KUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
const ACCOUNT_ARN: &str = "arn:aws:batch:us-east-1:123456789012";

/// A Job like [`Env::create_job`]'s (busybox sleeping an hour), with labels, spec fields
/// and pod annotations merged in.
pub async fn create(env: &Env, name: &str, labels: Value, spec: Value, pods: Value) -> Job {
    let mut job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": env.ns, "labels": labels},
        "spec": {
            "backoffLimit": 3,
            "template": {
                "metadata": {"annotations": pods},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]
                }
            }
        }
    });
    merge(&mut job["spec"], spec);
    let job: Job = serde_json::from_value(job).expect("job");
    env.jobs()
        .create(&PostParams::default(), &job)
        .await
        .expect("job created")
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// POST /v1/listjobs, expecting 200.
pub async fn list(env: &Env, body: Value) -> Value {
    let (status, _, page) = env.post("/v1/listjobs", &body.to_string()).await;
    assert_eq!(status, 200, "listjobs {body}: {page}");
    page
}

/// The job IDs of a page, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["jobSummaryList"]
        .as_array()
        .expect("jobSummaryList")
        .iter()
        .map(|s| s["jobId"].as_str().expect("jobId").to_owned())
        .collect()
}

/// Follows nextToken from `body` until a page has none; returns every page.
pub async fn all_pages(env: &Env, body: Value) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut request = body;
    loop {
        let page = list(env, request.clone()).await;
        assert_ne!(page["nextToken"], "", "an empty nextToken is never sent");
        let next = page.get("nextToken").cloned();
        pages.push(page);
        match next {
            Some(token) => request["nextToken"] = token,
            None => return pages,
        }
        assert!(pages.len() < 50, "paging does not end");
    }
}

fn created_secs(job: &Job) -> i64 {
    job.creation_timestamp()
        .expect("creationTimestamp")
        .0
        .as_second()
}

/// Waits until the wall clock is past the second `secs` (creationTimestamp has whole
/// seconds), so the next Job is strictly newer.
async fn wait_past_second(secs: i64) {
    eventually("the clock to pass a second", || async {
        (jiff::Timestamp::now().as_second() > secs).then_some(())
    })
    .await;
}

/// One queue (our label), five running jobs created in two seconds, a finished pair, and
/// neighbours in other queues: the RUNNING default, paging, filters and newest first.
#[tokio::test]
async fn list_jobs_pages_filters_and_orders_a_queue() {
    let env = Env::start().await;
    let queue = format!("{}-q", env.ns);
    let kueue = format!("{}-kueue", env.ns);
    let in_queue = json!({JOB_QUEUE_LABEL: queue});
    let mut older = Vec::new();
    for name in ["alpha-0", "alpha-1"] {
        older.push(create(&env, name, in_queue.clone(), json!({}), json!({})).await);
    }
    let done = create(
        &env,
        "done",
        in_queue.clone(),
        json!({}),
        json!({"kubesim.dev/exit-after": "0.1"}),
    )
    .await;
    let broken = create(
        &env,
        "broken",
        in_queue.clone(),
        json!({"backoffLimit": 0}),
        json!({"kubesim.dev/exit-after": "0.1", "kubesim.dev/exit-code": "3"}),
    )
    .await;
    let last_old = [&older[0], &older[1], &done, &broken]
        .iter()
        .map(|j| created_secs(j))
        .max()
        .expect("jobs");
    wait_past_second(last_old).await;
    let mut newer = Vec::new();
    for name in ["alpha-2", "beta-3", "beta-4"] {
        newer.push(create(&env, name, in_queue.clone(), json!({}), json!({})).await);
    }
    // Neighbours: the namespace's own queue, and Kueue's label winning over ours.
    let plain = create(&env, "plain", json!({}), json!({}), json!({})).await;
    let kueued = create(
        &env,
        "kueued",
        json!({KUEUE_LABEL: kueue, JOB_QUEUE_LABEL: queue}),
        json!({}),
        json!({}),
    )
    .await;
    let uid = |j: &Job| j.uid().expect("uid");
    let running: BTreeSet<String> = older.iter().chain(&newer).map(uid).collect();

    // No status and no filter: RUNNING only, as AWS does.
    let page = eventually("the five jobs of the queue to be RUNNING", || async {
        let page = list(&env, json!({"jobQueue": queue})).await;
        (ids(&page).into_iter().collect::<BTreeSet<_>>() == running).then_some(page)
    })
    .await;
    assert!(page.get("nextToken").is_none(), "one page: {page}");
    // Newest first: the three newer jobs before the two older ones.
    let order = ids(&page);
    let newer_ids: BTreeSet<String> = newer.iter().map(uid).collect();
    assert!(
        order[..3].iter().all(|id| newer_ids.contains(id)),
        "newest first: {page}"
    );
    let created: Vec<i64> = page["jobSummaryList"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["createdAt"].as_i64().expect("createdAt"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    for summary in page["jobSummaryList"].as_array().expect("list") {
        let id = summary["jobId"].as_str().expect("jobId");
        assert_eq!(summary["jobArn"], format!("{ACCOUNT_ARN}:job/{id}"));
        assert_eq!(summary["status"], "RUNNING");
        assert!(summary["jobName"].as_str().is_some_and(|n| n.contains('-')));
        assert!(summary["startedAt"].as_i64().is_some(), "{summary}");
        assert!(summary.get("stoppedAt").is_none(), "{summary}");
    }

    // Paging: 2 + 2 + 1, the same order, and the last page omits nextToken.
    let pages = all_pages(&env, json!({"jobQueue": queue, "maxResults": 2})).await;
    assert_eq!(
        pages.iter().map(|p| ids(p).len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert!(pages[..2].iter().all(|p| p["nextToken"].is_string()));
    assert_eq!(pages.iter().flat_map(ids).collect::<Vec<_>>(), order);
    // The queue's ARN works as its name.
    let by_arn = list(
        &env,
        json!({"jobQueue": format!("{ACCOUNT_ARN}:job-queue/{queue}")}),
    )
    .await;
    assert_eq!(ids(&by_arn), order);

    // Finished jobs, with their exit code and own reason.
    env.wait_condition("done", "Complete").await;
    env.wait_condition("broken", "Failed").await;
    let succeeded = eventually("done to be listed SUCCEEDED", || async {
        let page = list(&env, json!({"jobQueue": queue, "jobStatus": "SUCCEEDED"})).await;
        let settled = page["jobSummaryList"][0]["container"]["exitCode"].is_number();
        (ids(&page) == [uid(&done)] && settled).then_some(page)
    })
    .await;
    let s = &succeeded["jobSummaryList"][0];
    assert_eq!(s["container"]["exitCode"], 0, "{s}");
    assert!(s["stoppedAt"].as_i64() >= s["startedAt"].as_i64(), "{s}");
    // The exit code comes from the pod watch, which may lag the Job watch.
    let failed = eventually("broken to be listed FAILED with its exit code", || async {
        let page = list(&env, json!({"jobQueue": queue, "jobStatus": "FAILED"})).await;
        let settled = page["jobSummaryList"][0]["container"]["exitCode"].is_number();
        settled.then_some(page)
    })
    .await;
    assert_eq!(ids(&failed), [uid(&broken)]);
    let f = &failed["jobSummaryList"][0];
    assert_eq!(f["container"]["exitCode"], 3, "{f}");
    assert!(
        f["statusReason"]
            .as_str()
            .is_some_and(|r| r.starts_with("BackoffLimitExceeded")),
        "{f}"
    );

    // Filters replace jobStatus: every state matches.
    let name_filter = |value: &str| json!({"jobQueue": queue, "filters": [{"name": "JOB_NAME", "values": [value]}]});
    let alphas = list(&env, name_filter("alpha*")).await;
    let mut expected = vec![uid(&newer[0])];
    // The older two may straddle a second boundary: newest first, then by ID.
    let mut older_order: Vec<(std::cmp::Reverse<i64>, String)> = older
        .iter()
        .map(|j| (std::cmp::Reverse(created_secs(j)), uid(j)))
        .collect();
    older_order.sort();
    expected.extend(older_order.into_iter().map(|(_, id)| id));
    assert_eq!(ids(&alphas), expected, "newest first, then by ID");
    assert_eq!(
        ids(&list(&env, name_filter("BETA-3")).await),
        [uid(&newer[1])]
    );
    assert_eq!(ids(&list(&env, name_filter("gamma*")).await).len(), 0);
    let boundary = page["jobSummaryList"][2]["createdAt"]
        .as_i64()
        .expect("createdAt");
    let time_filter = |name: &str, at: i64| json!({"jobQueue": queue, "filters": [{"name": name, "values": [at.to_string()]}]});
    let after: BTreeSet<String> =
        ids(&list(&env, time_filter("AFTER_CREATED_AT", boundary - 1)).await)
            .into_iter()
            .collect();
    assert_eq!(after, newer_ids);
    let before: BTreeSet<String> =
        ids(&list(&env, time_filter("BEFORE_CREATED_AT", boundary)).await)
            .into_iter()
            .collect();
    let mut old_ids: BTreeSet<String> = older.iter().map(uid).collect();
    old_ids.extend([uid(&done), uid(&broken)]);
    assert_eq!(before, old_ids);

    // The neighbours are in their own queues.
    let ns_queue = eventually("plain to be RUNNING in the namespace's queue", || async {
        let page = list(&env, json!({"jobQueue": env.ns})).await;
        (!ids(&page).is_empty()).then_some(page)
    })
    .await;
    assert_eq!(ids(&ns_queue), [uid(&plain)]);
    let kueue_queue = eventually("kueued to be RUNNING in Kueue's queue", || async {
        let page = list(&env, json!({"jobQueue": kueue})).await;
        (!ids(&page).is_empty()).then_some(page)
    })
    .await;
    assert_eq!(ids(&kueue_queue), [uid(&kueued)]);
    let described = env.describe(&uid(&kueued)).await.expect("described");
    assert_eq!(
        described["jobQueue"],
        format!("{ACCOUNT_ARN}:job-queue/{kueue}")
    );
}

/// Bad ListJobs requests are ClientExceptions that name the field.
#[tokio::test]
async fn list_jobs_rejects_bad_requests() {
    let env = Env::start().await;
    for (body, field) in [
        (json!({}), "jobQueue"),
        (json!({"jobQueue": "q", "arrayJobId": "a"}), "jobQueue"),
        (json!({"jobQueue": "q", "maxResults": 0}), "maxResults"),
        (json!({"jobQueue": "q", "maxResults": 101}), "maxResults"),
        (
            json!({"jobQueue": "q", "nextToken": "not-a-token"}),
            "nextToken",
        ),
        (json!({"jobQueue": "q", "jobStatus": "DONE"}), "jobStatus"),
        (
            json!({"jobQueue": "q", "filters": [{"name": "JOB_DEFINITION", "values": ["d"]}]}),
            "filters",
        ),
        (json!({"multiNodeJobId": "m"}), "multiNodeJobId"),
    ] {
        let (status, error, answer) = env.post("/v1/listjobs", &body.to_string()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(error.as_deref(), Some("ClientException"));
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{body}: {answer}"
        );
    }
}

/// A cancelled Job is deleted, yet ListJobs still finds it under its queue (from the
/// record's queue label), FAILED with the caller's reason.
#[tokio::test]
async fn a_cancelled_job_stays_listed_under_its_queue() {
    let env = Env::start().await;
    let queue = format!("{}-q", env.ns);
    let job = create(
        &env,
        "queued",
        json!({JOB_QUEUE_LABEL: queue}),
        json!({"suspend": true}),
        json!({}),
    )
    .await;
    let id = job.uid().expect("uid");
    // The service sees the Job once its watch delivers it.
    eventually("the job to be listed RUNNABLE", || async {
        let runnable = list(&env, json!({"jobQueue": queue, "jobStatus": "RUNNABLE"})).await;
        (ids(&runnable) == [id.as_str()]).then_some(())
    })
    .await;

    assert_eq!(env.cancel(&id, "not needed").await, (200, json!({})));
    env.wait_job_gone("queued").await;
    let page = eventually("the cancelled job to be listed FAILED", || async {
        let page = list(&env, json!({"jobQueue": queue, "jobStatus": "FAILED"})).await;
        (ids(&page) == [id.as_str()]).then_some(page)
    })
    .await;
    assert_eq!(page["jobSummaryList"][0]["statusReason"], "not needed");
    assert_eq!(page["jobSummaryList"][0]["jobName"], "queued");
    let detail = env.describe(&id).await.expect("described");
    assert_eq!(
        detail["jobQueue"],
        format!("{ACCOUNT_ARN}:job-queue/{queue}")
    );
    assert_eq!(detail["isCancelled"], true);
}

/// DescribeJobs: the ARN and queue, one attempt per pod that ran (with its placement and
/// exit code), the current pod, and the Job's own Failed condition as statusReason.
#[tokio::test]
async fn describe_jobs_reports_attempts_placement_and_failure_reason() {
    let env = Env::start().await;
    let flaky = create(
        &env,
        "flaky",
        json!({"batch-terminator.dev/job-id": format!("{}-flaky", env.ns)}),
        json!({"backoffLimit": 1}),
        json!({"kubesim.dev/exit-after": "0.1", "kubesim.dev/exit-code": "3"}),
    )
    .await;
    let id = format!("{}-flaky", env.ns);
    env.wait_condition("flaky", "Failed").await;
    let both = |d: &Value| d["attempts"].as_array().is_some_and(|a| a.len() >= 2);
    let detail = env.wait_described_with(&id, "FAILED", both).await;
    assert_eq!(detail["jobId"], id.as_str());
    assert_eq!(detail["jobArn"], format!("{ACCOUNT_ARN}:job/{id}"));
    assert_eq!(
        detail["jobQueue"],
        format!("{ACCOUNT_ARN}:job-queue/{}", env.ns)
    );
    assert_eq!(detail["isTerminated"], false);
    let reason = detail["statusReason"].as_str().expect("statusReason");
    assert!(reason.starts_with("BackoffLimitExceeded"), "{detail}");

    // backoffLimit 1: two pods ran and failed; both are attempts, oldest first.
    let pods = env.job_pods(&flaky).await;
    assert_eq!(pods.len(), 2, "two pods ran");
    let pod_names: BTreeSet<String> = pods.iter().map(|p| p.name_any()).collect();
    let attempts = detail["attempts"].as_array().expect("attempts");
    let eks = detail["eksAttempts"].as_array().expect("eksAttempts");
    assert_eq!((attempts.len(), eks.len()), (2, 2), "{detail}");
    for (attempt, eks) in attempts.iter().zip(eks) {
        assert_eq!(attempt["container"]["exitCode"], 3, "{attempt}");
        assert!(pod_names.contains(eks["podName"].as_str().expect("podName")));
        assert_eq!(eks["podNamespace"], env.ns.as_str());
        assert!(
            eks["nodeName"].as_str().is_some_and(|n| !n.is_empty()),
            "{eks}"
        );
        assert_eq!(eks["containers"][0]["name"], "main");
        assert_eq!(eks["containers"][0]["exitCode"], 3);
        let (start, stop) = (eks["startedAt"].as_i64(), eks["stoppedAt"].as_i64());
        assert!(start.is_some() && stop >= start, "{eks}");
        assert_eq!(attempt["startedAt"], eks["startedAt"]);
        assert!(
            eks["statusReason"]
                .as_str()
                .is_some_and(|r| r.contains("3")),
            "{eks}"
        );
    }
    assert!(eks[0]["startedAt"].as_i64() <= eks[1]["startedAt"].as_i64());
    let current = &detail["eksProperties"]["podProperties"];
    assert!(pod_names.contains(current["podName"].as_str().expect("podName")));
    assert!(current["nodeName"].as_str().is_some(), "{detail}");

    // A running job: one attempt so far, started and not stopped, on the current pod.
    let job = create(&env, "busy", json!({}), json!({}), json!({})).await;
    let busy = job.uid().expect("uid");
    let pod = env.wait_running(&job).await;
    let detail = env.wait_described(&busy, "RUNNING").await;
    let eks = detail["eksAttempts"].as_array().expect("eksAttempts");
    assert_eq!(eks.len(), 1, "{detail}");
    assert_eq!(eks[0]["podName"], pod.name_any());
    assert!(eks[0]["startedAt"].as_i64().is_some() && eks[0].get("stoppedAt").is_none());
    assert_eq!(
        detail["eksProperties"]["podProperties"]["podName"],
        pod.name_any()
    );
    assert_eq!(
        detail["eksProperties"]["podProperties"]["nodeName"].as_str(),
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
    );
}
