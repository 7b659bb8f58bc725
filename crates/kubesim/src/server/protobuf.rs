//! Just enough of the Kubernetes protobuf encoding to read the request bodies that client-go's
//! typed clients send as `application/vnd.kubernetes.protobuf` (helm's release Secrets,
//! `kubectl create configmap|secret|namespace`, their DeleteOptions). Responses stay JSON, which
//! those clients accept too.

use serde_json::{Map, Value, json};

use crate::store::base64;

/// The 4-byte prefix of every Kubernetes protobuf message.
pub const MAGIC: &[u8] = b"k8s\0";
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("protobuf: {0}")]
    Malformed(&'static str),
    #[error(
        "protobuf bodies are supported for Secret, ConfigMap, Namespace, ServiceAccount and DeleteOptions, not {0}"
    )]
    Unsupported(String),
}

type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Time,
    Msg(&'static [Field]),
    RepStr,
    RepMsg(&'static [Field]),
    MapStr,
    MapBytes,
}

struct Field {
    num: u64,
    name: &'static str,
    kind: Kind,
}

const fn f(num: u64, name: &'static str, kind: Kind) -> Field {
    Field { num, name, kind }
}

const OWNER_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
    f(6, "controller", Kind::Bool),
    f(7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "generateName", Kind::Str),
    f(3, "namespace", Kind::Str),
    f(5, "uid", Kind::Str),
    f(6, "resourceVersion", Kind::Str),
    f(7, "generation", Kind::Int),
    f(8, "creationTimestamp", Kind::Time),
    f(9, "deletionTimestamp", Kind::Time),
    f(10, "deletionGracePeriodSeconds", Kind::Int),
    f(11, "labels", Kind::MapStr),
    f(12, "annotations", Kind::MapStr),
    f(13, "ownerReferences", Kind::RepMsg(OWNER_REF)),
    f(14, "finalizers", Kind::RepStr),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapBytes),
    f(3, "type", Kind::Str),
    f(4, "stringData", Kind::MapStr),
    f(5, "immutable", Kind::Bool),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapStr),
    f(3, "binaryData", Kind::MapBytes),
    f(4, "immutable", Kind::Bool),
];

const NAMESPACE: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "spec", Kind::Msg(&[f(1, "finalizers", Kind::RepStr)])),
    f(3, "status", Kind::Msg(&[f(1, "phase", Kind::Str)])),
];

const OBJECT_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(2, "namespace", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
];

const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "secrets", Kind::RepMsg(OBJECT_REF)),
    f(
        3,
        "imagePullSecrets",
        Kind::RepMsg(&[f(1, "name", Kind::Str)]),
    ),
    f(4, "automountServiceAccountToken", Kind::Bool),
];

const DELETE_OPTIONS: &[Field] = &[
    f(1, "gracePeriodSeconds", Kind::Int),
    f(
        2,
        "preconditions",
        Kind::Msg(&[f(1, "uid", Kind::Str), f(2, "resourceVersion", Kind::Str)]),
    ),
    f(3, "orphanDependents", Kind::Bool),
    f(4, "propagationPolicy", Kind::Str),
    f(5, "dryRun", Kind::RepStr),
];

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

    /// The next (field number, wire type, payload) triple; varints come back in `Value`.
    fn field(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Skip
            }
            2 => Wire::Bytes(self.bytes()?),
            5 => {
                self.take(4)?;
                Wire::Skip
            }
            _ => return Err(Error::Malformed("unsupported wire type")),
        };
        Ok(Some((key >> 3, wire)))
    }
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Skip,
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::Malformed("invalid UTF-8"))
}

fn map_entry(b: &[u8], bytes_value: bool) -> Result<(String, Value)> {
    let mut r = Reader { buf: b };
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    while let Some((num, w)) = r.field()? {
        match (num, w) {
            (1, Wire::Bytes(b)) => k = utf8(b)?,
            (2, Wire::Bytes(b)) if bytes_value => v = json!(base64(b)),
            (2, Wire::Bytes(b)) => v = json!(utf8(b)?),
            _ => {}
        }
    }
    Ok((k, v))
}

fn time(b: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: b };
    let mut secs = 0i64;
    while let Some((num, w)) = r.field()? {
        if let (1, Wire::Varint(v)) = (num, w) {
            secs = v as i64;
        }
    }
    let t = chrono::DateTime::from_timestamp(secs, 0).ok_or(Error::Malformed("time"))?;
    Ok(json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

fn message(b: &[u8], fields: &[Field]) -> Result<Value> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, w)) = r.field()? {
        let Some(fd) = fields.iter().find(|f| f.num == num) else {
            continue;
        };
        let name = fd.name.to_string();
        match (fd.kind, w) {
            (Kind::Str, Wire::Bytes(b)) => {
                out.insert(name, json!(utf8(b)?));
            }
            (Kind::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Kind::Time, Wire::Bytes(b)) => {
                out.insert(name, time(b)?);
            }
            (Kind::Msg(sub), Wire::Bytes(b)) => {
                out.insert(name, message(b, sub)?);
            }
            (Kind::RepStr, Wire::Bytes(b)) => {
                let v = json!(utf8(b)?);
                push(&mut out, name, v);
            }
            (Kind::RepMsg(sub), Wire::Bytes(b)) => {
                let v = message(b, sub)?;
                push(&mut out, name, v);
            }
            (Kind::MapStr, Wire::Bytes(b)) | (Kind::MapBytes, Wire::Bytes(b)) => {
                let (k, v) = map_entry(b, matches!(fd.kind, Kind::MapBytes))?;
                let m = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = m.as_object_mut() {
                    m.insert(k, v);
                }
            }
            _ => return Err(Error::Malformed("unexpected wire type")),
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

/// Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON object it holds.
pub fn decode(body: &[u8]) -> Result<Value> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or(Error::Malformed("missing the k8s protobuf prefix"))?;
    let mut r = Reader { buf: inner };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
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
    let fields = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => SECRET,
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        _ => return Err(Error::Unsupported(format!("{api_version} {kind}"))),
    };
    let mut v = message(raw, fields)?;
    if kind != "DeleteOptions" {
        v["apiVersion"] = json!(api_version);
        v["kind"] = json!(kind);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(num: u64, wire: u64) -> u8 {
        u8::try_from((num << 3) | wire).unwrap()
    }

    fn ld(num: u64, b: &[u8]) -> Vec<u8> {
        let mut v = vec![key(num, 2), u8::try_from(b.len()).unwrap()];
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn decodes_a_secret() {
        let entry = [ld(1, b"k"), ld(2, b"hi")].concat();
        let labels = [ld(1, b"owner"), ld(2, b"helm")].concat();
        let meta = [ld(1, b"sh.helm.release.v1.r1.v1"), ld(11, &labels)].concat();
        let secret = [ld(1, &meta), ld(2, &entry), ld(3, b"helm.sh/release.v1")].concat();
        let tm = [ld(1, b"v1"), ld(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), ld(1, &tm), ld(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.r1.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["k"], "aGk=");
        assert_eq!(v["type"], "helm.sh/release.v1");
    }
}
