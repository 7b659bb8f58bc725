//! `dependsOn`: a Job held suspended with the `batch-terminator.dev/depends-on` annotation
//! (as SubmitJob creates it) is PENDING, released once its dependencies SUCCEED, and FAILED
//! with AWS's statusReason, without ever running, once one FAILS. The Jobs here are created
//! with the kube client, without SubmitJob, and run to their end through kubesim's kubelet.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::harness::{self, Env, eventually};
use super::{REASON, assert_stopped, uid};

const DEPENDS_ON: &str = "batch-terminator.dev/depends-on";
const DEPENDENCIES: &str = "batch-terminator.dev/dependencies";
const KUEUE_QUEUE: &str = "batch-terminator.dev/kueue-queue";
const DEPENDENT_JOB_FAILED: &str = "Dependent Job failed";

/// Pod annotations: the container exits after a moment with this code.
fn exits(code: i32) -> Value {
    exits_after("0.5", code)
}

/// Pod annotations: the container exits after this many (simulated) seconds.
fn exits_after(seconds: &str, code: i32) -> Value {
    json!({"kubesim.dev/exit-after": seconds, "kubesim.dev/exit-code": code.to_string()})
}

/// A Job held for `deps` (the AWS `dependsOn` list), as SubmitJob creates it.
async fn held(env: &Env, name: &str, deps: Value, spec: Value, pods: Value) -> Job {
    held_with(env, name, deps, json!({}), spec, pods).await
}

async fn held_with(
    env: &Env,
    name: &str,
    deps: Value,
    more_annotations: Value,
    spec: Value,
    pods: Value,
) -> Job {
    let mut annotations = json!({DEPENDS_ON: deps.to_string()});
    if let (Some(a), Value::Object(more)) = (annotations.as_object_mut(), more_annotations) {
        a.extend(more);
    }
    let mut job_spec = json!({"suspend": true});
    if let (Some(s), Value::Object(more)) = (job_spec.as_object_mut(), spec) {
        s.extend(more);
    }
    env.create_job_with(
        json!({"name": name, "namespace": env.ns, "annotations": annotations}),
        job_spec,
        pods,
    )
    .await
}

fn on(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"jobId": id})).collect())
}

/// Resumes a Job created suspended (a dependency made to wait for the test).
async fn resume(env: &Env, name: &str) {
    env.jobs()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await
        .expect("resume");
}

fn outcome(job: &Job) -> Option<String> {
    job.annotations().get(DEPENDENCIES).cloned()
}

/// The dependent failed as AWS fails it: FAILED, "Dependent Job failed", never started, no
/// pod ever created, and the Job itself Failed in Kubernetes.
async fn assert_failed_by_dependency(env: &Env, job: &Job) {
    let detail = env.wait_described(&uid(job), "FAILED").await;
    assert_eq!(detail["statusReason"], DEPENDENT_JOB_FAILED, "{detail}");
    assert_eq!(detail["isCancelled"], false, "{detail}");
    assert_eq!(detail["isTerminated"], false, "{detail}");
    assert!(detail.get("startedAt").is_none(), "never started: {detail}");
    let failed = env.wait_condition(&job.name_any(), "Failed").await;
    assert_eq!(outcome(&failed).as_deref(), Some("failed"));
    assert_eq!(
        failed.spec.as_ref().and_then(|s| s.active_deadline_seconds),
        Some(0)
    );
    let created = env.events_for(&job.name_any(), "SuccessfulCreate").await;
    assert!(created.is_empty(), "no pod was ever created: {created:?}");
    assert!(env.job_pods(job).await.is_empty());
    let detail = env.describe(&uid(job)).await.expect("described");
    assert_eq!(detail["statusReason"], DEPENDENT_JOB_FAILED, "{detail}");
    assert_stopped(&detail);
}

/// PENDING while its dependency waits (with `dependsOn` shown, and listed under PENDING),
/// RUNNABLE never; released when it succeeds; then it runs to SUCCEEDED.
#[tokio::test]
async fn a_held_job_is_pending_and_released_when_its_dependency_succeeds() {
    let env = Env::start().await;
    // Long enough (2 s at the simulation's pace) to be seen running.
    let first = env
        .create_job("first", json!({"suspend": true}), exits_after("200", 0))
        .await;
    let second = held(&env, "second", on(&[&uid(&first)]), json!({}), exits(0)).await;

    let detail = env.wait_described(&uid(&second), "PENDING").await;
    assert_eq!(detail["dependsOn"], on(&[&uid(&first)]), "{detail}");
    let body = json!({"jobQueue": env.ns, "jobStatus": "PENDING"}).to_string();
    let (status, _, list) = env.post("/v1/listjobs", &body).await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&Value> = list["jobSummaryList"]
        .as_array()
        .expect("list")
        .iter()
        .collect();
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["jobId"], uid(&second).as_str());
    // Still held while the dependency runs.
    resume(&env, "first").await;
    env.wait_pod_phase(&first, "Running").await;
    let detail = env.describe(&uid(&second)).await.expect("described");
    assert_eq!(detail["status"], "PENDING", "{detail}");
    assert!(env.job_pods(&second).await.is_empty());

    env.wait_condition("first", "Complete").await;
    let done = env.wait_described(&uid(&second), "SUCCEEDED").await;
    assert_eq!(done["dependsOn"], on(&[&uid(&first)]), "{done}");
    let released = env.jobs().get("second").await.expect("get");
    assert_eq!(outcome(&released).as_deref(), Some("released"));
}

