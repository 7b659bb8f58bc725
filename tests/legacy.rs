//! `batch-terminator release-legacy-finalizers`, the binary itself against kubesim: it frees
//! every pod of the namespaces it is given from the attempt finalizer of versions before 0.2,
//! and nothing else, and exits 1 when it could not.

use std::process::{Command, Output};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, ResourceExt};
use kubesim::faults::{Effect, Rule};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_batch-terminator");
const LEGACY: &str = batch_terminator::record::LEGACY_ATTEMPT_FINALIZER;
const OTHER: &str = "example.com/keep";

/// Runs the subcommand against `sim`, with no inherited BATCH_TERMINATOR_* variables, off the
/// runtime that serves kubesim.
async fn release(sim: &kubesim::Handle, tag: &str, args: &[&str]) -> Output {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bt-legacy-{tag}"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let mut command = Command::new(BIN);
    command
        .arg("release-legacy-finalizers")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("BATCH_TERMINATOR_") {
            command.env_remove(key);
        }
    }
    tokio::task::spawn_blocking(move || command.output().expect("running batch-terminator"))
        .await
        .expect("task")
}

async fn pod(client: &Client, ns: &str, name: &str, finalizers: &[&str]) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "finalizers": finalizers},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    }))
    .expect("pod");
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod created")
}

async fn finalizers(client: &Client, ns: &str, name: &str) -> Option<Vec<String>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = pods.get_opt(name).await.expect("get pod")?;
    Some(pod.finalizers().to_vec())
}

async fn cluster() -> (kubesim::Handle, Client) {
    let sim = kubesim::start(kubesim::Config::default())
        .await
        .expect("kubesim starts");
    let client =
        Client::try_from(kube::Config::new(sim.url().parse().expect("url"))).expect("client");
    for ns in ["team-a", "team-b"] {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
    }
    (sim, client)
}

/// Makes the API server fail every pod request of `verb` with a 500.
fn fail_every(sim: &kubesim::Handle, verb: &str) {
    let rule = Rule::new(Effect::Error {
        code: 500,
        retry_after_seconds: None,
    });
    sim.faults()
        .add(rule.verbs(&[verb]).resources(&["pods"]))
        .expect("fault rule");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

/// A pod held Terminating goes; a running pod loses only our finalizer; another finalizer and
/// another namespace are left alone; a second run finds nothing and still succeeds.
#[tokio::test]
async fn releases_the_attempt_finalizer_and_nothing_else() {
    let (sim, client) = cluster().await;
    pod(&client, "team-a", "stuck", &[LEGACY]).await;
    pod(&client, "team-a", "stuck-too", &[OTHER, LEGACY]).await;
    pod(&client, "team-a", "running", &[LEGACY]).await;
    pod(&client, "team-a", "free", &[]).await;
    pod(&client, "team-b", "elsewhere", &[LEGACY]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    for name in ["stuck", "stuck-too"] {
        pods.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
        let terminating = pods.get(name).await.expect("held by its finalizers");
        assert!(terminating.metadata.deletion_timestamp.is_some());
    }

    let output = release(&sim, "one", &["--namespaces=team-a"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        finalizers(&client, "team-a", "stuck").await,
        None,
        "the held pod is gone once released"
    );
    assert_eq!(
        finalizers(&client, "team-a", "stuck-too").await,
        Some(vec![OTHER.to_string()]),
        "another finalizer stays"
    );
    assert_eq!(finalizers(&client, "team-a", "running").await, Some(vec![]));
    assert_eq!(finalizers(&client, "team-a", "free").await, Some(vec![]));
    assert_eq!(
        finalizers(&client, "team-b", "elsewhere").await,
        Some(vec![LEGACY.to_string()]),
        "a namespace not named is not touched"
    );
    let patched: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.resource == "pods" && r.verb == "patch")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(patched.len(), 3, "one patch per held pod: {patched:?}");

    // All namespaces (no --namespaces), then once more: nothing left, still a success.
    let output = release(&sim, "all", &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        finalizers(&client, "team-b", "elsewhere").await,
        Some(vec![])
    );
    let output = release(&sim, "again", &[]).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A pod that cannot be patched (here the API server fails every pod patch) is an exit 1 that
/// names it, and the pod is still held: the hook fails and the upgrade says so.
#[tokio::test]
async fn a_pod_that_cannot_be_released_fails_the_run() {
    let (sim, client) = cluster().await;
    pod(&client, "team-a", "stuck", &[LEGACY]).await;
    fail_every(&sim, "patch");
    let output = release(&sim, "fails", &["--namespaces=team-a"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("team-a/stuck"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        finalizers(&client, "team-a", "stuck").await,
        Some(vec![LEGACY.to_string()])
    );
    // A list that fails is a failure too, not a silent success.
    sim.faults().clear();
    fail_every(&sim, "list");
    let output = release(&sim, "forbidden", &["--namespaces=team-a"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}
