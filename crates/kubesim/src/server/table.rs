//! `meta.k8s.io/v1` Table responses (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as
//! `kubectl get` asks for them. Cells are rendered on the server, as Kubernetes 1.33 does:
//! built-in kinds follow `pkg/printers/internalversion/printers.go` (always the wide cells; the
//! client hides `priority` columns), custom resources their version's
//! `additionalPrinterColumns`, and everything else the default convertor (Name, Created At).

use std::collections::BTreeSet;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::resources::{Gvr, ResourceInfo};
use crate::status::{Error, Result};
use crate::store::Store;

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The Table version the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1beta1,
}

impl TableVersion {
    fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1beta1 => "meta.k8s.io/v1beta1",
        }
    }

    /// The response Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            TableVersion::V1 => "application/json;as=Table;v=v1;g=meta.k8s.io",
            TableVersion::V1beta1 => "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
        }
    }
}

/// The first acceptable media type of `Accept` that is a JSON Table, if it comes before any
/// plain JSON one (a client preferring plain JSON gets plain JSON).
pub fn wanted(headers: &HeaderMap) -> Option<TableVersion> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default();
        let (mut as_, mut g, mut v) = ("", "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => as_ = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        match (base, as_, g, v) {
            ("application/json", "Table", "meta.k8s.io", "v1") => return Some(TableVersion::V1),
            ("application/json", "Table", "meta.k8s.io", "v1beta1") => {
                return Some(TableVersion::V1beta1);
            }
            ("application/json" | "*/*" | "application/*", "", _, _) => return None,
            _ => {}
        }
    }
    None
}

/// `includeObject`: what each row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(q: Option<&str>) -> Result<Self> {
        match q {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(Error::bad_request(format!(
                "unrecognized includeObject value: \"{other}\""
            ))),
        }
    }
}

/// A CRD's printer column: a simple `.a.b` JSONPath.
#[derive(Debug, Clone, PartialEq)]
struct CustomColumn {
    path: Vec<String>,
    ty: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Pod,
    Job,
    CronJob,
    Deployment,
    Namespace,
    Node,
    Event,
    Service,
    ConfigMap,
    Secret,
    ServiceAccount,
    Lease,
    Custom(Vec<CustomColumn>),
    Default,
}

/// How one resource renders as a Table.
#[derive(Debug, Clone)]
pub struct Printer {
    kind: Kind,
    columns: Vec<Value>,
    version: TableVersion,
    include: IncludeObject,
}

fn col(name: &str, ty: &str, priority: i64, description: &str) -> Value {
    json!({"name": name, "type": ty, "format": "", "description": description, "priority": priority})
}

fn name_col() -> Value {
    json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0})
}

fn age_col() -> Value {
    col("Age", "string", 0, CREATED_DESC)
}

fn workload_wide(selector_desc: &str) -> [Value; 3] {
    [
        col(
            "Containers",
            "string",
            1,
            "Names of each container in the template.",
        ),
        col(
            "Images",
            "string",
            1,
            "Images referenced by each container in the template.",
        ),
        col("Selector", "string", 1, selector_desc),
    ]
}

