//! The release's life around the product's work: `helm uninstall` and a deleted namespace with
//! terminations in flight leave no pod Terminating because of us; a forbidden or missing
//! namespace does not stop the others; `helm upgrade` runs the hook that releases the pods an
//! earlier version held with its finalizer, with a grant of its own that goes with it.

use super::*;

const LEGACY: &str = batch_terminator::record::LEGACY_ATTEMPT_FINALIZER;
/// The hook's ServiceAccount, Role, ClusterRole (prefixed by the namespace) and Job.
const HOOK: &str = "bt-batch-terminator-release-legacy";
const HOOK_CLUSTER: &str = "bt-system-bt-batch-terminator-release-legacy";

fn is_hook(obj: &Value) -> bool {
    obj["metadata"]["annotations"]["helm.sh/hook"] == "post-upgrade"
}

/// The hook renders a ServiceAccount, a grant of pods `list patch` (a ClusterRole, or a Role
/// per watched namespace) and a Job running the binary's `release-legacy-finalizers` as that
/// ServiceAccount, all deleted once it succeeds; the value turns it off.
#[test]
fn the_upgrade_hook_is_a_short_lived_grant_to_list_and_patch_pods() {
    use batch_terminator::config::{Cli, Command};
    use clap::Parser;
    let pods_list_patch: BTreeSet<_> = ["list", "patch"]
        .iter()
        .map(|v| (String::new(), "pods".to_string(), v.to_string()))
        .collect();
    for (args, role_kind, namespaces) in [
        (vec![], "ClusterRole", vec![RELEASE_NS]),
        (
            vec!["--set", "watchNamespaces={team-a,team-b}"],
            "Role",
            vec!["team-a", "team-b"],
        ),
    ] {
        let objs = render(&args);
        let hooks: Vec<&Value> = objs.iter().filter(|o| is_hook(o)).collect();
        for hook in &hooks {
            let annotations = &hook["metadata"]["annotations"];
            assert_eq!(
                annotations["helm.sh/hook-delete-policy"], "before-hook-creation,hook-succeeded",
                "{hook}"
            );
        }
        let of = |kind: &str| -> Vec<&Value> {
            hooks
                .iter()
                .copied()
                .filter(|o| o["kind"] == kind)
                .collect()
        };
        // The grant exists before the Job (lower weights are created first).
        let weight = |o: &Value| -> i64 {
            o["metadata"]["annotations"]["helm.sh/hook-weight"]
                .as_str()
                .and_then(|w| w.parse().ok())
                .expect("hook weight")
        };
        let job = of("Job");
        assert_eq!(job.len(), 1, "one hook Job: {hooks:?}");
        let job = job[0];
        for grant in of(role_kind).iter().chain(&of("ServiceAccount")) {
            assert!(weight(grant) < weight(job), "{grant}");
        }
        let roles = of(role_kind);
        let bound_in: Vec<&str> = roles
            .iter()
            .map(|r| r["metadata"]["namespace"].as_str().unwrap_or(RELEASE_NS))
            .collect();
        assert_eq!(bound_in, namespaces);
        for role in &roles {
            assert_eq!(grants(&role["rules"]), pods_list_patch, "{role}");
        }
        let binding_kind = format!("{role_kind}Binding");
        for binding in of(&binding_kind) {
            assert_eq!(binding["subjects"][0]["name"], HOOK, "{binding}");
            assert_eq!(binding["subjects"][0]["namespace"], RELEASE_NS);
        }
        assert_eq!(of(&binding_kind).len(), roles.len());
        assert_eq!(of("ServiceAccount")[0]["metadata"]["name"], HOOK);
        // Only the hook may patch pods: the Deployment's ServiceAccount is another.
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], HOOK);
        assert_ne!(
            deployment(&objs)["spec"]["template"]["spec"]["serviceAccountName"],
            HOOK
        );
        let args: Vec<String> = pod["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("string").to_string())
            .collect();
        let argv = std::iter::once("batch-terminator".to_string()).chain(args.clone());
        let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::ReleaseLegacyFinalizers(parsed) = cli.command else {
            panic!("the hook runs release-legacy-finalizers: {args:?}")
        };
        let watched: Vec<&str> = parsed
            .cluster
            .namespaces
            .iter()
            .map(String::as_str)
            .collect();
        if role_kind == "Role" {
            assert_eq!(watched, namespaces);
        } else {
            assert!(watched.is_empty(), "{watched:?}");
        }
    }
    for off in ["legacyFinalizerRelease.enabled=false", "rbac.create=false"] {
        let objs = render(&["--set", off]);
        assert!(
            !objs.iter().any(is_hook),
            "--set {off} still renders the hook"
        );
    }
}

