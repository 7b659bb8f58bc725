use super::*;
use serde_json::json;

fn obj(labels: Value) -> Value {
    json!({"metadata": {"name": "x", "labels": labels}})
}

fn parse_err(s: &str) -> String {
    match LabelSelector::parse(s) {
        Ok(sel) => panic!("{s:?} parsed as {sel:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn label_equality_operators() {
    let o = obj(json!({"app": "web", "tier": "front"}));
    for s in [
        "app=web",
        "app==web",
        "app = web",
        " app==web , tier=front ",
    ] {
        assert!(LabelSelector::parse(s).unwrap().matches(&o), "{s}");
    }
    assert!(!LabelSelector::parse("app=db").unwrap().matches(&o));
    assert!(LabelSelector::parse("app!=db").unwrap().matches(&o));
    assert!(!LabelSelector::parse("app!=web").unwrap().matches(&o));
    // != matches objects without the label.
    assert!(LabelSelector::parse("missing!=x").unwrap().matches(&o));
    // `key=` selects an empty value, not a missing label.
    assert!(!LabelSelector::parse("missing=").unwrap().matches(&o));
    assert!(
        LabelSelector::parse("e=")
            .unwrap()
            .matches(&obj(json!({"e": ""})))
    );
}

#[test]
fn label_set_operators() {
    let o = obj(json!({"app": "web", "env": "prod"}));
    let sel = LabelSelector::parse("app in (web, db),env notin (dev)").unwrap();
    assert!(sel.matches(&o));
    assert!(!LabelSelector::parse("app in (db)").unwrap().matches(&o));
    assert!(
        !LabelSelector::parse("env notin (prod,dev)")
            .unwrap()
            .matches(&o)
    );
    assert!(LabelSelector::parse("x notin (a)").unwrap().matches(&o));
    assert!(!LabelSelector::parse("x in (a)").unwrap().matches(&o));
    // Keywords are values inside parentheses.
    assert!(
        LabelSelector::parse("k in (in,notin)")
            .unwrap()
            .matches(&obj(json!({"k": "notin"})))
    );
    let sel = LabelSelector::parse("k in (b,a,b)").unwrap();
    let r = &sel.requirements()[0];
    assert_eq!(r.values, vec!["a", "b"]);
    assert_eq!(r.operator, Operator::In);
    // `()` holds the empty value.
    let sel = LabelSelector::parse("k in ()").unwrap();
    let r = &sel.requirements()[0];
    assert_eq!(r.values, vec![""]);
}

#[test]
fn label_existence() {
    let o = obj(json!({"app": "web"}));
    assert!(LabelSelector::parse("app").unwrap().matches(&o));
    assert!(!LabelSelector::parse("!app").unwrap().matches(&o));
    assert!(LabelSelector::parse("!other,app").unwrap().matches(&o));
    assert!(!LabelSelector::parse("other").unwrap().matches(&o));
    assert!(
        LabelSelector::parse("app")
            .unwrap()
            .matches(&obj(json!({"app": ""})))
    );
    // No labels at all.
    assert!(LabelSelector::parse("!app").unwrap().matches(&json!({})));
    assert!(!LabelSelector::parse("app").unwrap().matches(&json!({})));
}

#[test]
fn label_gt_lt() {
    let o = obj(json!({"n": "5"}));
    assert!(LabelSelector::parse("n>3").unwrap().matches(&o));
    assert!(!LabelSelector::parse("n<3").unwrap().matches(&o));
    assert!(!LabelSelector::parse("m>3").unwrap().matches(&o));
    assert!(parse_err("n>x").contains("must be an integer"));
}

#[test]
fn empty_selector_matches_everything() {
    let sel = LabelSelector::parse("").unwrap();
    assert!(sel.is_empty());
    assert!(sel.matches(&json!({})));
    assert!(LabelSelector::parse("   ").unwrap().is_empty());
}

#[test]
fn label_parse_errors_are_kubernetes_messages() {
    assert_eq!(
        parse_err("app in web"),
        "unable to parse requirement: found 'web' expected: '('"
    );
    assert_eq!(
        parse_err("app=web,"),
        "found '', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("=web"),
        "found '=', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        parse_err("app web"),
        "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(
        parse_err("a=b c"),
        "found 'c', expected: ',' or 'end of string'"
    );
    assert_eq!(
        parse_err("app in (a b)"),
        "unable to parse requirement: found 'b', expected: ',' or ')'"
    );
    assert_eq!(
        parse_err("a=(b)"),
        "unable to parse requirement: found '(', expected: identifier"
    );
}

#[test]
fn label_key_and_value_validation() {
    let e = parse_err("-app=x");
    assert!(
        e.starts_with(
            "unable to parse requirement: : Invalid value: \"-app\": name part must consist of"
        ),
        "{e}"
    );
    let e = parse_err("Example.COM/app=x");
    assert!(
        e.contains("prefix part a lowercase RFC 1123 subdomain"),
        "{e}"
    );
    assert!(parse_err("a/b/c=x").contains("a qualified name must consist"));
    let long = "a".repeat(64);
    assert!(
        parse_err(&format!("{long}=x")).contains("name part must be no more than 63 characters")
    );
    let e = parse_err(&format!("app={long}"));
    assert!(
        e.contains("values[0][app]: Invalid value:")
            && e.contains("must be no more than 63 characters"),
        "{e}"
    );
    let e = parse_err("app=-x");
    assert!(e.contains("a valid label must be an empty string"), "{e}");
    LabelSelector::parse(&format!("k={}", "a".repeat(63))).unwrap();
    // Valid ones.
    for s in [
        "batch-terminator.dev/job-id=abc_1.2",
        "app.kubernetes.io/name in (x)",
        "A_b.C",
        "A_b.C",
    ] {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

#[test]
fn metav1_label_selector() {
    let sel = LabelSelector::from_label_selector(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]},
                             {"key": "team", "operator": "Exists"}]
    }))
    .unwrap();
    assert!(sel.matches_labels(&json!({"app": "web", "team": "a"})));
    assert!(!sel.matches_labels(&json!({"app": "web", "team": "a", "env": "dev"})));
    assert!(!sel.matches_labels(&json!({"app": "web"})));
    let all = LabelSelector::from_label_selector(&json!({})).unwrap();
    assert!(all.matches_labels(&json!({})));
    let none = LabelSelector::from_label_selector(&Value::Null).unwrap();
    assert!(!none.matches_labels(&json!({})));
    assert!(
        LabelSelector::from_label_selector(
            &json!({"matchExpressions": [{"key": "a", "operator": "Bad"}]})
        )
        .is_err()
    );
}