/// The CRD columns of `info`'s version: NAME, then `additionalPrinterColumns` (an Age column
/// when the CRD lists none, as the apiextensions server defaults it).
fn custom_columns(store: &Store, info: &ResourceInfo) -> (Vec<Value>, Vec<CustomColumn>) {
    let crd = store
        .get(
            &Gvr::crds(),
            None,
            &format!("{}.{}", info.plural, info.group),
        )
        .unwrap_or(Value::Null);
    let listed = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == info.version.as_str()))
        .and_then(|v| v["additionalPrinterColumns"].as_array())
        .cloned()
        .unwrap_or_default();
    let listed = if listed.is_empty() {
        vec![
            json!({"name": "Age", "type": "date", "description": CREATED_DESC,
            "jsonPath": ".metadata.creationTimestamp"}),
        ]
    } else {
        listed
    };
    let mut defs = vec![name_col()];
    let mut cols = Vec::new();
    for c in &listed {
        let path = c["jsonPath"].as_str().unwrap_or_default();
        let ty = c["type"].as_str().unwrap_or("string").to_string();
        let desc = c["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(String::from)
            .unwrap_or_else(|| {
                format!("Custom resource definition column (in JSONPath format): {path}")
            });
        defs.push(json!({
            "name": c["name"].as_str().unwrap_or_default(),
            "type": ty,
            "format": c["format"].as_str().unwrap_or_default(),
            "description": desc,
            "priority": c["priority"].as_i64().unwrap_or(0),
        }));
        cols.push(CustomColumn {
            path: path
                .trim_start_matches('.')
                .split('.')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            ty,
        });
    }
    (defs, cols)
}

impl Printer {
    /// The printer for `info`'s resource.
    pub fn new(
        store: &Store,
        info: &ResourceInfo,
        version: TableVersion,
        include: IncludeObject,
    ) -> Self {
        let (kind, columns) = if info.custom {
            let (defs, cols) = custom_columns(store, info);
            (Kind::Custom(cols), defs)
        } else {
            builtin(&info.group, &info.plural)
        };
        Printer {
            kind,
            columns,
            version,
            include,
        }
    }

