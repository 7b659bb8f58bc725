//! Authentication (AWS Signature Version 4) and per-namespace authorization.
//!
//! Pure: no HTTP framework. The API layer's middleware hands a [`sigv4::HttpRequest`] to
//! [`Auth::authenticate`] and puts the resulting [`Caller`] in the request's context; the
//! service checks a job's namespace against it after lookup.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;

pub mod credentials;
pub mod sigv4;

pub use credentials::{Credentials, SecretKey};
pub use sigv4::{HttpRequest, Verifier};

/// The operation names a credentials file may grant: AWS's own (`batch:<name>` in IAM).
pub const OPERATIONS: &[&str] = &[
    "TerminateJob",
    "CancelJob",
    "DescribeJobs",
    "ListJobs",
    "SubmitJob",
    "RegisterJobDefinition",
    "DescribeJobDefinitions",
    "DeregisterJobDefinition",
    "DescribeJobQueues",
];

/// A set of names (namespaces or operations), or all of them (`"*"` in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Only(BTreeSet<String>),
}

impl Scope {
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(names) => names.contains(name),
        }
    }

    /// `["*"]` (or any list holding `"*"`) is everything.
    pub fn from_list<I: IntoIterator<Item = String>>(names: I) -> Scope {
        let names: BTreeSet<String> = names.into_iter().collect();
        if names.contains("*") {
            Scope::All
        } else {
            Scope::Only(names)
        }
    }
}

/// Who sent a request, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The access key ID; `None` with `--auth none`.
    pub access_key_id: Option<String>,
    pub namespaces: Scope,
    pub operations: Scope,
}

impl Caller {
    /// `--auth none`: anyone may do anything.
    pub fn anonymous() -> Caller {
        Caller {
            access_key_id: None,
            namespaces: Scope::All,
            operations: Scope::All,
        }
    }

    /// May do nothing: the fallback when no authentication ran, so a missing layer fails
    /// closed.
    pub fn nobody() -> Caller {
        Caller {
            access_key_id: None,
            namespaces: Scope::Only(BTreeSet::new()),
            operations: Scope::Only(BTreeSet::new()),
        }
    }

    pub fn may_perform(&self, operation: &str) -> bool {
        self.operations.allows(operation)
    }

    pub fn may_touch(&self, namespace: &str) -> bool {
        self.namespaces.allows(namespace)
    }

    /// Every namespace is allowed (no filtering needed).
    pub fn touches_all_namespaces(&self) -> bool {
        matches!(self.namespaces, Scope::All)
    }

    /// For messages and logs: the access key ID (never the secret).
    pub fn name(&self) -> &str {
        self.access_key_id.as_deref().unwrap_or("anonymous")
    }
}

/// How requests are authenticated.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Every request is [`Caller::anonymous`].
    None,
    /// AWS SigV4 with the keys of a credentials file.
    SigV4 {
        credentials: Arc<Credentials>,
        verifier: Verifier,
    },
}

impl Auth {
    /// SigV4 for service `batch` in `region`, dates within 15 minutes of now.
    pub fn sigv4(credentials: Credentials, region: impl Into<String>) -> Auth {
        Auth::SigV4 {
            credentials: Arc::new(credentials),
            verifier: Verifier::batch(region),
        }
    }

    /// The caller of a request, or why it is refused.
    pub fn authenticate(
        &self,
        request: &HttpRequest<'_>,
        now: Timestamp,
    ) -> Result<Caller, sigv4::Error> {
        match self {
            Auth::None => Ok(Caller::anonymous()),
            Auth::SigV4 {
                credentials,
                verifier,
            } => {
                let key = verifier.verify(request, now, |id| {
                    credentials.get(id).map(|grant| &grant.secret)
                })?;
                credentials
                    .caller(&key)
                    .ok_or(sigv4::Error::UnknownAccessKey)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let all = Scope::from_list(["a".to_owned(), "*".to_owned()]);
        assert_eq!(all, Scope::All);
        assert!(all.allows("anything"));
        let some = Scope::from_list(["a".to_owned()]);
        assert!(some.allows("a"));
        assert!(!some.allows("b"));
        assert!(!some.allows("*"));
    }

    #[test]
    fn nobody_may_do_nothing_and_anonymous_everything() {
        let nobody = Caller::nobody();
        assert!(!nobody.may_perform("TerminateJob"));
        assert!(!nobody.may_touch("default"));
        let anyone = Caller::anonymous();
        assert!(anyone.may_perform("TerminateJob"));
        assert!(anyone.may_touch("default"));
        assert_eq!(anyone.name(), "anonymous");
    }
}