#[test]
fn field_selector_parse_and_match() {
    let pod = json!({"kind": "Pod", "metadata": {"name": "p1", "namespace": "ns"},
                     "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
    let sel = FieldSelector::parse("metadata.name=p1,status.phase==Running").unwrap();
    assert!(sel.matches(&pod));
    assert_eq!(sel.exact_name(), Some("p1"));
    assert!(
        FieldSelector::parse("status.phase!=Pending")
            .unwrap()
            .matches(&pod)
    );
    assert!(
        !FieldSelector::parse("status.phase!=Running")
            .unwrap()
            .matches(&pod)
    );
    assert!(
        !FieldSelector::parse("metadata.name=p2")
            .unwrap()
            .matches(&pod)
    );
    // Missing field reads as "".
    assert!(
        FieldSelector::parse("spec.schedulerName=")
            .unwrap()
            .matches(&pod)
    );
    assert!(FieldSelector::parse("").unwrap().is_empty());
    assert!(FieldSelector::parse(",,").unwrap().matches(&pod));
}

#[test]
fn field_selector_escaping() {
    let o = json!({"metadata": {"name": "a,b=c\\d"}});
    let sel = FieldSelector::parse("metadata.name=a\\,b\\=c\\\\d").unwrap();
    assert_eq!(sel.requirements()[0].value, "a,b=c\\d");
    assert!(sel.matches(&o));
    assert_eq!(
        FieldSelector::parse(&format!("metadata.name={}", escape_field_value("a,b=c\\d"))).unwrap(),
        sel
    );
    assert_eq!(
        FieldSelector::parse("a=b\\x").unwrap_err().to_string(),
        "invalid field selector: invalid escape sequence: \\x"
    );
    assert_eq!(
        FieldSelector::parse("a=b\\").unwrap_err().to_string(),
        "invalid field selector: invalid escape sequence: \\"
    );
    assert!(
        FieldSelector::parse("a=b=c")
            .unwrap_err()
            .to_string()
            .contains("unescaped character")
    );
    assert_eq!(
        FieldSelector::parse("metadata.name")
            .unwrap_err()
            .to_string(),
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
    );
}

#[test]
fn field_selector_supported_fields() {
    let ok = |g: &str, r: &str, s: &str| FieldSelector::parse(s).unwrap().check_supported(g, r);
    ok("", "pods", "metadata.name=a,metadata.namespace=b").unwrap();
    ok("apps", "replicasets", "metadata.name=a").unwrap();
    ok(
        "",
        "pods",
        "spec.nodeName=n,status.phase=Running,spec.hostNetwork=true",
    )
    .unwrap();
    ok(
        "",
        "events",
        "involvedObject.name=j,reason=X,source=c,type=Normal",
    )
    .unwrap();
    ok(
        "events.k8s.io",
        "events",
        "regarding.name=j,reportingController=c",
    )
    .unwrap();
    ok("", "secrets", "type=helm.sh/release.v1").unwrap();
    ok("", "namespaces", "status.phase=Active").unwrap();
    ok("", "nodes", "spec.unschedulable=false").unwrap();
    ok("batch", "jobs", "status.successful=1").unwrap();
    let err = ok("batch", "jobs", "status.phase=x").unwrap_err();
    assert_eq!(err.to_string(), "field label not supported: status.phase");
    assert!(matches!(err, Error::UnsupportedField(f) if f == "status.phase"));
    assert!(ok("apps", "replicasets", "status.replicas=1").is_err());
    assert!(ok("", "configmaps", "type=x").is_err());
    assert!(ok("batch-terminator.dev", "jobterminations", "spec.jobId=x").is_err());
}

#[test]
fn field_values_computed_like_the_api_server() {
    let pod = json!({"kind": "Pod", "spec": {}, "status": {"podIPs": [{"ip": "10.0.0.1"}]}});
    let m = |s: &str, o: &Value| FieldSelector::parse(s).unwrap().matches(o);
    assert!(m("spec.hostNetwork=false", &pod));
    assert!(m("status.podIP=10.0.0.1", &pod));
    assert!(m(
        "spec.hostNetwork=true",
        &json!({"spec": {"hostNetwork": true}})
    ));
    assert!(m(
        "spec.unschedulable=false",
        &json!({"kind": "Node", "spec": {}})
    ));
    let job = json!({"kind": "Job", "status": {}});
    assert!(m("status.successful=0", &job));
    assert!(m(
        "status.successful=2",
        &json!({"kind": "Job", "status": {"succeeded": 2}})
    ));
    // Core-shaped event, selected by either API's names.
    let ev = json!({"kind": "Event", "involvedObject": {"kind": "Job", "name": "j1"},
                    "reportingComponent": "batch-terminator", "reason": "JobTerminated",
                    "source": {}});
    assert!(m("involvedObject.name=j1,regarding.kind=Job", &ev));
    assert!(m("reportingController=batch-terminator", &ev));
    assert!(m("source=batch-terminator", &ev));
    // events.k8s.io-shaped event.
    let ev2 = json!({"regarding": {"name": "j2"}, "reportingController": "rc",
                     "deprecatedSource": {"component": "src"}});
    assert!(m(
        "involvedObject.name=j2,reportingComponent=rc,source=src",
        &ev2
    ));
    assert!(m("spec.host=n1", &json!({"spec": {"nodeName": "n1"}})));
}
