//! Object-meta validation shared by every kind (names, labels, annotations) and the
//! events.k8s.io/v1 rules, with the messages the API server uses.

use serde_json::Value;

use crate::resources::NameRule;
use crate::status::Cause;

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

/// events.k8s.io/v1 create rules (`ValidateEventCreate`), on the served shape.
pub fn events_v1(ev: &Value, causes: &mut Vec<Cause>) {
    if ev["eventTime"].as_str().unwrap_or_default().is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "eventTime".into(),
        });
    }
    let ty = ev["type"].as_str().unwrap_or_default();
    if ty != "Normal" && ty != "Warning" {
        causes.push(invalid("type", "", &format!("has invalid value: {ty}")));
    }
    let rc = ev["reportingController"].as_str().unwrap_or_default();
    if !is_qualified_name(rc) {
        causes.push(invalid(
            "reportingController",
            rc,
            "name part must be non-empty and consist of alphanumeric characters, '-', '_' or '.'",
        ));
    }
    if ev["reportingInstance"].as_str().unwrap_or_default().len() > 128 {
        causes.push(invalid(
            "reportingInstance",
            "",
            "can have at most 128 characters",
        ));
    }
    for (field, limit) in [("action", 128), ("reason", 128)] {
        let s = ev[field].as_str().unwrap_or_default();
        if s.is_empty() || s.len() > limit {
            causes.push(invalid(
                field,
                "",
                &format!("can have at most {limit} characters"),
            ));
        }
    }
    if ev["note"].as_str().unwrap_or_default().len() > 1024 {
        causes.push(invalid("note", "", "can have at most 1024 characters"));
    }
}

/// The Job spec fields Kubernetes refuses to change (`spec.template` may change while the Job
/// is suspended).
pub fn job_immutable(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let suspended = old["spec"]["suspend"].as_bool() == Some(true);
    let indexed = old["spec"]["completionMode"] == "Indexed";
    for field in [
        "selector",
        "template",
        "completionMode",
        "completions",
        "manualSelector",
        "podFailurePolicy",
        "backoffLimitPerIndex",
    ] {
        let exempt = (field == "template" && suspended) || (field == "completions" && indexed);
        if !exempt && old["spec"].get(field) != new["spec"].get(field) {
            causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: \"object\": field is immutable".into(),
                field: format!("spec.{field}"),
            });
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
}
