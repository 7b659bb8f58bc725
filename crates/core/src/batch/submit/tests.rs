use super::plan::{job_object_name, substitute, tag_labels};
use super::*;
use crate::batch::definition::{
    DefinitionContent, EksEnvironmentVariable, EksResources, EvaluateOnExit,
};
use crate::batch::depends::ArrayJobDependency;
use crate::batch::queue::{QueueConfig, QueueState};
use serde_json::json;

fn request(value: serde_json::Value) -> SubmitJobRequest {
    serde_json::from_value(value).unwrap()
}

fn minimal() -> serde_json::Value {
    json!({"jobName": "nightly_ETL", "jobQueue": "high", "jobDefinition": "etl"})
}

fn with(extra: serde_json::Value) -> SubmitJobRequest {
    let mut base = minimal();
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    request(base)
}

fn queue() -> QueueConfig {
    QueueConfig {
        name: "high".into(),
        namespace: "team-a".into(),
        kueue_local_queue: None,
        priority: 1,
        state: QueueState::Enabled,
    }
}

fn container_definition() -> DefinitionContent {
    serde_json::from_value(json!({
        "type": "container",
        "parameters": {"msg": "default", "m": "short"},
        "containerProperties": {
            "image": "busybox",
            "command": ["echo", "Ref::msg", "Ref::m", "Ref::unknown", "x-Ref::msg-y"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "vcpus": 2,
            "resourceRequirements": [{"type": "MEMORY", "value": "512"}]
        },
        "tags": {"team": "data"}
    }))
    .unwrap()
}

fn plan_of(command: &SubmitCommand, definition: &DefinitionContent) -> Result<JobPlan> {
    let queue = queue();
    plan(
        command,
        definition,
        &PlanContext {
            job_id: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            queue: &queue,
            definition_arn: "arn:aws:batch:us-east-1:123456789012:job-definition/etl:1",
        },
    )
}

fn env_of(c: &ContainerPlan) -> Vec<(String, String)> {
    c.env
        .iter()
        .map(|e| {
            let v = match &e.value {
                EnvValue::Literal(v) => v.clone(),
                EnvValue::CompletionIndex => "<index>".into(),
            };
            (e.name.clone(), v)
        })
        .collect()
}

#[test]
fn every_rule_names_its_field() {
    let cases = [
        (json!({"jobName": null}), "jobName"),
        (json!({"jobName": ""}), "jobName"),
        (json!({"jobName": "_starts_badly"}), "jobName"),
        (json!({"jobName": "has space"}), "jobName"),
        (json!({"jobName": "x".repeat(129)}), "jobName"),
        (json!({"jobQueue": ""}), "jobQueue"),
        (json!({"jobDefinition": null}), "jobDefinition"),
        (json!({"jobDefinition": "etl:zero"}), "jobDefinition"),
        (json!({"arrayProperties": {"size": 1}}), "arrayProperties"),
        (
            json!({"arrayProperties": {"size": 10001}}),
            "arrayProperties",
        ),
        (json!({"dependsOn": [{"jobId": ""}]}), "dependsOn"),
        (
            json!({"dependsOn": [{"jobId": "a", "type": "N_TO_N"}]}),
            "dependsOn",
        ),
        (
            json!({"dependsOn": (0..21).map(|i| json!({"jobId": format!("j{i}")})).collect::<Vec<_>>()}),
            "dependsOn",
        ),
        (json!({"parameters": {"": "x"}}), "parameters"),
        (
            json!({"containerOverrides": {"environment": [{"value": "x"}]}}),
            "containerOverrides",
        ),
        (
            json!({"containerOverrides": {"environment": [{"name": "AWS_BATCH_JQ_NAME"}]}}),
            "containerOverrides",
        ),
        (
            json!({"containerOverrides": {"resourceRequirements": [{"type": "VCPU", "value": "-1"}]}}),
            "containerOverrides",
        ),
        (
            json!({"eksPropertiesOverride": {"podProperties": {"containers": [{"name": "Bad_Name"}]}}}),
            "eksPropertiesOverride",
        ),
        (json!({"retryStrategy": {"attempts": 0}}), "retryStrategy"),
        (
            json!({"retryStrategy": {"evaluateOnExit": [{"action": "maybe"}]}}),
            "retryStrategy",
        ),
        (
            json!({"timeout": {"attemptDurationSeconds": 10}}),
            "timeout",
        ),
        (json!({"tags": {"": "x"}}), "tags"),
    ];
    for (extra, field) in cases {
        let err = SubmitCommand::new(with(extra.clone())).unwrap_err();
        assert_eq!(err.field(), field, "{extra}: {err}");
    }
    let ok = SubmitCommand::new(with(json!({
        "arrayProperties": {"size": 3},
        "dependsOn": [{"jobId": "a", "type": "SEQUENTIAL"}],
    })))
    .unwrap();
    assert_eq!(ok.array_size, Some(3));
    assert_eq!(ok.depends_on[0].kind, Some(ArrayJobDependency::Sequential));
    // As AWS takes it: SEQUENTIAL without a job ID (an N_TO_N one needs its job).
    let ok = SubmitCommand::new(with(json!({
        "arrayProperties": {"size": 3},
        "dependsOn": [{"type": "SEQUENTIAL"}],
    })))
    .unwrap();
    assert_eq!(ok.depends_on[0].waits_for(), None);
    let err = SubmitCommand::new(with(json!({
        "arrayProperties": {"size": 3},
        "dependsOn": [{"type": "N_TO_N"}],
    })))
    .unwrap_err();
    assert_eq!(err.field(), "dependsOn", "{err}");
}

#[test]
fn parameters_replace_refs_longest_name_first_and_leave_unknown_ones() {
    let params: BTreeMap<String, String> = [("in", "A"), ("input", "B")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    assert_eq!(
        substitute("Ref::input Ref::in Ref::inx Ref::none", &params),
        "B A Ax Ref::none"
    );
    assert_eq!(substitute("no refs", &params), "no refs");
    assert_eq!(substitute("Ref::", &params), "Ref::");
}

#[test]
fn a_container_job_gets_its_command_env_and_resources_with_overrides() {
    let command = SubmitCommand::new(with(json!({
        "parameters": {"msg": "hello"},
        "containerOverrides": {
            "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "resourceRequirements": [{"type": "GPU", "value": "1"}],
            "memory": 1024
        },
        "tags": {"owner": "me@example.com", "aws:x": "y"},
    })))
    .unwrap();
    let plan = plan_of(&command, &container_definition()).unwrap();
    assert_eq!(plan.name, "nightly-etl-0f1e2d3c");
    assert_eq!(plan.namespace, "team-a");
    assert!(!plan.suspend);
    assert_eq!(
        (plan.retries, plan.completions, plan.active_deadline_seconds),
        (0, None, None)
    );
    let c = &plan.pod.containers[0];
    assert_eq!(c.name, "default");
    assert_eq!(c.image, "busybox");
    assert_eq!(
        c.command,
        ["echo", "hello", "short", "Ref::unknown", "x-hello-y"]
    );
    let env = env_of(c);
    assert_eq!(
        &env[..4],
        &[
            (
                "AWS_BATCH_JOB_ID".into(),
                "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()
            ),
            ("AWS_BATCH_JQ_NAME".into(), "high".into()),
            ("AWS_BATCH_CE_NAME".into(), "team-a".into()),
            ("AWS_BATCH_JOB_ATTEMPT".into(), "1".into()),
        ]
    );
    assert_eq!(
        &env[4..],
        &[
            ("A".into(), "1".into()),
            ("B".into(), "3".into()),
            ("C".into(), "4".into())
        ]
    );
    // Override MEMORY (legacy memory) wins over the definition's; VCPU from legacy vcpus.
    assert_eq!(
        c.requests,
        [
            ("cpu".into(), "2".into()),
            ("memory".into(), "1024Mi".into())
        ]
        .into()
    );
    assert_eq!(
        c.limits,
        [
            ("memory".into(), "1024Mi".into()),
            ("nvidia.com/gpu".into(), "1".into())
        ]
        .into()
    );
    assert_eq!(
        plan.labels,
        [
            ("aws_x".into(), "y".into()),
            ("owner".into(), "me_example.com".into())
        ]
        .into()
    );
    assert!(plan.pod_labels.is_empty(), "no propagateTags");
    let shown = plan.submission.shown.container.as_ref().unwrap();
    assert_eq!(shown.command[1], "hello");
    assert_eq!(plan.submission.shown.parameters["msg"], "hello");
    assert_eq!(plan.submission.shown.parameters["m"], "short");
    assert!(
        plan.submission
            .shown
            .job_definition
            .ends_with("job-definition/etl:1")
    );
}

#[test]
fn retries_timeouts_arrays_dependencies_and_propagated_tags() {
    let mut definition = container_definition();
    definition.retry_strategy = Some(RetryStrategy {
        attempts: Some(2),
        evaluate_on_exit: vec![],
    });
    definition.propagate_tags = Some(true);
    let command = SubmitCommand::new(with(json!({
        "arrayProperties": {"size": 4},
        "dependsOn": [{"jobId": "a"}],
        "retryStrategy": {"attempts": 3, "evaluateOnExit": [
            {"onExitCode": "3", "action": "EXIT"},
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onExitCode": "2*", "onReason": "*", "action": "retry"},
            {"onExitCode": "0", "action": "EXIT"},
            {"onReason": "*", "action": "exit"}
        ]},
        "timeout": {"attemptDurationSeconds": 120},
        "tags": {"run": "7"},
    })))
    .unwrap();
    let plan = plan_of(&command, &definition).unwrap();
    assert!(plan.suspend, "held for its dependency");
    assert_eq!(plan.completions, Some(4));
    assert_eq!(plan.retries, 2, "the request's strategy wins");
    assert_eq!(plan.active_deadline_seconds, Some(120));
    let twenties: Vec<i32> = [2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]
        .into_iter()
        .chain(200..=255)
        .collect();
    assert_eq!(
        plan.failure_rules,
        vec![
            FailureRule {
                action: FailureAction::FailIndex,
                exit_codes: Some(vec![3])
            },
            FailureRule {
                action: FailureAction::Count,
                exit_codes: Some(twenties)
            },
            FailureRule {
                action: FailureAction::FailIndex,
                exit_codes: None
            },
        ]
    );
    let env = env_of(&plan.pod.containers[0]);
    assert_eq!(
        env[0],
        ("AWS_BATCH_JOB_ARRAY_INDEX".into(), "<index>".into())
    );
    assert_eq!(
        env[1].1,
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:$(AWS_BATCH_JOB_ARRAY_INDEX)"
    );
    assert_eq!(
        plan.pod_labels,
        [("run".into(), "7".into()), ("team".into(), "data".into())].into()
    );
    assert_eq!(plan.labels, [("run".into(), "7".into())].into());
    let plain = plan_of(
        &SubmitCommand::new(request(minimal())).unwrap(),
        &definition,
    )
    .unwrap();
    assert_eq!(plain.retries, 1, "the definition's strategy");
    assert!(plain.failure_rules.is_empty());
}

#[test]
fn an_eks_job_maps_onto_the_pod_with_overrides_by_name() {
    let definition: DefinitionContent = serde_json::from_value(json!({
        "type": "container",
        "eksProperties": {"podProperties": {
            "serviceAccountName": "runner",
            "metadata": {"labels": {"a": "1"}, "annotations": {"kubesim.dev/exit-after": "1"}},
            "containers": [
                {"name": "main", "image": "busybox", "command": ["sh"], "args": ["-c", "echo Ref::msg"],
                 "env": [{"name": "X", "value": "1"}],
                 "resources": {"limits": {"cpu": "1"}}},
                {"name": "side", "image": "envoy"}
            ]
        }}
    }))
    .unwrap();
    assert!(definition.validate().is_ok());
    let command = SubmitCommand::new(with(json!({
        "parameters": {"msg": "hi"},
        "eksPropertiesOverride": {"podProperties": {
            "containers": [{"name": "main", "image": "busybox:2", "env": [{"name": "Y", "value": "2"}],
                            "resources": {"requests": {"memory": "1Gi"}}}],
            "metadata": {"annotations": {"kubesim.dev/exit-code": "3"}}
        }}
    })))
    .unwrap();
    let plan = plan_of(&command, &definition).unwrap();
    assert_eq!(plan.pod.service_account_name.as_deref(), Some("runner"));
    let main = &plan.pod.containers[0];
    assert_eq!(
        (main.name.as_str(), main.image.as_str()),
        ("main", "busybox:2")
    );
    assert_eq!(main.args, ["-c", "echo hi"]);
    assert_eq!(main.requests, [("memory".into(), "1Gi".into())].into());
    assert!(
        main.limits.is_empty(),
        "resources are replaced, as AWS does"
    );
    assert_eq!(
        env_of(main)[4..],
        [("X".into(), "1".into()), ("Y".into(), "2".into())]
    );
    assert_eq!(plan.pod.containers[1].name, "side");
    assert_eq!(plan.pod_labels["a"], "1");
    assert_eq!(plan.pod_annotations["kubesim.dev/exit-after"], "1");
    assert_eq!(plan.pod_annotations["kubesim.dev/exit-code"], "3");
    let shown = plan
        .submission
        .eks_properties
        .unwrap()
        .pod_properties
        .unwrap();
    assert_eq!(
        shown.containers[0].env[1],
        EksEnvironmentVariable {
            name: "Y".into(),
            value: Some("2".into())
        }
    );
    assert_eq!(
        shown.containers[0].resources,
        Some(EksResources {
            limits: BTreeMap::new(),
            requests: [("memory".into(), "1Gi".into())].into()
        })
    );

    let wrong = SubmitCommand::new(with(json!({
        "eksPropertiesOverride": {"podProperties": {"containers": [{"name": "nope"}]}}
    })))
    .unwrap();
    assert_eq!(
        plan_of(&wrong, &definition).unwrap_err().field(),
        "eksPropertiesOverride"
    );
    let unnamed = SubmitCommand::new(with(json!({
        "eksPropertiesOverride": {"podProperties": {"containers": [{"image": "x"}]}}
    })))
    .unwrap();
    assert_eq!(
        plan_of(&unnamed, &definition).unwrap_err().field(),
        "eksPropertiesOverride"
    );
    let mixed =
        SubmitCommand::new(with(json!({"containerOverrides": {"command": ["x"]}}))).unwrap();
    assert_eq!(
        plan_of(&mixed, &definition).unwrap_err().field(),
        "containerOverrides"
    );
    let mixed = SubmitCommand::new(with(json!({"eksPropertiesOverride": {}}))).unwrap();
    assert_eq!(
        plan_of(&mixed, &container_definition())
            .unwrap_err()
            .field(),
        "eksPropertiesOverride"
    );
}

#[test]
fn names_and_labels_are_kubernetes_safe() {
    let long = "A_".repeat(100);
    let name = job_object_name(&long, "abcdef12-3456");
    assert!(name.len() <= MAX_JOB_NAME, "{name}");
    assert!(name.ends_with("-abcdef12"));
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    assert_eq!(job_object_name("___", "ab"), "job-ab");
    assert_eq!(label_safe("-a b/c-"), "a_b_c");
    assert_eq!(label_safe(&"x".repeat(70)).len(), 63);
    assert!(tag_labels(&[("///".to_owned(), "v".to_owned())].into()).is_empty());
    let _ = EvaluateOnExit::default();
}