    /// The response Content-Type.
    pub fn content_type(&self) -> &'static str {
        self.version.content_type()
    }

    /// A Table of `items` with the list's `resourceVersion` and `continue`.
    pub fn table(&self, items: &[Value], rv: &str, cont: Option<&str>) -> Value {
        let now = Utc::now();
        let mut meta = json!({"resourceVersion": rv});
        if let Some(c) = cont {
            meta["continue"] = json!(c);
        }
        json!({
            "kind": "Table",
            "apiVersion": self.version.api_version(),
            "metadata": meta,
            "columnDefinitions": self.columns,
            "rows": items.iter().map(|o| self.row(o, now)).collect::<Vec<_>>(),
        })
    }

    /// A Table of one object (GET, watch events).
    pub fn one(&self, obj: &Value) -> Value {
        let rv = obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        self.table(std::slice::from_ref(obj), rv, None)
    }

    fn row(&self, obj: &Value, now: DateTime<Utc>) -> Value {
        let mut row = json!({"cells": self.cells(obj, now)});
        if let Kind::Pod = self.kind {
            // printPod marks finished pods, as kubectl's old --show-all relied on.
            match obj["status"]["phase"].as_str() {
                Some("Succeeded") => {
                    row["conditions"] = json!([{"type": "Completed", "status": "True",
                        "reason": "Succeeded", "message": "The pod has completed successfully."}])
                }
                Some("Failed") => {
                    row["conditions"] = json!([{"type": "Completed", "status": "True",
                        "reason": "Failed", "message": "The pod failed."}])
                }
                _ => {}
            }
        }
        row["object"] = match self.include {
            IncludeObject::None => Value::Null,
            IncludeObject::Metadata => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }),
            IncludeObject::Object => obj.clone(),
        };
        row
    }

    fn cells(&self, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let name = json!(s(&o["metadata"]["name"]));
        let age = json!(since(&o["metadata"]["creationTimestamp"], now));
        match &self.kind {
            Kind::Pod => {
                let p = pod_summary(o, now);
                let st = &o["status"];
                let ip = st["podIPs"][0]["ip"]
                    .as_str()
                    .or(st["podIP"].as_str())
                    .unwrap_or_default();
                vec![
                    name,
                    json!(format!("{}/{}", p.ready, p.total)),
                    json!(p.reason),
                    json!(p.restarts),
                    age,
                    json!(or_none(ip)),
                    json!(or_none(s(&o["spec"]["nodeName"]))),
                    json!(or_none(s(&st["nominatedNodeName"]))),
                    json!(readiness_gates(o)),
                ]
            }
            Kind::Job => {
                let (names, images) = containers(&o["spec"]["template"]);
                vec![
                    name,
                    json!(job_status(o)),
                    json!(job_completions(o)),
                    json!(job_duration(o, now)),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&o["spec"]["selector"])),
                ]
            }
            Kind::CronJob => {
                let spec = &o["spec"];
                let (names, images) = containers(&spec["jobTemplate"]["spec"]["template"]);
                let last = match &o["status"]["lastScheduleTime"] {
                    Value::String(_) => since(&o["status"]["lastScheduleTime"], now),
                    _ => "<none>".to_string(),
                };
                vec![
                    name,
                    json!(s(&spec["schedule"])),
                    json!(spec["timeZone"].as_str().unwrap_or("<none>")),
                    json!(match spec["suspend"].as_bool() {
                        Some(true) => "True",
                        Some(false) => "False",
                        None => "<unset>",
                    }),
                    json!(len(&o["status"]["active"])),
                    json!(last),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&spec["jobTemplate"]["spec"]["selector"])),
                ]
            }
            Kind::Deployment => {
                let st = &o["status"];
                let (names, images) = containers(&o["spec"]["template"]);
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        st["readyReplicas"].as_i64().unwrap_or(0),
                        o["spec"]["replicas"].as_i64().unwrap_or(0)
                    )),
                    json!(st["updatedReplicas"].as_i64().unwrap_or(0)),
                    json!(st["availableReplicas"].as_i64().unwrap_or(0)),
                    age,
                    json!(names),
                    json!(images),
                    json!(label_selector(&o["spec"]["selector"])),
                ]
            }
            Kind::Namespace => vec![name, json!(s(&o["status"]["phase"])), age],
            Kind::Node => node_cells(o, name, age),
            Kind::Event => event_cells(o, now),
            Kind::Service => service_cells(o, name, age),
            Kind::ConfigMap => vec![
                name,
                json!(count(&o["data"]) + count(&o["binaryData"])),
                age,
            ],
            Kind::Secret => vec![name, json!(s(&o["type"])), json!(count(&o["data"])), age],
            Kind::ServiceAccount => vec![name, json!(len(&o["secrets"])), age],
            Kind::Lease => vec![name, json!(s(&o["spec"]["holderIdentity"])), age],
            Kind::Custom(cols) => {
                let mut cells = vec![name];
                for c in cols {
                    let v = c.path.iter().try_fold(o, |v, k| v.get(k.as_str()));
                    cells.push(custom_cell(&c.ty, v, now));
                }
                cells
            }
            Kind::Default => vec![name, o["metadata"]["creationTimestamp"].clone()],
        }
    }
}

/// The apiextensions convertor's cell for a JSON value of a column type.
fn custom_cell(ty: &str, v: Option<&Value>, now: DateTime<Utc>) -> Value {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Value::Null;
    };
    match (ty, v) {
        // Strings print any value as JSONPath would.
        ("string", Value::String(x)) => json!(x),
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(_)) => json!(since(v, now)),
        _ => Value::Null,
    }
}

