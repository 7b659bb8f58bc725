//! Enough of the Kubernetes protobuf encoding to read the request bodies that client-go's typed
//! clients send as `application/vnd.kubernetes.protobuf`: helm's release Secrets, the `kubectl
//! create` generators (configmap, secret, namespace, serviceaccount, job, cronjob, deployment,
//! service, role(binding), clusterrole(binding), poddisruptionbudget) and DeleteOptions. Each
//! message is a table of `Field`s taken from Kubernetes 1.33's `generated.proto`; a body is turned
//! into the JSON the API takes and then runs the normal JSON path. Responses stay JSON, which those
//! clients accept too.
//!
//! go-to-protobuf writes every non-pointer Go field, zero or not, so zero scalars of value fields
//! are dropped here (as `omitempty` does in JSON), while pointer fields (`Opt*`) keep their zero.

use serde_json::{Map, Value, json};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The 4-byte prefix of every Kubernetes protobuf message.
pub const MAGIC: &[u8] = b"k8s\0";
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("protobuf: {0}")]
    Malformed(&'static str),
    #[error(
        "protobuf bodies are supported for v1 Secret, ConfigMap, Namespace, ServiceAccount, Pod, Service; batch/v1 Job, CronJob; apps/v1 Deployment; rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding; policy/v1 PodDisruptionBudget and DeleteOptions, not {0} (send JSON instead)"
    )]
    Unsupported(String),
    /// A field kubesim's tables do not know yet: refused rather than dropped, so the gap shows.
    #[error(
        "protobuf: field {field} of message {message} is not supported by kubesim's protobuf decoder (send JSON instead)"
    )]
    UnknownField { message: &'static str, field: u64 },
    #[error("protobuf: field {field} ({name}) of message {message} has the wrong wire type")]
    WireType {
        message: &'static str,
        field: u64,
        name: &'static str,
    },
}

type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy)]
enum Kind {
    /// `string`; empty is dropped (Go's zero value).
    Str,
    /// A value `int32` / `int64`; zero is dropped.
    I32,
    I64,
    /// A pointer `*int32` / `*int64`: present only when set, zero kept.
    OptI32,
    OptI64,
    /// A value `bool`; false is dropped.
    Bool,
    /// A pointer `*bool`: present only when set.
    OptBool,
    /// meta/v1 Time: seconds + nanos; an empty message is the zero time (dropped).
    Time,
    /// api/resource Quantity: `{string = 1}`, JSON's string form.
    Quantity,
    /// util/intstr IntOrString behind a pointer: always kept.
    IntOrStr,
    /// util/intstr IntOrString as a value: the zero int is dropped.
    IntOrStrVal,
    Msg(&'static Message),
    /// An embedded Go struct whose fields JSON flattens into the parent (e.g. LocalObjectReference).
    Inline(&'static Message),
    RepStr,
    RepMsg(&'static Message),
    /// `map<string, V>`, sent as repeated entries `{key = 1, value = 2}`.
    Map(&'static Kind),
    /// `bytes`, as base64 in JSON.
    Bytes,
}

struct Field {
    num: u64,
    name: &'static str,
    kind: Kind,
}

struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind }
}

const fn m(name: &'static str, fields: &'static [Field]) -> Message {
    Message { name, fields }
}

const MAP_STR: Kind = Kind::Map(&Kind::Str);

mod core_v1;
mod workloads;

use core_v1::{CONFIG_MAP, DELETE_OPTIONS, NAMESPACE, POD, SECRET, SERVICE, SERVICE_ACCOUNT};
use workloads::{
    CLUSTER_ROLE, CLUSTER_ROLE_BINDING, CRON_JOB, DEPLOYMENT, JOB, PDB, ROLE, ROLE_BINDING,
};

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or(Error::Malformed("truncated varint"))?;
            self.buf = rest;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(Error::Malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Malformed("truncated field"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varint()?).map_err(|_| Error::Malformed("length"))?;
        self.take(n)
    }

    /// The next (field number, payload) pair, or None at the end.
    fn field(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => Wire::Bytes(self.bytes()?),
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(Error::Malformed("unsupported wire type")),
        };
        Ok(Some((key >> 3, wire)))
    }
}

#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// fixed32/fixed64: no Kubernetes message these tables cover uses them.
    Fixed,
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::Malformed("invalid UTF-8"))
}

