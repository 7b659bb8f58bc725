use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use serde_json::json;
use tokio::sync::mpsc;

use super::{Base, Queue, Routes, StoreEvent};
use crate::sim::SimConfig;
use crate::store::{Gvr, Store};

fn key(n: &str) -> (String, String) {
    ("default".to_string(), n.to_string())
}

#[test]
fn queue_keeps_each_key_once_in_arrival_order() {
    let mut q = Queue::default();
    for n in ["a", "b", "a", "c", "b"] {
        q.add(key(n));
    }
    assert_eq!(q.take(2), vec![key("a"), key("b")]);
    // Taken keys can be queued again; queued ones are not doubled.
    q.add(key("a"));
    q.add(key("c"));
    assert_eq!(q.take(10), vec![key("c"), key("a")]);
    assert!(q.is_idle());
}

#[test]
fn event_times_are_unique_across_loops() {
    let base = Base {
        store: Store::new(16),
        cfg: SimConfig::default(),
        last_event_nanos: Arc::new(AtomicI64::new(0)),
    };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = base.clone();
            std::thread::spawn(move || {
                (0..2000)
                    .map(|_| b.event_time().now.as_nanosecond())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        for n in t.join().expect("thread") {
            assert!(all.insert(n), "two Events got the time {n}");
        }
    }
    assert_eq!(all.len(), 8000);
}

/// A Job and every pod it controls reach the same Job worker, so one worker syncs the Job.
#[test]
fn a_job_and_its_pods_reach_one_job_worker() {
    let store = Store::new(1000);
    let mut feed = store.feed();
    let (job_tx, mut job_rx): (Vec<_>, Vec<_>) = (0..4)
        .map(|_| mpsc::unbounded_channel::<Arc<StoreEvent>>())
        .unzip();
    let (kubelet_tx, mut kubelet_rx): (Vec<_>, Vec<_>) = (0..4)
        .map(|_| mpsc::unbounded_channel::<Arc<StoreEvent>>())
        .unzip();
    let (scheduler, mut sched_rx) = mpsc::unbounded_channel();
    let (expiry, _expiry_rx) = mpsc::unbounded_channel();
    let routes = Routes {
        jobs: job_tx,
        scheduler,
        kubelets: kubelet_tx,
        expiry,
    };
    let mut uids = Vec::new();
    for j in 0..8 {
        let job = store
            .create(
                &Gvr::jobs(),
                Some("default"),
                json!({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": format!("job-{j}")},
                    "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}]}}}}),
            )
            .expect("job");
        uids.push(
            job["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    for (j, uid) in uids.iter().enumerate() {
        for p in 0..3 {
            store
                .create(
                    &Gvr::pods(),
                    Some("default"),
                    json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": format!("job-{j}-pod-{p}"), "ownerReferences": [
                            {"apiVersion": "batch/v1", "kind": "Job", "name": format!("job-{j}"),
                             "uid": uid, "controller": true}]},
                        "spec": {"nodeName": "n", "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}]}}),
                )
                .expect("pod");
        }
    }
    while let Ok(e) = feed.try_recv() {
        assert!(routes.route(e));
    }
    let mut workers_of_job: Vec<HashSet<usize>> = vec![HashSet::new(); 8];
    for (w, rx) in job_rx.iter_mut().enumerate() {
        while let Ok(e) = rx.try_recv() {
            let name = e.object["metadata"]["name"].as_str().unwrap_or_default();
            let job: usize = name
                .trim_start_matches("job-")
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a job number");
            workers_of_job[job].insert(w);
        }
    }
    for (j, w) in workers_of_job.iter().enumerate() {
        assert_eq!(w.len(), 1, "job-{j} and its pods went to workers {w:?}");
    }
    // Every pod is bound, so each reaches one kubelet worker; the scheduler sees all of them.
    let kubelet_events: usize = kubelet_rx
        .iter_mut()
        .map(|rx| std::iter::from_fn(|| rx.try_recv().ok()).count())
        .sum();
    assert_eq!(kubelet_events, 24);
    assert_eq!(std::iter::from_fn(|| sched_rx.try_recv().ok()).count(), 24);
}