fn builtin(group: &str, plural: &str) -> (Kind, Vec<Value>) {
    match (group, plural) {
        ("", "pods") => (
            Kind::Pod,
            vec![
                name_col(),
                col(
                    "Ready",
                    "string",
                    0,
                    "The aggregate readiness state of this pod for accepting traffic.",
                ),
                col(
                    "Status",
                    "string",
                    0,
                    "The aggregate status of the containers in this pod.",
                ),
                col(
                    "Restarts",
                    "string",
                    0,
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                age_col(),
                col("IP", "string", 1, "podIP address allocated to the pod."),
                col(
                    "Node",
                    "string",
                    1,
                    "NodeName indicates in which node this pod is scheduled.",
                ),
                col(
                    "Nominated Node",
                    "string",
                    1,
                    "nominatedNodeName is set only when this pod preempts other pods on the node.",
                ),
                col(
                    "Readiness Gates",
                    "string",
                    1,
                    "If specified, all readiness gates will be evaluated for pod readiness.",
                ),
            ],
        ),
        ("batch", "jobs") => {
            let mut c = vec![
                name_col(),
                col("Status", "string", 0, "Status of the job."),
                col(
                    "Completions",
                    "string",
                    0,
                    "The number of pods which reached phase Succeeded.",
                ),
                col(
                    "Duration",
                    "string",
                    0,
                    "Time required to complete the job.",
                ),
                age_col(),
            ];
            c.extend(workload_wide(
                "A label query over pods that should match the pod count.",
            ));
            (Kind::Job, c)
        }
        ("batch", "cronjobs") => {
            let mut c = vec![
                name_col(),
                col(
                    "Schedule",
                    "string",
                    0,
                    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                ),
                col(
                    "Timezone",
                    "string",
                    0,
                    "The time zone name for the given schedule.",
                ),
                col(
                    "Suspend",
                    "boolean",
                    0,
                    "This flag tells the controller to suspend subsequent executions.",
                ),
                col(
                    "Active",
                    "integer",
                    0,
                    "A list of pointers to currently running jobs.",
                ),
                col(
                    "Last Schedule",
                    "string",
                    0,
                    "Information when was the last time the job was successfully scheduled.",
                ),
                age_col(),
            ];
            c.extend(workload_wide(
                "A label query over pods that should match the pod count.",
            ));
            (Kind::CronJob, c)
        }
        ("apps", "deployments") => {
            let mut c = vec![
                name_col(),
                col("Ready", "string", 0, "Number of the pod with ready state"),
                col(
                    "Up-to-date",
                    "integer",
                    0,
                    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                ),
                col(
                    "Available",
                    "integer",
                    0,
                    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                ),
                age_col(),
            ];
            c.extend(workload_wide(
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ));
            (Kind::Deployment, c)
        }
        ("", "namespaces") => (
            Kind::Namespace,
            vec![
                name_col(),
                col("Status", "string", 0, "The status of the namespace"),
                age_col(),
            ],
        ),
        ("", "nodes") => (
            Kind::Node,
            vec![
                name_col(),
                col("Status", "string", 0, "The status of the node"),
                col("Roles", "string", 0, "The roles of the node"),
                age_col(),
                col(
                    "Version",
                    "string",
                    0,
                    "Kubelet Version reported by the node.",
                ),
                col(
                    "Internal-IP",
                    "string",
                    1,
                    "List of addresses reachable to the node. Queried from cloud provider, if available.",
                ),
                col(
                    "External-IP",
                    "string",
                    1,
                    "List of addresses reachable to the node. Queried from cloud provider, if available.",
                ),
                col(
                    "OS-Image",
                    "string",
                    1,
                    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                ),
                col(
                    "Kernel-Version",
                    "string",
                    1,
                    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                ),
                col(
                    "Container-Runtime",
                    "string",
                    1,
                    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                ),
            ],
        ),
        ("" | "events.k8s.io", "events") => (
            Kind::Event,
            vec![
                col(
                    "Last Seen",
                    "string",
                    0,
                    "The time at which the most recent occurrence of this event was recorded.",
                ),
                col(
                    "Type",
                    "string",
                    0,
                    "Type of this event (Normal, Warning), new types could be added in the future.",
                ),
                col(
                    "Reason",
                    "string",
                    0,
                    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                ),
                col(
                    "Object",
                    "string",
                    0,
                    "The object that this event is about.",
                ),
                col(
                    "Subobject",
                    "string",
                    1,
                    "The specific sub-object of the involved object, e.g. a container in a pod.",
                ),
                col(
                    "Source",
                    "string",
                    1,
                    "The component reporting this event. Should be a short machine understandable string.",
                ),
                col(
                    "Message",
                    "string",
                    0,
                    "A human-readable description of the status of this operation.",
                ),
                col(
                    "First Seen",
                    "string",
                    1,
                    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
                ),
                col(
                    "Count",
                    "string",
                    1,
                    "The number of times this event has occurred.",
                ),
                col("Name", "string", 1, NAME_DESC),
            ],
        ),
        ("", "services") => (
            Kind::Service,
            vec![
                name_col(),
                col(
                    "Type",
                    "string",
                    0,
                    "type determines how the Service is exposed.",
                ),
                col(
                    "Cluster-IP",
                    "string",
                    0,
                    "clusterIP is the IP address of the service.",
                ),
                col(
                    "External-IP",
                    "string",
                    0,
                    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                ),
                col(
                    "Port(s)",
                    "string",
                    0,
                    "The list of ports that are exposed by this service.",
                ),
                age_col(),
                col(
                    "Selector",
                    "string",
                    1,
                    "Route service traffic to pods with label keys and values matching this selector.",
                ),
            ],
        ),
        ("", "configmaps") => (
            Kind::ConfigMap,
            vec![
                name_col(),
                col("Data", "string", 0, "Data contains the configuration data."),
                age_col(),
            ],
        ),
        ("", "secrets") => (
            Kind::Secret,
            vec![
                name_col(),
                col(
                    "Type",
                    "string",
                    0,
                    "Used to facilitate programmatic handling of secret data.",
                ),
                col("Data", "string", 0, "Data contains the secret data."),
                age_col(),
            ],
        ),
        ("", "serviceaccounts") => (
            Kind::ServiceAccount,
            vec![
                name_col(),
                col(
                    "Secrets",
                    "string",
                    0,
                    "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
                ),
                age_col(),
            ],
        ),
        ("coordination.k8s.io", "leases") => (
            Kind::Lease,
            vec![
                name_col(),
                col(
                    "Holder",
                    "string",
                    0,
                    "holderIdentity contains the identity of the holder of a current lease.",
                ),
                age_col(),
            ],
        ),
        _ => (
            Kind::Default,
            vec![name_col(), col("Created At", "date", 0, CREATED_DESC)],
        ),
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn or_none(v: &str) -> &str {
    if v.is_empty() { "<none>" } else { v }
}

fn len(v: &Value) -> i64 {
    v.as_array().map_or(0, |a| a.len() as i64)
}

fn count(v: &Value) -> i64 {
    v.as_object().map_or(0, |m| m.len() as i64)
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `translateTimestampSince`: a human duration, or `<unknown>` for no timestamp.
fn since(v: &Value, now: DateTime<Utc>) -> String {
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

fn restartable_init(pod: &Value, name: &str) -> bool {
    pod["spec"]["initContainers"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    })
}

fn condition_true(pod: &Value, ty: &str) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

fn terminated_reason(t: &Value, prefix: &str) -> String {
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

fn readiness_gates(pod: &Value) -> String {
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

fn job_status(job: &Value) -> &'static str {
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

fn job_completions(job: &Value) -> String {
    let succeeded = job["status"]["succeeded"].as_i64().unwrap_or(0);
    match job["spec"]["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match job["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    }
}

fn job_duration(job: &Value, now: DateTime<Utc>) -> String {
    let st = &job["status"];
    match (time(&st["startTime"]), time(&st["completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration((now - start).num_seconds()),
        (Some(start), Some(end)) => human_duration((end - start).num_seconds()),
    }
}

/// `layoutContainerCells`: container names and images, comma-separated.
fn containers(template: &Value) -> (String, String) {
    let cs = template["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names = cs.iter().map(|c| s(&c["name"])).collect::<Vec<_>>();
    let images = cs.iter().map(|c| s(&c["image"])).collect::<Vec<_>>();
    (names.join(","), images.join(","))
}

/// `metav1.FormatLabelSelector`.
fn label_selector(sel: &Value) -> String {
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

fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
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
fn event_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn service_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
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

#[cfg(test)]
mod tests;
