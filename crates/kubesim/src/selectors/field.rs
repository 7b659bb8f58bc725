//! Field selectors (apimachinery fields/selector.go) and the fields each kind can be selected
//! by (the registries' `GetAttrs` / selectable fields).

use serde_json::Value;

use super::{Error, Result, scalar_string};

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRequirement {
    /// The field as the client wrote it, e.g. `regarding.name`.
    pub field: String,
    /// Whether the term is `!=`.
    pub negated: bool,
    /// The unescaped value.
    pub value: String,
}

/// A parsed `fieldSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses as apimachinery's `fields.ParseSelector`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(Error::Parse(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                negated: op == "!=",
                value,
            });
        }
        Ok(Self { terms })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The name when the selector pins `metadata.name=X` (kubectl/helm waits use this).
    pub fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.negated && t.field == "metadata.name")
            .map(|t| t.value.as_str())
    }

    /// Rejects fields Kubernetes does not support for `group`/`resource` (plural), as a 400 would.
    pub fn check_supported(&self, group: &str, resource: &str) -> Result<()> {
        let supported = supported_fields(group, resource);
        for t in &self.terms {
            let ok = t.field == "metadata.name"
                || t.field == "metadata.namespace"
                || supported.contains(&t.field.as_str());
            if !ok {
                return Err(Error::UnsupportedField(t.field.clone()));
            }
        }
        Ok(())
    }

    /// Evaluates on the stored JSON object. A missing field reads as `""`; booleans and
    /// numbers compare as their string form. Fields whose value the API server computes
    /// (a pod's `spec.hostNetwork`, a job's `status.successful`, an event's `source`, the
    /// events.k8s.io names) are computed the same way.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| {
            let have = field_value(object, &t.field);
            (have == t.value) != t.negated
        })
    }
}

/// The fields beyond `metadata.name`/`metadata.namespace` that Kubernetes 1.33 accepts in a
/// field selector for `group`/`resource`.
pub fn supported_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
            // Old v1 clients' name for spec.nodeName.
            "spec.host",
        ],
        ("", "events") | ("events.k8s.io", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

/// The value the API server's selectable-fields set would hold for `field`.
fn field_value(object: &Value, field: &str) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match field {
        "spec.host" => path_string(object, "spec.nodeName"),
        "spec.hostNetwork" | "spec.unschedulable" => {
            let v = path_value(object, field);
            match v {
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => scalar_string(other),
                None => "false".to_string(),
            }
        }
        "status.successful" if kind == "Job" || kind.is_empty() => {
            match path_value(object, "status.succeeded") {
                Some(v) if !v.is_null() => scalar_string(v),
                _ => "0".to_string(),
            }
        }
        "status.podIP" if kind == "Pod" || kind.is_empty() => {
            match path_value(object, "status.podIPs.0.ip") {
                Some(v) => scalar_string(v),
                None => path_string(object, "status.podIP"),
            }
        }
        // The API server's field set has no such key, so it always reads "".
        "status.podIPs" => String::new(),
        "reportingComponent" | "reportingController" => {
            first_nonempty(object, &["reportingComponent", "reportingController"])
        }
        "source" => {
            let s = first_nonempty(object, &["source.component", "deprecatedSource.component"]);
            if s.is_empty() {
                first_nonempty(object, &["reportingComponent", "reportingController"])
            } else {
                s
            }
        }
        _ => {
            if let Some(rest) = field
                .strip_prefix("involvedObject.")
                .or_else(|| field.strip_prefix("regarding."))
            {
                return first_nonempty(
                    object,
                    &[
                        &format!("involvedObject.{rest}"),
                        &format!("regarding.{rest}"),
                    ],
                );
            }
            path_string(object, field)
        }
    }
}

fn first_nonempty(object: &Value, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| path_string(object, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

fn path_value<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = object;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => return None,
        };
    }
    Some(cur)
}

fn path_string(object: &Value, path: &str) -> String {
    path_value(object, path)
        .map(scalar_string)
        .unwrap_or_default()
}

/// Splits on commas not escaped by a backslash; the backslashes stay.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator occurrence splits the term; the left side has no escaping.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(Error::Parse(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(Error::Parse(format!(
                    "invalid field selector: unescaped character in value: {c}"
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(Error::Parse(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Escapes a value for use in a field selector (`fields.EscapeValue`).
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
