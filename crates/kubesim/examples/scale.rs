//! kubesim's scale figures, printed (not asserted): the README's "Scale" table comes from here.
//!
//! `cargo run --release -p kubesim --example scale -- [SECTION ...] [--jobs N] [--hold N]`
//!
//! Sections (all by default):
//! - `running`: N Jobs (10,000) created over HTTP with the control plane on (`--time-scale
//!   0.01`, 50 nodes); the time until every Job's pod is Running, and the CPU used.
//! - `hold`: N Jobs and N pods (100,000 each) stored with the control plane off; resident
//!   memory, and the cost of a label-selected LIST of one Job's pods against the store's size.
//! - `writes`: ConfigMap creates over HTTP from 64 concurrent clients, per second.
//! - `watch`: 100 watchers over HTTP, 2,000 writes; the time until every watcher has them all.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kubesim::sim::{NodeConfig, SimConfig, TimeScale};
use kubesim::store::ListOptions;
use kubesim::{Gvr, Store};
use serde_json::{Value, json};

/// Resident memory of this process (kubesim runs in it), MiB.
fn rss_mib() -> f64 {
    proc_status_kib("VmRSS:") / 1024.0
}

fn proc_status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn client_for(sim: &kubesim::Handle) -> anyhow::Result<kube::Client> {
    let mut cfg = kube::Config::new(sim.url().parse()?);
    cfg.default_namespace = "default".into();
    Ok(kube::Client::try_from(cfg)?)
}

fn job(name: &str) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "scale"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}}
    }))
    .expect("a Job")
}

/// The `job-name` label of a Job's pod.
fn job_name_of(pod: &Value) -> String {
    pod["metadata"]["labels"]["job-name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A pod as the Job controller makes it for `job` (uid `uid`).
fn pod_of(job: &str, uid: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{job}-x"), "labels": {
            "batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
            "batch.kubernetes.io/job-name": job, "job-name": job},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": uid,
                "controller": true, "blockOwnerDeletion": true}],
            "finalizers": ["batch.kubernetes.io/job-tracking"]},
        "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}})
}

async fn running(jobs: usize) -> anyhow::Result<()> {
    println!("== running: {jobs} Jobs, control plane on, --time-scale 0.01, 50 nodes");
    let sim_cfg = SimConfig {
        time_scale: TimeScale::new(0.01)?,
        nodes: NodeConfig::numbered(50, &Default::default()),
        ..SimConfig::default()
    };
    let sim = kubesim::start(kubesim::Config::default().control_plane(true).sim(sim_cfg)).await?;
    let store = sim.store().clone();
    let api: Api<Job> = Api::default_namespaced(client_for(&sim)?);
    // The lossless feed: a lagging broadcast receiver would have to relist the store, which
    // costs the control plane time and blurs the figures.
    let mut events = store.feed();
    // Job name -> when its pod was first seen Running.
    let counter = tokio::spawn(async move {
        let mut running: HashMap<String, Instant> = HashMap::new();
        while running.len() < jobs {
            let Some(ev) = events.recv().await else {
                break;
            };
            if ev.storage.resource == "pods" && ev.object["status"]["phase"] == "Running" {
                running
                    .entry(job_name_of(&ev.object))
                    .or_insert_with(Instant::now);
            }
        }
        running
    });
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let created: HashMap<String, Instant> = stream::iter(0..jobs)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = format!("job-{i:06}");
                api.create(&PostParams::default(), &job(&name))
                    .await
                    .map(|_| (name, Instant::now()))
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    let took = t0.elapsed();
    println!(
        "created {jobs} Jobs over HTTP in {took:.2?} ({:.0}/s, while the control plane works)",
        jobs as f64 / took.as_secs_f64()
    );
    match tokio::time::timeout(Duration::from_secs(300), counter).await {
        Ok(Ok(running)) => {
            let done = running.values().max().copied().unwrap_or(t0);
            let wall = done - t0;
            let cpu = cpu_time() - cpu0;
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let mut latency: Vec<Duration> = created
                .iter()
                .filter_map(|(name, at)| Some(running.get(name)?.saturating_duration_since(*at)))
                .collect();
            latency.sort();
            let pct = |q: f64| latency[((latency.len() - 1) as f64 * q) as usize];
            println!(
                "all {jobs} pods Running {wall:.2?} after the first create ({:.2?} after the last); from each Job's creation to its pod Running: p50 {:.2?}, p99 {:.2?}, max {:.2?}; CPU {cpu:.1?} = {:.0}% of one core ({:.0}% of the {cores} cores)",
                wall.saturating_sub(took),
                pct(0.5),
                pct(0.99),
                pct(1.0),
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64() / cores as f64,
            );
        }
        _ => {
            let n = store
                .list(&Gvr::pods(), &ListOptions::default())?
                .items
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count();
            println!("after 300 s only {n} of {jobs} pods are Running");
        }
    }
    println!("rss: {:.0} MiB", rss_mib());
    sim.shutdown().await;
    Ok(())
}

