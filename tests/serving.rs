//! The serving surface around the API: probes, metrics, the docs that list them, and a clean
//! exit on SIGTERM of the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use batch_terminator::metrics::METRIC_NAMES;

const BIN: &str = env!("CARGO_BIN_EXE_batch-terminator");

#[test]
fn the_readme_lists_exactly_the_metrics_the_code_exports() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mentioned: std::collections::BTreeSet<&str> = readme
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("batch_terminator_"))
        .collect();
    let exported: std::collections::BTreeSet<&str> = METRIC_NAMES.iter().copied().collect();
    assert_eq!(
        mentioned, exported,
        "README.md's metric names differ from metrics::METRIC_NAMES"
    );
}

/// `serve --sim` starts, writes its cluster's kubeconfig, and exits 0 on SIGTERM.
#[cfg(feature = "sim")]
#[test]
fn the_binary_serves_and_stops_cleanly_on_sigterm() {
    let kubeconfig = std::env::temp_dir().join(format!("bt-sim-{}.kubeconfig", std::process::id()));
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--sim",
            "--sim-kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn batch-terminator");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = loop {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(url) = line.strip_prefix("batch-terminator is serving the AWS Batch API at ") {
            break url.trim().to_string();
        }
    };
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let written = std::fs::read_to_string(&kubeconfig).expect("the kubeconfig was written");
    assert!(written.contains("server: http://127.0.0.1:"), "{written}");
    let _ = std::fs::remove_file(&kubeconfig);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
}
