//! Authentication: bearer tokens to users, as kube-apiserver's token authenticators.

use std::collections::HashMap;
use std::sync::RwLock;

use super::{
    ANONYMOUS, AUTHENTICATED, Error, Result, SERVICE_ACCOUNTS, SUPERUSER, SYSTEM_MASTERS,
    UNAUTHENTICATED,
};

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
