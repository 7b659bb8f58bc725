//! Object-meta validation shared by every kind (names, labels, annotations) and the
//! events.k8s.io/v1 rules, with the messages the API server uses.

use serde_json::{Value, json};

use crate::resources::{NameRule, StorageKey};
use crate::status::Cause;

mod job_policy;

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// The limit on all annotations of an object together.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn invalid(field: &str, value: &str, msg: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: \"{value}\": {msg}"),
        field: field.into(),
    }
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// The name part of a qualified name (label keys, reportingController).
fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_name_part(name),
        None => is_qualified_name_part(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

/// Validates `metadata.name` (already generated from generateName) against `rule`.
pub fn name(rule: NameRule, name: &str, causes: &mut Vec<Cause>) {
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
        return;
    }
    let field = "metadata.name";
    match rule {
        NameRule::Subdomain => {
            if !is_dns1123_subdomain(name) {
                causes.push(invalid(field, name, DNS1123_SUBDOMAIN_MSG));
            }
        }
        NameRule::Label => {
            if !is_dns1123_label(name) {
                causes.push(invalid(field, name, DNS1123_LABEL_MSG));
            }
        }
        NameRule::Label1035 => {
            if !is_dns1035_label(name) {
                causes.push(invalid(field, name, DNS1035_LABEL_MSG));
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                causes.push(invalid(field, name, &format!("may not be '{name}'")));
            } else if name.contains('/') || name.contains('%') {
                causes.push(invalid(field, name, "may not contain '/' or '%'"));
            }
        }
    }
}

/// Labels (qualified-name keys, label values) and the total annotation size.
pub fn labels_and_annotations(meta: &Value, causes: &mut Vec<Cause>) {
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                causes.push(invalid(
                    "metadata.labels",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                ));
            }
            match v.as_str() {
                Some(s) if is_label_value(s) => {}
                Some(s) => causes.push(invalid(
                    "metadata.labels",
                    s,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                )),
                None => causes.push(Cause {
                    reason: "FieldValueTypeInvalid".into(),
                    message: "Invalid value: label values must be strings".into(),
                    field: format!("metadata.labels.{k}"),
                }),
            }
        }
    }
    if let Some(ann) = meta["annotations"].as_object() {
        let mut total = 0usize;
        for (k, v) in ann {
            total += k.len() + v.as_str().map(str::len).unwrap_or(0);
            if !is_qualified_name(k) {
                causes.push(invalid(
                    "metadata.annotations",
                    k,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                ));
            }
        }
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            causes.push(Cause {
                reason: "FieldValueTooLong".into(),
                message: format!(
                    "Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
                ),
                field: "metadata.annotations".into(),
            });
        }
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value".into(),
        field: field.into(),
    }
}

/// `field.NotSupported`: the value and the supported ones, each quoted.
fn not_supported(field: &str, value: &str, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|v| format!("\"{v}\"")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: \"{value}\": supported values: {}",
            list.join(", ")
        ),
        field: field.into(),
    }
}

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `IsQualifiedName`'s messages, in its order.
fn qualified_name_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else if !is_dns1123_subdomain(prefix) {
                errs.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    errs
}

fn set(v: &Value) -> bool {
    !v.is_null() && v.as_str() != Some("")
}

