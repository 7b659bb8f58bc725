//! RFC 6902 JSON patch over `serde_json::Value`, with RFC 6901 pointers.
//! Error wording follows evanphx/json-patch, which the API server uses.

use super::{Error, Result};
use serde_json::Value;

/// Applies `ops` (a JSON array of operations) to a copy of `doc`.
pub fn apply(doc: &Value, ops: &Value) -> Result<Value> {
    let Value::Array(ops) = ops else {
        return Err(Error::Malformed(
            "json patch must be a JSON array of operations".into(),
        ));
    };
    let mut doc = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        let Value::Object(op) = op else {
            return Err(Error::Malformed(format!(
                "json patch operation {i} is not a JSON object"
            )));
        };
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = || -> Result<Vec<String>> {
            match op.get("path").and_then(Value::as_str) {
                Some(p) => parse_pointer(p),
                None => Err(Error::Invalid(format!(
                    "operation {i} ({name}) is missing its \"path\""
                ))),
            }
        };
        let from = || -> Result<Vec<String>> {
            match op.get("from").and_then(Value::as_str) {
                Some(p) => parse_pointer(p),
                None => Err(Error::Invalid(format!(
                    "operation {i} ({name}) is missing its \"from\""
                ))),
            }
        };
        let value = || -> Result<Value> {
            op.get("value").cloned().ok_or_else(|| {
                Error::Invalid(format!("operation {i} ({name}) is missing its \"value\""))
            })
        };
        match name {
            "add" => add(&mut doc, &path()?, value()?)?,
            "remove" => {
                remove(&mut doc, &path()?)?;
            }
            "replace" => {
                let path = path()?;
                let value = value()?;
                let target = get_mut(&mut doc, &path).ok_or_else(|| {
                    Error::Invalid(format!(
                        "replace operation does not apply: doc is missing key: {}: missing value",
                        format_pointer(&path)
                    ))
                })?;
                *target = value;
            }
            "move" => {
                let from = from()?;
                let path = path()?;
                if path.len() > from.len() && path[..from.len()] == from[..] {
                    return Err(Error::Invalid(format!(
                        "move operation: \"from\" {} is a prefix of \"path\" {}",
                        format_pointer(&from),
                        format_pointer(&path)
                    )));
                }
                let v = remove(&mut doc, &from)?;
                add(&mut doc, &path, v)?;
            }
            "copy" => {
                let from = from()?;
                let v = get(&doc, &from).cloned().ok_or_else(|| {
                    Error::Invalid(format!(
                        "copy operation does not apply: doc is missing from path: {}: missing value",
                        format_pointer(&from)
                    ))
                })?;
                add(&mut doc, &path()?, v)?;
            }
            "test" => {
                let path = path()?;
                let expected = value()?;
                match get(&doc, &path) {
                    Some(actual) if json_eq(actual, &expected) => {}
                    Some(_) => {
                        return Err(Error::Invalid(format!(
                            "testing value {} failed: test failed",
                            format_pointer(&path)
                        )));
                    }
                    // evanphx treats a missing path as equal to an expected null.
                    None if expected.is_null() => {}
                    None => {
                        return Err(Error::Invalid(format!(
                            "testing value {} failed: test failed",
                            format_pointer(&path)
                        )));
                    }
                }
            }
            other => {
                return Err(Error::Invalid(format!("Unexpected kind: {other}")));
            }
        }
    }
    Ok(doc)
}

