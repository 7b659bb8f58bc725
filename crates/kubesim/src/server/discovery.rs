//! Legacy JSON discovery (`/api`, `/apis`, APIResourceLists), `/version` and `/openapi/v3`.

use serde_json::{Value, json};

use crate::openapi::{self, ResourceDoc};
use crate::resources::Registry;
use crate::status::{Error, Result};

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "kubesim",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn api_versions(host: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    })
}

fn group_json(reg: &Registry, group: &str) -> Option<Value> {
    let versions: Vec<Value> = reg
        .group_versions()
        .into_iter()
        .filter(|(g, _)| g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({"name": group, "versions": versions, "preferredVersion": preferred}))
}

pub fn api_group_list(reg: &Registry) -> Value {
    let mut groups: Vec<String> = Vec::new();
    for (g, _) in reg.group_versions() {
        if !g.is_empty() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    let groups: Vec<Value> = groups.iter().filter_map(|g| group_json(reg, g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(reg: &Registry, group: &str) -> Result<Value> {
    let mut g = group_json(reg, group).ok_or_else(Error::path_not_found)?;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(g)
}

pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Result<Value> {
    let infos = reg.resources_in(group, version);
    if infos.is_empty() {
        return Err(Error::path_not_found());
    }
    let mut resources = Vec::new();
    for r in &infos {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        for s in &r.subresources {
            let mut e = json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.kind == "Scale" {
                e["group"] = json!("autoscaling");
                e["version"] = json!("v1");
            }
            resources.push(e);
        }
    }
    let gv = crate::resources::api_version(group, version);
    Ok(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

pub fn openapi_index(reg: &Registry) -> Value {
    openapi::index(&reg.group_versions())
}

pub fn openapi_document(reg: &Registry, group: &str, version: &str) -> Result<Value> {
    let infos = reg.resources_in(group, version);
    if infos.is_empty() {
        return Err(Error::path_not_found());
    }
    let docs: Vec<ResourceDoc> = infos
        .iter()
        .map(|r| ResourceDoc {
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            plural: r.plural.clone(),
            namespaced: r.namespaced,
            has_status: r.has_status,
            schema: r.validation_schema().map(|s| s.as_json().clone()),
        })
        .collect();
    Ok(openapi::group_version_document(group, version, &docs))
}