/// Varints carry int32 sign-extended to 64 bits, so both sizes read as i64; an int32 must fit.
fn int32(v: u64) -> Result<i64> {
    let v = v as i64;
    i32::try_from(v)
        .map(i64::from)
        .map_err(|_| Error::Malformed("int32 out of range"))
}

/// meta/v1 Time `{seconds = 1 (int64), nanos = 2 (int32)}`; JSON has whole seconds (RFC 3339).
/// The zero time is sent as an empty message and decodes to None.
fn time(b: &[u8]) -> Result<Option<Value>> {
    if b.is_empty() {
        return Ok(None);
    }
    let mut r = Reader { buf: b };
    let (mut secs, mut nanos) = (0i64, 0i64);
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Varint(v)) => secs = v as i64,
            (2, Wire::Varint(v)) => nanos = int32(v)?,
            _ => return Err(Error::Malformed("unexpected field in meta.v1.Time")),
        }
    }
    let nanos = u32::try_from(nanos).map_err(|_| Error::Malformed("negative nanos"))?;
    let t = chrono::DateTime::from_timestamp(secs, nanos).ok_or(Error::Malformed("time"))?;
    Ok(Some(json!(
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )))
}

/// api/resource Quantity `{string = 1}`: its JSON form is that string.
fn quantity(b: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: b };
    let mut s = String::new();
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(b)) => s = utf8(b)?,
            _ => return Err(Error::Malformed("unexpected field in resource.Quantity")),
        }
    }
    Ok(if s.is_empty() { json!("0") } else { json!(s) })
}

/// util/intstr IntOrString `{type = 1 (0 int, 1 string), intVal = 2, strVal = 3}`.
fn int_or_string(b: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: b };
    let (mut ty, mut int, mut s) = (0u64, 0i64, String::new());
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int = int32(v)?,
            (3, Wire::Bytes(b)) => s = utf8(b)?,
            _ => return Err(Error::Malformed("unexpected field in intstr.IntOrString")),
        }
    }
    match ty {
        0 => Ok(json!(int)),
        1 => Ok(json!(s)),
        _ => Err(Error::Malformed("IntOrString type is neither 0 nor 1")),
    }
}

/// One value of `kind`. `keep_zero` is set for pointer fields and map values, where the zero
/// value means something; None drops the field.
fn value(
    msg: &'static Message,
    fd: &'static Field,
    kind: Kind,
    w: Wire<'_>,
    keep_zero: bool,
) -> Result<Option<Value>> {
    let wrong = || Error::WireType {
        message: msg.name,
        field: fd.num,
        name: fd.name,
    };
    let v = match (kind, w) {
        (Kind::Str, Wire::Bytes(b)) => {
            let s = utf8(b)?;
            (keep_zero || !s.is_empty()).then(|| json!(s))
        }
        (Kind::Bytes, Wire::Bytes(b)) => Some(json!(BASE64.encode(b))),
        (Kind::I32, Wire::Varint(v)) => Some(int32(v)?)
            .filter(|&i| keep_zero || i != 0)
            .map(Value::from),
        (Kind::OptI32, Wire::Varint(v)) => Some(json!(int32(v)?)),
        (Kind::I64, Wire::Varint(v)) => Some(v as i64)
            .filter(|&i| keep_zero || i != 0)
            .map(Value::from),
        (Kind::OptI64, Wire::Varint(v)) => Some(json!(v as i64)),
        (Kind::Bool, Wire::Varint(v)) => (keep_zero || v != 0).then(|| json!(v != 0)),
        (Kind::OptBool, Wire::Varint(v)) => Some(json!(v != 0)),
        (Kind::Time, Wire::Bytes(b)) => time(b)?,
        (Kind::Quantity, Wire::Bytes(b)) => Some(quantity(b)?),
        (Kind::IntOrStr, Wire::Bytes(b)) => Some(int_or_string(b)?),
        (Kind::IntOrStrVal, Wire::Bytes(b)) => {
            Some(int_or_string(b)?).filter(|v| keep_zero || *v != json!(0))
        }
        (Kind::Msg(sub) | Kind::Inline(sub), Wire::Bytes(b)) => Some(message(b, sub)?),
        (
            Kind::Str
            | Kind::Bytes
            | Kind::I32
            | Kind::OptI32
            | Kind::I64
            | Kind::OptI64
            | Kind::Bool
            | Kind::OptBool
            | Kind::Time
            | Kind::Quantity
            | Kind::IntOrStr
            | Kind::IntOrStrVal
            | Kind::Msg(_)
            | Kind::Inline(_)
            | Kind::RepStr
            | Kind::RepMsg(_)
            | Kind::Map(_),
            _,
        ) => return Err(wrong()),
    };
    Ok(v)
}

