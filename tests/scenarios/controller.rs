//! The controller's promises: its API-call budget, exactly once, no pod held, honest answers.
//! These drive kubesim itself (fault injection, its request log), so they skip an external
//! cluster.

use std::collections::BTreeMap;

use batch_terminator::batch::TerminationPhase;
use batch_terminator::record::JobTermination;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::Api;
use kubesim::faults::{Effect, Rule};
use serde_json::json;

use crate::harness::{self, Env, SERVICE_AGENT, eventually};

const REASON: &str = "stopped by the scenario";

fn records(env: &Env) -> Api<JobTermination> {
    Api::namespaced(env.client.clone(), &env.ns)
}

async fn wait_phase(env: &Env, name: &str, phase: TerminationPhase) -> JobTermination {
    eventually(&format!("record {name} to be {phase:?}"), || async {
        let record = records(env).get_opt(name).await.expect("get record")?;
        (record.status.as_ref()?.phase? == phase).then_some(record)
    })
    .await
}

/// The service's requests since the log was cleared, by (verb, resource), watches aside.
fn service_calls(env: &Env) -> BTreeMap<(String, String), usize> {
    let mut calls = BTreeMap::new();
    for r in env.sim().requests() {
        if r.user_agent != SERVICE_AGENT || r.verb.is_empty() || r.verb == "watch" {
            continue;
        }
        let resource = match r.subresource.as_str() {
            "" => r.resource.clone(),
            sub => format!("{}/{sub}", r.resource),
        };
        *calls.entry((r.verb.clone(), resource)).or_default() += 1;
    }
    calls
}

/// Makes kubesim answer 500 to these requests until its faults are cleared.
fn fail(env: &Env, verbs: &[&str], resources: &[&str]) {
    let rule = Rule::new(Effect::Error {
        code: 500,
        retry_after_seconds: None,
    })
    .verbs(verbs)
    .resources(resources);
    env.sim().faults().add(rule).expect("fault rule");
}

/// A Job whose pod runs (`pod_annotations` for kubesim's kubelet), once the service sees it
/// RUNNING; and its job ID.
async fn running_job(env: &Env, name: &str, pod_annotations: serde_json::Value) -> (Job, String) {
    let job = env.create_job(name, json!({}), pod_annotations).await;
    let id = job.uid().expect("uid");
    env.wait_running(&job).await;
    (job, id)
}

fn total(calls: &BTreeMap<(String, String), usize>) -> usize {
    calls.values().sum()
}

fn calls(verb: &str, resource: &str) -> (String, String) {
    (verb.to_string(), resource.to_string())
}

/// Terminating a running Job with one pod costs at most 6 API calls (record create, one Job
/// patch, Event create, pod delete, at most two status writes); a cancel the same minus the pod
/// delete plus the Job delete. No GET or LIST: decisions read the watch caches.
#[tokio::test]
async fn a_termination_and_a_cancel_keep_to_their_api_call_budget() {
    let env = Env::start().await;
    let running = env.create_job("budget-running", json!({}), json!({})).await;
    env.wait_running(&running).await;
    let queued = env
        .create_job("budget-queued", json!({"suspend": true}), json!({}))
        .await;
    let (running_id, queued_id) = (running.uid().unwrap(), queued.uid().unwrap());
    env.wait_described(&queued_id, "RUNNABLE").await;

    env.sim().clear_requests();
    assert_eq!(env.terminate(&running_id, REASON).await.0, 200);
    wait_phase(&env, &running_id, TerminationPhase::Completed).await;
    let terminate = service_calls(&env);
    println!("terminate: {} calls {terminate:?}", total(&terminate));

    env.sim().clear_requests();
    assert_eq!(env.cancel(&queued_id, REASON).await.0, 200);
    wait_phase(&env, &queued_id, TerminationPhase::Completed).await;
    env.wait_job_gone("budget-queued").await;
    let cancel = service_calls(&env);
    println!("cancel: {} calls {cancel:?}", total(&cancel));

    for (what, calls_seen, acted_on) in [
        ("terminate", &terminate, calls("delete", "pods")),
        ("cancel", &cancel, calls("delete", "jobs")),
    ] {
        assert!(total(calls_seen) <= 6, "{what}: {calls_seen:?}");
        for once in [
            calls("create", "jobterminations"),
            calls("patch", "jobs"),
            calls("create", "events"),
            acted_on.clone(),
        ] {
            assert_eq!(
                calls_seen.get(&once),
                Some(&1),
                "{what}: {once:?} in {calls_seen:?}"
            );
        }
        let status = calls_seen
            .get(&calls("patch", "jobterminations/status"))
            .copied()
            .unwrap_or(0);
        assert!((1..=2).contains(&status), "{what}: {calls_seen:?}");
        assert!(
            !calls_seen
                .keys()
                .any(|(verb, _)| verb == "get" || verb == "list"),
            "{what} read from the API server: {calls_seen:?}"
        );
    }
}

