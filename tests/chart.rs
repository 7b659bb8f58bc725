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
use test_support::{describe, eventually_within, post};

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
        ("batch", "jobs", &["list", "watch", "patch", "delete"][..]),
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

/// The leader election's Role in the release namespace.
const LEASE_ROLE: &str = "bt-batch-terminator-lease";

fn lease_grants() -> BTreeSet<(String, String, String)> {
    ["get", "create", "update"]
        .iter()
        .map(|v| ("coordination.k8s.io".into(), "leases".into(), v.to_string()))
        .collect()
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

#[test]
fn helm_lint_passes_for_every_value_set() {
    let namespaced = ["--set", "watchNamespaces={team-a}"];
    for args in [vec![], namespaced.to_vec(), everything_enabled()] {
        let dir = scratch("lint");
        let mut c = helm(&dir);
        c.args(["lint", "--strict", CHART]).args(&args);
        let o = run(c);
        assert!(o.ok, "helm lint {args:?}:\n{}\n{}", o.stdout, o.stderr);
        assert!(o.stdout.contains("0 chart(s) failed"), "{}", o.stdout);
    }
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

#[test]
fn defaults_render_sigv4_with_a_generated_key() {
    let objs = render(&["--skip-tests"]);
    let args = args_of(&objs);
    assert!(args.contains(&"--auth=sigv4".to_string()), "{args:?}");
    assert!(
        args.contains(
            &"--credentials-file=/etc/batch-terminator/credentials/credentials.yaml".into()
        ),
        "{args:?}"
    );
    let (id, secret, file) = generated_key(&objs);
    assert!(
        id.len() == 20
            && id.starts_with("BT")
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{id}"
    );
    assert!(secret.len() == 40 && secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    // The file is one the service loads, and the key may do everything everywhere.
    let creds =
        batch_terminator::auth::Credentials::from_yaml(&file).expect("the service parses it");
    let caller = creds.caller(&id).expect("the generated key is in the file");
    assert!(caller.touches_all_namespaces());
    for operation in batch_terminator::auth::OPERATIONS {
        assert!(caller.may_perform(operation), "{operation}");
    }
    assert!(!file.contains("\n\n"), "{file}");
    // Each render without a cluster to look the Secret up in draws a new key.
    let (other, _, _) = generated_key(&render(&["--skip-tests"]));
    assert_ne!(id, other);
    // A generated key never changes, so nothing rolls the pods for it.
    assert!(
        deployment(&objs)["spec"]["template"]["metadata"]["annotations"]["checksum/credentials"]
            .is_null()
    );
}

#[test]
fn auth_none_is_refused_unless_a_network_policy_or_an_explicit_opt_in() {
    let o = template(&["--set", "auth=none"]);
    assert!(!o.ok, "auth=none alone was rendered");
    assert!(
        o.stderr.contains("networkPolicy.enabled") && o.stderr.contains("allowUnauthenticated"),
        "{}",
        o.stderr
    );
    for set in [
        "auth=none,networkPolicy.enabled=true",
        "auth=none,allowUnauthenticated=true",
    ] {
        let objs = render(&["--skip-tests", "--set", set]);
        assert!(args_of(&objs).contains(&"--auth=none".to_string()));
        assert!(of_kind(&objs, "Secret").is_empty(), "{set}");
    }
    // The install notes warn (helm template renders no notes; a client-side dry run does).
    let dir = scratch("notes");
    let mut c = helm(&dir);
    c.args([
        "install",
        RELEASE,
        CHART,
        "--namespace",
        RELEASE_NS,
        "--dry-run=client",
    ])
    .args(["--set", "auth=none,allowUnauthenticated=true"]);
    let o = run(c);
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("WARNING: auth is none"), "{}", o.stdout);
}

#[test]
fn defaults_render_cluster_wide_rbac_with_exactly_the_code_s_verbs() {
    let objs = render(&["--skip-tests"]);
    assert_eq!(
        kinds(&objs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Role",
            "RoleBinding",
            "Secret",
            "Service",
            "ServiceAccount"
        ]
        .map(String::from)
        .into(),
    );
    let role = of_kind(&objs, "ClusterRole")[0];
    assert_eq!(grants(&role["rules"]), expected_grants());
    let lease = of_kind(&objs, "Role")[0];
    assert_eq!(lease["metadata"]["name"], LEASE_ROLE);
    assert_eq!(lease["metadata"]["namespace"], RELEASE_NS);
    assert_eq!(grants(&lease["rules"]), lease_grants());
    assert!(
        args_of(&objs).contains(&format!("--lease-namespace={RELEASE_NS}")),
        "{:?}",
        args_of(&objs)
    );
    let binding = of_kind(&objs, "ClusterRoleBinding")[0];
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": RELEASE_NS}])
    );
    let args = args_of(&objs);
    assert!(
        !args.iter().any(|a| a.starts_with("--namespaces")),
        "{args:?}"
    );
    let d = deployment(&objs);
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        d["spec"]["template"]["spec"]["serviceAccountName"],
        SERVICE_ACCOUNT
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/batch-terminator/batch-terminator:0.1.0"
    );
    let svc = of_kind(&objs, "Service")[0];
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
}

