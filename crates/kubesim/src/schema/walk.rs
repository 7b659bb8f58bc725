//! Walking an object alongside its schema: validation ([`validate`], [`keywords`]), pruning
//! ([`prune`]) and defaulting ([`default`]). This file resolves the schema nodes that apply at
//! one place of the object (`$ref`, `allOf`, fitting `oneOf`/`anyOf` branches) into a view.

mod default;
mod keywords;
mod prune;
mod validate;

use serde_json::{Map, Value};

use super::builtin::OBJECT_META;
use super::format::{go_value, type_matches};
use super::{Cause, Flavor, Schema};

const QUANTITY_DEF: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// `$ref` chains deeper than this are treated as cycles.
const MAX_REF_DEPTH: usize = 32;

/// Where in the object a node sits; roots and embedded resources implicitly allow
/// `apiVersion`, `kind` and `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    Root,
    Embedded,
    Normal,
}

/// All schema nodes that apply at one place: the node itself, what its `$ref`s point to,
/// its `allOf` members (and, for built-ins, the `oneOf`/`anyOf` branches fitting the value).
#[derive(Default)]
struct View<'a> {
    parts: Vec<&'a Map<String, Value>>,
    refs: Vec<&'a str>,
}

impl<'a> View<'a> {
    fn flag(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|m| m.get(name).and_then(Value::as_bool) == Some(true))
    }

    fn types(&self) -> Vec<&'a str> {
        let mut out = Vec::new();
        for m in &self.parts {
            match m.get("type") {
                Some(Value::String(t)) => out.push(t.as_str()),
                Some(Value::Array(ts)) => out.extend(ts.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn nullable(&self) -> bool {
        self.flag("nullable") || self.types().contains(&"null")
    }

    fn property(&self, name: &str) -> Vec<&'a Value> {
        self.parts
            .iter()
            .filter_map(|m| m.get("properties")?.get(name))
            .collect()
    }

    fn property_names(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for m in &self.parts {
            if let Some(Value::Object(props)) = m.get("properties") {
                for k in props.keys() {
                    if !out.contains(&k.as_str()) {
                        out.push(k.as_str());
                    }
                }
            }
        }
        out
    }

    fn has_properties(&self) -> bool {
        self.parts
            .iter()
            .any(|m| m.get("properties").and_then(Value::as_object).is_some())
    }

    fn additional(&self) -> Option<&'a Value> {
        self.parts
            .iter()
            .find_map(|m| m.get("additionalProperties"))
    }

    fn items(&self) -> Vec<&'a Value> {
        self.parts
            .iter()
            .filter_map(|m| m.get("items"))
            .filter(|i| i.is_object())
            .collect()
    }

    fn required(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for m in &self.parts {
            if let Some(Value::Array(r)) = m.get("required") {
                for name in r.iter().filter_map(Value::as_str) {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        out
    }

    fn default_value(&self) -> Option<&'a Value> {
        self.parts.iter().find_map(|m| m.get("default"))
    }
}

pub(super) struct Walker<'a> {
    schema: &'a Schema,
    builtin: bool,
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn cause(reason: &str, message: String, field: &str) -> Cause {
    Cause {
        reason: reason.to_string(),
        message,
        field: field.to_string(),
    }
}

fn type_invalid(path: &str, got: &str, expected: &str) -> Cause {
    cause(
        "FieldValueTypeInvalid",
        format!("Invalid value: \"{got}\": {path} in body must be of type {expected}: \"{got}\""),
        path,
    )
}

fn invalid(path: &str, v: &Value, detail: &str) -> Cause {
    cause(
        "FieldValueInvalid",
        format!("Invalid value: {}: {detail}", go_value(v)),
        path,
    )
}

fn required(path: &str, detail: Option<&str>) -> Cause {
    let message = match detail {
        Some(d) => format!("Required value: {d}"),
        None => "Required value".to_string(),
    };
    cause("FieldValueRequired", message, path)
}

fn as_f64(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

impl<'a> Walker<'a> {
    pub(super) fn new(schema: &'a Schema) -> Self {
        Self {
            schema,
            builtin: schema.flavor == Flavor::BuiltIn,
        }
    }

    fn meta_walker() -> Walker<'static> {
        Walker::new(&OBJECT_META)
    }

    fn resolve_ref(&self, r: &str) -> Option<&'a Value> {
        let root = &self.schema.root;
        if r == "#" {
            return Some(root);
        }
        for prefix in ["#/$defs/", "#/definitions/", "#/components/schemas/"] {
            if let Some(name) = r.strip_prefix(prefix) {
                let name = name.replace("~1", "/").replace("~0", "~");
                for key in ["$defs", "definitions"] {
                    if let Some(v) = root.get(key).and_then(|d| d.get(&name)) {
                        return Some(v);
                    }
                }
                if let Some(v) = root
                    .get("components")
                    .and_then(|c| c.get("schemas"))
                    .and_then(|d| d.get(&name))
                {
                    return Some(v);
                }
            }
        }
        None
    }

    fn collect(&self, node: &'a Value, view: &mut View<'a>, depth: usize) {
        if depth > MAX_REF_DEPTH {
            return;
        }
        let Value::Object(m) = node else {
            return;
        };
        view.parts.push(m);
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            view.refs.push(r.rsplit('/').next().unwrap_or(r));
            if let Some(target) = self.resolve_ref(r) {
                self.collect(target, view, depth + 1);
            }
        }
        if let Some(Value::Array(all)) = m.get("allOf") {
            for s in all {
                self.collect(s, view, depth + 1);
            }
        }
    }

    fn view(&self, nodes: &[&'a Value]) -> View<'a> {
        let mut view = View::default();
        for n in nodes {
            self.collect(n, &mut view, 0);
        }
        view
    }

    /// Built-in "X or Y" types (`JSONSchemaPropsOrBool`, ...): adds the branches whose type
    /// fits the value. Returns the branch types when none fits.
    fn add_branches(&self, view: &mut View<'a>, v: &Value) -> Option<Vec<&'a str>> {
        let mut branches: Vec<&'a Value> = Vec::new();
        for m in &view.parts {
            for key in ["oneOf", "anyOf"] {
                if let Some(Value::Array(bs)) = m.get(key) {
                    branches.extend(bs.iter());
                }
            }
        }
        if branches.is_empty() {
            return None;
        }
        let mut all_types = Vec::new();
        let mut matched = false;
        for b in branches {
            let bv = self.view(&[b]);
            let types = bv.types();
            if types.is_empty() || types.iter().any(|t| type_matches(t, v)) {
                matched = true;
                self.collect(b, view, 0);
            }
            all_types.extend(types);
        }
        if matched || v.is_null() {
            None
        } else {
            all_types.sort_unstable();
            all_types.dedup();
            Some(all_types)
        }
    }

    /// `apiVersion`, `kind` and `metadata` are handled apart from the schema here.
    fn implicit_fields(&self, ctx: Ctx) -> bool {
        match ctx {
            Ctx::Root => !self.builtin,
            Ctx::Embedded => true,
            Ctx::Normal => false,
        }
    }

    // ---------------------------------------------------------------- validation
}
