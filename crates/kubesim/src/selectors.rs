//! Label and field selectors, parsed and matched as the Kubernetes API server does.
//! STUB: signatures only; the real implementation replaces this file.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unable to parse requirement: {0}")]
    Parse(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A parsed `labelSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    equals: Vec<(String, String)>,
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self> {
        let mut equals = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| Error::Parse(part.to_string()))?;
            equals.push((k.to_string(), v.to_string()));
        }
        Ok(Self { equals })
    }

    /// Matches against `object.metadata.labels`.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.equals
            .iter()
            .all(|(k, v)| labels[k].as_str() == Some(v))
    }
}

/// A parsed `fieldSelector` query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    equals: Vec<(String, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self> {
        let mut equals = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| Error::Parse(part.to_string()))?;
            equals.push((k.to_string(), v.to_string()));
        }
        Ok(Self { equals })
    }

    /// Rejects fields Kubernetes does not support for `group`/`resource` (plural), as a 400 would.
    pub fn check_supported(&self, _group: &str, _resource: &str) -> Result<()> {
        Ok(())
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.equals.iter().all(|(k, v)| {
            let mut cur = object;
            for seg in k.split('.') {
                cur = &cur[seg];
            }
            cur.as_str() == Some(v)
        })
    }
}
