//! Create-time defaults of built-in kinds (the API server's defaulting and `PrepareForCreate`),
//! applied to the stored shape. Only missing fields are filled in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

fn obj(v: &mut Value) -> Option<&mut Map<String, Value>> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

fn default(m: &mut Map<String, Value>, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_string(), v);
    }
}

/// Pod spec defaults, for Pods and pod templates.
pub fn pod_spec(spec: &mut Value) {
    let Some(m) = obj(spec) else { return };
    default(m, "restartPolicy", json!("Always"));
    default(m, "terminationGracePeriodSeconds", json!(30));
    default(m, "dnsPolicy", json!("ClusterFirst"));
    default(m, "schedulerName", json!("default-scheduler"));
    default(m, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = m.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
                let last = image.rsplit('/').next().unwrap_or_default();
                let pull = if !last.contains(':') || last.ends_with(":latest") {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                default(c, "imagePullPolicy", json!(pull));
                default(c, "terminationMessagePath", json!("/dev/termination-log"));
                default(c, "terminationMessagePolicy", json!("File"));
                default(c, "resources", json!({}));
            }
        }
    }
}

/// Secrets: `stringData` is write-only and merged into `data` on every write.
pub fn secret_string_data(o: &mut Value) {
    let Some(m) = o.as_object_mut() else { return };
    let Some(Value::Object(sd)) = m.remove("stringData") else {
        return;
    };
    let data = m.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in sd {
            let s = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            d.insert(k, json!(BASE64.encode(s)));
        }
    }
}

/// Defaulting of `group`/`kind` that runs on every write (the API server's `SetDefaults_*`).
pub fn on_write(group: &str, kind: &str, o: &mut Value) {
    match (group, kind) {
        ("", "Pod") => pod_spec(&mut o["spec"]),
        ("", "Secret") => {
            if let Some(m) = o.as_object_mut() {
                default(m, "type", json!("Opaque"));
            }
            secret_string_data(o);
        }
        ("", "Service") => {
            if let Some(spec) = obj(&mut o["spec"]) {
                default(spec, "type", json!("ClusterIP"));
                default(spec, "sessionAffinity", json!("None"));
                if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        default(p, "protocol", json!("TCP"));
                        if let Some(port) = p.get("port").cloned() {
                            default(p, "targetPort", port);
                        }
                    }
                }
            }
        }
        ("batch", "Job") => job_defaults(o),
        ("batch", "CronJob") => {
            if let Some(spec) = obj(&mut o["spec"]) {
                default(spec, "concurrencyPolicy", json!("Allow"));
                default(spec, "suspend", json!(false));
                default(spec, "successfulJobsHistoryLimit", json!(3));
                default(spec, "failedJobsHistoryLimit", json!(1));
            }
            pod_spec(&mut o["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
        }
        ("apps", "Deployment") => {
            if let Some(spec) = obj(&mut o["spec"]) {
                default(spec, "replicas", json!(1));
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "progressDeadlineSeconds", json!(600));
                default(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
            }
            pod_spec(&mut o["spec"]["template"]["spec"]);
        }
        _ => {}
    }
}

/// Defaults for a new object of `group`/`kind` whose uid is already set: [`on_write`] plus
/// what `PrepareForCreate` does.
pub fn on_create(group: &str, kind: &str, o: &mut Value) {
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = o["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match (group, kind) {
        ("", "Namespace") => {
            if let Some(spec) = obj(&mut o["spec"]) {
                default(spec, "finalizers", json!(["kubernetes"]));
            }
            o["status"] = json!({"phase": "Active"});
            if let Some(labels) = obj(&mut o["metadata"]["labels"]) {
                labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
        ("", "Pod") => o["status"] = json!({"phase": "Pending"}),
        ("", "Service") => o["status"] = json!({"loadBalancer": {}}),
        ("batch", "Job") => job_selector(o, &name, &uid),
        _ => {}
    }
    on_write(group, kind, o);
}

/// Job spec defaults (`SetDefaults_Job`).
fn job_defaults(o: &mut Value) {
    let Some(spec) = obj(&mut o["spec"]) else {
        return;
    };
    if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
        spec.insert("completions".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if spec.get("backoffLimitPerIndex").is_some() {
        json!(i32::MAX)
    } else {
        json!(6)
    };
    default(spec, "backoffLimit", backoff);
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let replacement = if spec.get("podFailurePolicy").is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    // A podFailurePolicy pattern without a status (or with "", as typed clients send it)
    // matches `True`.
    let rules = spec
        .get_mut("podFailurePolicy")
        .and_then(|p| p.get_mut("rules"))
        .and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        let patterns = rule
            .get_mut("onPodConditions")
            .and_then(Value::as_array_mut);
        for pattern in patterns
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if pattern
                .get("status")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                pattern.insert("status".into(), json!("True"));
            }
        }
    }
    pod_spec(&mut o["spec"]["template"]["spec"]);
}

/// The generated selector (`batch.kubernetes.io/controller-uid`) and the Job's labels.
fn job_selector(o: &mut Value, name: &str, uid: &str) {
    let manual = o["spec"]["manualSelector"].as_bool() == Some(true);
    if !manual {
        o["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        if let Some(labels) = obj(&mut o["spec"]["template"]["metadata"]["labels"]) {
            for (k, v) in [
                ("batch.kubernetes.io/controller-uid", uid),
                ("batch.kubernetes.io/job-name", name),
                ("controller-uid", uid),
                ("job-name", name),
            ] {
                labels.insert(k.into(), json!(v));
            }
        }
    }
    let has_labels = o["metadata"]["labels"]
        .as_object()
        .is_some_and(|l| !l.is_empty());
    if !has_labels && let Some(tl) = o["spec"]["template"]["metadata"]["labels"].as_object() {
        o["metadata"]["labels"] = Value::Object(tl.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_gets_selector_and_defaults() {
        let mut j = json!({"metadata": {"name": "j", "uid": "u1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}}});
        on_create("batch", "Job", &mut j);
        assert_eq!(j["spec"]["backoffLimit"], 6);
        assert_eq!(
            j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        assert_eq!(j["spec"]["template"]["metadata"]["labels"]["job-name"], "j");
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(
            j["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(j["metadata"]["labels"]["job-name"], "j");
    }
}
