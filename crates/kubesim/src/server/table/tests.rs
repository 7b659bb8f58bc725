use super::*;
use axum::http::HeaderValue;

fn now() -> DateTime<Utc> {
    time(&json!("2025-01-01T01:00:00Z")).unwrap()
}

fn pod(status: Value) -> Value {
    json!({
        "metadata": {"name": "p", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": status,
    })
}

fn summary(p: &Value) -> (String, String, String) {
    let s = pod_summary(p, now());
    (format!("{}/{}", s.ready, s.total), s.reason, s.restarts)
}

fn running(name: &str) -> Value {
    json!({"name": name, "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}})
}

#[test]
fn pending_unscheduled_pod() {
    let p = pod(json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}));
    assert_eq!(summary(&p), ("0/2".into(), "Pending".into(), "0".into()));
}

#[test]
fn container_creating_then_running() {
    let waiting = json!({"name": "a", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}}});
    let p = pod(json!({"phase": "Pending", "containerStatuses": [waiting, waiting]}));
    assert_eq!(summary(&p).1, "ContainerCreating");
    let p = pod(json!({"phase": "Running", "containerStatuses": [running("a"), running("b")]}));
    assert_eq!(summary(&p), ("2/2".into(), "Running".into(), "0".into()));
}

#[test]
fn completed_error_and_exit_codes() {
    let term = |reason: &str, code: i64| {
        json!({"name": "a", "ready": false, "restartCount": 0,
            "state": {"terminated": {"reason": reason, "exitCode": code}}})
    };
    let p = pod(json!({"phase": "Succeeded",
        "containerStatuses": [term("Completed", 0), term("Completed", 0)]}));
    assert_eq!(summary(&p).1, "Completed");
    let p = pod(json!({"phase": "Failed",
        "containerStatuses": [term("Completed", 0), term("Error", 1)]}));
    // The first container's status wins: the list is walked backwards.
    assert_eq!(summary(&p).1, "Completed");
    let p = pod(json!({"phase": "Failed",
        "containerStatuses": [term("Error", 1), term("Completed", 0)]}));
    assert_eq!(summary(&p).1, "Error");
    let p = pod(json!({"phase": "Failed", "containerStatuses": [term("", 137)]}));
    assert_eq!(summary(&p).1, "ExitCode:137");
    // One finished, one still running: Running when the pod is Ready, NotReady otherwise.
    let p = pod(
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [running("a"), term("Completed", 0)]}),
    );
    assert_eq!(summary(&p), ("1/2".into(), "Running".into(), "0".into()));
    let p = pod(json!({"phase": "Running",
        "containerStatuses": [running("a"), term("Completed", 0)]}));
    assert_eq!(summary(&p).1, "NotReady");
}

#[test]
fn terminating_and_restarts() {
    let mut p = pod(json!({"phase": "Running", "containerStatuses": [
        {"name": "a", "ready": true, "restartCount": 3, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T00:55:00Z"}}},
        running("b")]}));
    assert_eq!(
        summary(&p),
        ("2/2".into(), "Running".into(), "3 (5m ago)".into())
    );
    p["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:59:00Z");
    assert_eq!(summary(&p).1, "Terminating");
    // A finished pod being deleted keeps its final status.
    p["status"]["phase"] = json!("Succeeded");
    p["status"]["containerStatuses"] =
        json!([{"name": "a", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]);
    assert_eq!(summary(&p).1, "Completed");
}

#[test]
fn init_containers_and_sidecars() {
    let mut p = pod(json!({"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i1", "state": {"running": {}}}]}));
    p["spec"]["initContainers"] = json!([{"name": "i0"}, {"name": "i1"}]);
    assert_eq!(summary(&p).1, "Init:1/2");
    p["status"]["initContainerStatuses"][1]["state"] =
        json!({"terminated": {"exitCode": 2, "reason": "Error"}});
    assert_eq!(summary(&p).1, "Init:Error");
    p["status"]["initContainerStatuses"][1]["state"] =
        json!({"waiting": {"reason": "CrashLoopBackOff"}});
    assert_eq!(summary(&p).1, "Init:CrashLoopBackOff");
    // A started sidecar counts towards READY and the total.
    let mut p = pod(json!({"phase": "Running",
        "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "state": {"running": {}}}],
        "containerStatuses": [running("a"), running("b")]}));
    p["spec"]["initContainers"] = json!([{"name": "side", "restartPolicy": "Always"}]);
    assert_eq!(summary(&p), ("3/3".into(), "Running".into(), "0".into()));
}

#[test]
fn scheduling_gated() {
    let p = pod(json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}));
    assert_eq!(summary(&p).1, "SchedulingGated");
}

#[test]
fn human_durations() {
    for (s, want) in [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 120, "3h2m"),
        (10 * 3600, "10h"),
        (50 * 3600, "2d2h"),
        (10 * 86400, "10d"),
        (3 * 365 * 86400, "3y"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (9 * 365 * 86400, "9y"),
    ] {
        assert_eq!(human_duration(s), want, "{s}");
    }
}

