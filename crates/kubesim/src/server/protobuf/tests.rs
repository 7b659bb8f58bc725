use super::*;

fn key(num: u64, wire: u64) -> Vec<u8> {
    varint((num << 3) | wire)
}

fn ld(num: u64, b: &[u8]) -> Vec<u8> {
    let mut v = [key(num, 2), varint(b.len() as u64)].concat();
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
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = vec![];
    loop {
        let b = u8::try_from(v & 0x7f).unwrap();
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn vi(num: u64, v: u64) -> Vec<u8> {
    [key(num, 0), varint(v)].concat()
}

fn envelope(api_version: &str, kind: &str, obj: &[u8]) -> Vec<u8> {
    let tm = [ld(1, api_version.as_bytes()), ld(2, kind.as_bytes())].concat();
    [MAGIC.to_vec(), ld(1, &tm), ld(2, obj)].concat()
}

#[test]
fn time_is_rfc3339_and_the_zero_time_is_dropped() {
    // 2024-01-02T03:04:05Z with nanos, which JSON's whole seconds drop.
    let t = [vi(1, 1_704_164_645), vi(2, 500)].concat();
    let meta = [ld(1, b"n"), ld(8, &t), ld(9, &[])].concat();
    let v = decode(&envelope("v1", "ConfigMap", &ld(1, &meta))).unwrap();
    assert_eq!(v["metadata"]["creationTimestamp"], "2024-01-02T03:04:05Z");
    assert!(v["metadata"].get("deletionTimestamp").is_none(), "{v}");
    assert_eq!(time(&[]).unwrap(), None);
}

#[test]
fn int_or_string_both_forms_and_pointer_zero() {
    let int = [vi(1, 0), vi(2, 8080), ld(3, b"")].concat();
    let s = [vi(1, 1), vi(2, 0), ld(3, b"https")].concat();
    let zero = [vi(1, 0), vi(2, 0), ld(3, b"")].concat();
    assert_eq!(int_or_string(&int).unwrap(), json!(8080));
    assert_eq!(int_or_string(&s).unwrap(), json!("https"));
    assert!(int_or_string(&[vi(1, 2)].concat()).is_err());
    // targetPort is a value: its zero means unset. minAvailable is a pointer: 0 is kept.
    let port = [ld(1, b"p"), vi(3, 80), ld(4, &zero)].concat();
    let spec = [ld(1, &port)].concat();
    let v = decode(&envelope("v1", "Service", &ld(2, &spec))).unwrap();
    assert!(v["spec"]["ports"][0].get("targetPort").is_none(), "{v}");
    let pdb = [ld(1, &zero)].concat();
    let v = decode(&envelope("policy/v1", "PodDisruptionBudget", &ld(2, &pdb))).unwrap();
    assert_eq!(v["spec"]["minAvailable"], 0);
}

#[test]
fn quantities_in_resource_maps() {
    let cpu = [ld(1, b"cpu"), ld(2, &ld(1, b"500m"))].concat();
    let mem = [ld(1, b"memory"), ld(2, &ld(1, b"1Gi"))].concat();
    let res = [ld(1, &cpu), ld(2, &mem)].concat();
    let c = [ld(1, b"c"), ld(2, b"img"), ld(8, &res)].concat();
    let spec = ld(2, &c);
    let v = decode(&envelope("v1", "Pod", &ld(2, &spec))).unwrap();
    let r = &v["spec"]["containers"][0]["resources"];
    assert_eq!(r["limits"], json!({"cpu": "500m"}));
    assert_eq!(r["requests"], json!({"memory": "1Gi"}));
    assert_eq!(quantity(&[]).unwrap(), json!("0"));
}

#[test]
fn maps_keep_empty_values_and_scalars_follow_pointerness() {
    let l1 = [ld(1, b"a"), ld(2, b"1")].concat();
    let l2 = [ld(1, b"flag"), ld(2, b"")].concat();
    let meta = [ld(1, b"n"), ld(2, b""), vi(7, 0), ld(11, &l1), ld(11, &l2)].concat();
    // JobSpec: backoffLimit (pointer) 0 is kept, suspend (pointer) false too.
    let spec = [vi(7, 0), vi(10, 0), vi(1, 3)].concat();
    let v = decode(&envelope(
        "batch/v1",
        "Job",
        &[ld(1, &meta), ld(2, &spec)].concat(),
    ))
    .unwrap();
    assert_eq!(v["metadata"]["labels"], json!({"a": "1", "flag": ""}));
    assert!(v["metadata"].get("generateName").is_none(), "{v}");
    assert!(v["metadata"].get("generation").is_none(), "{v}");
    assert_eq!(v["spec"]["backoffLimit"], 0);
    assert_eq!(v["spec"]["suspend"], false);
    assert_eq!(v["spec"]["parallelism"], 3);
}

#[test]
fn negative_int32_and_int64() {
    // Negative varints are ten bytes, sign-extended.
    let neg = (-5i64) as u64;
    let spec = [vi(3, neg)].concat();
    let v = decode(&envelope("batch/v1", "Job", &ld(2, &spec))).unwrap();
    assert_eq!(v["spec"]["activeDeadlineSeconds"], -5);
    assert!(int32(1 << 40).is_err());
    assert_eq!(int32(neg).unwrap(), -5);
}

#[test]
fn an_unknown_field_is_refused_by_name() {
    // PodSpec field 18 (affinity) has no table yet.
    let spec = ld(2, &ld(18, b""));
    let job_spec = ld(6, &spec);
    let err = decode(&envelope("batch/v1", "Job", &ld(2, &job_spec))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownField {
                message: "core.v1.PodSpec",
                field: 18
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("field 18 of message core.v1.PodSpec"),
        "{err}"
    );
    let err = decode(&envelope("v1", "Node", &[])).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

#[test]
fn a_wrong_wire_type_is_malformed() {
    // ObjectMeta.name as a varint.
    let err = decode(&envelope("v1", "ConfigMap", &ld(1, &vi(1, 7)))).unwrap_err();
    assert!(matches!(err, Error::WireType { field: 1, .. }), "{err}");
}

/// Every kind the decoder takes, by apiVersion and kind, with k8s-openapi's schema of it.
fn top_level_schemas() -> Vec<(&'static str, &'static str, schemars::Schema)> {
    use k8s_openapi::api::{apps, batch, core, policy, rbac};
    use k8s_openapi::apimachinery::pkg::apis::meta;
    let mut generator = schemars::SchemaGenerator::default();
    let mut s = |f: fn(&mut schemars::SchemaGenerator) -> schemars::Schema| f(&mut generator);
    vec![
        (
            "v1",
            "Secret",
            s(|g| g.root_schema_for::<core::v1::Secret>()),
        ),
        (
            "v1",
            "ConfigMap",
            s(|g| g.root_schema_for::<core::v1::ConfigMap>()),
        ),
        (
            "v1",
            "Namespace",
            s(|g| g.root_schema_for::<core::v1::Namespace>()),
        ),
        (
            "v1",
            "ServiceAccount",
            s(|g| g.root_schema_for::<core::v1::ServiceAccount>()),
        ),
        ("v1", "Pod", s(|g| g.root_schema_for::<core::v1::Pod>())),
        (
            "v1",
            "Service",
            s(|g| g.root_schema_for::<core::v1::Service>()),
        ),
        (
            "batch/v1",
            "Job",
            s(|g| g.root_schema_for::<batch::v1::Job>()),
        ),
        (
            "batch/v1",
            "CronJob",
            s(|g| g.root_schema_for::<batch::v1::CronJob>()),
        ),
        (
            "apps/v1",
            "Deployment",
            s(|g| g.root_schema_for::<apps::v1::Deployment>()),
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "Role",
            s(|g| g.root_schema_for::<rbac::v1::Role>()),
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            s(|g| g.root_schema_for::<rbac::v1::ClusterRole>()),
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            s(|g| g.root_schema_for::<rbac::v1::RoleBinding>()),
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            s(|g| g.root_schema_for::<rbac::v1::ClusterRoleBinding>()),
        ),
        (
            "policy/v1",
            "PodDisruptionBudget",
            s(|g| g.root_schema_for::<policy::v1::PodDisruptionBudget>()),
        ),
        (
            "v1",
            "DeleteOptions",
            s(|g| g.root_schema_for::<meta::v1::DeleteOptions>()),
        ),
    ]
}

/// Follows a `$ref` (directly, or under `allOf`) to its definition: the name and the schema.
fn deref<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> (String, &'a Value) {
    let r = schema["$ref"]
        .as_str()
        .or_else(|| schema["allOf"][0]["$ref"].as_str());
    match r {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default().to_string();
            let def = defs
                .get(&name)
                .unwrap_or_else(|| panic!("no definition {name}"));
            (name, def)
        }
        None => (String::new(), schema),
    }
}

/// Checks `msg`'s table against the k8s-openapi schema `schema` (named `def_name`): the message
/// names the same type, every field name is a JSON property of it, and numbers and names are
/// unique. Nested messages are checked against the schemas their properties refer to.
fn check(
    msg: &Message,
    def_name: &str,
    schema: &Value,
    defs: &Map<String, Value>,
    seen: &mut Vec<String>,
) {
    if !def_name.is_empty() {
        assert!(
            def_name.ends_with(&format!(".{}", msg.name)),
            "table {} describes k8s-openapi's {def_name}",
            msg.name
        );
    }
    let mut nums: Vec<u64> = msg.fields.iter().map(|f| f.num).collect();
    nums.sort_unstable();
    nums.dedup();
    assert_eq!(
        nums.len(),
        msg.fields.len(),
        "duplicate field numbers in {}",
        msg.name
    );
    if seen.iter().any(|s| s == msg.name) {
        return;
    }
    seen.push(msg.name.to_string());
    let props = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{def_name} has no properties"));
    for fd in msg.fields {
        if let Kind::Inline(inner) = fd.kind {
            // Flattened into this message's JSON: its fields are this schema's properties.
            check(inner, "", schema, defs, seen);
            continue;
        }
        let prop = props.get(fd.name).unwrap_or_else(|| {
            panic!(
                "{}.{} (field {}) is not a property of {def_name}",
                msg.name, fd.name, fd.num
            )
        });
        let nested = match fd.kind {
            Kind::Msg(inner) => Some((inner, prop)),
            Kind::RepMsg(inner) => Some((inner, &prop["items"])),
            _ => None,
        };
        if let Some((inner, p)) = nested {
            let (name, s) = deref(p, defs);
            check(inner, &name, s, defs, seen);
        }
    }
}

#[test]
fn field_tables_match_k8s_openapi() {
    let mut seen = Vec::new();
    for (api_version, kind, root) in top_level_schemas() {
        let root = root.to_value();
        let defs = root["$defs"].as_object().cloned().unwrap_or_default();
        let msg = top_level(api_version, kind).expect("a table");
        let name = root["title"].as_str().unwrap_or_default().to_string();
        check(msg, &name, &root, &defs, &mut seen);
    }
    // Every table is reached from a top-level kind.
    assert!(seen.len() > 60, "{seen:?}");
}
