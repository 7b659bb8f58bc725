//! Authentication (bearer tokens) and authorization (RBAC) for kubesim, off by default.
//!
//! - [`RequestAttributes::from_http`] is kube-apiserver's request info resolver: it turns a
//!   method, path and query into the verb, API group, resource, subresource, namespace and name
//!   that authorization and fault injection look at.
//! - [`Authenticator`] maps bearer tokens to users: a static token map from the configuration,
//!   ServiceAccount tokens kubesim mints, and a superuser token in `system:masters`. A request
//!   with no token is `system:anonymous`; a token nobody knows gets 401.
//! - [`authorize`] evaluates Roles, ClusterRoles and their bindings as the RBAC authorizer of
//!   Kubernetes does (rbac/v1 `evaluation_helpers.go` and the rule resolver), and
//!   [`forbidden_status`] renders a denial as kube-apiserver's 403 `Status`.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Value, json};

pub const SYSTEM_MASTERS: &str = "system:masters";
pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";
pub const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
pub const SUPERUSER: &str = "kubesim-admin";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid static token line {0:?}: expected token,user[,group...]")]
    TokenLine(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        Self {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// A ServiceAccount's user: `system:serviceaccount:<ns>:<name>` in the service account
    /// groups and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: service_account_username(namespace, name),
            groups: vec![
                SERVICE_ACCOUNTS.to_string(),
                format!("{SERVICE_ACCOUNTS}:{namespace}"),
                AUTHENTICATED.to_string(),
            ],
        }
    }

    pub fn anonymous() -> Self {
        Self::new(ANONYMOUS, &[UNAUTHENTICATED])
    }

    pub fn superuser() -> Self {
        Self::new(SUPERUSER, &[SYSTEM_MASTERS, AUTHENTICATED])
    }
}

pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

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

/// Authentication settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Token to user, as kube-apiserver's `--token-auth-file`.
    pub static_tokens: HashMap<String, UserInfo>,
    /// The `system:masters` token; a random one when None.
    pub superuser_token: Option<String>,
    /// Who a request without a token is; `system:anonymous` when None. kubectl and helm
    /// (client-go) never send credentials over plain HTTP, so this is how they get a user:
    /// [`UserInfo::superuser`] for set-up, or a ServiceAccount to see its denials.
    pub anonymous_user: Option<UserInfo>,
}

impl AuthConfig {
    pub fn token(mut self, token: impl Into<String>, user: UserInfo) -> Self {
        self.static_tokens.insert(token.into(), user);
        self
    }

    pub fn superuser_token(mut self, token: impl Into<String>) -> Self {
        self.superuser_token = Some(token.into());
        self
    }

    pub fn anonymous_user(mut self, user: UserInfo) -> Self {
        self.anonymous_user = Some(user);
        self
    }
}

/// Maps bearer tokens to users.
#[derive(Debug, Default)]
pub struct Authenticator {
    static_tokens: HashMap<String, UserInfo>,
    minted: RwLock<HashMap<String, UserInfo>>,
    superuser_token: String,
    anonymous: Option<UserInfo>,
}

/// The outcome of authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    User(UserInfo),
    /// A token was sent that maps to nobody: 401.
    Invalid,
}

impl Authenticator {
    pub fn new(
        static_tokens: HashMap<String, UserInfo>,
        superuser_token: impl Into<String>,
    ) -> Self {
        Self {
            static_tokens,
            minted: RwLock::new(HashMap::new()),
            superuser_token: superuser_token.into(),
            anonymous: None,
        }
    }

    /// Requests without a token act as `user` instead of `system:anonymous`.
    pub fn with_anonymous_user(mut self, user: Option<UserInfo>) -> Self {
        self.anonymous = user;
        self
    }

    /// The token of a `system:masters` user, for test set-up.
    pub fn superuser_token(&self) -> &str {
        &self.superuser_token
    }

    /// Mints a token for a ServiceAccount (kubesim does not check that it exists).
    pub fn mint_service_account_token(&self, namespace: &str, name: &str) -> String {
        let token = format!("kubesim-sa.{}", uuid::Uuid::new_v4().simple());
        if let Ok(mut m) = self.minted.write() {
            m.insert(token.clone(), UserInfo::service_account(namespace, name));
        }
        token
    }

    /// Reads the `Authorization` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> Authn {
        let Some(header) = authorization else {
            return Authn::User(self.anonymous.clone().unwrap_or_else(UserInfo::anonymous));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or("");
        if token.is_empty() {
            return Authn::Invalid;
        }
        if token == self.superuser_token {
            return Authn::User(UserInfo::superuser());
        }
        if let Some(u) = self.static_tokens.get(token) {
            return Authn::User(u.clone());
        }
        match self.minted.read().ok().and_then(|m| m.get(token).cloned()) {
            Some(u) => Authn::User(u),
            None => Authn::Invalid,
        }
    }
}

