//! Parsing request paths the way the API server's RequestInfo resolver does.

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    Health,
    /// `/api`
    Api,
    /// `/apis`
    Apis,
    /// `/apis/{group}`
    ApiGroup(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    GroupVersion(String, String),
    OpenApiIndex,
    OpenApiDoc(String, String),
    /// `/kubesim/requests`
    Requests,
    Resource(ResourcePath),
    NotFound,
}

/// A resource request's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub watch_prefix: bool,
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Route {
    let mut rp = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        ..ResourcePath::default()
    };
    let mut rest = rest;
    if rest.first() == Some(&"watch") {
        rp.watch_prefix = true;
        rest = &rest[1..];
    }
    if rest.first() == Some(&"namespaces") && rest.len() >= 2 {
        let is_ns_sub = rest.len() == 3 && matches!(rest[2], "status" | "finalize");
        if rest.len() == 2 || is_ns_sub {
            rp.resource = "namespaces".into();
            rp.name = Some(rest[1].to_string());
            rp.subresource = rest.get(2).map(|s| s.to_string());
            return Route::Resource(rp);
        }
        rp.namespace = Some(rest[1].to_string());
        rest = &rest[2..];
    }
    match rest {
        [resource] => rp.resource = resource.to_string(),
        [resource, name] => {
            rp.resource = resource.to_string();
            rp.name = Some(name.to_string());
        }
        [resource, name, sub] => {
            rp.resource = resource.to_string();
            rp.name = Some(name.to_string());
            rp.subresource = Some(sub.to_string());
        }
        _ => return Route::NotFound,
    }
    if rp.resource.is_empty() || rp.name.as_deref() == Some("") {
        return Route::NotFound;
    }
    Route::Resource(rp)
}

pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz"] | ["livez"] | ["readyz"] => Route::Health,
        ["api"] => Route::Api,
        ["api", v] => Route::GroupVersion(String::new(), v.to_string()),
        ["api", v, rest @ ..] => resource_path("", v, rest),
        ["apis"] => Route::Apis,
        ["apis", g] => Route::ApiGroup(g.to_string()),
        ["apis", g, v] => Route::GroupVersion(g.to_string(), v.to_string()),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest),
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", "api", v] => Route::OpenApiDoc(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiDoc(g.to_string(), v.to_string()),
        ["kubesim", "requests"] => Route::Requests,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn shapes() {
        let r = rp("/api/v1/namespaces/ns1/pods/p/status");
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            (Some("ns1"), "pods", Some("p"), Some("status"))
        );
        let r = rp("/api/v1/namespaces/ns1");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref()),
            ("namespaces", Some("ns1"))
        );
        let r = rp("/api/v1/namespaces/ns1/status");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = rp("/apis/batch/v1/jobs");
        assert_eq!((r.group.as_str(), r.namespace), ("batch", None));
        let r = rp("/api/v1/namespaces");
        assert_eq!(r.resource, "namespaces");
        assert_eq!(
            parse("/apis/batch/v1"),
            Route::GroupVersion("batch".into(), "v1".into())
        );
        assert_eq!(parse("/nope"), Route::NotFound);
        assert!(rp("/api/v1/watch/namespaces/a/pods").watch_prefix);
    }
}
