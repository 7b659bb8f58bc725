//! Crash and fault proof: 500 terminations and cancels of running, queued and finishing Jobs,
//! against a service process that is killed with SIGKILL 5 times and restarted, while kubesim
//! fails a tenth of the service's writes (500, 429, 409) and drops every watch now and then.
//! At the end every job answered 200 is settled: its record final, one Event per action, no
//! terminated Job running, no pod Terminating.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batch_terminator::batch::TerminationPhase;
use batch_terminator::record::JobTermination;
use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kubesim::faults::{Effect, Rule};
use serde_json::json;

use crate::harness::{Env, eventually_within};

const JOBS: usize = 500;
const KILLS: usize = 5;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts the service binary; returns it and its API URL.
fn spawn(kubeconfig: &std::path::Path) -> (Child, String) {
    let (api, admin) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_batch-terminator"))
        .args(["serve", "--auth", "none"])
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--listen=127.0.0.1:{api}"))
        .arg(format!("--admin-listen=127.0.0.1:{admin}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the service");
    (child, format!("http://127.0.0.1:{api}"))
}

fn fault(code: u16, fraction: f64) -> Rule {
    Rule::new(Effect::Error {
        code,
        retry_after_seconds: (code == 429).then_some(0),
    })
    .fraction(fraction)
    .verbs(&["create", "patch", "delete"])
    .resources(&[
        "jobterminations",
        "jobterminations/status",
        "events",
        "pods",
    ])
}

/// The Job writes of the service (the test creates Jobs, which must not fail).
fn job_fault(code: u16, fraction: f64) -> Rule {
    Rule::new(Effect::Error {
        code,
        retry_after_seconds: (code == 429).then_some(0),
    })
    .fraction(fraction)
    .verbs(&["patch", "delete"])
    .resources(&["jobs"])
}

#[tokio::test]
async fn terminations_survive_sigkills_and_faults() {
    // Events live an hour of simulated time, 36 s at the scenarios' clock: longer than the run.
    let config = crate::harness::sim_config().event_ttl(Duration::from_secs(100 * 3600));
    let mut env = Env::start_with(config).await;
    drop(env.server.take());
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bt-crash-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let kubeconfig = dir.join("kubeconfig");
    env.sim().write_kubeconfig(&kubeconfig).expect("kubeconfig");

    // Running, queued (suspended) and finishing (exits 0 after 0.5 s) Jobs.
    let env = Arc::new(env);
    futures::stream::iter(0..JOBS)
        .for_each_concurrent(16, |i| {
            let env = env.clone();
            async move {
                let (spec, annotations) = match i % 5 {
                    0 | 1 => (json!({"suspend": true}), json!({})),
                    2 | 3 => (json!({}), json!({})),
                    _ => (json!({}), json!({"kubesim.dev/exit-after": "50"})),
                };
                env.create_job(&format!("j-{i}"), spec, annotations).await;
            }
        })
        .await;

    let service = Arc::new(Mutex::new(spawn(&kubeconfig)));
    let url = || service.lock().unwrap().1.clone();
    for code in [500, 429, 409] {
        env.sim().faults().add(fault(code, 0.034)).expect("rule");
        env.sim()
            .faults()
            .add(job_fault(code, 0.034))
            .expect("rule");
    }

    // The killer: SIGKILL at random moments, restart at once; and dropped watches.
    let killer = {
        let (service, kubeconfig, env) = (service.clone(), kubeconfig.clone(), env.clone());
        tokio::spawn(async move {
            for _ in 0..KILLS {
                let wait = 500 + (uuid::Uuid::new_v4().as_u128() % 2500) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                env.sim().faults().drop_watches();
                let mut s = service.lock().unwrap();
                s.0.kill().expect("SIGKILL");
                s.0.wait().expect("reaped");
                *s = spawn(&kubeconfig);
            }
        })
    };

    // Every job gets a TerminateJob or a CancelJob, retried until it answers 200 (as AWS
    // clients retry 500s and failed connections).
    let answered: BTreeMap<usize, &str> = futures::stream::iter(0..JOBS)
        .map(|i| {
            let env = env.clone();
            async move {
                let op = if i % 3 == 0 {
                    "canceljob"
                } else {
                    "terminatejob"
                };
                let uid = env
                    .jobs()
                    .get(&format!("j-{i}"))
                    .await
                    .expect("job")
                    .uid()
                    .unwrap();
                let body = json!({"jobId": uid, "reason": format!("crash test {i}")}).to_string();
                loop {
                    let sent = env
                        .http
                        .post(format!("{}/v1/{op}", url()))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().as_u16() == 200) {
                        return (i, op);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    killer.await.expect("killer");
    env.sim().faults().clear();

    // Settled: every record final (Completed, or NoChange when there was nothing to do).
    let records: Api<JobTermination> = Api::namespaced(env.client.clone(), &env.ns);
    let final_records = eventually_within(
        Duration::from_secs(120),
        "every record to be final",
        || async {
            let list = records.list(&ListParams::default()).await.ok()?.items;
            list.iter()
                .all(|r| {
                    matches!(
                        r.status.as_ref().and_then(|s| s.phase),
                        Some(TerminationPhase::Completed | TerminationPhase::NoChange)
                    )
                })
                .then_some(list)
        },
    )
    .await;
    let events: Api<Event> = Api::namespaced(env.client.clone(), &env.ns);
    let events = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    let mut events_per_job: BTreeMap<String, usize> = BTreeMap::new();
    let ours = ["JobTerminated", "JobCancelled"];
    for e in events
        .iter()
        .filter(|e| ours.contains(&e.reason.as_deref().unwrap_or_default()))
    {
        if let Some(uid) = e.regarding.as_ref().and_then(|r| r.uid.clone()) {
            *events_per_job.entry(uid).or_default() += 1;
        }
    }
    let (mut completed, mut no_change, mut acted) = (0, 0, 0);
    for r in &final_records {
        let status = r.status.clone().unwrap_or_default();
        match status.phase {
            Some(TerminationPhase::Completed) => completed += 1,
            _ => no_change += 1,
        }
        let events = events_per_job.get(&r.spec.job_uid).copied().unwrap_or(0);
        match status.action {
            Some(_) => {
                acted += 1;
                assert_eq!(events, 1, "record {} ({status:?})", r.name_any());
            }
            None => assert_eq!(
                events,
                0,
                "record {} changed nothing: {:?} {status:?}",
                r.name_any(),
                r.spec.job_name
            ),
        }
    }
    // No terminated Job runs on, and no pod is left Terminating.
    let pods = eventually_within(
        Duration::from_secs(60),
        "no pod to be terminating",
        || async {
            let pods = env.pods().list(&ListParams::default()).await.ok()?.items;
            pods.iter()
                .all(|p| p.metadata.deletion_timestamp.is_none())
                .then_some(pods)
        },
    )
    .await;
    let terminated: std::collections::HashSet<String> = final_records
        .iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.action).is_some())
        .map(|r| r.spec.job_uid.clone())
        .collect();
    let running_terminated = pods
        .iter()
        .filter(|p| {
            let owner = batch_terminator::index::owning_job_uid(p).unwrap_or_default();
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            terminated.contains(&owner) && matches!(phase, Some("Running" | "Pending"))
        })
        .count();
    let requests = env.sim().requests();
    let injected = requests
        .iter()
        .filter(|r| matches!(r.status, 409 | 429 | 500) && r.user_agent != "kubesim")
        .count();
    println!(
        "crash test: {} jobs, {} answered 200 ({} cancels), {KILLS} SIGKILLs, {injected} failed \
         writes; records: {} ({completed} Completed, {no_change} NoChange, {acted} acted); \
         events: {}; pods of terminated jobs still running: {running_terminated}",
        JOBS,
        answered.len(),
        answered.values().filter(|op| **op == "canceljob").count(),
        final_records.len(),
        events.len(),
    );
    assert_eq!(answered.len(), JOBS);
    // A record stands behind every 200 that had something to do: a TerminateJob of a queued or
    // running Job, a CancelJob of a queued one.
    let with_record: std::collections::HashSet<String> = final_records
        .iter()
        .map(|r| r.spec.job_name.clone())
        .collect();
    for (i, op) in &answered {
        let must = match i % 5 {
            0 | 1 => true,
            2 | 3 => *op == "terminatejob",
            _ => false,
        };
        assert!(
            !must || with_record.contains(&format!("j-{i}")),
            "j-{i} {op}: no record"
        );
    }
    assert_eq!(running_terminated, 0);
    let mut s = service.lock().unwrap();
    s.0.kill().expect("SIGKILL");
    s.0.wait().expect("reaped");
    let _ = std::fs::remove_dir_all(&dir);
}
