use super::*;

fn container(image: &str) -> DefinitionContent {
    DefinitionContent {
        kind: "container".into(),
        container_properties: Some(ContainerProperties {
            image: Some(image.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn references_parse_as_aws_writes_them() {
    let arn = job_definition_arn("us-east-1", "123456789012", "etl_v2", 3);
    assert_eq!(
        arn,
        "arn:aws:batch:us-east-1:123456789012:job-definition/etl_v2:3"
    );
    assert_eq!(
        DefinitionRef::parse("jobDefinition", &arn).unwrap(),
        DefinitionRef::Revision("etl_v2".into(), 3)
    );
    assert_eq!(
        DefinitionRef::parse("jobDefinition", "etl").unwrap(),
        DefinitionRef::Latest("etl".into())
    );
    for bad in [
        "",
        "a:0",
        "a:-1",
        "a:+1",
        "a:x",
        "a b",
        "arn:aws:batch:r:a:job/x",
        "a:1:2",
    ] {
        assert!(DefinitionRef::parse("jobDefinition", bad).is_err(), "{bad}");
    }
}

#[test]
fn a_valid_definition_passes_and_each_rule_names_its_field() {
    assert!(container("busybox").validate().is_ok());
    let field = |c: DefinitionContent| c.validate().unwrap_err().field();
    assert_eq!(field(DefinitionContent::default()), "type");
    assert_eq!(
        field(DefinitionContent {
            kind: "multinode".into(),
            ..container("x")
        }),
        "type"
    );
    assert_eq!(field(container("")), "containerProperties");
    assert_eq!(
        field(DefinitionContent {
            container_properties: None,
            ..container("x")
        }),
        "containerProperties"
    );
    let mut eks = container("x");
    eks.eks_properties = Some(EksProperties::default());
    assert_eq!(field(eks.clone()), "containerProperties");
    eks.container_properties = None;
    assert_eq!(field(eks.clone()), "eksProperties");
    let mut retry = container("x");
    retry.retry_strategy = Some(RetryStrategy {
        attempts: Some(11),
        ..Default::default()
    });
    assert_eq!(field(retry.clone()), "retryStrategy");
    retry.retry_strategy = Some(RetryStrategy {
        attempts: Some(2),
        evaluate_on_exit: vec![EvaluateOnExit {
            on_exit_code: Some("1x".into()),
            action: "retry".into(),
            ..Default::default()
        }],
    });
    assert_eq!(field(retry), "retryStrategy");
    let mut timeout = container("x");
    timeout.timeout = Some(JobTimeout {
        attempt_duration_seconds: Some(59),
    });
    assert_eq!(field(timeout), "timeout");
    let mut env = container("x");
    env.container_properties.as_mut().unwrap().environment = vec![KeyValuePair {
        name: Some("AWS_BATCH_JOB_ID".into()),
        value: None,
    }];
    assert_eq!(field(env), "containerProperties");
    let mut res = container("x");
    res.container_properties
        .as_mut()
        .unwrap()
        .resource_requirements = vec![ResourceRequirement {
        value: "0.5".into(),
        kind: ResourceType::Memory,
    }];
    assert_eq!(field(res), "containerProperties");
    let mut tags = container("x");
    tags.tags = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(field(tags), "tags");
}

fn definition(name: &str, revision: i32, status: DefinitionStatus) -> JobDefinition {
    JobDefinition {
        job_definition_name: name.into(),
        job_definition_arn: job_definition_arn("r", "a", name, revision),
        revision,
        status: status.as_str().into(),
        container_orchestration_type: "ECS".into(),
        content: container("x"),
    }
}

#[test]
fn describe_selects_by_reference_name_and_status_and_pages() {
    use DefinitionStatus::*;
    let all = || {
        vec![
            definition("b", 1, Active),
            definition("a", 2, Inactive),
            definition("a", 1, Active),
            definition("c", 1, Active),
        ]
    };
    let ids = |page: &[JobDefinition]| -> Vec<String> {
        page.iter()
            .map(|d| format!("{}:{}", d.job_definition_name, d.revision))
            .collect()
    };
    let q = DefinitionQuery::new(vec![], None, None, Some(3), None).unwrap();
    let (page, next) = q.page(all());
    assert_eq!(ids(&page), ["a:1", "a:2", "b:1"]);
    let q = DefinitionQuery::new(vec![], None, None, Some(3), next).unwrap();
    let (page, next) = q.page(all());
    assert_eq!((ids(&page), next), (vec!["c:1".to_owned()], None));
    let q = DefinitionQuery::new(
        vec!["a".into(), job_definition_arn("r", "a", "c", 1)],
        None,
        Some("ACTIVE".into()),
        None,
        None,
    )
    .unwrap();
    assert_eq!(ids(&q.page(all()).0), ["a:1", "c:1"]);
    assert_eq!(q.single_name(), None);
    let q = DefinitionQuery::new(vec!["a:2".into()], Some("a".into()), None, None, None).unwrap();
    assert_eq!(ids(&q.page(all()).0), ["a:2"]);
    assert_eq!(q.single_name(), Some("a"));
    for (defs, name, status, max, token, field) in [
        (
            vec!["a:x".to_owned()],
            None,
            None,
            None,
            None,
            "jobDefinitions",
        ),
        (
            vec![],
            Some("a b".to_owned()),
            None,
            None,
            None,
            "jobDefinitionName",
        ),
        (
            vec![],
            None,
            Some("active".to_owned()),
            None,
            None,
            "status",
        ),
        (vec![], None, None, Some(101), None, "maxResults"),
        (vec![], None, None, None, Some("zz".to_owned()), "nextToken"),
    ] {
        assert_eq!(
            DefinitionQuery::new(defs, name, status, max, token)
                .unwrap_err()
                .field(),
            field
        );
    }
    let many = (0..101).map(|i| format!("d{i}")).collect();
    assert_eq!(
        DefinitionQuery::new(many, None, None, None, None)
            .unwrap_err()
            .field(),
        "jobDefinitions"
    );
}

#[test]
fn the_wire_shape_is_aws() {
    let content: DefinitionContent = serde_json::from_value(serde_json::json!({
        "type": "container",
        "containerProperties": {
            "image": "busybox", "command": ["echo", "Ref::msg"],
            "resourceRequirements": [{"type": "VCPU", "value": "0.5"}],
            "volumes": [{"name": "ignored"}]
        },
        "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1*", "action": "EXIT"}]},
        "timeout": {"attemptDurationSeconds": 60}
    }))
    .unwrap();
    assert!(content.validate().is_ok());
    let json = serde_json::to_value(&content).unwrap();
    assert_eq!(
        json["containerProperties"]["resourceRequirements"][0]["type"],
        "VCPU"
    );
    assert_eq!(
        json["retryStrategy"]["evaluateOnExit"][0]["onExitCode"],
        "1*"
    );
    assert!(json["containerProperties"].get("volumes").is_none());
}
