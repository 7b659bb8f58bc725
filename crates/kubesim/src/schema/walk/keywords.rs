//! The value keywords (formats, bounds, patterns, enums), list types and `oneOf`/`anyOf`/`not`.

use serde_json::{Map, Value};

use super::{Cause, Ctx, Walker, as_f64, cause, fmt_num, index, invalid};
use crate::schema::format::{check_string_format, go_value, is_integer, matches_pattern};

impl<'a> Walker<'a> {
    /// Keywords that constrain the value itself.
    pub(super) fn check_keywords(
        &self,
        part: &Map<String, Value>,
        v: &Value,
        path: &str,
        out: &mut Vec<Cause>,
    ) {
        if let Some(Value::Array(allowed)) = part.get("enum")
            && !allowed.contains(v)
        {
            let list: Vec<String> = allowed.iter().map(go_value).collect();
            out.push(cause(
                "FieldValueNotSupported",
                format!(
                    "Unsupported value: {}: supported values: {}",
                    go_value(v),
                    list.join(", ")
                ),
                path,
            ));
        }
        match v {
            Value::String(s) => {
                let len = s.chars().count();
                if let Some(max) = part.get("maxLength").and_then(Value::as_u64)
                    && len as u64 > max
                {
                    let unit = if max == 1 { "byte" } else { "bytes" };
                    out.push(cause(
                        "FieldValueTooLong",
                        format!("Too long: may not be more than {max} {unit}"),
                        path,
                    ));
                }
                if let Some(min) = part.get("minLength").and_then(Value::as_u64)
                    && (len as u64) < min
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should be at least {min} chars long"),
                    ));
                }
                if let Some(p) = part.get("pattern").and_then(Value::as_str)
                    && !matches_pattern(p, s)
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should match '{p}'"),
                    ));
                }
                if let Some(f) = part.get("format").and_then(Value::as_str)
                    && !check_string_format(f, s)
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body must be of type {f}: {}", go_value(v)),
                    ));
                }
            }
            Value::Number(n) => {
                let Some(x) = n.as_f64() else { return };
                if let Some(min) = as_f64(part.get("minimum")) {
                    let exclusive =
                        part.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
                    if x < min || (exclusive && x == min) {
                        let op = if exclusive {
                            "greater than"
                        } else {
                            "greater than or equal to"
                        };
                        out.push(invalid(
                            path,
                            v,
                            &format!("{path} in body should be {op} {}", fmt_num(min)),
                        ));
                    }
                }
                // JSON Schema 2020-12 spells exclusive bounds as numbers.
                if let Some(min) = as_f64(part.get("exclusiveMinimum"))
                    && x <= min
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should be greater than {}", fmt_num(min)),
                    ));
                }
                if let Some(max) = as_f64(part.get("maximum")) {
                    let exclusive =
                        part.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
                    if x > max || (exclusive && x == max) {
                        let op = if exclusive {
                            "less than"
                        } else {
                            "less than or equal to"
                        };
                        out.push(invalid(
                            path,
                            v,
                            &format!("{path} in body should be {op} {}", fmt_num(max)),
                        ));
                    }
                }
                if let Some(max) = as_f64(part.get("exclusiveMaximum"))
                    && x >= max
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should be less than {}", fmt_num(max)),
                    ));
                }
                if let Some(m) = as_f64(part.get("multipleOf"))
                    && m > 0.0
                    && (x / m).fract() != 0.0
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should be a multiple of {}", fmt_num(m)),
                    ));
                }
                if self.builtin {
                    let fits = match part.get("format").and_then(Value::as_str) {
                        Some("int32") => {
                            n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) || !is_integer(v)
                        }
                        Some("int64") => n.as_i64().is_some() || !is_integer(v),
                        _ => true,
                    };
                    if !fits {
                        let f = part
                            .get("format")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        out.push(invalid(
                            path,
                            v,
                            &format!("{path} in body must be of type {f}"),
                        ));
                    }
                }
            }
            Value::Array(a) => {
                if let Some(min) = part.get("minItems").and_then(Value::as_u64)
                    && (a.len() as u64) < min
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should have at least {min} items"),
                    ));
                }
                if let Some(max) = part.get("maxItems").and_then(Value::as_u64)
                    && a.len() as u64 > max
                {
                    out.push(cause(
                        "FieldValueTooMany",
                        format!("Too many: {}: must have at most {max} items", a.len()),
                        path,
                    ));
                }
                self.check_list_type(part, a, path, out);
            }
            Value::Object(m) => {
                if let Some(min) = part.get("minProperties").and_then(Value::as_u64)
                    && (m.len() as u64) < min
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should have at least {min} properties"),
                    ));
                }
                if let Some(max) = part.get("maxProperties").and_then(Value::as_u64)
                    && m.len() as u64 > max
                {
                    out.push(invalid(
                        path,
                        v,
                        &format!("{path} in body should have at most {max} properties"),
                    ));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// `x-kubernetes-list-type: set | map`: no duplicates (of items, or of their keys).
    fn check_list_type(
        &self,
        part: &Map<String, Value>,
        a: &[Value],
        path: &str,
        out: &mut Vec<Cause>,
    ) {
        let key_of = |item: &Value| -> Option<Value> {
            match part.get("x-kubernetes-list-type").and_then(Value::as_str)? {
                "set" => Some(item.clone()),
                "map" => {
                    let keys = part.get("x-kubernetes-list-map-keys")?.as_array()?;
                    let mut k = Map::new();
                    for name in keys.iter().filter_map(Value::as_str) {
                        if let Some(kv) = item.get(name) {
                            k.insert(name.to_string(), kv.clone());
                        }
                    }
                    Some(Value::Object(k))
                }
                _ => None,
            }
        };
        let mut seen: Vec<Value> = Vec::new();
        for (i, item) in a.iter().enumerate() {
            let Some(k) = key_of(item) else { return };
            if seen.contains(&k) {
                out.push(cause(
                    "FieldValueDuplicate",
                    format!("Duplicate value: {k}"),
                    &index(path, i),
                ));
            } else {
                seen.push(k);
            }
        }
    }

    /// `anyOf`, `oneOf`, `not` as value validations (structural schemas).
    pub(super) fn check_combinators(
        &self,
        part: &'a Map<String, Value>,
        v: &Value,
        path: &str,
        out: &mut Vec<Cause>,
    ) {
        let passes = |s: &'a Value| {
            let mut tmp = Vec::new();
            self.validate_node(&[s], v, path, Ctx::Normal, &mut tmp);
            tmp
        };
        if let Some(Value::Array(any)) = part.get("anyOf")
            && !any.is_empty()
        {
            let results: Vec<Vec<Cause>> = any.iter().map(passes).collect();
            if results.iter().all(|r| !r.is_empty()) {
                out.push(invalid(
                    path,
                    v,
                    &format!("{path} in body must validate at least one schema (anyOf)"),
                ));
                if let Some(first) = results.into_iter().next() {
                    out.extend(first);
                }
            }
        }
        if let Some(Value::Array(one)) = part.get("oneOf")
            && !one.is_empty()
        {
            let valid = one.iter().filter(|s| passes(s).is_empty()).count();
            if valid != 1 {
                out.push(invalid(
                    path,
                    v,
                    &format!("{path} in body must validate one and only one schema (oneOf)"),
                ));
            }
        }
        if let Some(not) = part.get("not")
            && passes(not).is_empty()
        {
            out.push(invalid(
                path,
                v,
                &format!("{path} in body must not validate the schema (not)"),
            ));
        }
    }

    // ---------------------------------------------------------------- pruning
}
