use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;

fn attrs(method: &str, path: &str, query: Option<&str>) -> RequestAttributes {
    RequestAttributes::from_http(method, path, query)
}

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn request_info_resolution() {
    let a = attrs("PATCH", "/apis/batch/v1/namespaces/ns/jobs/x", None);
    assert_eq!(
        (
            a.verb.as_str(),
            a.api_group.as_str(),
            a.api_version.as_str(),
            a.resource.as_str(),
            a.namespace.as_str(),
            a.name.as_str(),
            a.subresource.as_str()
        ),
        ("patch", "batch", "v1", "jobs", "ns", "x", "")
    );
    assert!(a.resource_request && a.is_write());
    let a = attrs("GET", "/api/v1/pods", None);
    assert_eq!((a.verb.as_str(), a.namespace.as_str()), ("list", ""));
    let a = attrs(
        "GET",
        "/api/v1/namespaces/ns/pods",
        Some("watch=true&resourceVersion=5"),
    );
    assert_eq!(a.verb, "watch");
    assert!(!a.is_write());
    let a = attrs(
        "GET",
        "/api/v1/namespaces/ns/pods",
        Some("fieldSelector=metadata.name%3Dp1&watch=1"),
    );
    assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p1"));
    let a = attrs("DELETE", "/api/v1/namespaces/ns/pods", None);
    assert_eq!(a.verb, "deletecollection");
    let a = attrs("PUT", "/apis/batch/v1/namespaces/ns/jobs/x/status", None);
    assert_eq!(
        (a.verb.as_str(), a.subresource.as_str()),
        ("update", "status")
    );
    let a = attrs("GET", "/api/v1/namespaces/ns", None);
    assert_eq!(
        (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
        ("namespaces", "ns", "ns")
    );
    let a = attrs("PUT", "/api/v1/namespaces/ns/finalize", None);
    assert_eq!(
        (a.resource.as_str(), a.subresource.as_str()),
        ("namespaces", "finalize")
    );
    let a = attrs("GET", "/api/v1/nodes/n1", None);
    assert_eq!(
        (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
        ("nodes", "n1", "")
    );
    let a = attrs("GET", "/api/v1/watch/namespaces/ns/pods/p", None);
    assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p"));
    let a = attrs("GET", "/version", None);
    assert!(!a.resource_request);
    assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", "/version"));
    assert!(!attrs("GET", "/apis/batch/v1", None).resource_request);
}

fn sa_policy() -> Policy {
    Policy {
        roles: vec![obj(json!({
            "metadata": {"name": "jobs-reader", "namespace": "ns"},
            "rules": [
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["patch"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"], "resourceNames": ["only-me"]}
            ]
        }))],
        role_bindings: vec![obj(json!({
            "metadata": {"name": "b", "namespace": "ns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "jobs-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}]
        }))],
        ..Policy::default()
    }
}

#[test]
fn role_binding_grants_within_its_namespace_only() {
    let sa = UserInfo::service_account("ns", "sa");
    let p = sa_policy();
    let ok = |m, path, q| authorize(&sa, &attrs(m, path, q), &p) == Decision::Allow;
    assert!(ok("GET", "/apis/batch/v1/namespaces/ns/jobs/x", None));
    assert!(ok(
        "GET",
        "/apis/batch/v1/namespaces/ns/jobs",
        Some("watch=true")
    ));
    assert!(ok(
        "PATCH",
        "/apis/batch/v1/namespaces/ns/jobs/x/status",
        None
    ));
    assert!(!ok("PATCH", "/apis/batch/v1/namespaces/ns/jobs/x", None));
    assert!(!ok("GET", "/apis/batch/v1/namespaces/other/jobs/x", None));
    assert!(
        !ok("GET", "/apis/batch/v1/jobs", None),
        "cluster-wide list is not granted"
    );
    assert!(ok("DELETE", "/api/v1/namespaces/ns/pods/only-me", None));
    assert!(!ok(
        "DELETE",
        "/api/v1/namespaces/ns/pods/someone-else",
        None
    ));
    assert!(
        !ok("DELETE", "/api/v1/namespaces/ns/pods", None),
        "resourceNames never grant deletecollection"
    );
    let other_sa = UserInfo::service_account("other", "sa");
    assert!(
        authorize(
            &other_sa,
            &attrs("GET", "/apis/batch/v1/namespaces/ns/jobs/x", None),
            &p
        ) != Decision::Allow
    );
}

#[test]
fn denial_message_is_kube_apiservers() {
    let sa = UserInfo::service_account("ns", "sa");
    let a = attrs("PATCH", "/apis/batch/v1/namespaces/ns/jobs/x", None);
    let Decision::Deny { reason } = authorize(&sa, &a, &sa_policy()) else {
        panic!()
    };
    assert_eq!(reason, "");
    let st = forbidden_status(&sa, &a, &reason);
    assert_eq!(st["code"], 403);
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(
        st["message"],
        "jobs.batch \"x\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot patch resource \"jobs\" in API group \"batch\" in the namespace \"ns\""
    );
    assert_eq!(
        st["details"],
        json!({"name": "x", "group": "batch", "kind": "jobs"})
    );

    let list = attrs("GET", "/api/v1/pods", None);
    assert_eq!(
        forbidden_message(&sa, &list, ""),
        "pods is forbidden: User \"system:serviceaccount:ns:sa\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    let st = attrs("PUT", "/apis/batch/v1/namespaces/ns/jobs/x/status", None);
    assert_eq!(
        forbidden_message(&sa, &st, ""),
        "jobs.batch \"x\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot update resource \"jobs/status\" in API group \"batch\" in the namespace \"ns\""
    );
    let path = attrs("GET", "/metrics", None);
    assert_eq!(
        forbidden_message(&UserInfo::anonymous(), &path, ""),
        "forbidden: User \"system:anonymous\" cannot get path \"/metrics\""
    );
}

#[test]
fn missing_role_is_named_in_the_reason() {
    let mut p = sa_policy();
    p.roles.clear();
    let sa = UserInfo::service_account("ns", "sa");
    let a = attrs("GET", "/apis/batch/v1/namespaces/ns/jobs/x", None);
    assert_eq!(
        authorize(&sa, &a, &p),
        Decision::Deny {
            reason: "RBAC: role.rbac.authorization.k8s.io \"jobs-reader\" not found".into()
        }
    );
}

#[test]
fn cluster_roles_wildcards_and_subresources() {
    let p = Policy {
        cluster_roles: vec![
            obj(json!({"metadata": {"name": "status-all"},
                       "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}]})),
            obj(json!({"metadata": {"name": "metrics"},
                       "rules": [{"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]}]})),
            obj(json!({"metadata": {"name": "pods"},
                       "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})),
        ],
        cluster_role_bindings: vec![
            obj(json!({"metadata": {"name": "a"},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "status-all"},
                       "subjects": [{"kind": "User", "name": "alice"}]})),
            obj(json!({"metadata": {"name": "m"},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics"},
                       "subjects": [{"kind": "Group", "name": "ops"}]})),
        ],
        role_bindings: vec![obj(json!({
            "metadata": {"name": "pods", "namespace": "ns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pods"},
            "subjects": [{"kind": "User", "name": "bob"}]}))],
        ..Policy::default()
    };
    let alice = UserInfo::new("alice", &[AUTHENTICATED]);
    let bob = UserInfo::new("bob", &["ops", AUTHENTICATED]);
    let allowed =
        |u: &UserInfo, m, path| authorize(u, &attrs(m, path, None), &p) == Decision::Allow;
    assert!(allowed(
        &alice,
        "PUT",
        "/apis/batch/v1/namespaces/a/jobs/x/status"
    ));
    assert!(allowed(
        &alice,
        "PATCH",
        "/api/v1/namespaces/b/pods/p/status"
    ));
    assert!(!allowed(&alice, "PATCH", "/api/v1/namespaces/b/pods/p"));
    assert!(!allowed(&alice, "GET", "/api/v1/namespaces/b/pods/p/log"));
    assert!(allowed(&bob, "GET", "/metrics"));
    assert!(allowed(&bob, "GET", "/logs/kubelet.log"));
    assert!(!allowed(&bob, "POST", "/metrics"));
    // RoleBinding to a ClusterRole grants only in the binding's namespace.
    assert!(allowed(&bob, "GET", "/api/v1/namespaces/ns/pods/p"));
    assert!(!allowed(&bob, "GET", "/api/v1/namespaces/other/pods/p"));
    assert!(allowed(&UserInfo::superuser(), "DELETE", "/api/v1/nodes/n"));
}

#[test]
fn aggregated_cluster_roles() {
    let p = Policy {
        cluster_roles: vec![
            obj(json!({"metadata": {"name": "agg"},
                       "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}})),
            obj(
                json!({"metadata": {"name": "part", "labels": {"agg": "true"}},
                       "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
            ),
        ],
        cluster_role_bindings: vec![obj(json!({"metadata": {"name": "x"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "agg"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}))],
        ..Policy::default()
    };
    let sa = UserInfo::service_account("ns", "sa");
    assert_eq!(
        authorize(
            &sa,
            &attrs("GET", "/api/v1/namespaces/q/configmaps/c", None),
            &p
        ),
        Decision::Allow
    );
}

#[test]
fn bootstrap_policy_allows_discovery_not_data() {
    let (cluster_roles, cluster_role_bindings) = bootstrap_policy();
    let p = Policy {
        cluster_roles,
        cluster_role_bindings,
        ..Policy::default()
    };
    let sa = UserInfo::service_account("ns", "sa");
    assert_eq!(
        authorize(&sa, &attrs("GET", "/apis/batch/v1", None), &p),
        Decision::Allow
    );
    assert_eq!(
        authorize(&sa, &attrs("GET", "/version", None), &p),
        Decision::Allow
    );
    assert_eq!(
        authorize(&UserInfo::anonymous(), &attrs("GET", "/version", None), &p),
        Decision::Allow
    );
    assert_ne!(
        authorize(&UserInfo::anonymous(), &attrs("GET", "/api", None), &p),
        Decision::Allow
    );
    assert_ne!(
        authorize(&sa, &attrs("GET", "/api/v1/namespaces/ns/pods", None), &p),
        Decision::Allow
    );
}

#[test]
fn tokens_map_to_users() {
    let (tok, user) = parse_static_token("t0k, alice, devs").unwrap();
    let authn = Authenticator::new(HashMap::from([(tok, user)]), "root-token");
    assert_eq!(
        authn.authenticate(Some("Bearer t0k")),
        Authn::User(UserInfo::new("alice", &["devs", AUTHENTICATED]))
    );
    assert_eq!(
        authn.authenticate(Some("Bearer root-token")),
        Authn::User(UserInfo::superuser())
    );
    assert_eq!(authn.authenticate(None), Authn::User(UserInfo::anonymous()));
    assert_eq!(authn.authenticate(Some("Bearer nope")), Authn::Invalid);
    assert_eq!(authn.authenticate(Some("Basic abc")), Authn::Invalid);
    let sa_token = authn.mint_service_account_token("ns", "sa");
    let Authn::User(u) = authn.authenticate(Some(&format!("Bearer {sa_token}"))) else {
        panic!()
    };
    assert_eq!(u.name, "system:serviceaccount:ns:sa");
    assert_eq!(
        u.groups,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:ns",
            "system:authenticated"
        ]
    );
    assert!(parse_static_token("onlytoken").is_err());
    assert_eq!(unauthorized_status()["code"], 401);
}