/// events.k8s.io/v1 create rules (`ValidateEventCreate` in pkg/apis/core/validation/events.go),
/// on the served shape. The server validates the internal core Event, so the field paths are
/// core's: `involvedObject.namespace`, `message`, `firstTimestamp`, `source`, ...
pub fn events_v1(ev: &Value, causes: &mut Vec<Cause>) {
    let ns = ev["metadata"]["namespace"].as_str().unwrap_or_default();
    let regarding_ns = ev["regarding"]["namespace"].as_str().unwrap_or_default();
    let str_of = |f: &str| ev[f].as_str().unwrap_or_default();
    let event_time_set = set(&ev["eventTime"]);
    let ns_mismatch = |c: &mut Vec<Cause>| {
        c.push(invalid(
            "involvedObject.namespace",
            regarding_ns,
            "does not match event.namespace",
        ));
    };
    // legacyValidateEvent.
    if !event_time_set {
        let ok = if regarding_ns.is_empty() {
            ns.is_empty() || ns == "default"
        } else {
            ns == regarding_ns
        };
        if !ok {
            ns_mismatch(causes);
        }
    } else {
        if regarding_ns.is_empty() && ns != "default" && ns != "kube-system" {
            ns_mismatch(causes);
        }
        let rc = str_of("reportingController");
        if rc.is_empty() {
            causes.push(required("reportingController"));
        }
        for msg in qualified_name_errors(rc) {
            causes.push(invalid("reportingController", rc, &msg));
        }
        for (field, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
            let v = str_of(field);
            if v.is_empty() {
                causes.push(required(field));
            }
            if v.len() > limit {
                causes.push(invalid(
                    field,
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_of("note").len() > 1024 {
            causes.push(invalid("message", "", "can have at most 1024 characters"));
        }
    }
    // The strict events.k8s.io/v1 rules.
    if let Some(series) = ev["series"].as_object() {
        if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            causes.push(invalid("series.count", "", "should be at least 2"));
        }
        if !series.get("lastObservedTime").is_some_and(set) {
            causes.push(required("series.lastObservedTime"));
        }
    }
    if !event_time_set {
        causes.push(required("eventTime"));
    }
    let ty = str_of("type");
    if ty != "Normal" && ty != "Warning" {
        causes.push(invalid("type", "", &format!("has invalid value: {ty}")));
    }
    for (served, field) in [
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
    ] {
        if set(&ev[served]) {
            causes.push(invalid(field, "", "needs to be unset"));
        }
    }
    if ev["deprecatedCount"].as_i64().unwrap_or(0) != 0 {
        causes.push(invalid("count", "", "needs to be unset"));
    }
    let source = &ev["deprecatedSource"];
    if set(&source["component"]) || set(&source["host"]) {
        causes.push(invalid("source", "", "needs to be unset"));
    }
}

/// The per-kind spec rules a create or an update runs.
pub fn kind_rules(storage: &StorageKey, obj: &Value, causes: &mut Vec<Cause>) {
    match (storage.group.as_str(), storage.resource.as_str()) {
        ("batch", "jobs") => job_spec(obj, causes),
        ("batch", "cronjobs") => cronjob_spec(obj, causes),
        _ => {}
    }
}

/// `IsNegativeErrorMsg` for each of `fields` under `path` that is negative.
fn non_negative(obj: &Value, path: &str, fields: &[&str], causes: &mut Vec<Cause>) {
    for f in fields {
        if let Some(n) = obj[*f].as_i64().filter(|n| *n < 0) {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {n}: must be greater than or equal to 0"),
                field: format!("{path}.{f}"),
            });
        }
    }
}

/// `validateJobSpec` (pkg/apis/batch/validation): the counts and durations that must not be
/// negative, and the template's restartPolicy. Runs before defaulting, so a missing
/// restartPolicy counts as the `Always` the pod defaults would give it.
pub fn job_spec(job: &Value, causes: &mut Vec<Cause>) {
    let spec = &job["spec"];
    non_negative(
        spec,
        "spec",
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
        ],
        causes,
    );
    job_policy::rules(spec, causes);
    let field = "spec.template.spec.restartPolicy";
    match spec["template"]["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or_default()
    {
        "" | "Always" => causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: valid values: \"OnFailure\", \"Never\"".into(),
            field: field.into(),
        }),
        rp @ ("OnFailure" | "Never") => job_policy::restart_policy(spec, rp, causes),
        other => {
            // The pod spec's own rule, then the Job's.
            causes.push(not_supported(
                field,
                other,
                &["Always", "OnFailure", "Never"],
            ));
            causes.push(not_supported(field, other, &["OnFailure", "Never"]));
        }
    }
}