/// A pod whose container answers SIGTERM as `on_sigterm` says (kubesim's kubelet), with a
/// grace period of `grace` seconds (on the cluster's scaled clock).
fn stubborn_job(name: &str, on_sigterm: &str, grace: u32) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"kubesim.dev/on-sigterm": on_sigterm}},
            "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": grace,
                "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]
            }
        }}
    }))
    .expect("job")
}

async fn terminate(server: &Server, id: &str) -> (u16, Option<String>, Value) {
    let body = json!({"jobId": id, "reason": REASON}).to_string();
    post(
        &reqwest::Client::new(),
        &format!("{}/v1/terminatejob", server.api_url()),
        &body,
    )
    .await
}

/// Jobs in `ns` whose pods take their time over SIGTERM, terminated through the API: returns
/// once every one of their pods is Terminating, the terminations in flight.
async fn terminations_in_flight(cluster: &Cluster, server: &Server, ns: &str) -> Vec<Job> {
    let jobs: Api<Job> = Api::namespaced(cluster.admin.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), ns);
    let http = reqwest::Client::new();
    let mut created = Vec::new();
    // 1500 s of grace and 1000 s of delay are 15 s and 10 s on the cluster's clock (x0.01).
    for (name, on_sigterm) in [("slow", "delay:1000"), ("deaf", "ignore")] {
        let job = jobs
            .create(
                &PostParams::default(),
                &stubborn_job(name, on_sigterm, 1500),
            )
            .await
            .expect("job created");
        let id = job.uid().expect("uid");
        eventually("the job to run", || async {
            let d = describe_retryable(&http, &server.api_url(), &id).await?;
            (d["status"] == "RUNNING").then_some(())
        })
        .await;
        let (status, _, body) = terminate(server, &id).await;
        assert_eq!((status, &body), (200, &json!({})));
        created.push(job);
    }
    let records: Api<JobTermination> = Api::namespaced(cluster.admin.clone(), ns);
    for job in &created {
        eventually(
            "the job's pods to be Terminating, its record in progress",
            || async {
                let pods = job_pods(&pods, job).await;
                let record = records.get_opt(&job.uid()?).await.ok()??;
                let phase = record.status?.phase?;
                (!pods.is_empty()
                    && pods.iter().all(|p| p.metadata.deletion_timestamp.is_some())
                    && phase == TerminationPhase::InProgress)
                    .then_some(())
            },
        )
        .await;
    }
    created
}

/// Finalizers of this product on a pod (any version's).
fn ours(pod: &Pod) -> Vec<String> {
    pod.finalizers()
        .iter()
        .filter(|f| f.starts_with("batch-terminator.dev/"))
        .cloned()
        .collect()
}

/// Waits until no pod is left in `ns` (all namespaces' pods of `jobs` when `jobs` is given),
/// failing at once on a pod that carries a finalizer of ours.
async fn no_pod_left(cluster: &Cluster, ns: &str, jobs: &[Job]) {
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), ns);
    eventually("every pod to finish terminating", || async {
        let mut left = Vec::new();
        for job in jobs {
            left.extend(job_pods(&pods, job).await);
        }
        for pod in &left {
            assert!(ours(pod).is_empty(), "{} is held by us", pod.name_any());
        }
        left.is_empty().then_some(())
    })
    .await;
}

