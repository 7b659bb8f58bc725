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

mod attributes;
mod authn;
mod authorize;
mod bootstrap;

pub use attributes::RequestAttributes;
pub use authn::{
    AuthConfig, Authenticator, Authn, UserInfo, parse_static_token, service_account_username,
};
pub use authorize::{
    Decision, Policy, RbacSource, authorize, forbidden_message, forbidden_status, rule_allows,
    unauthorized_status,
};
pub use bootstrap::bootstrap_policy;

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

#[cfg(test)]
mod tests;
