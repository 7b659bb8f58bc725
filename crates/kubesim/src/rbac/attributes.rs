//! kube-apiserver's request info resolver: a method, path and query to the attributes
//! authorization and fault injection look at.

/// What a request does, as the authorizer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestAttributes {
    /// For resource requests a Kubernetes verb (`get`, `list`, `watch`, `create`, `update`,
    /// `patch`, `delete`, `deletecollection`); otherwise the lowercased HTTP method.
    pub verb: String,
    pub resource_request: bool,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
}

impl RequestAttributes {
    /// kube-apiserver's RequestInfoFactory for `/api` and `/apis` paths; everything else is a
    /// non-resource request.
    pub fn from_http(method: &str, path: &str, query: Option<&str>) -> Self {
        let method_verb = method.to_ascii_lowercase();
        let non_resource = Self {
            verb: method_verb.clone(),
            path: path.to_string(),
            ..Self::default()
        };
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let (api_group, api_version, rest) = match parts.as_slice() {
            ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
            ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
            _ => return non_resource,
        };
        let mut rest: Vec<&str> = rest.to_vec();
        if rest.is_empty() {
            // Discovery of a group version.
            return non_resource;
        }
        let query_value = |key: &str| {
            query.and_then(|q| {
                q.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (percent_decode(k) == key).then(|| percent_decode(v))
                })
            })
        };
        let mut verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
        // The deprecated /watch/ path prefix.
        if rest.first() == Some(&"watch") {
            rest.remove(0);
            verb = "watch".to_string();
        }
        let mut namespace = String::new();
        if rest.first() == Some(&"namespaces")
            && let Some(ns) = rest.get(1)
        {
            // For /namespaces/{name} the namespace is the object's name, as in Kubernetes.
            namespace = ns.to_string();
            if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
                rest.drain(0..2);
            }
        }
        let part = |i: usize| rest.get(i).map(|s| s.to_string()).unwrap_or_default();
        let (resource, mut name, subresource) = (part(0), part(1), part(2));
        if name.is_empty() && verb == "get" {
            let watch = query_value("watch").is_some_and(|v| v == "true" || v == "1");
            verb = if watch { "watch" } else { "list" }.to_string();
            // A list or watch of one object by field selector is about that name.
            if let Some(fs) = query_value("fieldSelector")
                && let Some(n) = fs
                    .strip_prefix("metadata.name=")
                    .or_else(|| fs.strip_prefix("metadata.name=="))
                && !n.is_empty()
                && !n.contains([',', '/', '='])
            {
                name = n.to_string();
            }
        }
        if name.is_empty() && verb == "delete" {
            verb = "deletecollection".to_string();
        }
        Self {
            verb,
            resource_request: true,
            api_group,
            api_version,
            resource,
            subresource,
            namespace,
            name,
            path: path.to_string(),
        }
    }

    /// Whether the request writes.
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