#[test]
fn watch_namespaces_render_a_role_per_namespace_and_pass_namespaces() {
    let objs = render(&["--skip-tests", "--set", "watchNamespaces={team-a,team-b}"]);
    assert!(of_kind(&objs, "ClusterRole").is_empty());
    assert!(of_kind(&objs, "ClusterRoleBinding").is_empty());
    let not_lease = |o: &&Value| o["metadata"]["name"] != LEASE_ROLE;
    let roles: Vec<&Value> = of_kind(&objs, "Role")
        .into_iter()
        .filter(not_lease)
        .collect();
    let bindings: Vec<&Value> = of_kind(&objs, "RoleBinding")
        .into_iter()
        .filter(not_lease)
        .collect();
    let ns_of = |v: &[&Value]| -> Vec<String> {
        v.iter()
            .map(|o| o["metadata"]["namespace"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ns_of(&roles), ["team-a", "team-b"]);
    assert_eq!(ns_of(&bindings), ["team-a", "team-b"]);
    for role in roles {
        assert_eq!(grants(&role["rules"]), expected_grants());
    }
    for b in bindings {
        assert_eq!(b["roleRef"]["kind"], "Role");
        assert_eq!(
            b["subjects"],
            json!([{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": RELEASE_NS}])
        );
    }
    assert!(
        args_of(&objs).contains(&"--namespaces=team-a,team-b".to_string()),
        "{:?}",
        args_of(&objs)
    );
}

#[test]
fn everything_enabled_renders_every_kind_and_mounts_the_credentials() {
    let mut args = everything_enabled();
    args.push("--skip-tests");
    let objs = render(&args);
    for kind in [
        "ServiceMonitor",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
        "Role",
        "RoleBinding",
    ] {
        assert!(kinds(&objs).contains(kind), "no {kind}: {:?}", kinds(&objs));
    }
    let secret = of_kind(&objs, "Secret")[0];
    let file = secret["stringData"]["credentials.yaml"]
        .as_str()
        .expect("credentials file");
    // The file the chart writes is one the service loads.
    let creds =
        batch_terminator::auth::Credentials::from_yaml(file).expect("the service parses it");
    assert_eq!(creds.len(), 1);
    assert!(creds.get("AKIAEXAMPLEOPERATOR1").is_some());
    let args = args_of(&objs);
    assert!(args.contains(&"--auth=sigv4".to_string()), "{args:?}");
    assert!(
        args.contains(&"--strict-unknown-jobs".to_string()),
        "{args:?}"
    );
    for arg in [
        "--tls-cert=/etc/batch-terminator/tls/tls.crt",
        "--tls-key=/etc/batch-terminator/tls/tls.key",
        "--max-connections=64",
        "--header-read-timeout=5s",
    ] {
        assert!(args.contains(&arg.to_string()), "{arg}: {args:?}");
    }
    assert_eq!(
        deployment(&objs)["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"],
        "bt-tls"
    );
    let path = args
        .iter()
        .find_map(|a| a.strip_prefix("--credentials-file="))
        .expect("--credentials-file");
    let pod = &deployment(&objs)["spec"]["template"]["spec"];
    let mount = &pod["containers"][0]["volumeMounts"][0];
    assert_eq!(
        format!("{}/credentials.yaml", mount["mountPath"].as_str().unwrap()),
        path
    );
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    // The pods roll when the keys given change.
    assert!(
        deployment(&objs)["spec"]["template"]["metadata"]["annotations"]["checksum/credentials"]
            .is_string()
    );
    let sm = of_kind(&objs, "ServiceMonitor")[0];
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "admin");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let pdb = of_kind(&objs, "PodDisruptionBudget")[0];
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    // With existingSecret the chart creates no Secret and mounts the named one.
    let objs = render(&[
        "--skip-tests",
        "--set",
        "auth=sigv4,credentials.existingSecret=my-keys,credentials.key=keys.json",
    ]);
    assert!(of_kind(&objs, "Secret").is_empty());
    let pod = &deployment(&objs)["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "my-keys");
    assert!(
        args_of(&objs)
            .contains(&"--credentials-file=/etc/batch-terminator/credentials/keys.json".into())
    );
}

#[test]
fn the_schema_rejects_wrong_types_and_unknown_keys() {
    for (set, complaint) in [
        ("replicaCount=two", "replicaCount"),
        ("auth=basic", "auth"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("config.accountId=12345", "accountId"),
        ("config.recordRetention=forever", "recordRetention"),
        ("config.logFormat=yaml", "logFormat"),
        ("service.port=70000", "port"),
        ("watchNamespaces=team-a", "watchNamespaces"),
        ("serviceMonitor.enabled=sometimes", "enabled"),
        ("replicas=2", "replicas"),
        ("service.nodePort=30080", "nodePort"),
    ] {
        let o = template(&["--set", set]);
        assert!(!o.ok, "--set {set} was accepted");
        assert!(
            o.stderr.contains(complaint),
            "--set {set}: the error does not name {complaint}:\n{}",
            o.stderr
        );
    }
    // An account ID is a string: --set would turn 000000000000 into the number 0.
    let o = template(&["--set-string", "config.accountId=123456789012"]);
    assert!(o.ok, "{}", o.stderr);
    let o = template(&[
        "--set-json",
        r#"credentials.accessKeys={"AKIAEXAMPLEOPERATOR1":{}}"#,
    ]);
    assert!(!o.ok, "an access key without a secret was accepted");
    assert!(o.stderr.contains("secretAccessKey"), "{}", o.stderr);
    // And the accepted spellings of the same values.
    for set in [
        "replicaCount=2",
        "auth=sigv4,credentials.existingSecret=k",
        "config.recordRetention=1h 30m",
    ] {
        let o = template(&["--set", set]);
        assert!(o.ok, "--set {set} was rejected:\n{}", o.stderr);
    }
}

/// Every pod the chart can render (the Deployment's and the `helm test` Pod) is hardened.
#[test]
fn every_rendered_pod_is_hardened() {
    let mut checked = 0;
    let namespaced = vec!["--set", "watchNamespaces={team-a}"];
    for args in [vec![], namespaced, everything_enabled()] {
        for obj in render(&args) {
            let (pod, what) = match obj["kind"].as_str() {
                Some("Deployment") => (&obj["spec"]["template"]["spec"], "Deployment"),
                Some("Pod") => (&obj["spec"], "Pod"),
                _ => continue,
            };
            checked += 1;
            let psc = &pod["securityContext"];
            assert_eq!(psc["runAsNonRoot"], true, "{what}: {psc}");
            assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
            assert_ne!(psc["runAsUser"], 0, "{what}");
            for c in pod["containers"].as_array().expect("containers") {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}: {sc}");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}: {sc}");
                assert_eq!(sc["runAsNonRoot"], true, "{what}: {sc}");
                assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{what}: {sc}");
                assert!(sc["capabilities"].get("add").is_none(), "{what}: {sc}");
                assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
                assert!(sc.get("privileged").is_none_or(|p| p == false), "{what}");
                assert!(c["resources"]["limits"]["memory"].is_string(), "{what}");
            }
            if what == "Deployment" {
                let c = &pod["containers"][0];
                assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
                assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
                assert_eq!(c["livenessProbe"]["httpGet"]["port"], "admin");
                assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin");
                let admin = c["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == "admin")
                    .expect("admin port");
                assert!(c["args"].as_array().unwrap().contains(&json!(format!(
                    "--admin-listen=0.0.0.0:{}",
                    admin["containerPort"]
                ))));
                assert_eq!(
                    obj["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
                    0
                );
            }
        }
    }
    assert_eq!(checked, 6, "a Deployment and a test Pod per value set");
}

#[test]
fn committed_manifests_match_the_chart() {
    let dir = scratch("manifests");
    let out = dir.join("batch-terminator.yaml");
    let status = Command::new(root().join("deploy/render-manifests.sh"))
        .arg(&out)
        .env("HELM", helm_bin())
        .env("HOME", &dir)
        .status()
        .expect("running deploy/render-manifests.sh");
    assert!(status.success());
    let fresh = std::fs::read_to_string(&out).expect("rendered");
    let committed = std::fs::read_to_string(root().join(MANIFESTS)).expect("committed");
    assert!(
        fresh == committed,
        "{MANIFESTS} has drifted from the chart. Regenerate it with:\n\n    deploy/render-manifests.sh\n"
    );
    // It is the whole default install, CRD included, in its own namespace.
    let objs = parse_docs(&committed);
    assert_eq!(
        kinds(&objs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "Namespace",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .map(String::from)
        .into()
    );
}

// ---------------------------------------------------------------------------------------------
// Installed into kubesim, with RBAC enforced.

async fn client_from(kubeconfig: &str, user_agent: Option<&str>) -> Client {
    let kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    if let Some(agent) = user_agent {
        cfg.headers.push((
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_str(agent).expect("header"),
        ));
    }
    Client::try_from(cfg).expect("client")
}

async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// A kubesim with its control plane and RBAC on. helm (client-go sends no token over plain
/// HTTP) acts as the anonymous user, made a superuser for the install; `admin` is the test's
/// own superuser client.
struct Cluster {
    sim: kubesim::Handle,
    admin: Client,
    dir: PathBuf,
}

impl Cluster {
    async fn start(tag: &str) -> Cluster {
        let auth = AuthConfig::default().anonymous_user(UserInfo::superuser());
        let config = kubesim::Config::default()
            .control_plane(true)
            .time_scale(kubesim::sim::clock::TimeScale::new(0.01).expect("time scale"))
            .auth(auth);
        let sim = kubesim::start(config).await.expect("kubesim starts");
        let dir = scratch(tag);
        sim.write_kubeconfig(dir.join("kubeconfig"))
            .expect("kubeconfig");
        let admin = client_from(&sim.kubeconfig(), None).await;
        Cluster { sim, admin, dir }
    }

    async fn create_namespace(&self, name: &str) {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        Api::<Namespace>::all(self.admin.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }

    /// The Prometheus Operator's ServiceMonitor kind, so the chart's toggle can be installed.
    async fn install_service_monitor_crd(&self) {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                }}}]
            }
        }))
        .expect("crd");
        Api::<CustomResourceDefinition>::all(self.admin.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("ServiceMonitor CRD");
    }

    fn write(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).expect("write");
        p.to_str().expect("utf-8 path").to_string()
    }

    /// The product, in-process, authenticated as the chart's ServiceAccount.
    async fn start_product(&self, namespaces: Vec<String>) -> Server {
        let token = self
            .sim
            .token_for_service_account(RELEASE_NS, SERVICE_ACCOUNT);
        let client = client_from(&self.sim.kubeconfig_for_token(&token), Some(PRODUCT_AGENT)).await;
        let settings = Settings {
            namespaces,
            // Short, so the records' deletion (a granted verb) happens during the test.
            record_retention: Duration::from_secs(3),
            // As the chart runs it; short, so the lease is renewed (updated) during the test.
            leader_election: Some(batch_terminator::controller::lease::LeaseSettings {
                namespace: RELEASE_NS.into(),
                name: SERVICE_ACCOUNT.into(),
                identity: "chart-test".into(),
                duration: Duration::from_secs(3),
            }),
            ..test_support::settings()
        };
        let server = Server::start(client, settings)
            .await
            .expect("service starts");
        let index = server.index().clone();
        eventually("the service's caches to sync as the ServiceAccount", || {
            let synced = index.is_synced();
            async move { synced.then_some(()) }
        })
        .await;
        server
    }

    /// The objects of the release, from `helm get manifest`: (apiVersion, kind, namespace, name).
    async fn release_objects(&self) -> Vec<(String, String, Option<String>, String)> {
        let manifest = helm_ok(
            &self.dir,
            &["get", "manifest", RELEASE, "--namespace", RELEASE_NS],
        )
        .await;
        parse_docs(&manifest)
            .iter()
            .map(|o| {
                (
                    o["apiVersion"].as_str().unwrap().to_string(),
                    o["kind"].as_str().unwrap().to_string(),
                    o["metadata"]["namespace"].as_str().map(String::from),
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn gvr_of(api_version: &str, kind: &str) -> Gvr {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = kind.to_ascii_lowercase();
    let plural = match kind.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{kind}s"),
    };
    Gvr::new(group, version, &plural)
}

async fn job_pods(pods: &Api<Pod>, job: &Job) -> Vec<Pod> {
    let selector = format!(
        "batch.kubernetes.io/controller-uid={}",
        job.uid().unwrap_or_default()
    );
    pods.list(&ListParams::default().labels(&selector))
        .await
        .expect("pods")
        .items
}

/// The terminate scenarios in namespace `ns`: cancel a RUNNABLE job, terminate a RUNNING one,
/// describe both as FAILED, and wait for their records to expire.
async fn terminate_scenarios(cluster: &Cluster, server: &Server, ns: &str) {
    let http = reqwest::Client::new();
    let api = server.api_url();
    let jobs: Api<Job> = Api::namespaced(cluster.admin.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), ns);
    let job = |name: &str, suspend: bool| -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"suspend": suspend, "backoffLimit": 3, "template": {"spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]
            }}}
        }))
        .expect("job")
    };
    let queued = jobs
        .create(&PostParams::default(), &job("queued", true))
        .await
        .expect("queued job");
    let running = jobs
        .create(&PostParams::default(), &job("running", false))
        .await
        .expect("running job");
    let (queued_id, running_id) = (queued.uid().unwrap(), running.uid().unwrap());
    eventually("both jobs to be seen as RUNNABLE and RUNNING", || async {
        let q = describe(&http, &api, &queued_id).await?;
        let r = describe(&http, &api, &running_id).await?;
        (q["status"] == "RUNNABLE" && r["status"] == "RUNNING").then_some(())
    })
    .await;

    // A CancelJob whose job started before the controller decided leaves a NoChange record;
    // the TerminateJob below turns it into a termination (a patch of the record).
    let records: Api<JobTermination> = Api::namespaced(cluster.admin.clone(), ns);
    let mut cancel = JobTermination::new(
        &running_id,
        JobTerminationSpec {
            job_id: running_id.clone(),
            job_name: "running".into(),
            job_uid: running_id.clone(),
            job_created_at: chrono::Utc::now(),
            operation: TerminateKind::Cancel,
            reason: "too late to cancel".into(),
            requested_at: chrono::Utc::now(),
            request_id: None,
        },
    );
    cancel.metadata.namespace = Some(ns.to_string());
    records
        .create(&PostParams::default(), &cancel)
        .await
        .expect("the CancelJob's record");
    eventually("the CancelJob to change nothing", || async {
        let phase = records.get_opt(&running_id).await.ok()??.status?.phase?;
        (phase == TerminationPhase::NoChange).then_some(())
    })
    .await;

    for id in [&queued_id, &running_id] {
        let (status, _, body) = post(
            &http,
            &format!("{api}/v1/terminatejob"),
            &json!({"jobId": id, "reason": REASON}).to_string(),
        )
        .await;
        assert_eq!((status, &body), (200, &json!({})));
    }

    eventually("the cancelled Job to be deleted", || async {
        jobs.get_opt("queued")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    eventually("the terminated Job to fail with no pods left", || async {
        let j = jobs.get("running").await.expect("get");
        let failed = j
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Failed" && c.status == "True");
        (failed && job_pods(&pods, &running).await.is_empty()).then_some(())
    })
    .await;
    for (id, cancelled) in [(&queued_id, true), (&running_id, false)] {
        let detail = eventually("DescribeJobs to show FAILED", || async {
            describe(&http, &api, id)
                .await
                .filter(|d| d["status"] == "FAILED")
        })
        .await;
        assert_eq!(detail["statusReason"], REASON, "{detail}");
        assert_eq!(detail["isCancelled"], cancelled, "{detail}");
        assert_eq!(detail["isTerminated"], !cancelled, "{detail}");
    }
    let records = Gvr::new("batch-terminator.dev", "v1alpha1", "jobterminations");
    eventually("the records to expire", || async {
        let left = cluster
            .sim
            .store()
            .list(
                &records,
                &kubesim::store::ListOptions {
                    namespace: Some(ns.to_string()),
                    ..Default::default()
                },
            )
            .expect("list records")
            .items
            .len();
        (left == 0).then_some(())
    })
    .await;
}

/// Fails on any denied request of the product, and on any granted rule no request used; with
/// `namespace`, only that namespace's requests count (a Role grants nothing elsewhere).
fn assert_least_privilege(sim: &kubesim::Handle, rules: &Value, namespace: Option<&str>) {
    let all: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.user_agent == PRODUCT_AGENT && !r.verb.is_empty())
        .collect();
    let denied: Vec<String> = all
        .iter()
        .filter(|r| r.status == 401 || r.status == 403)
        .map(|r| format!("{} {} {}?{}", r.status, r.method, r.path, r.query))
        .collect();
    assert!(
        denied.is_empty(),
        "the chart's RBAC denied the product:\n{}",
        denied.join("\n")
    );
    let requests: Vec<_> = all
        .iter()
        .filter(|r| namespace.is_none_or(|ns| r.namespace == ns))
        .collect();
    assert!(!requests.is_empty(), "no request of the product was logged");
    let used: BTreeSet<(String, String, String)> = requests
        .iter()
        .map(|r| {
            let resource = match r.subresource.as_str() {
                "" => r.resource.clone(),
                sub => format!("{}/{sub}", r.resource),
            };
            (r.group.clone(), resource, r.verb.clone())
        })
        .collect();
    let granted = grants(rules);
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "rules granted but never used (drop them from templates/_helpers.tpl): {unused:?}\nused: {used:?}"
    );
    assert!(
        used.is_subset(&granted),
        "used {used:?}, granted {granted:?}"
    );
}