/// Parses a static token file line as kube-apiserver's `--token-auth-file`:
/// `token,user,uid,"group1,group2"`; here `token,user[,group...]`, groups plus
/// `system:authenticated`.
pub fn parse_static_token(line: &str) -> Result<(String, UserInfo)> {
    let mut parts = line.split(',').map(str::trim);
    let (Some(token), Some(user)) = (parts.next(), parts.next()) else {
        return Err(Error::TokenLine(line.to_string()));
    };
    if token.is_empty() || user.is_empty() {
        return Err(Error::TokenLine(line.to_string()));
    }
    let mut groups: Vec<String> = parts
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    groups.push(AUTHENTICATED.to_string());
    Ok((
        token.to_string(),
        UserInfo {
            name: user.to_string(),
            groups,
        },
    ))
}

/// Where the authorizer reads RBAC objects from (the store, or a fixed set in tests).
pub trait RbacSource {
    fn cluster_role_bindings(&self) -> Vec<ClusterRoleBinding>;
    fn role_bindings(&self, namespace: &str) -> Vec<RoleBinding>;
    fn role(&self, namespace: &str, name: &str) -> Option<Role>;
    fn cluster_role(&self, name: &str) -> Option<ClusterRole>;
    /// All ClusterRoles, for aggregation.
    fn cluster_roles(&self) -> Vec<ClusterRole>;
}

/// A fixed set of RBAC objects.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

impl RbacSource for Policy {
    fn cluster_role_bindings(&self) -> Vec<ClusterRoleBinding> {
        self.cluster_role_bindings.clone()
    }
    fn role_bindings(&self, namespace: &str) -> Vec<RoleBinding> {
        self.role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }
    fn role(&self, namespace: &str, name: &str) -> Option<Role> {
        self.roles
            .iter()
            .find(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }
    fn cluster_role(&self, name: &str) -> Option<ClusterRole> {
        self.cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .cloned()
    }
    fn cluster_roles(&self) -> Vec<ClusterRole> {
        self.cluster_roles.clone()
    }
}

/// The authorizer's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; the reason is RBAC's (missing roles), often empty.
    Deny {
        reason: String,
    },
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups
        .iter()
        .flatten()
        .any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().flatten().any(|u| {
        u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// rbacv1helpers.RuleAllows.
pub fn rule_allows(attrs: &RequestAttributes, rule: &PolicyRule) -> bool {
    if attrs.resource_request {
        let combined = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        verb_matches(rule, &attrs.verb)
            && api_group_matches(rule, &attrs.api_group)
            && resource_matches(rule, &combined, &attrs.subresource)
            && resource_name_matches(rule, &attrs.name)
    } else {
        verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path)
    }
}

fn applies_to_user(user: &UserInfo, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !ns.is_empty() && user.name == service_account_username(ns, &subject.name)
        }
        _ => false,
    }
}

fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// A ClusterRole's rules, with the rules of the roles its aggregationRule selects.
fn cluster_role_rules(role: &ClusterRole, source: &dyn RbacSource) -> Vec<PolicyRule> {
    let mut rules = role.rules.clone().unwrap_or_default();
    if let Some(AggregationRule {
        cluster_role_selectors: Some(selectors),
    }) = &role.aggregation_rule
    {
        for other in source.cluster_roles() {
            if other.metadata.name == role.metadata.name {
                continue;
            }
            let labels = other.metadata.labels.clone().unwrap_or_default();
            if selectors.iter().any(|s| selector_matches(s, &labels)) {
                for r in other.rules.unwrap_or_default() {
                    if !rules.contains(&r) {
                        rules.push(r);
                    }
                }
            }
        }
    }
    rules
}

fn resolve(
    role_ref: &RoleRef,
    namespace: &str,
    source: &dyn RbacSource,
    errors: &mut Vec<String>,
) -> Vec<PolicyRule> {
    match role_ref.kind.as_str() {
        "ClusterRole" => match source.cluster_role(&role_ref.name) {
            Some(r) => cluster_role_rules(&r, source),
            None => {
                errors.push(format!(
                    "clusterrole.rbac.authorization.k8s.io \"{}\" not found",
                    role_ref.name
                ));
                Vec::new()
            }
        },
        "Role" => match source.role(namespace, &role_ref.name) {
            Some(r) => r.rules.unwrap_or_default(),
            None => {
                errors.push(format!(
                    "role.rbac.authorization.k8s.io \"{}\" not found",
                    role_ref.name
                ));
                Vec::new()
            }
        },
        other => {
            errors.push(format!("unsupported role reference kind: {other:?}"));
            Vec::new()
        }
    }
}

