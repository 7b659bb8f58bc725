//! Stores 10,000 Jobs and lists them through pages with the kube client; prints the time to
//! create and list them and the process's resident memory.
//!
//! `cargo run --release -p kubesim --example scale [count] [page]`

use std::time::Instant;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use serde_json::json;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let page: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let sim = kubesim::start(kubesim::Config::default()).await?;
    let store = sim.store();
    println!("rss at start: {:.1} MiB", rss_mib());
    let t = Instant::now();
    for i in 0..count {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": format!("job-{i:05}"), "labels": {"app": "scale", "shard": (i % 10).to_string()}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "exit 0"]}]}}}});
        store.create(&kubesim::Gvr::jobs(), Some("default"), job)?;
    }
    println!("created {count} jobs in {:?} (in-process)", t.elapsed());
    println!("rss after create: {:.1} MiB", rss_mib());

    let mut cfg = kube::Config::new(sim.url().parse()?);
    cfg.default_namespace = "default".into();
    let client = kube::Client::try_from(cfg)?;
    let api: Api<Job> = Api::default_namespaced(client);
    let t = Instant::now();
    let mut lp = ListParams::default().limit(page);
    let (mut n, mut pages) = (0, 0);
    loop {
        let l = api.list(&lp).await?;
        n += l.items.len();
        pages += 1;
        match l.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    anyhow::ensure!(n == count, "listed {n}, want {count}");
    println!(
        "listed {n} jobs in {pages} pages of {page} in {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let first = api.list(&ListParams::default().limit(page)).await?;
    println!("first page of {} in {:?}", first.items.len(), t.elapsed());
    let t = Instant::now();
    let sel = api.list(&ListParams::default().labels("shard=3")).await?;
    println!(
        "label-selected list ({} items) in {:?}",
        sel.items.len(),
        t.elapsed()
    );
    println!("rss after list: {:.1} MiB", rss_mib());
    sim.shutdown().await;
    Ok(())
}
