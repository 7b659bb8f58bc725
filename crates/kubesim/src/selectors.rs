//! Label and field selectors, parsed and matched as the Kubernetes API server does
//! (apimachinery `labels.Parse` and `fields.ParseSelector`, the registries' selectable fields).

mod field;
mod label;
mod validation;

use serde_json::Value;

pub use field::{FieldRequirement, FieldSelector, escape_field_value, supported_fields};
pub use label::{LabelSelector, Operator, Requirement};
pub use validation::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message is the one apimachinery gives, e.g.
    /// `unable to parse requirement: found '(', expected: identifier`.
    #[error("{0}")]
    Parse(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn message(&self) -> String {
        match self {
            Error::Parse(m) => m.clone(),
            Error::UnsupportedField(f) => format!("field label not supported: {f}"),
        }
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

#[cfg(test)]
mod tests;
