//! The real kubectl 1.33's watches against kubesim.

mod common;
mod tools;

use std::time::Duration;

use common::sim;
use kubesim::Gvr;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tools::Cli;

/// Runs `kubectl get cm --watch <extra>`, waits until its watch is open, creates the ConfigMap
/// `watched` with `data`, and returns the first line `kubectl` prints that `matches`.
async fn watch_configmaps_for(
    s: &common::Sim,
    tag: &str,
    extra: &[&str],
    data: Value,
    matches: impl Fn(&str) -> bool,
) -> Option<String> {
    let k = Cli::new(&s.handle, tag);
    let mut child = k
        .command("kubectl")
        .args(["get", "cm", "--watch"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let handle = &s.handle;
    common::eventually(10, "kubectl watching", || async {
        handle
            .requests()
            .iter()
            .any(|r| r.verb == "watch" && r.resource == "configmaps")
            .then_some(())
    })
    .await;
    s.handle
        .store()
        .create(
            &Gvr::configmaps(),
            Some("default"),
            json!({"metadata": {"name": "watched"}, "data": data}),
        )
        .unwrap();
    let line = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if matches(&l) {
                return Some(l);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let _ = child.kill().await;
    line
}

#[tokio::test]
async fn get_watch_streams_changes() {
    let s = sim().await;
    let line = watch_configmaps_for(&s, "kubectl-watch", &["-o", "name"], json!({}), |l| {
        l.contains("configmap/watched")
    })
    .await;
    assert!(
        line.is_some(),
        "kubectl printed no line for the new ConfigMap"
    );
}

/// `kubectl get -w` watches with `as=Table`: each event is a one-row Table.
#[tokio::test]
async fn get_watch_prints_table_rows() {
    let s = sim().await;
    let row = watch_configmaps_for(
        &s,
        "kubectl-watch-table",
        &[],
        json!({"a": "1", "b": "2"}),
        |l| l.starts_with("watched"),
    )
    .await;
    let row = row.expect("a row for the new ConfigMap");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..2], ["watched", "2"], "{row}");
}
