use super::*;

fn doc(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> ResourceDoc {
    ResourceDoc {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        namespaced,
        has_status: true,
        schema: None,
    }
}

/// What kubectl's `supportsQueryParamV3` does: the first PATCH operation for the GVK decides.
fn supports_query_param(
    document: &Value,
    g: &str,
    v: &str,
    k: &str,
    param: &str,
) -> Result<bool, String> {
    let paths = document["paths"].as_object().ok_or("no paths")?;
    for (_, item) in paths {
        let Some(op) = item.get("patch") else {
            continue;
        };
        let gvk = &op["x-kubernetes-group-version-kind"];
        if gvk["group"] != g || gvk["version"] != v || gvk["kind"] != k {
            continue;
        }
        let params = op["parameters"].as_array().ok_or("no parameters")?;
        return Ok(params
            .iter()
            .any(|p| p["name"] == param && p["in"] == "query"));
    }
    Err(format!("Path not found for GVK {g}/{v} {k}"))
}

/// Every `$ref` resolves within `components.schemas`, and no JSON Schema 2020-12 leftovers remain.
fn assert_refs_resolve(document: &Value) {
    fn walk(v: &Value, schemas: &Map<String, Value>, seen: &mut usize) {
        match v {
            Value::Object(m) => {
                assert!(!m.contains_key("$defs"), "leftover $defs");
                if let Some(Value::String(r)) = m.get("$ref") {
                    let name = r
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("foreign ref {r}"));
                    assert!(schemas.contains_key(name), "dangling ref {r}");
                    assert_eq!(m.len(), 1, "$ref with siblings: {v}");
                    *seen += 1;
                }
                m.values().for_each(|c| walk(c, schemas, seen));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, schemas, seen)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut seen = 0;
    walk(document, schemas, &mut seen);
    assert!(seen > 10, "only {seen} refs");
}

#[test]
fn job_document_declares_field_validation_and_schema() {
    let d = group_version_document(
        "batch",
        "v1",
        &[
            doc("batch", "v1", "Job", "jobs", true),
            doc("batch", "v1", "CronJob", "cronjobs", true),
        ],
    );
    assert_eq!(d["openapi"], "3.0.0");
    assert_eq!(
        supports_query_param(&d, "batch", "v1", "Job", "fieldValidation"),
        Ok(true)
    );
    assert_eq!(
        supports_query_param(&d, "batch", "v1", "CronJob", "fieldValidation"),
        Ok(true)
    );
    assert!(supports_query_param(&d, "batch", "v1", "Pod", "fieldValidation").is_err());
    // Every write operation declares the parameters kubectl and helm send.
    for (path, item) in d["paths"].as_object().unwrap() {
        for verb in ["post", "put", "patch"] {
            if let Some(op) = item.get(verb) {
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for want in ["fieldValidation", "dryRun", "fieldManager"] {
                    assert!(names.contains(&want), "{verb} {path} lacks {want}");
                }
            }
        }
    }
    let paths = d["paths"].as_object().unwrap();
    for p in [
        "/apis/batch/v1/namespaces/{namespace}/jobs",
        "/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
        "/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status",
        "/apis/batch/v1/jobs",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let item = &d["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"];
    assert_eq!(item["patch"]["operationId"], "patchBatchV1NamespacedJob");
    assert!(
        item["patch"]["requestBody"]["content"]
            .get("application/merge-patch+json")
            .is_some()
    );
    assert!(
        item["patch"]["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_none()
    );
    let job = &d["components"]["schemas"]["io.k8s.api.batch.v1.Job"];
    assert_eq!(
        job["x-kubernetes-group-version-kind"],
        json!([{"group": "batch", "kind": "Job", "version": "v1"}])
    );
    assert_eq!(
        job["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.batch.v1.JobSpec"
    );
    assert!(d["components"]["schemas"]["io.k8s.api.core.v1.Container"].is_object());
    assert_eq!(
        d["components"]["schemas"]["io.k8s.api.batch.v1.JobList"]["x-kubernetes-group-version-kind"]
            [0]["kind"],
        "JobList"
    );
    assert_refs_resolve(&d);
}

#[test]
fn core_document_paths() {
    let d = group_version_document(
        "",
        "v1",
        &[
            doc("", "v1", "Pod", "pods", true),
            doc("", "v1", "Namespace", "namespaces", false),
            // Other group-versions' resources are left out.
            doc("batch", "v1", "Job", "jobs", true),
        ],
    );
    let paths = d["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/namespaces/{namespace}/pods/{name}/status"));
    assert!(paths.contains_key("/api/v1/namespaces/{name}"));
    assert!(paths.contains_key("/api/v1/pods"));
    assert!(!paths.keys().any(|p| p.contains("jobs")));
    assert_eq!(
        supports_query_param(&d, "", "v1", "Namespace", "fieldValidation"),
        Ok(true)
    );
    assert_eq!(
        d["paths"]["/api/v1/namespaces/{name}"]["get"]["operationId"],
        "readCoreV1Namespace"
    );
    assert!(d["components"]["schemas"]["io.k8s.api.core.v1.Pod"].is_object());
    assert_refs_resolve(&d);
}

#[test]
fn crd_document() {
    let mut r = doc(
        "batch-terminator.dev",
        "v1alpha1",
        "JobTermination",
        "jobterminations",
        true,
    );
    r.schema = Some(json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["jobId"], "properties": {"jobId": {"type": "string"}}},
        "status": {"type": "object", "nullable": true, "properties": {"phase": {"type": "string"}}}
    }}));
    let d = group_version_document("batch-terminator.dev", "v1alpha1", &[r]);
    let name = "dev.batch-terminator.v1alpha1.JobTermination";
    assert_eq!(
        definition_name("batch-terminator.dev", "v1alpha1", "JobTermination"),
        name
    );
    let s = &d["components"]["schemas"][name];
    assert_eq!(
        s["x-kubernetes-group-version-kind"],
        json!([{"group": "batch-terminator.dev", "kind": "JobTermination", "version": "v1alpha1"}])
    );
    assert_eq!(s["properties"]["spec"]["required"], json!(["jobId"]));
    assert_eq!(
        s["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(
        supports_query_param(
            &d,
            "batch-terminator.dev",
            "v1alpha1",
            "JobTermination",
            "fieldValidation"
        ),
        Ok(true)
    );
    assert!(
        d["paths"]
            .get("/apis/batch-terminator.dev/v1alpha1/namespaces/{namespace}/jobterminations/{name}/status")
            .is_some()
    );
    assert_refs_resolve(&d);
    // Without a status subresource there is no status path.
    let mut r = doc("example.com", "v1", "Widget", "widgets", false);
    r.has_status = false;
    let d = group_version_document("example.com", "v1", &[r]);
    assert!(
        d["paths"]
            .get("/apis/example.com/v1/widgets/{name}/status")
            .is_none()
    );
    assert!(
        d["paths"]
            .get("/apis/example.com/v1/widgets/{name}")
            .is_some()
    );
    assert!(d["components"]["schemas"]["com.example.v1.Widget"].is_object());
}

#[test]
fn builtin_schema_passed_in_resource_doc() {
    let mut r = doc("apps", "v1", "Deployment", "deployments", true);
    r.schema = Some(
        Schema::builtin("apps", "v1", "Deployment")
            .unwrap()
            .as_json()
            .clone(),
    );
    let d = group_version_document("apps", "v1", &[r]);
    assert!(d["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"].is_array());
    assert_refs_resolve(&d);
}

#[test]
fn index_shape_and_hashes() {
    let gvs = vec![
        (String::new(), "v1".to_string()),
        ("batch".to_string(), "v1".to_string()),
    ];
    let i = index(&gvs);
    let paths = i["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 2);
    let url = paths["api/v1"]["serverRelativeURL"].as_str().unwrap();
    assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
    let url2 = paths["apis/batch/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    assert!(
        url2.starts_with("/openapi/v3/apis/batch/v1?hash="),
        "{url2}"
    );
    assert_eq!(index(&gvs), i, "hash must be stable");
    assert_ne!(url.split('=').nth(1), url2.split('=').nth(1));

    let d1 = group_version_document("batch", "v1", &[doc("batch", "v1", "Job", "jobs", true)]);
    let d2 = group_version_document("batch", "v1", &[doc("batch", "v1", "Job", "jobs", true)]);
    assert_eq!(document_hash(&d1), document_hash(&d2));
    let d3 = group_version_document(
        "batch",
        "v1",
        &[doc("batch", "v1", "CronJob", "cronjobs", true)],
    );
    assert_ne!(document_hash(&d1), document_hash(&d3));
    let i = index_with_hashes(&[("batch".into(), "v1".into(), document_hash(&d1))]);
    assert_eq!(
        i["paths"]["apis/batch/v1"]["serverRelativeURL"],
        format!("/openapi/v3/apis/batch/v1?hash={}", document_hash(&d1))
    );
}
