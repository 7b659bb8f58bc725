//! `meta.k8s.io/v1` Table responses (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as
//! `kubectl get` asks for them. Cells are rendered on the server, as Kubernetes 1.33 does:
//! built-in kinds follow `pkg/printers/internalversion/printers.go` (always the wide cells; the
//! client hides `priority` columns), custom resources their version's
//! `additionalPrinterColumns`, and everything else the default convertor (Name, Created At).

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::resources::{Gvr, ResourceInfo};
use crate::status::{Error, Result};
use crate::store::Store;

use cells::*;

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

/// The printer of a built-in resource (the default convertor's for others) and its columns.
fn builtin(group: &str, plural: &str) -> (Kind, Vec<Value>) {
    let (kind, cols) = printers::BUILTIN
        .iter()
        .find(|b| b.plural == plural && b.groups.contains(&group))
        .map_or((Kind::Default, printers::DEFAULT_COLUMNS), |b| {
            (b.kind.clone(), b.columns)
        });
    (kind, cols.iter().map(column).collect())
}

fn column(c: &printers::Col) -> Value {
    if *c == printers::NAME {
        name_col()
    } else {
        col(c.0, c.1, i64::from(c.2), c.3)
    }
}

mod cells;
mod printers;

#[cfg(test)]
mod tests;
