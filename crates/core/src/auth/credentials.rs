//! The credentials file: access key IDs, their secrets, and what each key may do.
//!
//! YAML (JSON is YAML too), typically mounted from a Kubernetes Secret:
//!
//! ```yaml
//! accessKeys:
//!   AKIDTEAMA:
//!     secretAccessKey: "..."
//!     namespaces: [team-a]          # or ["*"]
//!     operations: [DescribeJobs, ListJobs, TerminateJob, CancelJob]   # or ["*"]
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{Caller, OPERATIONS, Scope};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing the credentials file: {0}")]
    Parse(#[source] serde_yaml::Error),
    #[error("access key {key:?} in the credentials file: {message}")]
    Invalid { key: String, message: String },
    #[error("the credentials file lists no access keys")]
    Empty,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A secret access key. Its `Debug` shows no part of it, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: impl Into<String>) -> SecretKey {
        SecretKey(secret.into())
    }

    /// The secret itself, for the signing key only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde's default type errors quote the value; a secret written as a number must not
        // end up in an error message.
        struct SecretVisitor;
        impl Visitor<'_> for SecretVisitor {
            type Value = SecretKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretKey, E> {
                Ok(SecretKey(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretKey, E> {
                Err(E::custom("secretAccessKey must be a string (quote it)"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretKey, E> {
                Err(E::custom("secretAccessKey must be a string (quote it)"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretKey, E> {
                Err(E::custom("secretAccessKey must be a string (quote it)"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretKey, E> {
                Err(E::custom("secretAccessKey must be a string (quote it)"))
            }
        }
        deserializer.deserialize_str(SecretVisitor)
    }
}

/// One access key: its secret and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub secret: SecretKey,
    pub namespaces: Scope,
    pub operations: Scope,
}

/// Every access key of the file. `Debug` shows the key IDs and grants, never a secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    keys: BTreeMap<String, KeyGrant>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    access_keys: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    secret_access_key: SecretKey,
    namespaces: Vec<String>,
    operations: Vec<String>,
}

impl Credentials {
    pub fn load(path: &Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Credentials::from_yaml(&text)
    }

    pub fn from_yaml(text: &str) -> Result<Credentials> {
        let file: File = serde_yaml::from_str(text).map_err(Error::Parse)?;
        let mut credentials = Credentials::default();
        for (id, entry) in file.access_keys {
            credentials.insert(
                id,
                entry.secret_access_key,
                entry.namespaces,
                entry.operations,
            )?;
        }
        if credentials.keys.is_empty() {
            return Err(Error::Empty);
        }
        Ok(credentials)
    }

    /// Adds a key after checking it as the file's keys are checked.
    pub fn insert(
        &mut self,
        id: String,
        secret: SecretKey,
        namespaces: Vec<String>,
        operations: Vec<String>,
    ) -> Result<()> {
        let invalid = |message: String| Error::Invalid {
            key: id.clone(),
            message,
        };
        // The ID is one element of the slash-separated credential scope.
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(invalid(
                "an access key ID is letters, digits, '_', '-' and '.'".into(),
            ));
        }
        if secret.expose().is_empty() {
            return Err(invalid("secretAccessKey is empty".into()));
        }
        if namespaces.is_empty() || namespaces.iter().any(String::is_empty) {
            return Err(invalid(
                "namespaces must list at least one namespace, or \"*\"".into(),
            ));
        }
        if operations.is_empty() {
            return Err(invalid(
                "operations must list at least one operation, or \"*\"".into(),
            ));
        }
        if let Some(unknown) = operations
            .iter()
            .find(|op| *op != "*" && !OPERATIONS.contains(&op.as_str()))
        {
            return Err(invalid(format!(
                "unknown operation {unknown:?}; known: {}",
                OPERATIONS.join(", ")
            )));
        }
        self.keys.insert(
            id.clone(),
            KeyGrant {
                secret,
                namespaces: Scope::from_list(namespaces),
                operations: Scope::from_list(operations),
            },
        );
        Ok(())
    }

    pub fn get(&self, access_key_id: &str) -> Option<&KeyGrant> {
        self.keys.get(access_key_id)
    }

    pub fn caller(&self, access_key_id: &str) -> Option<Caller> {
        self.get(access_key_id).map(|grant| Caller {
            access_key_id: Some(access_key_id.to_owned()),
            namespaces: grant.namespaces.clone(),
            operations: grant.operations.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
accessKeys:
  AKIDTEAMA:
    secretAccessKey: "s3cr3t-team-a/with+chars"
    namespaces: [team-a]
    operations: ["*"]
  AKIDREADER:
    secretAccessKey: reader-secret-value
    namespaces: ["*"]
    operations: [DescribeJobs, ListJobs]
"#;

    #[test]
    fn parses_yaml_and_json() {
        let creds = Credentials::from_yaml(FILE).unwrap();
        assert_eq!(creds.len(), 2);
        let a = creds.caller("AKIDTEAMA").unwrap();
        assert!(a.may_touch("team-a") && !a.may_touch("team-b"));
        assert!(a.may_perform("TerminateJob"));
        let r = creds.caller("AKIDREADER").unwrap();
        assert!(r.may_touch("anything"));
        assert!(r.may_perform("ListJobs") && !r.may_perform("TerminateJob"));
        assert!(creds.caller("AKIDNOPE").is_none());

        let json = r#"{"accessKeys": {"K1": {"secretAccessKey": "x", "namespaces": ["n"], "operations": ["CancelJob"]}}}"#;
        let creds = Credentials::from_yaml(json).unwrap();
        assert_eq!(
            creds.get("K1").unwrap().operations,
            Scope::Only(["CancelJob".to_owned()].into())
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let creds = Credentials::from_yaml(FILE).unwrap();
        let debug = format!("{creds:?} {:#?}", creds.get("AKIDTEAMA"));
        assert!(debug.contains("AKIDTEAMA"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("reader-secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn an_unquoted_secret_is_read_as_its_text_and_errors_never_quote_it() {
        let digits = "accessKeys:\n  K:\n    secretAccessKey: 0987654321\n    namespaces: [a]\n    operations: ['*']\n";
        let creds = Credentials::from_yaml(digits).unwrap();
        assert_eq!(creds.get("K").unwrap().secret.expose(), "0987654321");
        // The file is wrong after the secret: the error names the problem, not the secret.
        let err = Credentials::from_yaml(&digits.replace("['*']", "[Nope]")).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("0987654321"), "{text}");
        assert!(text.contains("Nope"), "{text}");
    }

    #[test]
    fn invalid_files_are_rejected_with_the_key_named() {
        for (file, expect) in [
            ("accessKeys: {}", "no access keys"),
            (
                "accessKeys:\n  K:\n    secretAccessKey: x\n    namespaces: []\n    operations: ['*']",
                "namespaces",
            ),
            (
                "accessKeys:\n  K:\n    secretAccessKey: x\n    namespaces: [a]\n    operations: [DeleteEverything]",
                "unknown operation",
            ),
            (
                "accessKeys:\n  K:\n    secretAccessKey: ''\n    namespaces: [a]\n    operations: ['*']",
                "empty",
            ),
            (
                "accessKeys:\n  K/x:\n    secretAccessKey: x\n    namespaces: [a]\n    operations: ['*']",
                "access key ID",
            ),
            (
                "accessKeys:\n  K:\n    secretAccessKey: x\n    namespaces: [a]\n    operations: ['*']\n    admin: true",
                "unknown field",
            ),
        ] {
            let err = Credentials::from_yaml(file).unwrap_err().to_string();
            assert!(err.contains(expect), "{file}: {err}");
        }
    }
}
