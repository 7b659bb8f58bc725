//! The chart rendered with `helm template` and linted: value sets, RBAC, schema rejections,
//! the hardened pods, the plain manifests' drift, and the Deployment's arguments.

use super::*;

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
    // The upgrade hook has a grant of its own (lifecycle.rs checks it).
    let objs = render(&["--skip-tests", "--no-hooks"]);
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
    assert_eq!(lease["metadata"]["name"], RELEASE_NS_ROLE);
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
    let objs = render(&[
        "--skip-tests",
        "--no-hooks",
        "--set",
        "watchNamespaces={team-a,team-b}",
    ]);
    assert!(of_kind(&objs, "ClusterRole").is_empty());
    assert!(of_kind(&objs, "ClusterRoleBinding").is_empty());
    let not_lease = |o: &&Value| o["metadata"]["name"] != RELEASE_NS_ROLE;
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

/// Every pod the chart can render (the Deployment's, the `helm test` Pod and the upgrade
/// hook's Job) is hardened.
#[test]
fn every_rendered_pod_is_hardened() {
    let mut checked = 0;
    let namespaced = vec!["--set", "watchNamespaces={team-a}"];
    for args in [vec![], namespaced, everything_enabled()] {
        for obj in render(&args) {
            let (pod, what) = match obj["kind"].as_str() {
                Some("Deployment") => (&obj["spec"]["template"]["spec"], "Deployment"),
                Some("Pod") => (&obj["spec"], "Pod"),
                Some("Job") => (&obj["spec"]["template"]["spec"], "Job"),
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
    assert_eq!(
        checked, 9,
        "a Deployment, a test Pod and the upgrade hook's Job per value set"
    );
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