#[test]
fn job_cells() {
    let job = json!({"metadata": {"name": "j"},
        "spec": {"parallelism": 3, "selector": {"matchLabels": {"b": "2", "a": "1"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "x"}]}}},
        "status": {"succeeded": 1, "startTime": "2025-01-01T00:00:00Z", "completionTime": "2025-01-01T00:00:30Z",
            "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
    assert_eq!(job_status(&job), "Complete");
    assert_eq!(job_completions(&job), "1/1 of 3");
    assert_eq!(job_duration(&job, now()), "30s");
    assert_eq!(
        containers(&job["spec"]["template"]),
        ("c,d".into(), "busybox,x".into())
    );
    assert_eq!(label_selector(&job["spec"]["selector"]), "a=1,b=2");
    let suspended = json!({"spec": {"completions": 4}, "status": {"succeeded": 2,
        "conditions": [{"type": "Suspended", "status": "True"}, {"type": "Complete", "status": "False"}]}});
    assert_eq!(job_status(&suspended), "Suspended");
    assert_eq!(job_completions(&suspended), "2/4");
    assert_eq!(job_duration(&suspended, now()), "");
    let failing = json!({"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}});
    assert_eq!(job_status(&failing), "FailureTarget");
    assert_eq!(job_status(&json!({})), "Running");
}

#[test]
fn accept_negotiation() {
    let h = |v: &'static str| {
        let mut m = HeaderMap::new();
        m.insert(header::ACCEPT, HeaderValue::from_static(v));
        m
    };
    assert_eq!(
        wanted(&h(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        )),
        Some(TableVersion::V1)
    );
    assert_eq!(
        wanted(&h("application/json;as=Table;v=v1beta1;g=meta.k8s.io")),
        Some(TableVersion::V1beta1)
    );
    assert_eq!(wanted(&h("application/json")), None);
    assert_eq!(
        wanted(&h(
            "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
        )),
        None
    );
    assert_eq!(wanted(&HeaderMap::new()), None);
}

#[test]
fn custom_cells_by_type() {
    let n = now();
    assert_eq!(custom_cell("string", Some(&json!("x")), n), json!("x"));
    assert_eq!(custom_cell("string", Some(&json!(3)), n), json!("3"));
    assert_eq!(custom_cell("integer", Some(&json!(3.0)), n), json!(3));
    assert_eq!(custom_cell("integer", Some(&json!("3")), n), Value::Null);
    assert_eq!(custom_cell("boolean", Some(&json!(true)), n), json!(true));
    assert_eq!(
        custom_cell("date", Some(&json!("2025-01-01T00:59:00Z")), n),
        json!("60s")
    );
    assert_eq!(custom_cell("string", None, n), Value::Null);
}

fn printer(group: &str, plural: &str, include: IncludeObject) -> Printer {
    let (kind, columns) = builtin(group, plural);
    Printer {
        kind,
        columns,
        version: TableVersion::V1,
        include,
    }
}

#[test]
fn every_printer_has_one_cell_per_column() {
    let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2025-01-01T00:00:00Z"}});
    for (g, r) in [
        ("", "pods"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("apps", "deployments"),
        ("", "namespaces"),
        ("", "nodes"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("", "services"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "serviceaccounts"),
        ("coordination.k8s.io", "leases"),
        ("rbac.authorization.k8s.io", "roles"),
    ] {
        let p = printer(g, r, IncludeObject::Metadata);
        let t = p.table(std::slice::from_ref(&obj), "7", Some("c"));
        let cols = t["columnDefinitions"].as_array().unwrap().len();
        let cells = t["rows"][0]["cells"].as_array().unwrap().len();
        assert_eq!(cols, cells, "{g}/{r}");
    }
}

#[test]
fn include_object_modes() {
    let obj = json!({"kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {"name": "c", "resourceVersion": "5", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "data": {"a": "1"}});
    let t = printer("", "configmaps", IncludeObject::Metadata).one(&obj);
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["metadata"], json!({"resourceVersion": "5"}));
    assert_eq!(t["rows"][0]["cells"][1], 1);
    assert_eq!(
        t["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"]})
    );
    let t = printer("", "configmaps", IncludeObject::Object).one(&obj);
    assert_eq!(t["rows"][0]["object"], obj);
    let t = printer("", "configmaps", IncludeObject::None).one(&obj);
    assert!(t["rows"][0]["object"].is_null());
    assert_eq!(IncludeObject::parse(None).unwrap(), IncludeObject::Metadata);
    assert_eq!(IncludeObject::parse(Some("Bogus")).unwrap_err().code, 400);
    // The default convertor: Name and Created At as RFC 3339.
    let t = printer("policy", "poddisruptionbudgets", IncludeObject::None).one(&obj);
    assert_eq!(t["rows"][0]["cells"], json!(["c", "2025-01-01T00:00:00Z"]));
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
}

#[test]
fn event_cells_of_both_groups() {
    let core = json!({"metadata": {"name": "e1"}, "type": "Warning", "reason": "BackoffLimitExceeded",
        "involvedObject": {"kind": "Job", "name": "j"}, "message": " Job has reached the backoff limit ",
        "source": {"component": "job-controller"},
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:59:00Z", "count": 2});
    assert_eq!(
        event_cells(&core, now()),
        [
            json!("60s"),
            json!("Warning"),
            json!("BackoffLimitExceeded"),
            json!("job/j"),
            json!(""),
            json!("job-controller"),
            json!("Job has reached the backoff limit"),
            json!("60m"),
            json!(2),
            json!("e1"),
        ]
    );
    let v1 = json!({"metadata": {"name": "e2"}, "type": "Normal", "reason": "Started",
        "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"}, "note": "ok",
        "reportingController": "kubelet", "reportingInstance": "node-0",
        "eventTime": "2025-01-01T00:58:00.000000Z"});
    let cells = event_cells(&v1, now());
    assert_eq!(cells[0], "2m");
    assert_eq!(cells[3], "pod/p");
    assert_eq!(cells[4], "spec.containers{c}");
    assert_eq!(cells[5], "kubelet, node-0");
    assert_eq!(cells[6], "ok");
    assert_eq!(cells[8], 1);
}