/// A TerminateJob after a CancelJob that changed nothing terminates, with the TerminateJob's
/// reason. (The service answers a CancelJob of a job it sees started without a record; the
/// NoChange record comes from a CancelJob whose job started before the controller decided,
/// which this scenario writes directly.)
#[tokio::test]
async fn a_terminate_after_a_no_op_cancel_terminates() {
    use batch_terminator::batch::TerminateKind;
    use batch_terminator::record::JobTerminationSpec;
    let env = Env::start().await;
    let (job, id) = running_job(&env, "cancel-then-terminate", json!({})).await;
    let mut cancel = JobTermination::new(
        &id,
        JobTerminationSpec {
            job_id: id.clone(),
            job_name: job.name_any(),
            job_uid: id.clone(),
            job_created_at: jiff::Timestamp::now(),
            operation: TerminateKind::Cancel,
            reason: "cancel: too late".into(),
            requested_at: jiff::Timestamp::now(),
            request_id: None,
        },
    );
    cancel.metadata.namespace = Some(env.ns.clone());
    records(&env)
        .create(&Default::default(), &cancel)
        .await
        .expect("the CancelJob's record");
    wait_phase(&env, &id, TerminationPhase::NoChange).await;
    assert_eq!(env.describe(&id).await.unwrap()["status"], "RUNNING");

    assert_eq!(env.terminate(&id, REASON).await.0, 200);
    let detail = env.wait_described(&id, "FAILED").await;
    assert_eq!(detail["statusReason"], REASON, "{detail}");
    assert_eq!(detail["isTerminated"], true, "{detail}");
    wait_phase(&env, &id, TerminationPhase::Completed).await;
    assert_eq!(
        env.events_for("cancel-then-terminate", "JobTerminated")
            .await
            .len(),
        1
    );
}

/// The Event failing holds nothing back: the pod is deleted first, and the Event is written
/// once the API server takes it, exactly once.
#[tokio::test]
async fn a_failing_event_never_blocks_the_termination_and_is_written_once() {
    let env = Env::start().await;
    let (job, id) = running_job(&env, "event-fails", json!({})).await;
    fail(&env, &["create"], &["events"]);

    assert_eq!(env.terminate(&id, REASON).await.0, 200);
    env.wait_pods_terminating(&job).await;
    assert!(
        env.events_for("event-fails", "JobTerminated")
            .await
            .is_empty()
    );
    env.sim().faults().clear();
    let record = wait_phase(&env, &id, TerminationPhase::Completed).await;
    assert!(record.status.unwrap().event_recorded);
    assert_eq!(
        env.events_for("event-fails", "JobTerminated").await.len(),
        1
    );
}

/// A Job that succeeds while the Job patch keeps failing completes the record as "nothing to
/// do": no annotations, no Event, and its Succeeded pod is never deleted.
#[tokio::test]
async fn a_job_that_succeeds_before_the_fence_completes_and_keeps_its_pods() {
    let env = Env::start().await;
    // The pod exits 0 on its own 200 simulated seconds (2 s) after it starts.
    let (_, id) = running_job(
        &env,
        "succeeds-first",
        json!({"kubesim.dev/exit-after": "200"}),
    )
    .await;
    fail(&env, &["patch"], &["jobs"]);
    assert_eq!(env.terminate(&id, REASON).await.0, 200);
    env.wait_condition("succeeds-first", "Complete").await;
    env.sim().faults().clear();

    let record = wait_phase(&env, &id, TerminationPhase::NoChange).await;
    assert!(record.status.unwrap().action.is_none());
    let job = env.jobs().get("succeeds-first").await.expect("the Job");
    assert!(
        !job.annotations()
            .contains_key("batch-terminator.dev/action"),
        "{:?}",
        job.annotations()
    );
    assert!(
        env.events_for("succeeds-first", "JobTerminated")
            .await
            .is_empty()
    );
    let pods = env.job_pods(&job).await;
    assert_eq!(pods.len(), 1, "the Succeeded pod stays");
    assert!(pods[0].metadata.deletion_timestamp.is_none());
    assert_eq!(env.describe(&id).await.unwrap()["status"], "SUCCEEDED");
}

