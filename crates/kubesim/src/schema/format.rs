//! String formats, quantities, patterns and the Go-style rendering of values in messages.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

pub(super) const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// `resource.ParseQuantity` accepts it.
pub(super) fn is_quantity(s: &str) -> bool {
    let s = s.trim();
    let (sign_free, _) = match s.strip_prefix(['+', '-']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let num_end = sign_free
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(sign_free.len());
    let (number, suffix) = sign_free.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return false;
    }
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        other => {
            // Decimal exponent: e3, E-2, e+6.
            let Some(exp) = other.strip_prefix(['e', 'E']) else {
                return false;
            };
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
    }
}

/// Standard base64 with padding, as Go's `encoding/json` decodes `[]byte`.
pub(super) fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    if pad > 2 {
        return false;
    }
    b[..b.len() - pad]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// Whether `s` fits `format`; unknown formats constrain nothing.
pub(super) fn check_string_format(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "byte" => is_base64(s),
        "uuid" | "uuid3" | "uuid4" | "uuid5" => uuid::Uuid::parse_str(s).is_ok(),
        _ => true,
    }
}

static REGEXES: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether `s` matches the (Go RE2) pattern; an uncompilable pattern matches everything,
/// since the CRD that carries it should not have been accepted.
pub(super) fn matches_pattern(pattern: &str, s: &str) -> bool {
    let mut cache = REGEXES.lock().unwrap_or_else(|e| e.into_inner());
    let re = cache
        .entry(pattern.to_string())
        .or_insert_with(|| regex::Regex::new(pattern).ok());
    re.as_ref().is_none_or(|re| re.is_match(s))
}

/// The JSON type name Kubernetes prints in type errors.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                "integer"
            } else {
                "number"
            }
        }
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A bad value as `field.Error` prints it: strings quoted, numbers and booleans bare.
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

pub(super) fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        Value::Null | Value::Bool(_) | Value::String(_) | Value::Array(_) | Value::Object(_) => {
            false
        }
    }
}

/// Whether `v` is of the OpenAPI `type`.
pub(super) fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => is_integer(v),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        // Unknown type names constrain nothing.
        _ => true,
    }
}