/// A dependency that fails fails the dependent at once, with AWS's reason, and the failure
/// travels down a chain; another dependency still running does not hold it.
#[tokio::test]
async fn a_failed_dependency_fails_the_chain_without_running_it() {
    let env = Env::start().await;
    let bad = env
        .create_job("bad", json!({"backoffLimit": 0}), exits(3))
        .await;
    let slow = env.create_job("slow", json!({}), json!({})).await;
    let b = held(
        &env,
        "b",
        on(&[&uid(&slow), &uid(&bad)]),
        json!({}),
        exits(0),
    )
    .await;
    let c = held(&env, "c", on(&[&uid(&b)]), json!({}), exits(0)).await;

    env.wait_condition("bad", "Failed").await;
    assert_failed_by_dependency(&env, &b).await;
    assert_failed_by_dependency(&env, &c).await;
    let slow_now = env.describe(&uid(&slow)).await.expect("described");
    assert_eq!(slow_now["status"], "RUNNING", "untouched: {slow_now}");
}

/// When the job started and stopped, as DescribeJobs says.
async fn run_times(env: &Env, job: &Job) -> (i64, i64) {
    let d = env.describe(&uid(job)).await.expect("described");
    let at = |field: &str| d[field].as_i64().unwrap_or_else(|| panic!("{field}: {d}"));
    (at("startedAt"), at("stoppedAt"))
}

/// A chain of three runs in order, each released by the one before.
#[tokio::test]
async fn a_chain_runs_in_order() {
    let env = Env::start().await;
    let a = env.create_job("a", json!({}), exits(0)).await;
    let b = held(&env, "b", on(&[&uid(&a)]), json!({}), exits(0)).await;
    let c = held(&env, "c", on(&[&uid(&b)]), json!({}), exits(0)).await;
    env.wait_described(&uid(&c), "SUCCEEDED").await;
    let (ta, tb, tc) = (
        run_times(&env, &a).await,
        run_times(&env, &b).await,
        run_times(&env, &c).await,
    );
    assert!(tb.0 >= ta.1 && tc.0 >= tb.1, "{ta:?} {tb:?} {tc:?}");
}

/// Arrays: N_TO_N waits for the whole other array; SEQUENTIAL (no job ID) runs the indexes
/// one at a time; a child `<id>:<index>` is waited for by itself.
#[tokio::test]
async fn array_dependencies() {
    let env = Env::start().await;
    let indexed = |n: i32| json!({"completionMode": "Indexed", "completions": n, "parallelism": n});
    let first = env
        .create_job(
            "first",
            {
                let mut s = indexed(2);
                s["suspend"] = json!(true);
                s
            },
            exits(0),
        )
        .await;
    let n_to_n = held(
        &env,
        "n-to-n",
        json!([{"jobId": uid(&first), "type": "N_TO_N"}]),
        indexed(2),
        exits(0),
    )
    .await;
    let sequential = held(
        &env,
        "sequential",
        json!([{"type": "SEQUENTIAL"}]),
        indexed(3),
        exits(0),
    )
    .await;
    let on_child = held(
        &env,
        "on-child",
        on(&[&format!("{}:1", uid(&first))]),
        json!({}),
        exits(0),
    )
    .await;

    // SEQUENTIAL waits for nothing else: released at once, one index at a time.
    let detail = env.wait_described(&uid(&sequential), "SUCCEEDED").await;
    assert_eq!(
        detail["dependsOn"],
        json!([{"type": "SEQUENTIAL"}]),
        "{detail}"
    );
    let seq = env.jobs().get("sequential").await.expect("get");
    assert_eq!(seq.spec.as_ref().and_then(|s| s.parallelism), Some(1));
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for i in 0..3 {
        // A child's times come from its pod, and the pod watch may lag the Job watch.
        let ran = |d: &Value| d["startedAt"].is_i64() && d["stoppedAt"].is_i64();
        let child = env
            .wait_described_with(&format!("{}:{i}", uid(&sequential)), "SUCCEEDED", ran)
            .await;
        runs.push((
            child["startedAt"].as_i64().expect("started"),
            child["stoppedAt"].as_i64().expect("stopped"),
        ));
    }
    assert!(
        runs.windows(2).all(|w| w[1].0 >= w[0].1),
        "one after the other: {runs:?}"
    );

    // The others wait for the array, which waits for the test.
    for job in [&n_to_n, &on_child] {
        let d = env.wait_described(&uid(job), "PENDING").await;
        assert!(d["dependsOn"].is_array(), "{d}");
    }
    let summary = env.describe(&uid(&n_to_n)).await.expect("described");
    assert_eq!(
        summary["arrayProperties"]["statusSummary"]["PENDING"], 2,
        "{summary}"
    );
    resume(&env, "first").await;
    env.wait_described(&uid(&on_child), "SUCCEEDED").await;
    env.wait_described(&uid(&n_to_n), "SUCCEEDED").await;
}