/// Splits an RFC 6901 pointer into unescaped reference tokens.
pub(crate) fn parse_pointer(p: &str) -> Result<Vec<String>> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(Error::Invalid(format!(
            "invalid JSON pointer {p:?}: must start with '/'"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn format_pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// RFC 6902 §4.6: numbers are equal when their values are, whatever their spelling.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// An array index token: digits only, no leading zero (RFC 6901 §4).
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => array_index(t).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => array_index(t).and_then(move |i| a.get_mut(i)),
        _ => None,
    })
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<()> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let missing = || {
        Error::Invalid(format!(
            "add operation does not apply: doc is missing path: {:?}: missing value",
            format_pointer(path)
        ))
    };
    match get_mut(doc, parent).ok_or_else(missing)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                array_index(last).filter(|&i| i <= a.len()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "add operation does not apply: invalid index {last:?} in {}",
                        format_pointer(path)
                    ))
                })?
            };
            a.insert(i, value);
        }
        _ => return Err(missing()),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value> {
    let Some((last, parent)) = path.split_last() else {
        return Ok(std::mem::replace(doc, Value::Null));
    };
    let missing = || {
        Error::Invalid(format!(
            "Unable to remove nonexistent key: {}: missing value",
            format_pointer(path)
        ))
    };
    match get_mut(doc, parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => match array_index(last) {
            Some(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(doc: Value, ops: Value, want: Value) {
        assert_eq!(apply(&doc, &ops).unwrap(), want, "ops: {ops}");
    }

    fn invalid(doc: Value, ops: Value) -> String {
        match apply(&doc, &ops) {
            Err(Error::Invalid(m)) => m,
            other => panic!("expected Invalid for {ops}, got {other:?}"),
        }
    }

    // RFC 6902 appendix A.
    #[test]
    fn rfc6902_appendix_a() {
        // A.1 add an object member
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
            json!({"baz": "qux", "foo": "bar"}),
        );
        // A.2 add an array element
        ok(
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
            json!({"foo": ["bar", "qux", "baz"]}),
        );
        // A.3 remove an object member
        ok(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
            json!({"foo": "bar"}),
        );
        // A.4 remove an array element
        ok(
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!({"foo": ["bar", "baz"]}),
        );
        // A.5 replace a value
        ok(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
            json!({"baz": "boo", "foo": "bar"}),
        );
        // A.6 move a value
        ok(
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        );
        // A.7 move an array element
        ok(
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
            json!({"foo": ["all", "cows", "eat", "grass"]}),
        );
        // A.8 test a value: success
        ok(
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            json!([
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2}
            ]),
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        );
        // A.9 test a value: error
        let m = invalid(
            json!({"baz": "qux"}),
            json!([{"op": "test", "path": "/baz", "value": "bar"}]),
        );
        assert_eq!(m, "testing value /baz failed: test failed");
        // A.10 add a nested member object
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
            json!({"foo": "bar", "child": {"grandchild": {}}}),
        );
        // A.11 ignore unrecognised elements
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
            json!({"foo": "bar", "baz": "qux"}),
        );
        // A.12 add to a nonexistent target
        invalid(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        );
        // A.14 ~ escape ordering
        ok(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": 10}]),
            json!({"/": 9, "~1": 10}),
        );
        // A.15 comparing strings and numbers
        invalid(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": "10"}]),
        );
        // A.16 add an array value
        ok(
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
            json!({"foo": ["bar", ["abc", "def"]]}),
        );
    }

    #[test]
    fn pointer_escapes_copy_and_root() {
        ok(
            json!({"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}}),
            json!([
                {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"},
                {"op": "remove", "path": "/metadata/annotations/c~0d"},
                {"op": "copy", "from": "/metadata/annotations", "path": "/copy"}
            ]),
            json!({"metadata": {"annotations": {"a/b": "x"}}, "copy": {"a/b": "x"}}),
        );
        ok(
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": [1]}]),
            json!([1]),
        );
        ok(
            json!({"n": 1}),
            json!([{"op": "test", "path": "/n", "value": 1.0}]),
            json!({"n": 1}),
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            apply(&json!({}), &json!({"op": "add"})),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            apply(&json!({}), &json!([1])),
            Err(Error::Malformed(_))
        ));
        let m = invalid(json!({"a": 1}), json!([{"op": "remove", "path": "/b"}]));
        assert_eq!(m, "Unable to remove nonexistent key: /b: missing value");
        invalid(
            json!({"a": 1}),
            json!([{"op": "replace", "path": "/b", "value": 1}]),
        );
        invalid(
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/2", "value": 1}]),
        );
        invalid(
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/01", "value": 1}]),
        );
        invalid(
            json!({"a": {"b": 1}}),
            json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]),
        );
        invalid(json!({"a": 1}), json!([{"op": "frob", "path": "/a"}]));
        // As evanphx/json-patch: a missing path matches an expected null, nothing else.
        ok(
            json!({"a": 1}),
            json!([{"op": "test", "path": "/b", "value": null}]),
            json!({"a": 1}),
        );
        let m = invalid(
            json!({"a": 1}),
            json!([{"op": "test", "path": "/b", "value": 1}]),
        );
        assert_eq!(m, "testing value /b failed: test failed");
        invalid(json!({"a": 1}), json!([{"op": "add", "path": "/b"}]));
        // A failed test leaves no partial result behind: the whole patch fails.
        invalid(
            json!({"a": 1}),
            json!([
                {"op": "add", "path": "/b", "value": 2},
                {"op": "test", "path": "/a", "value": 2}
            ]),
        );
    }
}
