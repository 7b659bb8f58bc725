//! A measurement, not a test (ignored; the benchmark crate holds the real ones):
//! `cargo nextest run --test scenarios --run-ignored only measure -- --nocapture` terminates
//! 2,000 running Jobs (one pod each, grace period 0) end to end against kubesim and prints the
//! time, the calls per termination and the service's resident memory before and after.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use batch_terminator::batch::TerminationPhase;
use batch_terminator::record::JobTermination;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::harness::{Env, eventually_within};

const JOBS: usize = 2000;

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test]
#[ignore = "a measurement: run it on purpose"]
async fn measure_2000_terminations() {
    // Room for every pod: 20 nodes of 110.
    let nodes = (0..20)
        .map(|i| kubesim::sim::nodes::NodeConfig::new(format!("node-{i}")))
        .collect();
    let mut env = Env::start_with(crate::harness::sim_config().nodes(nodes)).await;
    drop(env.server.take());
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bt-measure-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let kubeconfig = dir.join("kubeconfig");
    env.sim().write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut service = std::process::Command::new(env!("CARGO_BIN_EXE_batch-terminator"))
        .args(["serve", "--auth", "none", "--log-filter", "warn"])
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--admin-listen=127.0.0.1:{admin}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let url = format!("http://127.0.0.1:{port}");

    futures::stream::iter(0..JOBS)
        .for_each_concurrent(32, |i| {
            let env = &env;
            async move {
                env.create_job(
                    &format!("m-{i}"),
                    json!({"template": {"spec": {"terminationGracePeriodSeconds": 0}}}),
                    json!({}),
                )
                .await;
            }
        })
        .await;
    let ids: Vec<String> =
        eventually_within(Duration::from_secs(300), "every pod running", || async {
            let pods = env.pods().list(&ListParams::default()).await.ok()?.items;
            let running = pods
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            if running < JOBS {
                return None;
            }
            let jobs = env.jobs().list(&ListParams::default()).await.ok()?.items;
            Some(jobs.iter().filter_map(|j| j.uid()).collect())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_mib(service.id());
    env.sim().clear_requests();

    let started = Instant::now();
    let http = env.http.clone();
    futures::stream::iter(ids.iter())
        .for_each_concurrent(64, |id| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body = json!({"jobId": id, "reason": "measured"}).to_string();
                loop {
                    let r = http
                        .post(format!("{url}/v1/terminatejob"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status().as_u16() == 200) {
                        return;
                    }
                }
            }
        })
        .await;
    let accepted = started.elapsed();
    let records: Api<JobTermination> = Api::namespaced(env.client.clone(), &env.ns);
    eventually_within(
        Duration::from_secs(600),
        "every record Completed",
        || async {
            let list = records.list(&ListParams::default()).await.ok()?.items;
            (list.len() == JOBS
                && list.iter().all(|r| {
                    r.status.as_ref().and_then(|s| s.phase) == Some(TerminationPhase::Completed)
                }))
            .then_some(())
        },
    )
    .await;
    let done = started.elapsed();
    let rss_after = rss_mib(service.id());
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for r in env.sim().requests() {
        // Writes only: the test's own polling reads with the same client library.
        if matches!(r.verb.as_str(), "create" | "patch" | "delete" | "update") {
            let sub = if r.subresource.is_empty() {
                String::new()
            } else {
                format!("/{}", r.subresource)
            };
            *calls
                .entry(format!("{} {}{sub}", r.verb, r.resource))
                .or_default() += 1;
        }
    }
    let total: usize = calls.values().sum();
    println!(
        "{JOBS} running Jobs: all 200 after {accepted:.1?}, all Completed after {done:.1?} \
         ({:.0}/s end to end); calls per termination {:.2} {calls:?}; RSS {rss_before:.0} MiB \
         before, {rss_after:.0} MiB after",
        JOBS as f64 / done.as_secs_f64(),
        total as f64 / JOBS as f64,
    );
    service.kill().expect("kill");
    service.wait().expect("reaped");
    let _ = std::fs::remove_dir_all(&dir);
}