/// The service is down while a dependency finishes: the new one reads the state from the
/// cluster (the annotation, the dependency's Job) and releases the held Job; a held Job
/// whose dependency has not finished stays held across the restart.
#[tokio::test]
async fn a_restart_mid_hold_takes_up_from_the_cluster() {
    let mut env = Env::start().await;
    let first = env
        .create_job("first", json!({"suspend": true}), exits(0))
        .await;
    let other = env
        .create_job("other", json!({"suspend": true}), exits(0))
        .await;
    let second = held(&env, "second", on(&[&uid(&first)]), json!({}), exits(0)).await;
    let waiting = held(&env, "waiting", on(&[&uid(&other)]), json!({}), exits(0)).await;
    env.wait_described(&uid(&second), "PENDING").await;
    env.wait_described(&uid(&waiting), "PENDING").await;

    drop(env.server.take());
    resume(&env, "first").await;
    env.wait_condition("first", "Complete").await;
    // Down: nothing releases it.
    let still = env.jobs().get("second").await.expect("get");
    assert_eq!(still.spec.as_ref().and_then(|s| s.suspend), Some(true));
    assert_eq!(outcome(&still), None);

    env.server = Some(
        batch_terminator::serve::Server::start(env.client.clone(), harness::settings())
            .await
            .expect("restarted"),
    );
    env.endpoint = env.server.as_ref().expect("server").api_url();
    env.wait_described(&uid(&second), "SUCCEEDED").await;
    let detail = env.describe(&uid(&waiting)).await.expect("described");
    assert_eq!(detail["status"], "PENDING", "{detail}");
    resume(&env, "other").await;
    env.wait_described(&uid(&waiting), "SUCCEEDED").await;
}

/// CancelJob and TerminateJob on a PENDING job cancel it like any queued job; it is never
/// released afterwards, even when its dependency succeeds.
#[tokio::test]
async fn a_pending_job_is_cancelled_like_any_queued_job() {
    let env = Env::start().await;
    let first = env
        .create_job("first", json!({"suspend": true}), exits(0))
        .await;
    let cancelled = held(&env, "cancelled", on(&[&uid(&first)]), json!({}), exits(0)).await;
    let terminated = held(&env, "terminated", on(&[&uid(&first)]), json!({}), exits(0)).await;
    env.wait_described(&uid(&cancelled), "PENDING").await;
    env.wait_described(&uid(&terminated), "PENDING").await;

    assert_eq!(env.cancel(&uid(&cancelled), REASON).await, (200, json!({})));
    assert_eq!(
        env.terminate(&uid(&terminated), REASON).await,
        (200, json!({}))
    );
    for job in [&cancelled, &terminated] {
        env.wait_job_gone(&job.name_any()).await;
        let detail = env.wait_described(&uid(job), "FAILED").await;
        assert_eq!(detail["statusReason"], REASON, "{detail}");
        assert_eq!(detail["isCancelled"], true, "{detail}");
        assert_eq!(
            env.events_for(&job.name_any(), "JobCancelled").await.len(),
            1
        );
    }
    resume(&env, "first").await;
    env.wait_condition("first", "Complete").await;
    for job in [&cancelled, &terminated] {
        assert!(
            env.jobs()
                .get_opt(&job.name_any())
                .await
                .expect("get")
                .is_none()
        );
        let detail = env.describe(&uid(job)).await.expect("described");
        assert_eq!(detail["statusReason"], REASON, "{detail}");
    }
}