/// The RBAC authorizer, preceded by the `system:masters` superuser check.
pub fn authorize(user: &UserInfo, attrs: &RequestAttributes, source: &dyn RbacSource) -> Decision {
    if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        return Decision::Allow;
    }
    let mut errors: Vec<String> = Vec::new();
    for b in source.cluster_role_bindings() {
        if !b
            .subjects
            .iter()
            .flatten()
            .any(|s| applies_to_user(user, s, ""))
        {
            continue;
        }
        let rules = resolve(&b.role_ref, "", source, &mut errors);
        if rules.iter().any(|r| rule_allows(attrs, r)) {
            return Decision::Allow;
        }
    }
    if !attrs.namespace.is_empty() {
        for b in source.role_bindings(&attrs.namespace) {
            if !b
                .subjects
                .iter()
                .flatten()
                .any(|s| applies_to_user(user, s, &attrs.namespace))
            {
                continue;
            }
            let rules = resolve(&b.role_ref, &attrs.namespace, source, &mut errors);
            if rules.iter().any(|r| rule_allows(attrs, r)) {
                return Decision::Allow;
            }
        }
    }
    let reason = if errors.is_empty() {
        String::new()
    } else if errors.len() == 1 {
        format!("RBAC: {}", errors[0])
    } else {
        format!("RBAC: [{}]", errors.join(", "))
    };
    Decision::Deny { reason }
}

/// kube-apiserver's forbidden message for a denied request.
pub fn forbidden_message(user: &UserInfo, attrs: &RequestAttributes, reason: &str) -> String {
    let msg = if !attrs.resource_request {
        format!(
            "User {:?} cannot {} path {:?}",
            user.name, attrs.verb, attrs.path
        )
    } else {
        let resource = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        if attrs.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
                user.name, attrs.verb, resource, attrs.api_group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
                user.name, attrs.verb, resource, attrs.api_group, attrs.namespace
            )
        }
    };
    let err = if reason.is_empty() {
        msg
    } else {
        format!("{msg}: {reason}")
    };
    if attrs.resource.is_empty() {
        return format!("forbidden: {err}");
    }
    let qualified = if attrs.api_group.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}.{}", attrs.resource, attrs.api_group)
    };
    if attrs.name.is_empty() {
        format!("{qualified} is forbidden: {err}")
    } else {
        format!("{qualified} {:?} is forbidden: {err}", attrs.name)
    }
}

/// The 403 `Status` body for a denial.
pub fn forbidden_status(user: &UserInfo, attrs: &RequestAttributes, reason: &str) -> Value {
    let mut details = json!({"kind": attrs.resource});
    if !attrs.name.is_empty() {
        details["name"] = json!(attrs.name);
    }
    if !attrs.api_group.is_empty() {
        details["group"] = json!(attrs.api_group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": forbidden_message(user, attrs, reason),
        "reason": "Forbidden",
        "details": details,
        "code": 403
    })
}

/// The 401 `Status` body for a token nobody knows.
pub fn unauthorized_status() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401
    })
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    let strings = |xs: &[&str]| Some(xs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        api_groups: strings(groups),
        resources: strings(resources),
        resource_names: None,
        non_resource_urls: None,
    }
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
        api_groups: None,
        resources: None,
        resource_names: None,
    }
}

fn bootstrap_meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(BTreeMap::from([(
            "kubernetes.io/bootstrapping".to_string(),
            "rbac-defaults".to_string(),
        )])),
        annotations: Some(BTreeMap::from([(
            "rbac.authorization.kubernetes.io/autoupdate".to_string(),
            "true".to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

fn group_binding(name: &str, role: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: bootstrap_meta(name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(
            groups
                .iter()
                .map(|g| Subject {
                    api_group: Some("rbac.authorization.k8s.io".to_string()),
                    kind: "Group".to_string(),
                    name: g.to_string(),
                    namespace: None,
                })
                .collect(),
        ),
    }
}

/// The bootstrap roles kube-apiserver creates that matter here: `cluster-admin` bound to
/// `system:masters`, discovery and public info for everyone, and `system:basic-user`.
pub fn bootstrap_policy() -> (Vec<ClusterRole>, Vec<ClusterRoleBinding>) {
    let roles = vec![
        ClusterRole {
            metadata: bootstrap_meta("cluster-admin"),
            rules: Some(vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:discovery"),
            rules: Some(vec![url_rule(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:public-info-viewer"),
            rules: Some(vec![url_rule(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:basic-user"),
            rules: Some(vec![rule(
                &["create"],
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            )]),
            aggregation_rule: None,
        },
    ];
    let bindings = vec![
        group_binding("cluster-admin", "cluster-admin", &[SYSTEM_MASTERS]),
        group_binding("system:discovery", "system:discovery", &[AUTHENTICATED]),
        group_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &[AUTHENTICATED, UNAUTHENTICATED],
        ),
        group_binding("system:basic-user", "system:basic-user", &[AUTHENTICATED]),
    ];
    (roles, bindings)
}

#[cfg(test)]
mod tests;
