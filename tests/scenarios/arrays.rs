//! Array jobs are Indexed Jobs: the parent's size and status summary, children
//! `<parent-id>:<index>` in DescribeJobs and ListJobs(arrayJobId), a child refused by
//! TerminateJob and CancelJob, and the parent's termination ending every child.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::harness::{Env, eventually};
use crate::list::{all_pages, create, ids, list};

const REASON: &str = "the whole sweep is obsolete";

async fn indexed(env: &Env, name: &str, size: i32, pods: Value) -> Job {
    create(
        env,
        name,
        json!({}),
        json!({"completionMode": "Indexed", "completions": size, "parallelism": size}),
        pods,
    )
    .await
}

async fn describe_many(env: &Env, ids: &[String]) -> Vec<Value> {
    let (status, _, body) = env
        .post("/v1/describejobs", &json!({ "jobs": ids }).to_string())
        .await;
    assert_eq!(status, 200, "{body}");
    body["jobs"].as_array().expect("jobs").clone()
}

#[tokio::test]
async fn array_children_are_described_listed_and_end_with_their_parent() {
    let env = Env::start().await;
    let job = indexed(&env, "sweep", 3, json!({})).await;
    let id = job.uid().expect("uid");

    let parent = eventually("every child to be RUNNING", || async {
        env.describe(&id)
            .await
            .filter(|d| d["arrayProperties"]["statusSummary"]["RUNNING"] == 3)
    })
    .await;
    assert_eq!(parent["arrayProperties"]["size"], 3, "{parent}");
    assert_eq!(parent["status"], "RUNNING");
    let summary = parent["arrayProperties"]["statusSummary"]
        .as_object()
        .expect("statusSummary");
    assert_eq!(summary.len(), 7, "every state is present: {parent}");
    assert_eq!(parent["attempts"], json!([]), "attempts are the children's");

    // Children by ID: index 3 is out of range and left out, as unknown IDs are.
    let children = describe_many(
        &env,
        &[format!("{id}:0"), format!("{id}:2"), format!("{id}:3")],
    )
    .await;
    assert_eq!(children.len(), 2, "{children:?}");
    let pods = env.job_pods(&job).await;
    for (child, index) in children.iter().zip([0, 2]) {
        assert_eq!(child["jobId"], format!("{id}:{index}"));
        assert!(
            child["jobArn"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!("job/{id}:{index}")))
        );
        assert_eq!(child["arrayProperties"]["index"], index);
        assert_eq!(child["status"], "RUNNING");
        let pod_name = child["eksProperties"]["podProperties"]["podName"]
            .as_str()
            .expect("podName");
        let pod = pods
            .iter()
            .find(|p| p.name_any() == pod_name)
            .expect("the child's pod exists");
        assert_eq!(
            pod.annotations()
                .get("batch.kubernetes.io/job-completion-index")
                .map(String::as_str),
            Some(index.to_string().as_str())
        );
        assert_eq!(child["eksAttempts"].as_array().map(Vec::len), Some(1));
    }

    // ListJobs(arrayJobId): the children in index order, paged.
    let page = list(&env, json!({"arrayJobId": id})).await;
    assert_eq!(
        ids(&page),
        [format!("{id}:0"), format!("{id}:1"), format!("{id}:2")]
    );
    assert_eq!(page["jobSummaryList"][1]["arrayProperties"]["index"], 1);
    let pages = all_pages(&env, json!({"arrayJobId": id, "maxResults": 2})).await;
    assert_eq!(
        pages.iter().map(|p| ids(p).len()).collect::<Vec<_>>(),
        [2, 1]
    );
    let none = list(&env, json!({"arrayJobId": id, "jobStatus": "FAILED"})).await;
    assert!(ids(&none).is_empty());

    // One child cannot be ended from outside Kubernetes: a ClientException that says so.
    for path in ["/v1/terminatejob", "/v1/canceljob"] {
        let body = json!({"jobId": format!("{id}:1"), "reason": REASON}).to_string();
        let (status, error, answer) = env.post(path, &body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(error.as_deref(), Some("ClientException"));
        let message = answer["message"].as_str().expect("message");
        assert!(
            message.contains("Kubernetes cannot stop one index") && message.contains(&id),
            "{message}"
        );
    }
    assert_eq!(
        env.describe(&format!("{id}:1")).await.expect("child")["status"],
        "RUNNING",
        "the refused child still runs"
    );

    // Terminating the parent ends every child: it is one Job.
    assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));
    env.wait_condition("sweep", "Failed").await;
    let parent = env.wait_described(&id, "FAILED").await;
    assert_eq!(parent["statusReason"], REASON);
    assert_eq!(
        parent["arrayProperties"]["statusSummary"]["FAILED"], 3,
        "{parent}"
    );
    let page = eventually("every child to be listed FAILED", || async {
        let page = list(&env, json!({"arrayJobId": id, "jobStatus": "FAILED"})).await;
        (ids(&page).len() == 3).then_some(page)
    })
    .await;
    for child in page["jobSummaryList"].as_array().expect("list") {
        assert_eq!(child["statusReason"], REASON, "{child}");
    }
    for child in describe_many(&env, &[format!("{id}:0"), format!("{id}:2")]).await {
        assert_eq!(child["status"], "FAILED");
        assert_eq!(child["isTerminated"], true);
        assert!(child["stoppedAt"].as_i64().is_some(), "{child}");
    }
    eventually("the pods to be gone", || async {
        env.job_pods(&job).await.is_empty().then_some(())
    })
    .await;
}

/// Children that finish by themselves: SUCCEEDED each, with their exit code, and the
/// parent SUCCEEDED once all have.
#[tokio::test]
async fn array_children_that_finish_succeed_one_by_one() {
    let env = Env::start().await;
    indexed(&env, "quick", 2, json!({"kubesim.dev/exit-after": "0.1"})).await;
    env.wait_condition("quick", "Complete").await;
    let job = env.jobs().get("quick").await.expect("job");
    let id = job.uid().expect("uid");
    let parent = env.wait_described(&id, "SUCCEEDED").await;
    assert_eq!(
        parent["arrayProperties"]["statusSummary"]["SUCCEEDED"], 2,
        "{parent}"
    );
    // The children's exit codes come from the pod watch, which may lag the Job watch.
    let page = eventually("both children listed with their exit codes", || async {
        let page = list(&env, json!({"arrayJobId": id, "jobStatus": "SUCCEEDED"})).await;
        let children = page["jobSummaryList"].as_array()?;
        let settled = children.len() == 2
            && children
                .iter()
                .all(|c| c["container"]["exitCode"].is_number());
        settled.then_some(page)
    })
    .await;
    assert_eq!(ids(&page), [format!("{id}:0"), format!("{id}:1")]);
    for child in page["jobSummaryList"].as_array().expect("list") {
        assert_eq!(child["container"]["exitCode"], 0, "{child}");
        assert!(child["stoppedAt"].as_i64().is_some(), "{child}");
    }
}
