//! The chart installed into kubesim with RBAC enforced: the product runs as the chart's
//! ServiceAccount, every granted rule is used, `helm test` and `helm uninstall`, and the
//! generated key across `helm upgrade`.

use super::*;

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
            job_created_at: jiff::Timestamp::now(),
            operation: TerminateKind::Cancel,
            reason: "too late to cancel".into(),
            requested_at: jiff::Timestamp::now(),
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
    submit_scenario(&http, &api, ns).await;
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

/// RegisterJobDefinition (a definition in the release namespace), DescribeJobDefinitions,
/// SubmitJob into `ns` (the queue named after it) twice as one SDK call's retry, and
/// DeregisterJobDefinition: every call of the submit side, as the chart's ServiceAccount.
async fn submit_scenario(http: &reqwest::Client, api: &str, ns: &str) {
    let name = format!("chart-{ns}");
    let call = |operation: &str, body: Value, invocation: Option<&str>| {
        let mut request = http
            .post(format!("{api}/v1/{operation}"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(invocation) = invocation {
            request = request.header("amz-sdk-invocation-id", invocation.to_owned());
        }
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let registered = call(
        "registerjobdefinition",
        json!({"jobDefinitionName": name, "type": "container",
               "containerProperties": {"image": "busybox", "command": ["sleep", "5"]}}),
        None,
    )
    .await;
    assert_eq!(registered["revision"], 1);
    let described = call(
        "describejobdefinitions",
        json!({"jobDefinitionName": name}),
        None,
    )
    .await;
    assert_eq!(described["jobDefinitions"].as_array().unwrap().len(), 1);
    let submit = json!({"jobName": "chart", "jobQueue": ns, "jobDefinition": name});
    let invocation = uuid::Uuid::new_v4().to_string();
    let first = call("submitjob", submit.clone(), Some(&invocation)).await;
    let retried = call("submitjob", submit, Some(&invocation)).await;
    assert_eq!(first["jobId"], retried["jobId"]);
    call(
        "deregisterjobdefinition",
        json!({"jobDefinition": format!("{name}:1")}),
        None,
    )
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
    let notes = cluster.install(&["--values", &values]).await;
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
            RELEASE_NS_ROLE,
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
    let watched = format!("watchNamespaces={{{}}}", namespaces.join(","));
    cluster.install(&["--set", &watched]).await;
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
            RELEASE_NS_ROLE,
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

/// The default install generates an access key; `helm upgrade` keeps it (Helm's `lookup` reads
/// the installed Secret back), and the install notes say how to read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_key_is_kept_across_helm_upgrade() {
    let cluster = Cluster::start("upgrade").await;
    let notes = cluster.install(&[]).await;
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
    // kubesim runs no containers: the upgrade hook's pod is told to succeed at once.
    let hook_done = "legacyFinalizerRelease.podAnnotations.kubesim\\.dev/exit-after=0";
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
        let upgrade = [&upgrade[..], &["--set-string", hook_done]].concat();
        helm_ok(&cluster.dir, &upgrade).await;
        assert_eq!(data(), installed, "helm {upgrade:?} changed the key");
    }
}