/// `IsNegativeErrorMsg` for the CronJob's own counts, and its Job template's rules.
pub fn cronjob_spec(cronjob: &Value, causes: &mut Vec<Cause>) {
    let spec = &cronjob["spec"];
    non_negative(
        spec,
        "spec",
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        causes,
    );
    let template = &spec["jobTemplate"];
    let mut inner = Vec::new();
    job_spec(template, &mut inner);
    causes.extend(inner.into_iter().map(|mut c| {
        c.field = format!("spec.jobTemplate.{}", c.field);
        c
    }));
}

fn immutable(field: &str, value: Option<&Value>) -> Cause {
    let shown = match value {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => format!("\"{s}\""),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        // Go prints the internal struct here (`%#v`); kubesim names it.
        Some(_) => "\"object\"".to_string(),
    };
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: field is immutable"),
        field: field.into(),
    }
}

/// The old template with the scheduling directives a suspended Job that never started may
/// change (`validatePodTemplateUpdate`) taken from the new one.
fn with_scheduling_directives(old: &Value, new: &Value) -> Value {
    let mut out = old.clone();
    let take = |out: &mut Value, path: &[&str]| {
        let src = path.iter().fold(new, |v, k| &v[*k]);
        let (last, parents) = path.split_last().expect("a path");
        let dst = parents.iter().fold(&mut *out, |v, k| &mut v[*k]);
        if dst.is_null() {
            *dst = json!({});
        }
        if let Some(m) = dst.as_object_mut() {
            m.insert((*last).to_string(), src.clone());
        }
    };
    let new_aff = &new["spec"]["affinity"];
    let old_aff = &old["spec"]["affinity"];
    match (new_aff.is_object(), old_aff.is_object()) {
        (false, true) => {
            // Clearing affinity is allowed when node affinity was all it had.
            if let Some(m) = out["spec"]["affinity"].as_object_mut() {
                m.remove("nodeAffinity");
                if m.is_empty() {
                    out["spec"].as_object_mut().map(|s| s.remove("affinity"));
                }
            }
        }
        (true, false) => {
            out["spec"]["affinity"] = json!({});
            take(&mut out, &["spec", "affinity", "nodeAffinity"]);
        }
        (true, true) => take(&mut out, &["spec", "affinity", "nodeAffinity"]),
        (false, false) => {}
    }
    for path in [
        &["spec", "nodeSelector"][..],
        &["spec", "tolerations"],
        &["metadata", "annotations"],
        &["metadata", "labels"],
        &["spec", "schedulingGates"],
    ] {
        take(&mut out, path);
    }
    out
}