/// The default (cluster-wide) install with every toggle on: the product runs as the chart's
/// ServiceAccount, the ClusterRole is sufficient and every rule is used; `helm test` runs its
/// hook; `helm uninstall` removes every object of the release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_into_kubesim_with_rbac_runs_as_its_service_account_and_uninstalls() {
    let cluster = Cluster::start("install").await;
    cluster.install_service_monitor_crd().await;
    // The simulated kubelet ends the test Pod's container by itself (no curl runs in kubesim).
    let values = cluster.write(
        "values.yaml",
        "serviceMonitor: {enabled: true}\n\
         networkPolicy: {enabled: true}\n\
         podDisruptionBudget: {enabled: true}\n\
         auth: sigv4\n\
         credentials:\n  accessKeys:\n    AKIAEXAMPLEOPERATOR1: {secretAccessKey: s3cr3t}\n\
         tests:\n  podAnnotations: {kubesim.dev/exit-after: \"0\"}\n",
    );
    let notes = helm_ok(
        &cluster.dir,
        &[
            "install",
            RELEASE,
            CHART,
            "--namespace",
            RELEASE_NS,
            "--create-namespace",
            "--values",
            &values,
        ],
    )
    .await;
    assert!(
        notes.contains("aws batch terminate-job --job-id")
            && notes.contains("http://bt-batch-terminator.bt-system.svc:8080"),
        "NOTES: {notes}"
    );
    let objects = cluster.release_objects().await;
    let kinds_installed: BTreeSet<&str> = objects.iter().map(|o| o.1.as_str()).collect();
    assert_eq!(
        kinds_installed,
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ])
    );
    let store = cluster.sim.store();
    for (api_version, kind, ns, name) in &objects {
        store
            .get(&gvr_of(api_version, kind), ns.as_deref(), name)
            .unwrap_or_else(|e| panic!("{kind} {name} not installed: {e:?}"));
    }
    store
        .get(
            &Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
            None,
            "jobterminations.batch-terminator.dev",
        )
        .expect("the chart's CRD is installed from crds/");
    let role = objects
        .iter()
        .find(|o| o.1 == "ClusterRole")
        .expect("ClusterRole");
    let role = store
        .get(&gvr_of(&role.0, &role.1), None, &role.3)
        .expect("ClusterRole");

    let server = cluster.start_product(Vec::new()).await;
    let ns = format!(
        "bt-chart-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    cluster.create_namespace(&ns).await;
    terminate_scenarios(&cluster, &server, &ns).await;
    let lease = store
        .get(
            &Gvr::new("rbac.authorization.k8s.io", "v1", "roles"),
            Some(RELEASE_NS),
            LEASE_ROLE,
        )
        .expect("the lease Role");
    let mut rules = role["rules"].as_array().expect("rules").clone();
    rules.extend(lease["rules"].as_array().expect("rules").iter().cloned());
    assert_least_privilege(&cluster.sim, &Value::Array(rules), None);
    server.shutdown().await;

    let out = helm_ok(&cluster.dir, &["test", RELEASE, "--namespace", RELEASE_NS]).await;
    assert!(out.contains("Succeeded"), "helm test: {out}");

    helm_ok(
        &cluster.dir,
        &["uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait"],
    )
    .await;
    let mut left = Vec::new();
    for (api_version, kind, ns, name) in &objects {
        if store
            .get(&gvr_of(api_version, kind), ns.as_deref(), name)
            .is_ok()
        {
            left.push(format!("{kind} {name}"));
        }
    }
    // Nothing else labelled as the release's either: hooks, and helm's own release Secrets.
    let by_instance = format!("app.kubernetes.io/instance={RELEASE}");
    for (gvr, selector) in [
        (Gvr::pods(), by_instance.as_str()),
        (Gvr::secrets(), by_instance.as_str()),
        (Gvr::secrets(), "owner=helm"),
    ] {
        let items = store
            .list(
                &gvr,
                &kubesim::store::ListOptions {
                    label_selector: Some(
                        kubesim::selectors::LabelSelector::parse(selector).expect("selector"),
                    ),
                    ..Default::default()
                },
            )
            .expect("list")
            .items;
        left.extend(
            items
                .iter()
                .map(|o| format!("{gvr:?} {}", o["metadata"]["name"])),
        );
    }
    assert!(left.is_empty(), "left behind by helm uninstall: {left:?}");
    // CRDs are not part of a release: helm installs them from crds/ and never deletes them, so
    // JobTermination records in other namespaces survive an uninstall and reinstall.
    assert!(
        store
            .get(
                &Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                None,
                "jobterminations.batch-terminator.dev",
            )
            .is_ok()
    );
}