/// `helm uninstall` while terminations are in flight (pods that take 10 s over SIGTERM, or
/// ignore it for their 15 s of grace): the pods finish terminating on their own, none ever
/// carries a finalizer of ours. The records stay (the CRD is not the release's) In progress,
/// and a later install completes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_uninstall_mid_flight_leaves_no_pod_terminating() {
    let cluster = Cluster::start("uninstall").await;
    cluster.install(&[]).await;
    let server = cluster.start_product(Vec::new()).await;
    let ns = format!(
        "bt-gone-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    cluster.create_namespace(&ns).await;
    let jobs = terminations_in_flight(&cluster, &server, &ns).await;

    helm_ok(
        &cluster.dir,
        &["uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait"],
    )
    .await;
    // The Deployment's pod is stopped (SIGTERM) after its grants are gone.
    server.shutdown().await;
    no_pod_left(&cluster, &ns, &jobs).await;

    let records: Api<JobTermination> = Api::namespaced(cluster.admin.clone(), &ns);
    let phases = |list: Vec<JobTermination>| -> Vec<Option<TerminationPhase>> {
        list.into_iter()
            .map(|r| r.status.and_then(|s| s.phase))
            .collect()
    };
    let left = records.list(&ListParams::default()).await.expect("records");
    assert_eq!(
        phases(left.items),
        [
            Some(TerminationPhase::InProgress),
            Some(TerminationPhase::InProgress)
        ],
        "the records wait, in progress, for a controller"
    );

    // Installed again, the controller completes them from what the Jobs show.
    cluster.install(&[]).await;
    let server = cluster.start_product(Vec::new()).await;
    eventually("the records to complete", || async {
        let list = records.list(&ListParams::default()).await.ok()?;
        phases(list.items)
            .iter()
            .all(|p| *p == Some(TerminationPhase::Completed))
            .then_some(())
    })
    .await;
    server.shutdown().await;

    // The check above can fail: a pod held by the attempt finalizer of an earlier version
    // outlives its deletion, and is found.
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), &ns);
    let held: Pod = serde_json::from_value(json!({
        "metadata": {"name": "held", "finalizers": [LEGACY]},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &held)
        .await
        .expect("held pod");
    pods.delete("held", &Default::default())
        .await
        .expect("delete");
    let still = pods.get("held").await.expect("held by its finalizer");
    assert_eq!(ours(&still), [LEGACY]);
}

fn readyz(server: &Server) -> impl std::future::Future<Output = u16> {
    let url = format!("{}/readyz", server.admin_url());
    async move {
        reqwest::get(url)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

/// Watched namespaces that the service may not read — one without a Role (403), one that
/// does not exist (403 too, under RBAC), and one deleted with terminations in flight (its Role
/// goes with it) — stop neither readiness nor the others. The deleted namespace's pods finish
/// terminating on their own; a job the service cannot see answers a retryable 500, not 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_missing_and_deleted_namespaces_do_not_stop_the_others() {
    let cluster = Cluster::start("namespaces").await;
    for ns in ["team-a", "team-b", "team-c"] {
        cluster.create_namespace(ns).await;
    }
    cluster
        .install(&["--set", "watchNamespaces={team-a,team-b}"])
        .await;
    // team-c has no Role of the release, team-x does not exist.
    let watched = ["team-a", "team-b", "team-c", "team-x"];
    let server = cluster
        .start_product(watched.iter().map(|n| n.to_string()).collect())
        .await;
    // Ready once the others have listed (a refused namespace does not hold it).
    eventually("the service to be ready", || async {
        (readyz(&server).await == 200).then_some(())
    })
    .await;
    let jobs = terminations_in_flight(&cluster, &server, "team-b").await;

    Api::<Namespace>::all(cluster.admin.clone())
        .delete("team-b", &Default::default())
        .await
        .expect("namespace deleted");
    no_pod_left(&cluster, "team-b", &jobs).await;
    eventually("the namespace to be gone", || async {
        let namespaces = Api::<Namespace>::all(cluster.admin.clone());
        namespaces
            .get_opt("team-b")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;

    // The others serve: a job in team-a is described and terminated.
    let http = reqwest::Client::new();
    let api = server.api_url();
    let team_a: Api<Job> = Api::namespaced(cluster.admin.clone(), "team-a");
    let job = team_a
        .create(&PostParams::default(), &stubborn_job("served", "exit", 30))
        .await
        .expect("job");
    let id = job.uid().expect("uid");
    eventually("the job in team-a to run", || async {
        let d = describe_retryable(&http, &api, &id).await?;
        (d["status"] == "RUNNING").then_some(())
    })
    .await;
    assert_eq!(terminate(&server, &id).await.0, 200);
    eventually("DescribeJobs to show it FAILED", || async {
        let d = describe_retryable(&http, &api, &id).await?;
        (d["status"] == "FAILED").then_some(())
    })
    .await;
    assert_eq!(
        readyz(&server).await,
        200,
        "readiness held by a refused namespace"
    );

    // A job where the service may not look is not "unknown, 200": it is a 500 to retry.
    let team_c: Api<Job> = Api::namespaced(cluster.admin.clone(), "team-c");
    let hidden = team_c
        .create(&PostParams::default(), &stubborn_job("hidden", "exit", 30))
        .await
        .expect("job");
    let (status, error_type, body) = terminate(&server, &hidden.uid().expect("uid")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(error_type.as_deref(), Some("ServerException"), "{body}");
    // Nothing was done to it.
    let records: Api<JobTermination> = Api::namespaced(cluster.admin.clone(), "team-c");
    assert!(
        records
            .list(&ListParams::default())
            .await
            .expect("records")
            .items
            .is_empty()
    );
    server.shutdown().await;
}

/// `helm upgrade` runs the hook: its ServiceAccount may list and patch pods while the Job
/// runs, and the binary, run as that ServiceAccount (kubesim runs no containers, so the hook's
/// own pod cannot run it: the test does, while the hook waits), releases the held pods with
/// exactly that grant; once the Job succeeds the grant is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_upgrade_runs_the_hook_whose_grant_releases_held_pods() {
    let cluster = Cluster::start("upgrade-hook").await;
    cluster.install(&[]).await;
    let ns = "team-old";
    cluster.create_namespace(ns).await;
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), ns);
    for name in ["stuck", "running"] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "finalizers": [LEGACY]},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("pod");
    }
    pods.delete("stuck", &Default::default())
        .await
        .expect("delete");

    // The hook's pod "runs" for 20 s on the cluster's clock (2000 s x0.01), then succeeds;
    // its deadline, scaled too, must outlast that.
    let upgrade = {
        let dir = cluster.dir.clone();
        tokio::spawn(async move {
            helm_ok(
                &dir,
                &[
                    "upgrade",
                    RELEASE,
                    CHART,
                    "--namespace",
                    RELEASE_NS,
                    "--set-string",
                    "legacyFinalizerRelease.podAnnotations.kubesim\\.dev/exit-after=2000",
                    "--set",
                    "legacyFinalizerRelease.activeDeadlineSeconds=100000",
                ],
            )
            .await
        })
    };
    let store = cluster.sim.store();
    let binding = Gvr::new("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
    eventually("the hook's grant to exist", || async {
        store.get(&binding, None, HOOK_CLUSTER).ok().map(|_| ())
    })
    .await;
    let token = cluster.sim.token_for_service_account(RELEASE_NS, HOOK);
    let kubeconfig = cluster.write("hook-kubeconfig", &cluster.sim.kubeconfig_for_token(&token));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_batch-terminator"))
            .args([
                "release-legacy-finalizers",
                &format!("--kubeconfig={kubeconfig}"),
            ])
            .output()
            .expect("run the binary")
    })
    .await
    .expect("task");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pods.get_opt("stuck").await.expect("get").is_none());
    assert!(
        pods.get("running")
            .await
            .expect("get")
            .finalizers()
            .is_empty()
    );
    let agent = batch_terminator::serve::USER_AGENT;
    let used: BTreeSet<(String, String, String)> = cluster
        .sim
        .requests()
        .iter()
        .filter(|r| r.user_agent == agent && !r.verb.is_empty())
        .map(|r| {
            assert!(r.status < 400, "{} {} -> {}", r.method, r.path, r.status);
            (r.group.clone(), r.resource.clone(), r.verb.clone())
        })
        .collect();
    let granted = store
        .get(
            &Gvr::new("rbac.authorization.k8s.io", "v1", "clusterroles"),
            None,
            HOOK_CLUSTER,
        )
        .expect("the hook's ClusterRole");
    assert_eq!(
        used,
        grants(&granted["rules"]),
        "used exactly what is granted"
    );

    upgrade.await.expect("helm upgrade");
    for (gvr, ns, name) in [
        (
            Gvr::new("rbac.authorization.k8s.io", "v1", "clusterroles"),
            None,
            HOOK_CLUSTER,
        ),
        (binding.clone(), None, HOOK_CLUSTER),
        (
            Gvr::new("", "v1", "serviceaccounts"),
            Some(RELEASE_NS),
            HOOK,
        ),
        (Gvr::new("batch", "v1", "jobs"), Some(RELEASE_NS), HOOK),
    ] {
        assert!(
            store.get(&gvr, ns, name).is_err(),
            "{gvr:?} {name} outlived the hook"
        );
    }
}