/// Terminating a running dependency, or cancelling a pending one, fails its dependents.
#[tokio::test]
async fn terminating_or_cancelling_a_dependency_fails_its_dependents() {
    let env = Env::start().await;
    let running = env.create_job("running", json!({}), json!({})).await;
    let queued = env
        .create_job("queued", json!({"suspend": true}), json!({}))
        .await;
    let after_running = held(
        &env,
        "after-running",
        on(&[&uid(&running)]),
        json!({}),
        exits(0),
    )
    .await;
    let after_queued = held(
        &env,
        "after-queued",
        on(&[&uid(&queued)]),
        json!({}),
        exits(0),
    )
    .await;
    env.wait_running(&running).await;
    env.wait_described(&uid(&after_running), "PENDING").await;
    env.wait_described(&uid(&after_queued), "PENDING").await;

    assert_eq!(
        env.terminate(&uid(&running), REASON).await,
        (200, json!({}))
    );
    assert_eq!(env.cancel(&uid(&queued), REASON).await, (200, json!({})));
    assert_failed_by_dependency(&env, &after_running).await;
    assert_failed_by_dependency(&env, &after_queued).await;
}

/// A dependency that does not exist, or whose Job is deleted (no record keeps it), can never
/// succeed: the dependent fails with the same reason.
#[tokio::test]
async fn a_missing_or_deleted_dependency_fails_the_dependent() {
    let env = Env::start().await;
    let doomed = env
        .create_job("doomed", json!({"suspend": true}), json!({}))
        .await;
    let orphan = held(&env, "orphan", on(&["no-such-job"]), json!({}), exits(0)).await;
    let after = held(&env, "after", on(&[&uid(&doomed)]), json!({}), exits(0)).await;
    assert_failed_by_dependency(&env, &orphan).await;
    env.wait_described(&uid(&after), "PENDING").await;
    env.jobs()
        .delete("doomed", &kube::api::DeleteParams::background())
        .await
        .expect("delete");
    assert_failed_by_dependency(&env, &after).await;
}

/// A held Job of a Kueue queue: the release adds the queue label and leaves the Job
/// suspended for Kueue to admit (kubesim has no Kueue, so it stays RUNNABLE).
#[tokio::test]
async fn a_kueue_job_is_handed_to_its_queue() {
    let env = Env::start().await;
    let first = env.create_job("first", json!({}), exits(0)).await;
    let queued = held_with(
        &env,
        "queued",
        on(&[&uid(&first)]),
        json!({KUEUE_QUEUE: "team-a"}),
        json!({}),
        exits(0),
    )
    .await;
    env.wait_condition("first", "Complete").await;
    let released = eventually("the Kueue label", || async {
        let job = env.jobs().get("queued").await.expect("get");
        job.labels()
            .contains_key("kueue.x-k8s.io/queue-name")
            .then_some(job)
    })
    .await;
    assert_eq!(released.labels()["kueue.x-k8s.io/queue-name"], "team-a");
    assert_eq!(released.spec.as_ref().and_then(|s| s.suspend), Some(true));
    assert_eq!(outcome(&released).as_deref(), Some("released"));
    let detail = env.wait_described(&uid(&queued), "RUNNABLE").await;
    assert_eq!(
        detail["jobQueue"], "arn:aws:batch:us-east-1:123456789012:job-queue/team-a",
        "{detail}"
    );
}

/// Only the holder of the lease releases: a replica that cannot take it (its lease namespace
/// does not exist yet) serves PENDING and changes nothing; once it leads, it releases.
#[tokio::test]
async fn only_the_leader_releases() {
    let env = Env::start_with_settings(harness::sim_config(), |ns| harness::Settings {
        leader_election: Some(batch_terminator::controller::lease::LeaseSettings {
            namespace: format!("{ns}-lease"),
            name: "batch-terminator".into(),
            identity: "follower".into(),
            duration: std::time::Duration::from_secs(2),
        }),
        ..harness::settings()
    })
    .await;
    let first = env.create_job("first", json!({}), exits(0)).await;
    let second = held(&env, "second", on(&[&uid(&first)]), json!({}), exits(0)).await;
    env.wait_condition("first", "Complete").await;
    env.wait_described(&uid(&first), "SUCCEEDED").await;
    // Served, but not acted on: while it tries for the lease twice more (its namespace is
    // missing), the Job stays held.
    let lease_tries = || {
        env.sim()
            .requests()
            .iter()
            .filter(|r| r.resource == "leases")
            .count()
    };
    let before = lease_tries();
    eventually("two more tries for the lease", || async {
        (lease_tries() >= before + 2).then_some(())
    })
    .await;
    let detail = env.describe(&uid(&second)).await.expect("described");
    assert_eq!(detail["status"], "PENDING", "{detail}");
    let still = env.jobs().get("second").await.expect("get");
    assert_eq!(outcome(&still), None);
    env.create_namespace(&format!("{}-lease", env.ns)).await;
    env.wait_described(&uid(&second), "SUCCEEDED").await;
}