/// A map entry `{key = 1, value = 2}`.
fn map_entry(
    msg: &'static Message,
    fd: &'static Field,
    kind: Kind,
    b: &[u8],
) -> Result<(String, Value)> {
    let mut r = Reader { buf: b };
    let mut k = String::new();
    // An absent value is the zero value.
    let mut v = match kind {
        Kind::Str | Kind::Bytes => json!(""),
        Kind::Quantity => json!("0"),
        _ => Value::Null,
    };
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(b)) => k = utf8(b)?,
            (2, w) => v = value(msg, fd, kind, w, true)?.unwrap_or(Value::Null),
            _ => return Err(Error::Malformed("unexpected field in a map entry")),
        }
    }
    Ok((k, v))
}

fn message(b: &[u8], msg: &'static Message) -> Result<Value> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, w)) = r.field()? {
        let fd = msg
            .fields
            .iter()
            .find(|f| f.num == num)
            .ok_or(Error::UnknownField {
                message: msg.name,
                field: num,
            })?;
        let name = fd.name.to_string();
        match fd.kind {
            Kind::RepStr => {
                let Wire::Bytes(b) = w else {
                    return Err(Error::WireType {
                        message: msg.name,
                        field: num,
                        name: fd.name,
                    });
                };
                push(&mut out, name, json!(utf8(b)?));
            }
            Kind::RepMsg(sub) => {
                let v = value(msg, fd, Kind::Msg(sub), w, true)?.unwrap_or(Value::Null);
                push(&mut out, name, v);
            }
            Kind::Map(vk) => {
                let Wire::Bytes(b) = w else {
                    return Err(Error::WireType {
                        message: msg.name,
                        field: num,
                        name: fd.name,
                    });
                };
                let (k, v) = map_entry(msg, fd, *vk, b)?;
                let m = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = m.as_object_mut() {
                    m.insert(k, v);
                }
            }
            Kind::Inline(_) => {
                if let Some(Value::Object(o)) = value(msg, fd, fd.kind, w, false)? {
                    out.extend(o);
                }
            }
            Kind::Str
            | Kind::Bytes
            | Kind::I32
            | Kind::OptI32
            | Kind::I64
            | Kind::OptI64
            | Kind::Bool
            | Kind::OptBool
            | Kind::Time
            | Kind::Quantity
            | Kind::IntOrStr
            | Kind::IntOrStrVal
            | Kind::Msg(_) => match value(msg, fd, fd.kind, w, false)? {
                Some(v) => {
                    out.insert(name, v);
                }
                // A later zero overrides an earlier value, as in protobuf (last one wins).
                None => {
                    out.remove(&name);
                }
            },
        }
    }
    Ok(Value::Object(out))
}

fn push(out: &mut Map<String, Value>, name: String, v: Value) {
    let arr = out.entry(name).or_insert_with(|| json!([]));
    if let Some(a) = arr.as_array_mut() {
        a.push(v);
    }
}

/// The table of a top-level kind, by apiVersion and kind.
fn top_level(api_version: &str, kind: &str) -> Option<&'static Message> {
    Some(match (api_version, kind) {
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Pod") => &POD,
        ("v1", "Service") => &SERVICE,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => &ROLE_BINDING,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => &CLUSTER_ROLE_BINDING,
        ("policy/v1", "PodDisruptionBudget") => &PDB,
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => return None,
    })
}

/// Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON object it holds.
pub fn decode(body: &[u8]) -> Result<Value> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or(Error::Malformed("missing the k8s protobuf prefix"))?;
    let mut r = Reader { buf: inner };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    // runtime.Unknown: typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4.
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(tm)) => {
                let mut t = Reader { buf: tm };
                while let Some((n, w)) = t.field()? {
                    match (n, w) {
                        (1, Wire::Bytes(b)) => api_version = utf8(b)?,
                        (2, Wire::Bytes(b)) => kind = utf8(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let msg = top_level(&api_version, &kind)
        .ok_or_else(|| Error::Unsupported(format!("{api_version} {kind}")))?;
    let mut v = message(raw, msg)?;
    if kind != "DeleteOptions" {
        v["apiVersion"] = json!(api_version);
        v["kind"] = json!(kind);
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