/// Without nulls and empty objects or lists: Go's semantic equality counts an empty map or
/// slice as equal to a missing one.
fn pruned(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), pruned(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(pruned).collect()),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `ValidateJobSpecUpdate`'s immutable fields, in its order. A suspended Job that never started
/// may change its template's scheduling directives (nodeSelector, tolerations, node affinity,
/// labels, annotations, schedulingGates) and nothing else of it.
pub fn job_immutable(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let mutable_directives =
        old["spec"]["suspend"].as_bool() == Some(true) && !set(&old["status"]["startTime"]);
    let indexed = old["spec"]["completionMode"] == "Indexed";
    for field in [
        "completions",
        "selector",
        "template",
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let (o, n) = (old["spec"].get(field), new["spec"].get(field));
        let changed = match field {
            "completions" if indexed => false,
            "template" if mutable_directives => {
                let (o, n) = (
                    o.cloned().unwrap_or(Value::Null),
                    n.cloned().unwrap_or(Value::Null),
                );
                pruned(&with_scheduling_directives(&o, &n)) != pruned(&n)
            }
            _ => o != n,
        };
        if changed {
            causes.push(immutable(&format!("spec.{field}"), n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        let mut c = Vec::new();
        name(NameRule::Subdomain, "a.b-c", &mut c);
        name(NameRule::PathSegment, "system:controller", &mut c);
        assert!(c.is_empty());
        name(NameRule::Subdomain, "Bad_Name", &mut c);
        name(NameRule::Label, "a.b", &mut c);
        name(NameRule::Label1035, "1abc", &mut c);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn labels() {
        let mut c = Vec::new();
        labels_and_annotations(
            &json!({"labels": {"app.kubernetes.io/name": "x", "ok": ""}}),
            &mut c,
        );
        assert!(c.is_empty());
        labels_and_annotations(&json!({"labels": {"a": "has space"}}), &mut c);
        assert_eq!(c.len(), 1);
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT + 1);
        labels_and_annotations(&json!({"annotations": {"a": big}}), &mut c);
        assert_eq!(c.len(), 2);
    }

    fn fields(c: &[Cause]) -> Vec<(&str, &str)> {
        c.iter()
            .map(|c| (c.field.as_str(), c.message.as_str()))
            .collect()
    }

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "j"}, "spec": spec})
    }

    #[test]
    fn job_restart_policy_must_be_never_or_on_failure() {
        let required = [(
            "spec.template.spec.restartPolicy",
            "Required value: valid values: \"OnFailure\", \"Never\"",
        )];
        for rp in [json!(null), json!("Always")] {
            let mut c = Vec::new();
            job_spec(
                &job(json!({"template": {"spec": {"restartPolicy": rp}}})),
                &mut c,
            );
            assert_eq!(fields(&c), required, "{rp}");
            assert_eq!(c[0].reason, "FieldValueRequired");
        }
        let mut c = Vec::new();
        job_spec(
            &job(json!({"template": {"spec": {"restartPolicy": "Sometimes"}}})),
            &mut c,
        );
        assert_eq!(
            fields(&c),
            [
                (
                    "spec.template.spec.restartPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
                ),
                (
                    "spec.template.spec.restartPolicy",
                    "Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\""
                ),
            ]
        );
        for rp in ["Never", "OnFailure"] {
            let mut c = Vec::new();
            job_spec(
                &job(json!({"template": {"spec": {"restartPolicy": rp}}})),
                &mut c,
            );
            assert!(c.is_empty(), "{rp}: {c:?}");
        }
    }

    #[test]
    fn job_counts_must_not_be_negative() {
        let mut c = Vec::new();
        job_spec(
            &job(
                json!({"parallelism": 1, "activeDeadlineSeconds": -5, "backoffLimit": -1,
                        "ttlSecondsAfterFinished": 0,
                        "template": {"spec": {"restartPolicy": "Never"}}}),
            ),
            &mut c,
        );
        assert_eq!(
            fields(&c),
            [
                (
                    "spec.activeDeadlineSeconds",
                    "Invalid value: -5: must be greater than or equal to 0"
                ),
                (
                    "spec.backoffLimit",
                    "Invalid value: -1: must be greater than or equal to 0"
                ),
            ]
        );
        let mut c = Vec::new();
        cronjob_spec(
            &json!({"spec": {"failedJobsHistoryLimit": -1, "jobTemplate": {"spec": {
                "template": {"spec": {"restartPolicy": "Always"}}}}}}),
            &mut c,
        );
        assert_eq!(
            c.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            [
                "spec.failedJobsHistoryLimit",
                "spec.jobTemplate.spec.template.spec.restartPolicy"
            ]
        );
    }

    fn suspended(started: bool) -> Value {
        json!({
            "spec": {"suspend": true, "completions": 1, "template": {
                "metadata": {"labels": {"a": "1"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}],
                         "affinity": {"podAffinity": {"x": 1}}}}},
            "status": if started { json!({"startTime": "2025-01-01T00:00:00Z"}) } else { json!({}) }
        })
    }

    #[test]
    fn a_suspended_job_that_never_started_may_change_only_scheduling_directives() {
        let old = suspended(false);
        let mut directives = old.clone();
        let t = &mut directives["spec"]["template"];
        t["metadata"]["labels"] = json!({"b": "2"});
        t["metadata"]["annotations"] = json!({"k": "v"});
        t["spec"]["nodeSelector"] = json!({"zone": "a"});
        t["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        t["spec"]["schedulingGates"] = json!([{"name": "g"}]);
        t["spec"]["affinity"]["nodeAffinity"] =
            json!({"requiredDuringSchedulingIgnoredDuringExecution": {}});
        let mut c = Vec::new();
        job_immutable(&old, &directives, &mut c);
        assert!(c.is_empty(), "{c:?}");

        let mut image = old.clone();
        image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        let mut pod_affinity = old.clone();
        pod_affinity["spec"]["template"]["spec"]["affinity"] = json!({"podAffinity": {"y": 2}});
        for changed in [image, pod_affinity] {
            let mut c = Vec::new();
            job_immutable(&old, &changed, &mut c);
            assert_eq!(
                fields(&c),
                [(
                    "spec.template",
                    "Invalid value: \"object\": field is immutable"
                )]
            );
        }

        // Once it has started, even the directives are fixed; so is any running Job.
        for old in [suspended(true), {
            let mut r = suspended(false);
            r["spec"]["suspend"] = json!(false);
            r
        }] {
            let mut new = old.clone();
            new["spec"]["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
            let mut c = Vec::new();
            job_immutable(&old, &new, &mut c);
            assert_eq!(c.len(), 1, "{c:?}");
        }

        let mut completions = old.clone();
        completions["spec"]["completions"] = json!(3);
        let mut c = Vec::new();
        job_immutable(&old, &completions, &mut c);
        assert_eq!(
            fields(&c),
            [("spec.completions", "Invalid value: 3: field is immutable")]
        );
    }

    fn event(extra: Value) -> Value {
        let mut e = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "eventTime": "2025-01-01T00:00:00.000000Z", "type": "Normal",
            "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
            "action": "Terminate", "reason": "Terminated", "note": "n",
            "regarding": {"kind": "Job", "namespace": "ns", "name": "j"}
        });
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    }

    #[test]
    fn events_v1_rules_as_the_api_server_gives_them() {
        let mut c = Vec::new();
        events_v1(&event(json!({})), &mut c);
        assert!(c.is_empty(), "{c:?}");
        // A mismatched namespace is accepted once eventTime is set, as in events.go.
        events_v1(&event(json!({"regarding": {"namespace": "other"}})), &mut c);
        assert!(c.is_empty(), "{c:?}");

        events_v1(
            &event(
                json!({"reportingInstance": "", "regarding": {"kind": "Job", "name": "j"},
                          "note": "x".repeat(1025), "deprecatedCount": 2}),
            ),
            &mut c,
        );
        assert_eq!(
            fields(&c),
            [
                (
                    "involvedObject.namespace",
                    "Invalid value: \"\": does not match event.namespace"
                ),
                ("reportingInstance", "Required value"),
                (
                    "message",
                    "Invalid value: \"\": can have at most 1024 characters"
                ),
                ("count", "Invalid value: \"\": needs to be unset"),
            ]
        );

        let mut c = Vec::new();
        events_v1(
            &event(json!({"reportingController": "", "action": "", "series": {"count": 1}})),
            &mut c,
        );
        assert_eq!(
            c.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            [
                "reportingController",
                "reportingController",
                "reportingController",
                "action",
                "series.count",
                "series.lastObservedTime"
            ]
        );
        assert_eq!(
            c[1].message,
            "Invalid value: \"\": name part must be non-empty"
        );

        // Without eventTime the legacy namespace rule applies, and eventTime is required.
        let mut c = Vec::new();
        events_v1(
            &event(json!({"eventTime": null, "regarding": {"namespace": "other"}})),
            &mut c,
        );
        assert_eq!(
            c.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            ["involvedObject.namespace", "eventTime"]
        );
    }
}
