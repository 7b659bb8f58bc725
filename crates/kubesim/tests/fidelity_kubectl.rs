//! Kubernetes 1.33's validation causes and warnings as the real kubectl 1.33 prints them.
mod common;
mod tools;

use common::sim;
use tools::Cli;

fn job(spec: &str, pod_spec: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata: {{name: j}}
spec:
  {spec}
  template:
    spec:
      {pod_spec}
      containers: [{{name: c, image: busybox:1.36}}]
"
    )
}

/// Creates `yaml` and expects a 422 whose causes kubectl prints as `expected`.
async fn refused(k: &Cli, yaml: &str, expected: &str) {
    let f = k.write("obj.yaml", yaml);
    let o = k
        .run("kubectl", &["create", "-f", f.to_str().expect("path")])
        .await;
    assert!(!o.ok, "accepted: {}", o.stdout);
    assert!(
        o.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        o.stderr
    );
}

#[tokio::test]
async fn job_spec_rules_are_printed_with_their_causes() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-job-rules");
    refused(
        &k,
        &job("backoffLimit: 1", ""),
        r#"The Job "j" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
    )
    .await;
    refused(
        &k,
        &job("backoffLimit: 1", "restartPolicy: Always"),
        r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
    )
    .await;
    refused(
        &k,
        &job(
            "backoffLimit: -1\n  activeDeadlineSeconds: -5",
            "restartPolicy: Never",
        ),
        "* spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0\n* spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
    )
    .await;
    // The valid Job is accepted.
    let f = k.write(
        "ok.yaml",
        &job("backoffLimit: 1", "restartPolicy: OnFailure"),
    );
    k.ok("kubectl", &["create", "-f", f.to_str().expect("path")])
        .await;
}

#[tokio::test]
async fn job_failure_policy_rules_are_printed_with_their_causes() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-job-failure-policy");
    let policy = "podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {operator: In, values: [3, 0]}";
    for expected in [
        r#"* spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set"#,
        "* spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
        "* spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 0}: must be ordered",
        r#"* spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified"#,
    ] {
        refused(&k, &job(policy, "restartPolicy: OnFailure"), expected).await;
    }
    refused(
        &k,
        &job("backoffLimitPerIndex: 1", "restartPolicy: Never"),
        "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
    )
    .await;
    // The same policy on a per-index Indexed Job with restartPolicy Never is accepted.
    let ok = job(
        "completionMode: Indexed\n  completions: 2\n  backoffLimitPerIndex: 1\n  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {operator: In, values: [3, 42]}
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]",
        "restartPolicy: Never",
    );
    let f = k.write("ok.yaml", &ok);
    k.ok("kubectl", &["create", "-f", f.to_str().expect("path")])
        .await;
}

const EVENT: &str = "apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e, namespace: default}
eventTime: 2025-06-15T15:06:40.000000Z
type: Normal
reportingController: example.com/ctl
action: Terminate
reason: Terminated
note: hello
regarding: {kind: Job, name: j}
";

#[tokio::test]
async fn event_rules_are_printed_with_their_causes() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-event-rules");
    refused(
        &k,
        &EVENT.replace("namespace: default", "namespace: kube-public"),
        "* involvedObject.namespace: Invalid value: \"\": does not match event.namespace\n* reportingInstance: Required value",
    )
    .await;
    refused(
        &k,
        &format!("{EVENT}reportingInstance: ctl-1\n").replace("action: Terminate\n", ""),
        r#"The Event "e" is invalid: action: Required value"#,
    )
    .await;
    let f = k.write("ok.yaml", &format!("{EVENT}reportingInstance: ctl-1\n"));
    k.ok("kubectl", &["create", "-f", f.to_str().expect("path")])
        .await;
}

#[tokio::test]
async fn a_raw_job_delete_without_a_policy_warns_that_pods_are_orphaned() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-job-delete-warning");
    let f = k.write("job.yaml", &job("backoffLimit: 1", "restartPolicy: Never"));
    let f = f.to_str().expect("path");
    k.ok("kubectl", &["create", "-f", f]).await;
    let o = k
        .run(
            "kubectl",
            &[
                "delete",
                "--raw",
                "/apis/batch/v1/namespaces/default/jobs/j",
            ],
        )
        .await;
    assert!(o.ok, "{o:?}");
    assert!(
        o.stderr.contains(
            "Warning: child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"
        ),
        "{o:?}"
    );
    // kubectl's own delete sends propagationPolicy=Background: no warning.
    let second = k.write(
        "k.yaml",
        &job("backoffLimit: 1", "restartPolicy: Never").replace("name: j}", "name: k}"),
    );
    k.ok("kubectl", &["create", "-f", second.to_str().expect("path")])
        .await;
    let o = k
        .run("kubectl", &["delete", "job", "k", "--wait=false"])
        .await;
    assert!(o.ok, "{o:?}");
    assert!(!o.stderr.contains("Warning"), "{o:?}");
}