/// A TerminateJob of `id` answers a retryable 500 ServerException whose message says `says`.
async fn assert_server_exception(env: &Env, id: &str, says: &str) {
    let body = json!({"jobId": id, "reason": REASON}).to_string();
    let (status, error_type, answer) = env.post("/v1/terminatejob", &body).await;
    assert_eq!(
        (status, error_type.as_deref()),
        (500, Some("ServerException")),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{answer}");
}

/// While a watch fails, an unknown job ID answers a retryable 500, not a 200 that does
/// nothing, and `/readyz` is 503; both recover once the watch has listed again.
#[tokio::test]
async fn an_unknown_id_is_a_server_exception_while_a_watch_fails() {
    let env = Env::start().await;
    let server = env.server.as_ref().expect("the in-process service");
    let readyz = format!("{}/readyz", server.admin_url());
    let ready = || async {
        env.http
            .get(&readyz)
            .send()
            .await
            .expect("readyz")
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    assert_eq!(env.terminate("no-such-job", REASON).await.0, 200);

    fail(&env, &["list", "watch"], &["jobs"]);
    env.sim().faults().drop_watches();
    eventually("readiness to turn 503", || async {
        (ready().await == 503).then_some(())
    })
    .await;
    // The service watches every namespace here: its whole view is incomplete.
    assert_server_exception(&env, "no-such-job", "view of all namespaces is incomplete").await;

    env.sim().faults().clear();
    eventually("readiness to come back", || async {
        (ready().await == 200).then_some(())
    })
    .await;
    assert_eq!(env.terminate("no-such-job", REASON).await.0, 200);
}

/// A listed namespace that does not exist holds neither readiness nor the others back, and is
/// not "refused": as a real API server does, kubesim lists and watches it as empty, so the
/// service's view stays whole (an unknown ID answers 200), and a Job created once the
/// namespace exists is served.
#[tokio::test]
async fn a_missing_namespace_does_not_stop_the_others() {
    let later = |ns: &str| format!("{ns}-later");
    let env = Env::start_with_settings(harness::sim_config(), |ns| harness::Settings {
        namespaces: vec![ns.to_string(), later(ns)],
        ..harness::settings()
    })
    .await;
    let server = env.server.as_ref().expect("the in-process service");
    let job = env
        .create_job("served", json!({"suspend": true}), json!({}))
        .await;
    let id = job.uid().unwrap();
    env.wait_described(&id, "RUNNABLE").await;
    assert_eq!(env.terminate(&id, REASON).await.0, 200);
    env.wait_job_gone("served").await;
    let status = env
        .http
        .get(format!("{}/readyz", server.admin_url()))
        .send()
        .await
        .expect("readyz")
        .status();
    assert_eq!(status.as_u16(), 200);
    assert!(server.index().incomplete_namespaces(|_| true).is_empty());
    assert_eq!(env.terminate("no-such-job", REASON).await.0, 200);

    env.create_namespace(&later(&env.ns)).await;
    let labels = json!({"batch-terminator.dev/job-id": "made-later"});
    env.create_job_in(
        &later(&env.ns),
        "later",
        labels,
        json!({"suspend": true}),
        json!({}),
    )
    .await;
    env.wait_described("made-later", "RUNNABLE").await;
}

/// The keys of the namespace-scoped scenarios: one for the test's namespace, one for it and
/// `other`.
fn two_keys(ns: &str, other: &str) -> batch_terminator::auth::Credentials {
    let yaml = format!(
        r#"
accessKeys:
  AKIDMINE:
    secretAccessKey: mine-secret
    namespaces: ["{ns}"]
    operations: ["*"]
  AKIDBOTH:
    secretAccessKey: both-secret
    namespaces: ["{ns}", "{other}"]
    operations: ["*"]
"#
    );
    batch_terminator::auth::Credentials::from_yaml(&yaml).expect("credentials")
}

/// A client for one of [`two_keys`], without retries: each answer is the service's first.
fn keyed(env: &Env, key: &str, secret: &str) -> aws_sdk_batch::Client {
    harness::sdk_client(env, key, secret, |config| {
        config.retry_config(aws_sdk_batch::config::retry::RetryConfig::disabled())
    })
}

/// When one watched namespace's watch fails, only callers who may touch it get a retryable
/// 500 ServerException naming it, for what it could change: an unknown ID (TerminateJob,
/// DescribeJobs) and a queue page (ListJobs). A known job is still described, and a caller
/// whose namespaces are all whole is unaffected. Both recover once the watch lists again.
#[tokio::test]
async fn a_failing_namespace_fails_only_the_callers_who_may_touch_it() {
    let other = |ns: &str| format!("{ns}-other");
    let env = Env::start_with_settings(harness::sim_config(), |ns| {
        let mut settings = harness::settings();
        settings.namespaces = vec![ns.to_string(), other(ns)];
        settings.auth = batch_terminator::auth::Auth::sigv4(two_keys(ns, &other(ns)), "us-east-1");
        settings
    })
    .await;
    let other = other(&env.ns);
    env.create_namespace(&other).await;
    let job = env
        .create_job("known", json!({"suspend": true}), json!({}))
        .await;
    let known = job.uid().unwrap();
    let (mine, both) = (
        keyed(&env, "AKIDMINE", "mine-secret"),
        keyed(&env, "AKIDBOTH", "both-secret"),
    );
    let described = |client: aws_sdk_batch::Client, id: String| async move {
        let out = client.describe_jobs().jobs(id).send().await;
        out.map(|o| o.jobs().len())
    };
    eventually("the known job to be described", || async {
        (described(both.clone(), known.clone()).await.ok()? == 1).then_some(())
    })
    .await;

    let mut rule = Rule::new(Effect::Error {
        code: 500,
        retry_after_seconds: None,
    })
    .verbs(&["list", "watch"]);
    rule.namespaces = vec![other.clone()];
    env.sim().faults().add(rule).expect("fault rule");
    env.sim().faults().drop_watches();
    let index = env.server.as_ref().expect("in-process").index().clone();
    eventually("the other namespace's watch to fail", || {
        let incomplete = index.incomplete_namespaces(|_| true);
        let other = &other;
        async move { (incomplete == [other.clone()]).then_some(()) }
    })
    .await;
    let terminate = |client: aws_sdk_batch::Client| async move {
        client
            .terminate_job()
            .job_id("no-such-job")
            .reason(REASON)
            .send()
            .await
    };
    let (code, message) = harness::code_and_message!(terminate(both.clone()).await);
    assert_eq!(code, "ServerException", "{message}");
    assert!(message.contains(&format!("namespace {other}")), "{message}");
    assert!(
        !message.contains(&format!("namespace {},", env.ns)),
        "{message}"
    );
    let (code, message) =
        harness::code_and_message!(both.describe_jobs().jobs("no-such-job").send().await);
    assert_eq!(code, "ServerException", "{message}");
    assert!(message.contains(&other), "{message}");
    let (code, message) =
        harness::code_and_message!(both.list_jobs().job_queue(&env.ns).send().await);
    assert_eq!(code, "ServerException", "{message}");
    assert!(message.contains(&other), "{message}");
    // What the caches do hold is still answered.
    assert_eq!(
        described(both.clone(), known.clone()).await.expect("known"),
        1
    );

    // A caller whose namespaces are whole is unaffected.
    terminate(mine.clone())
        .await
        .expect("AKIDMINE's unknown ID");
    assert_eq!(
        described(mine.clone(), "no-such-job".into())
            .await
            .expect("left out"),
        0
    );
    let listed = mine
        .list_jobs()
        .job_queue(&env.ns)
        .job_status(aws_sdk_batch::types::JobStatus::Runnable)
        .send()
        .await
        .expect("AKIDMINE's ListJobs");
    assert_eq!(listed.job_summary_list().len(), 1);

    env.sim().faults().clear();
    eventually("the unknown ID to succeed again for AKIDBOTH", || async {
        terminate(both.clone()).await.ok()
    })
    .await;
}

/// Read-after-write: a TerminateJob of a Job created a moment ago, while the service's Job
/// watch is held back, waits for the watch instead of answering 200 and doing nothing (a label
/// ID is found by a LIST with its label, a uid by a metadata LIST); past its bound it answers
/// a retryable 500. Unknown IDs still answer 200.
#[tokio::test]
async fn a_job_the_watch_has_not_delivered_yet_is_terminated_not_ignored() {
    let env = Env::start().await;
    let server = env.server.as_ref().expect("the in-process service");
    // The service's next Job watch (cluster-wide; nothing else watches Jobs) is served only
    // after `millis`: its events wait meanwhile.
    let hold_job_watch = |millis: u64| {
        let rule = Rule::new(Effect::Latency { millis })
            .verbs(&["watch"])
            .resources(&["jobs"])
            .limit(1);
        env.sim().faults().add(rule).expect("fault rule");
        env.sim().faults().drop_watches();
    };
    let queued = |name: &'static str, id: Option<&str>| {
        let labels = match id {
            Some(id) => json!({"batch-terminator.dev/job-id": id}),
            None => json!({}),
        };
        env.create_job_in(&env.ns, name, labels, json!({"suspend": true}), json!({}))
    };
    let in_cache = |uid: &str| {
        !matches!(
            server.index().lookup(uid, |_| true),
            batch_terminator::index::Lookup::NotFound
        )
    };

    hold_job_watch(3000);
    let labelled = queued("fresh-labelled", Some("fresh-id")).await;
    let unlabelled = queued("fresh-uid", None).await;
    let uid = unlabelled.uid().unwrap();
    assert!(!in_cache(&labelled.uid().unwrap()) && !in_cache(&uid));
    let random_uid = uuid::Uuid::new_v4().to_string();
    let (by_label, by_uid, unknown, unknown_uid) = tokio::join!(
        env.terminate("fresh-id", REASON),
        env.terminate(&uid, REASON),
        env.terminate("no-such-job", REASON),
        env.terminate(&random_uid, REASON),
    );
    assert_eq!(
        [by_label.0, by_uid.0, unknown.0, unknown_uid.0],
        [200; 4],
        "{by_label:?} {by_uid:?} {unknown:?} {unknown_uid:?}"
    );
    env.wait_job_gone("fresh-labelled").await;
    env.wait_job_gone("fresh-uid").await;
    assert_eq!(env.events_for("fresh-uid", "JobCancelled").await.len(), 1);

    // Held back longer than the service waits: a retryable 500, then the termination.
    hold_job_watch(12_000);
    queued("late", Some("late-id")).await;
    assert_server_exception(&env, "late-id", "not caught up").await;
    eventually("the late job's TerminateJob to succeed", || async {
        (env.terminate("late-id", REASON).await.0 == 200).then_some(())
    })
    .await;
    env.wait_job_gone("late").await;
}

/// Nothing of ours holds a pod: with the service gone mid-termination, the pod finishes
/// terminating by itself, and the service never patched a pod.
#[tokio::test]
async fn a_stopped_service_leaves_no_pod_terminating() {
    let mut env = Env::start().await;
    let (job, id) = running_job(&env, "unheld", json!({})).await;
    assert_eq!(env.terminate(&id, REASON).await.0, 200);
    env.wait_pods_terminating(&job).await;
    drop(env.server.take());
    eventually("the pod to be gone without the service", || async {
        env.job_pods(&job).await.is_empty().then_some(())
    })
    .await;
    let patched_pods = env
        .sim()
        .requests()
        .iter()
        .filter(|r| r.resource == "pods" && r.verb == "patch" && r.user_agent == SERVICE_AGENT)
        .count();
    assert_eq!(patched_pods, 0);
}

/// The same scenario environment, against another service endpoint.
fn at(env: &Env, endpoint: &str) -> Env {
    Env {
        client: env.client.clone(),
        endpoint: endpoint.to_string(),
        ns: env.ns.clone(),
        definitions_ns: env.definitions_ns.clone(),
        key: env.key.clone(),
        http: env.http.clone(),
        sim: None,
        server: None,
    }
}

/// A service process, killed with SIGKILL when dropped (also when the test fails).
struct Replica(std::process::Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lease's times of one failover: the old holder's last renewTime, and the new lease.
struct Failover {
    old_holder: String,
    last_renewed: k8s_openapi::jiff::Timestamp,
    new: k8s_openapi::api::coordination::v1::LeaseSpec,
}

/// Polls the lease from just after its holder was killed until another process holds it,
/// keeping the last renewTime the dead holder managed to write.
async fn watch_failover(
    leases: &Api<k8s_openapi::api::coordination::v1::Lease>,
    old_holder: &str,
) -> Failover {
    let last_renewed = std::cell::Cell::new(None);
    let new = eventually("another replica to take the lease", || async {
        let spec = leases.get("batch-terminator").await.ok()?.spec?;
        if spec.holder_identity.as_deref() == Some(old_holder) {
            last_renewed.set(spec.renew_time.map(|t| t.0).max(last_renewed.get()));
            return None;
        }
        spec.holder_identity.is_some().then_some(spec)
    })
    .await;
    Failover {
        old_holder: old_holder.to_string(),
        last_renewed: last_renewed.get().expect("the killed leader's renewTime"),
        new,
    }
}

/// Two service processes against one cluster: one leads, both serve the API. The leader is
/// killed with SIGKILL, three times over (a fresh replica joins each time); each time the
/// other takes the lease over within one lease duration of the dead leader's last renewal, plus
/// at most one retry period, and never before the dead leader had stepped down (two thirds of
/// a duration) — read from the lease's own times, not from the test's clock.
#[tokio::test]
async fn leader_election_fails_over_when_the_leader_is_killed() {
    use std::process::{Command, Stdio};
    const DURATION: std::time::Duration = std::time::Duration::from_secs(2);
    let mut env = Env::start().await;
    // Only the replicas may act.
    drop(env.server.take());
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bt-lease-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let kubeconfig = dir.join("kubeconfig");
    env.sim().write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    };
    let spawn = |i: usize| -> (String, Replica, String) {
        let name = format!("replica-{i}");
        let (api, admin) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_batch-terminator"))
            .args(["serve", "--auth", "none"])
            .arg(format!("--lease-duration={}s", DURATION.as_secs()))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--lease-namespace={}", env.ns))
            .arg(format!("--listen=127.0.0.1:{api}"))
            .arg(format!("--admin-listen=127.0.0.1:{admin}"))
            .env("POD_NAME", &name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the service");
        (name, Replica(child), format!("http://127.0.0.1:{api}"))
    };
    let mut replicas: Vec<(String, Replica, String)> = (0..2).map(spawn).collect();
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), &env.ns);
    let holder = || async {
        leases
            .get_opt("batch-terminator")
            .await
            .ok()??
            .spec?
            .holder_identity
    };
    let mut leader = eventually("a leader", || async { holder().await }).await;

    // Every replica serves the API.
    let queued = env
        .create_job("led", json!({"suspend": true}), json!({}))
        .await;
    let id = queued.uid().unwrap();
    let serving = |url: String| {
        let env = &env;
        let id = &id;
        async move {
            eventually("the replica to listen", || async {
                let probe = env.http.get(format!("{url}/v1/describejobs")).send().await;
                probe.is_ok().then_some(())
            })
            .await;
            at(env, &url).wait_described(id, "RUNNABLE").await;
        }
    };
    for (_, _, url) in &replicas {
        serving(url.clone()).await;
    }

    let retry = DURATION / 5;
    let mut transitions = 0;
    for round in 0..3 {
        // A holder's identity is its POD_NAME and a suffix.
        let killed = replicas
            .iter()
            .position(|(name, _, _)| leader.starts_with(&format!("{name}-")))
            .expect("the leader is one of the replicas");
        drop(replicas.remove(killed));
        let failover = watch_failover(&leases, &leader).await;
        let new_holder = failover.new.holder_identity.clone().expect("holder");
        let acquired = failover.new.acquire_time.clone().expect("acquireTime").0;
        let gap = std::time::Duration::try_from(acquired.duration_since(failover.last_renewed))
            .expect("acquired after the last renewal");
        println!(
            "round {round}: {} last renewed {}; {new_holder} acquired {acquired}: {gap:?} later",
            failover.old_holder, failover.last_renewed
        );
        assert!(new_holder.starts_with(&format!("{}-", replicas[0].0)));
        assert_eq!(
            failover.new.lease_duration_seconds,
            Some(DURATION.as_secs() as i32)
        );
        assert!(
            gap <= DURATION + retry,
            "taken over {gap:?} after the last renewal: more than a duration plus a retry period"
        );
        assert!(
            gap >= DURATION * 2 / 3,
            "taken over {gap:?} after the last renewal, before the old leader stepped down"
        );
        let count = failover.new.lease_transitions.expect("leaseTransitions");
        assert!(
            count > transitions,
            "{count} transitions after {transitions}"
        );
        transitions = count;
        leader = new_holder;
        // A fresh replica joins as the standby.
        replicas.push(spawn(round + 2));
    }
    // The standby serves the cancel, the leader carries it out.
    serving(replicas[1].2.clone()).await;
    let standby = at(&env, &replicas[1].2);
    assert_eq!(standby.cancel(&id, REASON).await.0, 200);
    env.wait_job_gone("led").await;
    drop(replicas);
    let _ = std::fs::remove_dir_all(&dir);
}