/// `watchNamespaces`: Roles in the listed namespaces suffice, and every rule of them is used.
async fn namespaced_install(namespaces: &[&str]) {
    let cluster = Cluster::start("namespaced").await;
    for ns in namespaces {
        cluster.create_namespace(ns).await;
    }
    helm_ok(
        &cluster.dir,
        &[
            "install",
            RELEASE,
            CHART,
            "--namespace",
            RELEASE_NS,
            "--create-namespace",
            "--set",
            &format!("watchNamespaces={{{}}}", namespaces.join(",")),
        ],
    )
    .await;
    let objects = cluster.release_objects().await;
    assert!(
        !objects.iter().any(|o| o.1.starts_with("Cluster")),
        "{objects:?}"
    );
    let server = cluster
        .start_product(namespaces.iter().map(|n| n.to_string()).collect())
        .await;
    for ns in namespaces {
        let role = cluster
            .sim
            .store()
            .get(
                &Gvr::new("rbac.authorization.k8s.io", "v1", "roles"),
                Some(ns),
                SERVICE_ACCOUNT,
            )
            .expect("Role in the watched namespace");
        terminate_scenarios(&cluster, &server, ns).await;
        assert_least_privilege(&cluster.sim, &role["rules"], Some(ns));
    }
    let lease = cluster
        .sim
        .store()
        .get(
            &Gvr::new("rbac.authorization.k8s.io", "v1", "roles"),
            Some(RELEASE_NS),
            LEASE_ROLE,
        )
        .expect("the lease Role");
    assert_least_privilege(&cluster.sim, &lease["rules"], Some(RELEASE_NS));
    // Outside its namespaces the ServiceAccount may do nothing.
    let token = cluster
        .sim
        .token_for_service_account(RELEASE_NS, SERVICE_ACCOUNT);
    let sa = client_from(&cluster.sim.kubeconfig_for_token(&token), None).await;
    let denied = Api::<Job>::namespaced(sa, "default")
        .list(&ListParams::default())
        .await
        .expect_err("jobs in another namespace");
    assert!(matches!(denied, kube::Error::Api(s) if s.code == 403));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_install_is_sufficient_with_roles_only() {
    namespaced_install(&["team-a"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_install_with_two_namespaces_is_sufficient_with_roles_only() {
    namespaced_install(&["team-a", "team-b"]).await;
}

/// The request log's resource names (plurals) as this file derives them from kinds.
#[test]
fn plurals_of_the_chart_s_kinds() {
    let plural = |k: &str| gvr_of("v1", k);
    let expect: BTreeMap<&str, Gvr> = [
        ("NetworkPolicy", Gvr::new("", "v1", "networkpolicies")),
        ("Service", Gvr::new("", "v1", "services")),
        (
            "PodDisruptionBudget",
            Gvr::new("", "v1", "poddisruptionbudgets"),
        ),
        ("ClusterRole", Gvr::new("", "v1", "clusterroles")),
    ]
    .into();
    for (kind, gvr) in expect {
        assert_eq!(plural(kind), gvr, "{kind}");
    }
}

/// The Deployment's arguments are ones the binary accepts, with the generated credentials
/// file where the Secret is mounted.
#[test]
fn the_default_deployment_args_are_accepted_by_the_binary() {
    use batch_terminator::config::{Cli, Command};
    use clap::Parser;
    let objs = render(&["--skip-tests"]);
    let container = &deployment(&objs)["spec"]["template"]["spec"]["containers"][0];
    let (_, _, file) = generated_key(&objs);
    let dir = scratch("args");
    let path = dir.join("credentials.yaml");
    std::fs::write(&path, file).expect("credentials file");
    let mut argv = vec!["batch-terminator".to_string()];
    argv.extend(args_of(&objs).into_iter().map(
        |arg| match arg.strip_prefix("--credentials-file=") {
            Some(_) => format!("--credentials-file={}", path.display()),
            None => arg,
        },
    ));
    assert!(argv.contains(&"--auth=sigv4".to_string()), "{argv:?}");
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Serve(args) = cli.command else {
        panic!("the chart runs `serve`: {argv:?}")
    };
    batch_terminator::serve::Settings::from_args(&args).expect("settings from the chart's args");
    assert_eq!(container["args"][0], "serve", "{container}");
}

/// The default install generates an access key; `helm upgrade` keeps it (Helm's `lookup` reads
/// the installed Secret back), and the install notes say how to read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_key_is_kept_across_helm_upgrade() {
    let cluster = Cluster::start("upgrade").await;
    let install = [
        "install",
        RELEASE,
        CHART,
        "--namespace",
        RELEASE_NS,
        "--create-namespace",
    ];
    let notes = helm_ok(&cluster.dir, &install).await;
    let secret_name = format!("{SERVICE_ACCOUNT}-credentials");
    assert!(
        notes.contains(&format!(
            "kubectl --namespace {RELEASE_NS} get secret {secret_name} -o jsonpath='{{.data.accessKeyId}}' | base64 -d"
        )) && notes.contains("{.data.secretAccessKey}"),
        "NOTES: {notes}"
    );
    let store = cluster.sim.store();
    let data = || {
        store
            .get(&Gvr::secrets(), Some(RELEASE_NS), &secret_name)
            .expect("the generated Secret")["data"]
            .clone()
    };
    let installed = data();
    assert!(installed["accessKeyId"].is_string(), "{installed}");
    for upgrade in [
        vec!["upgrade", RELEASE, CHART, "--namespace", RELEASE_NS],
        vec![
            "upgrade",
            RELEASE,
            CHART,
            "--namespace",
            RELEASE_NS,
            "--set",
            "config.logLevel=debug",
        ],
    ] {
        helm_ok(&cluster.dir, &upgrade).await;
        assert_eq!(data(), installed, "helm {upgrade:?} changed the key");
    }
}
