//! The cells of the built-in printers (`printers.go`'s `print*` functions) and the helpers they
//! share.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub(super) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

pub(super) fn or_none(v: &str) -> &str {
    if v.is_empty() { "<none>" } else { v }
}

pub(super) fn len(v: &Value) -> i64 {
    v.as_array().map_or(0, |a| a.len() as i64)
}

pub(super) fn count(v: &Value) -> i64 {
    v.as_object().map_or(0, |m| m.len() as i64)
}

pub(super) fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `translateTimestampSince`: a human duration, or `<unknown>` for no timestamp.
pub(super) fn since(v: &Value, now: DateTime<Utc>) -> String {
    match time(v) {
        Some(t) => human_duration((now - t).num_seconds()),
        None => "<unknown>".to_string(),
    }
}

/// apimachinery's `duration.HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let sec = seconds % 60;
        return if sec == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{sec}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The READY, STATUS and RESTARTS of a pod, as `printPod` computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    pub ready: usize,
    pub total: usize,
    pub reason: String,
    pub restarts: String,
}

pub(super) fn restartable_init(pod: &Value, name: &str) -> bool {
    pod["spec"]["initContainers"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    })
}

pub(super) fn condition_true(pod: &Value, ty: &str) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

pub(super) fn terminated_reason(t: &Value, prefix: &str) -> String {
    match t["reason"].as_str().filter(|r| !r.is_empty()) {
        Some(r) => format!("{prefix}{r}"),
        None => match t["signal"].as_i64().filter(|s| *s != 0) {
            Some(sig) => format!("{prefix}Signal:{sig}"),
            None => format!("{prefix}ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
        },
    }
}

/// `printPod`'s status computation (Kubernetes 1.33).
pub fn pod_summary(pod: &Value, now: DateTime<Utc>) -> PodSummary {
    let spec = &pod["spec"];
    let st = &pod["status"];
    let inits = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = len(&spec["containers"]) as usize
        + inits
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
    let mut ready = 0;
    let phase = s(&st["phase"]);
    let mut reason = match s(&st["reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if st["conditions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    }) {
        reason = "SchedulingGated".to_string();
    }
    let mut restarts = 0;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut sidecar_restarts = 0;
    let mut sidecar_last: Option<DateTime<Utc>> = None;
    let later = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    };
    let mut initializing = false;
    let init_statuses = st["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, c) in init_statuses.iter().enumerate() {
        let n = c["restartCount"].as_i64().unwrap_or(0);
        restarts += n;
        let finished = time(&c["lastState"]["terminated"]["finishedAt"]);
        last_restart = later(last_restart, finished);
        let name = s(&c["name"]);
        let sidecar = restartable_init(pod, name);
        if sidecar {
            sidecar_restarts += n;
            sidecar_last = later(sidecar_last, finished);
        }
        let term = &c["state"]["terminated"];
        let waiting = s(&c["state"]["waiting"]["reason"]);
        if term.is_object() && term["exitCode"].as_i64().unwrap_or(0) == 0 {
            continue;
        }
        if sidecar && c["started"].as_bool() == Some(true) {
            if c["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if term.is_object() {
            terminated_reason(term, "Init:")
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{i}/{}", inits.len())
        };
        initializing = true;
        break;
    }
    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last;
        let mut has_running = false;
        let statuses = st["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in statuses.iter().rev() {
            restarts += c["restartCount"].as_i64().unwrap_or(0);
            last_restart = later(
                last_restart,
                time(&c["lastState"]["terminated"]["finishedAt"]),
            );
            let state = &c["state"];
            let waiting = s(&state["waiting"]["reason"]);
            let term = &state["terminated"];
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if term.is_object() {
                reason = terminated_reason(term, "");
            } else if c["ready"].as_bool() == Some(true) && state["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }
    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    if deleting && s(&st["reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }
    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration((now - t).num_seconds())
        ),
        _ => restarts.to_string(),
    };
    PodSummary {
        ready,
        total,
        reason,
        restarts,
    }
}

pub(super) fn readiness_gates(pod: &Value) -> String {
    let Some(gates) = pod["spec"]["readinessGates"]
        .as_array()
        .filter(|a| !a.is_empty())
    else {
        return "<none>".to_string();
    };
    let conds = pod["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ok = gates
        .iter()
        .filter(|g| {
            conds
                .iter()
                .find(|c| c["type"] == g["conditionType"])
                .is_some_and(|c| c["status"] == "True")
        })
        .count();
    format!("{ok}/{}", gates.len())
}

pub(super) fn job_status(job: &Value) -> &'static str {
    let has = |ty: &str| {
        job["status"]["conditions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["type"] == ty && c["status"] == "True"))
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if !job["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

pub(super) fn job_completions(job: &Value) -> String {
    let succeeded = job["status"]["succeeded"].as_i64().unwrap_or(0);
    match job["spec"]["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match job["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    }
}

pub(super) fn job_duration(job: &Value, now: DateTime<Utc>) -> String {
    let st = &job["status"];
    match (time(&st["startTime"]), time(&st["completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration((now - start).num_seconds()),
        (Some(start), Some(end)) => human_duration((end - start).num_seconds()),
    }
}

/// `layoutContainerCells`: container names and images, comma-separated.
pub(super) fn containers(template: &Value) -> (String, String) {
    let cs = template["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names = cs.iter().map(|c| s(&c["name"])).collect::<Vec<_>>();
    let images = cs.iter().map(|c| s(&c["image"])).collect::<Vec<_>>();
    (names.join(","), images.join(","))
}

/// `metav1.FormatLabelSelector`.
pub(super) fn label_selector(sel: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel["matchLabels"].as_object() {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", s(v))));
        }
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let k = s(&e["key"]).to_string();
        let mut vals: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        vals.sort_unstable();
        let r = match s(&e["operator"]) {
            "In" => format!("{k} in ({})", vals.join(",")),
            "NotIn" => format!("{k} notin ({})", vals.join(",")),
            "Exists" => k.clone(),
            "DoesNotExist" => format!("!{k}"),
            other => format!("{k} {other}"),
        };
        reqs.push((k, r));
    }
    reqs.sort();
    if reqs.is_empty() {
        "<none>".to_string()
    } else {
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub(super) fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let st = &o["status"];
    let mut status = Vec::new();
    if let Some(c) = st["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Ready"))
    {
        status.push(if c["status"] == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if o["spec"]["unschedulable"].as_bool() == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    for (k, v) in o["metadata"]["labels"].as_object().into_iter().flatten() {
        if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
            if !r.is_empty() {
                roles.insert(r.to_string());
            }
        } else if k == "kubernetes.io/role" && !s(v).is_empty() {
            roles.insert(s(v).to_string());
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let addr = |ty: &str| {
        st["addresses"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["type"] == ty))
            .map_or("<none>".to_string(), |x| s(&x["address"]).to_string())
    };
    let info = &st["nodeInfo"];
    let unknown = |v: &Value| match s(v) {
        "" => "<unknown>".to_string(),
        x => x.to_string(),
    };
    vec![
        name,
        json!(status.join(",")),
        json!(or_none(&roles)),
        age,
        json!(s(&info["kubeletVersion"])),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(unknown(&info["osImage"])),
        json!(unknown(&info["kernelVersion"])),
        json!(unknown(&info["containerRuntimeVersion"])),
    ]
}

/// `printEvent`, for core/v1 and events.k8s.io/v1 shapes.
pub(super) fn event_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let pick = |a: &str, b: &str| -> Value {
        match &o[a] {
            Value::Null => o[b].clone(),
            v => v.clone(),
        }
    };
    let first_ts = pick("firstTimestamp", "deprecatedFirstTimestamp");
    let last_ts = pick("lastTimestamp", "deprecatedLastTimestamp");
    let first = match time(&first_ts) {
        Some(_) => since(&first_ts, now),
        None => since(&o["eventTime"], now),
    };
    let mut last = match time(&last_ts) {
        Some(_) => since(&last_ts, now),
        None => first.clone(),
    };
    let mut count = pick("count", "deprecatedCount").as_i64().unwrap_or(0);
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"], now);
        count = o["series"]["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let involved = pick("involvedObject", "regarding");
    let kind = s(&involved["kind"]).to_lowercase();
    let target = match s(&involved["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = pick("source", "deprecatedSource");
    let component = match s(&source["component"]) {
        "" => s(&o["reportingController"]).to_string(),
        c => c.to_string(),
    };
    let host = match s(&source["host"]) {
        "" => s(&o["reportingInstance"]).to_string(),
        h => h.to_string(),
    };
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    let message = pick("message", "note");
    vec![
        json!(last),
        json!(s(&o["type"])),
        json!(s(&o["reason"])),
        json!(target),
        json!(s(&involved["fieldPath"])),
        json!(source),
        json!(s(&message).trim()),
        json!(first),
        json!(count),
        json!(s(&o["metadata"]["name"])),
    ]
}

pub(super) fn service_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let spec = &o["spec"];
    let ty = s(&spec["type"]);
    let cluster_ip = spec["clusterIPs"][0]
        .as_str()
        .or(spec["clusterIP"].as_str())
        .unwrap_or("<none>");
    let external: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| s(v).to_string())
        .collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" | "" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| match s(&i["ip"]) {
                    "" => s(&i["hostname"]).to_string(),
                    ip => ip.to_string(),
                })
                .collect();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(&spec["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            let port = p["port"].as_i64().unwrap_or(0);
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(n) => format!("{port}:{n}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let selector = match spec["selector"].as_object().filter(|m| !m.is_empty()) {
        Some(m) => {
            let mut kv: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
            kv.sort();
            kv.join(",")
        }
        None => "<none>".to_string(),
    };
    vec![
        name,
        json!(ty),
        json!(cluster_ip),
        json!(external_ip),
        json!(or_none(&ports)),
        age,
        json!(selector),
    ]
}