/// Stores `n` Jobs and one pod each, in-process; returns the uid of the Job in the middle.
fn fill(store: &Store, n: usize) -> anyhow::Result<String> {
    let mut middle = String::new();
    for i in 0..n {
        let name = format!("job-{i:06}");
        let j = store.create(
            &Gvr::jobs(),
            Some("default"),
            serde_json::to_value(job(&name))?,
        )?;
        let uid = j["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        store.create(&Gvr::pods(), Some("default"), pod_of(&name, &uid))?;
        if i == n / 2 {
            middle = uid;
        }
    }
    Ok(middle)
}

/// The mean time of a label-selected LIST of one Job's pods, in-process and over HTTP.
async fn selected_list(
    store: &Store,
    pods: &Api<Pod>,
    uid: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let sel = format!("batch.kubernetes.io/controller-uid={uid}");
    let opts = ListOptions {
        namespace: Some("default".into()),
        label_selector: Some(kubesim::selectors::LabelSelector::parse(&sel)?),
        ..ListOptions::default()
    };
    const N: u32 = 200;
    let t = Instant::now();
    for _ in 0..N {
        anyhow::ensure!(store.list(&Gvr::pods(), &opts)?.items.len() == 1);
    }
    let in_process = t.elapsed() / N;
    let t = Instant::now();
    for _ in 0..N {
        anyhow::ensure!(
            pods.list(&ListParams::default().labels(&sel))
                .await?
                .items
                .len()
                == 1
        );
    }
    Ok((in_process, t.elapsed() / N))
}

async fn hold(n: usize) -> anyhow::Result<()> {
    println!("== hold: {n} Jobs + {n} pods, control plane off");
    for size in [1_000, n] {
        let sim = kubesim::start(kubesim::Config::default()).await?;
        let store = sim.store().clone();
        let rss0 = rss_mib();
        let t = Instant::now();
        let uid = fill(&store, size)?;
        let took = t.elapsed();
        let rss = rss_mib();
        println!(
            "stored {size} Jobs + {size} pods in {took:.2?} (in-process); rss {rss0:.0} -> {rss:.0} MiB ({:.1} KiB per object)",
            (rss - rss0) * 1024.0 / (2 * size) as f64
        );
        if size == n {
            let json_len = |gvr: &Gvr, name: &str| -> anyhow::Result<usize> {
                Ok(serde_json::to_vec(&store.get(gvr, Some("default"), name)?)?.len())
            };
            println!(
                "stored JSON: a Job {} bytes, a pod {} bytes",
                json_len(&Gvr::jobs(), "job-000000")?,
                json_len(&Gvr::pods(), "job-000000-x")?
            );
        }
        let pods: Api<Pod> = Api::default_namespaced(client_for(&sim)?);
        let (inp, http) = selected_list(&store, &pods, &uid).await?;
        println!(
            "LIST of one Job's pod by label among {size} pods: {inp:.2?} in-process, {http:.2?} over HTTP"
        );
        if size == n {
            println!("peak rss: {:.0} MiB", proc_status_kib("VmHWM:") / 1024.0);
        }
        sim.shutdown().await;
    }
    Ok(())
}

async fn writes() -> anyhow::Result<()> {
    const N: usize = 20_000;
    println!(
        "== writes: {N} ConfigMap creates over HTTP, 64 concurrent clients, control plane off"
    );
    let sim = kubesim::start(kubesim::Config::default()).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(client_for(&sim)?);
    let cpu0 = cpu_time();
    let t = Instant::now();
    stream::iter(0..N)
        .map(|i| {
            let api = api.clone();
            let cm: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": format!("cm-{i:06}")}, "data": {"k": "v"}}),
            )
            .expect("a ConfigMap");
            async move { api.create(&PostParams::default(), &cm).await }
        })
        .buffer_unordered(64)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let took = t.elapsed();
    println!(
        "{N} creates in {took:.2?}: {:.0} writes/s; CPU {:.0}% of one core (client and server)",
        N as f64 / took.as_secs_f64(),
        100.0 * (cpu_time() - cpu0).as_secs_f64() / took.as_secs_f64()
    );
    sim.shutdown().await;
    Ok(())
}

async fn watch() -> anyhow::Result<()> {
    const WATCHERS: usize = 100;
    const WRITES: usize = 2_000;
    println!("== watch: {WATCHERS} watchers over HTTP, {WRITES} ConfigMap creates");
    let sim = kubesim::start(kubesim::Config::default()).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(client_for(&sim)?);
    let rv = sim.store().resource_version().to_string();
    let mut tasks = Vec::new();
    for _ in 0..WATCHERS {
        let api = api.clone();
        let rv = rv.clone();
        let stream = api.watch(&WatchParams::default().timeout(290), &rv).await?;
        tasks.push(tokio::spawn(async move {
            let mut stream = stream.boxed();
            let mut seen = 0;
            while seen < WRITES {
                match stream.try_next().await {
                    Ok(Some(WatchEvent::Added(_))) => seen += 1,
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            seen
        }));
    }
    let t = Instant::now();
    for i in 0..WRITES {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("w-{i:05}")}, "data": {"k": "v"}});
        sim.store()
            .create(&Gvr::configmaps(), Some("default"), cm)?;
    }
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await?;
    }
    let took = t.elapsed();
    println!(
        "{delivered} events delivered ({WATCHERS} x {WRITES}) in {took:.2?}: {:.0} events/s",
        delivered as f64 / took.as_secs_f64()
    );
    sim.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    kubesim::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let mut sections = Vec::new();
    let (mut jobs, mut held) = (10_000, 100_000);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => jobs = args.next().unwrap_or_default().parse()?,
            "--hold" => held = args.next().unwrap_or_default().parse()?,
            s => sections.push(s.to_string()),
        }
    }
    let all = sections.is_empty();
    let want = |s: &str| all || sections.iter().any(|x| x == s);
    if want("writes") {
        writes().await?;
    }
    if want("watch") {
        watch().await?;
    }
    if want("running") {
        running(jobs).await?;
    }
    if want("hold") {
        hold(held).await?;
    }
    Ok(())
}
