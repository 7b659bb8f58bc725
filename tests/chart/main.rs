//! The Helm chart, checked with the real helm binary (.tools/bin/helm, from scripts/setup-tools.sh):
//! lint, templates for several value sets, schema rejections, the hardened pod, the plain
//! manifests' drift, and an install into kubesim with RBAC enforced, where the product runs as the
//! chart's ServiceAccount through the terminate scenarios, every granted rule is used, and
//! `helm uninstall` leaves nothing behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use batch_terminator::batch::TerminateKind;
use batch_terminator::batch::TerminationPhase;
use batch_terminator::record::{JobTermination, JobTerminationSpec};
use batch_terminator::serve::{Server, Settings};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use kubesim::Gvr;
use kubesim::rbac::{AuthConfig, UserInfo};
use serde_json::{Value, json};
use test_support::{describe, describe_retryable, eventually_within, post};

const CHART: &str = "charts/batch-terminator";
const MANIFESTS: &str = "deploy/manifests/batch-terminator.yaml";
const RELEASE: &str = "bt";
const RELEASE_NS: &str = "bt-system";
/// The ServiceAccount the chart creates for release `bt`.
const SERVICE_ACCOUNT: &str = "bt-batch-terminator";
/// User-Agent of the product's client, to tell its requests apart in kubesim's request log.
const PRODUCT_AGENT: &str = "batch-terminator-under-test";
const DEADLINE: Duration = Duration::from_secs(60);
const REASON: &str = "Stopped by the chart test";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn helm_bin() -> PathBuf {
    let p = root().join(".tools/bin/helm");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-tools.sh first",
        p.display()
    );
    p
}

/// A fresh scratch directory (helm's HOME, caches, kubeconfig, values files).
fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Under target/tmp, so runs leave nothing in the system temp dir.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "bt-chart-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `helm` with its state in `dir`, and `dir/kubeconfig` as the cluster.
fn helm(dir: &Path) -> Command {
    let mut c = Command::new(helm_bin());
    c.current_dir(root())
        .env("HOME", dir)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("HELM_CACHE_HOME", dir.join("helm-cache"))
        .env("HELM_CONFIG_HOME", dir.join("helm-config"))
        .env("HELM_DATA_HOME", dir.join("helm-data"));
    c
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut c: Command) -> Out {
    let out = c.output().expect("running helm");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs helm off the async runtime (it talks to the in-process kubesim) and asserts success.
async fn helm_ok(dir: &Path, args: &[&str]) -> String {
    let mut c = helm(dir);
    c.args(args);
    let o = tokio::task::spawn_blocking(move || run(c))
        .await
        .expect("helm task");
    assert!(o.ok, "helm {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
    o.stdout
}

/// `helm template` of the chart with extra args.
fn template(args: &[&str]) -> Out {
    let dir = scratch("template");
    let mut c = helm(&dir);
    c.args(["template", RELEASE, CHART, "--namespace", RELEASE_NS])
        .args(args);
    run(c)
}

fn parse_docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).expect("YAML document");
            serde_json::to_value(v).expect("JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The rendered objects; panics when rendering fails.
fn render(args: &[&str]) -> Vec<Value> {
    let o = template(args);
    assert!(o.ok, "helm template {args:?} failed:\n{}", o.stderr);
    parse_docs(&o.stdout)
}

fn kinds(objs: &[Value]) -> BTreeSet<String> {
    objs.iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn of_kind<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

fn deployment(objs: &[Value]) -> &Value {
    let d = of_kind(objs, "Deployment");
    assert_eq!(d.len(), 1, "one Deployment");
    d[0]
}

fn args_of(objs: &[Value]) -> Vec<String> {
    deployment(objs)["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

/// (apiGroup, resource, verb) for every combination a rule list grants.
fn grants(rules: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().expect("rules") {
        let strs = |k: &str| -> Vec<String> {
            rule[k]
                .as_array()
                .unwrap_or_else(|| panic!("rule without {k}: {rule}"))
                .iter()
                .map(|s| s.as_str().expect("string").to_string())
                .collect()
        };
        assert!(
            rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none(),
            "unexpected rule shape: {rule}"
        );
        for g in strs("apiGroups") {
            for r in strs("resources") {
                for v in strs("verbs") {
                    assert!(g != "*" && r != "*" && v != "*", "wildcard in rule: {rule}");
                    out.insert((g.clone(), r.clone(), v));
                }
            }
        }
    }
    out
}

/// What the code calls, read from crates/k8s: index.rs, controller.rs and service.rs.
fn expected_grants() -> BTreeSet<(String, String, String)> {
    [
        (
            "batch",
            "jobs",
            &["list", "watch", "patch", "delete", "create", "get"][..],
        ),
        ("", "pods", &["list", "watch", "delete"]),
        ("events.k8s.io", "events", &["create"]),
        (
            "batch-terminator.dev",
            "jobterminations",
            &["list", "watch", "create", "patch", "delete"],
        ),
        ("batch-terminator.dev", "jobterminations/status", &["patch"]),
    ]
    .iter()
    .flat_map(|(g, r, verbs)| {
        verbs
            .iter()
            .map(move |v| (g.to_string(), r.to_string(), v.to_string()))
    })
    .collect()
}

/// The Role in the release namespace: the leader election's Lease and the JobDefinitions.
const RELEASE_NS_ROLE: &str = "bt-batch-terminator-lease-and-definitions";

/// The release namespace's Role: the Lease, and the JobDefinition objects.
fn lease_grants() -> BTreeSet<(String, String, String)> {
    let leases = ["get", "create", "update"]
        .iter()
        .map(|v| ("coordination.k8s.io".into(), "leases".into(), v.to_string()));
    let definitions = ["get", "list", "create", "patch"].iter().map(|v| {
        (
            "batch-terminator.dev".into(),
            "jobdefinitions".into(),
            v.to_string(),
        )
    });
    leases.chain(definitions).collect()
}

fn sigv4_values() -> Vec<&'static str> {
    vec![
        "--set",
        "auth=sigv4",
        "--set-json",
        r#"credentials.accessKeys={"AKIAEXAMPLEOPERATOR1":{"secretAccessKey":"s3cr3t","namespaces":["team-a"],"operations":["TerminateJob","DescribeJobs"]}}"#,
    ]
}

fn everything_enabled() -> Vec<&'static str> {
    let mut v = vec![
        "--set",
        "serviceMonitor.enabled=true,networkPolicy.enabled=true,networkPolicy.egress.enabled=true",
        "--set",
        "podDisruptionBudget.enabled=true,replicaCount=2,config.strictUnknownJobs=true",
        "--set",
        "watchNamespaces={team-a,team-b}",
        "--set",
        "tls.secretName=bt-tls,limits.maxConnections=64,limits.headerReadTimeout=5s",
    ];
    v.extend(sigv4_values());
    v
}

/// The generated access key of a rendered Secret: (ID, secret, credentials file).
fn generated_key(objs: &[Value]) -> (String, String, String) {
    let data = &of_kind(objs, "Secret")[0]["stringData"];
    let text = |k: &str| {
        data[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k}: {data}"))
            .to_owned()
    };
    (
        text("accessKeyId"),
        text("secretAccessKey"),
        text("credentials.yaml"),
    )
}

mod cluster;
mod install;
mod lifecycle;
mod render;

use cluster::*;
