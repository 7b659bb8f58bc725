//! Walking an object alongside its schema: validation, pruning and defaulting.

use serde_json::{Map, Value};

use super::builtin::OBJECT_META;
use super::format::{
    QUANTITY_REGEX, check_string_format, go_value, is_integer, is_quantity, json_type,
    matches_pattern, type_matches,
};
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

    pub(super) fn validate_root(&self, object: &Value, out: &mut Vec<Cause>) {
        self.validate_node(&[&self.schema.root], object, "", Ctx::Root, out);
    }

    fn validate_node(
        &self,
        nodes: &[&'a Value],
        v: &Value,
        path: &str,
        ctx: Ctx,
        out: &mut Vec<Cause>,
    ) {
        let mut view = self.view(nodes);
        if self.builtin
            && let Some(types) = self.add_branches(&mut view, v)
        {
            out.push(type_invalid(path, json_type(v), &types.join(",")));
            return;
        }
        let ctx = if view.flag("x-kubernetes-embedded-resource") {
            Ctx::Embedded
        } else {
            ctx
        };
        let types = view.types();
        if v.is_null() {
            if self.builtin || view.nullable() || types.is_empty() {
                return;
            }
            out.push(type_invalid(path, "null", &types.join(",")));
            return;
        }
        if view.flag("x-kubernetes-int-or-string") {
            // Go's Quantity and IntOrString decode any JSON number; structural schemas want integers.
            let ok = v.is_string()
                || if self.builtin {
                    v.is_number()
                } else {
                    is_integer(v)
                };
            if !ok {
                out.push(type_invalid(path, json_type(v), "integer,string"));
                return;
            }
            if view.refs.contains(&QUANTITY_DEF)
                && let Some(s) = v.as_str()
                && !is_quantity(s)
            {
                out.push(invalid(
                    path,
                    v,
                    &format!("quantities must match the regular expression '{QUANTITY_REGEX}'"),
                ));
                return;
            }
        } else if !types.is_empty() && !types.iter().any(|t| type_matches(t, v)) {
            out.push(type_invalid(path, json_type(v), &types.join(",")));
            return;
        }
        for part in &view.parts {
            self.check_keywords(part, v, path, out);
            if !self.builtin {
                self.check_combinators(part, v, path, out);
            }
        }
        match v {
            Value::Object(m) => self.validate_object(&view, m, path, ctx, out),
            Value::Array(a) => {
                let items = view.items();
                if !items.is_empty() {
                    for (i, item) in a.iter().enumerate() {
                        self.validate_node(&items, item, &index(path, i), Ctx::Normal, out);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    fn validate_object(
        &self,
        view: &View<'a>,
        m: &Map<String, Value>,
        path: &str,
        ctx: Ctx,
        out: &mut Vec<Cause>,
    ) {
        for r in view.required() {
            let present = match m.get(r) {
                None => false,
                // A null is the Go zero value for built-ins; structural schemas see a value.
                Some(Value::Null) => !self.builtin,
                Some(_) => true,
            };
            if !present {
                out.push(required(&child(path, r), None));
            }
        }
        let implicit = self.implicit_fields(ctx);
        if implicit {
            for key in ["apiVersion", "kind"] {
                match m.get(key) {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    Some(
                        v
                        @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)),
                    ) => {
                        out.push(type_invalid(&child(path, key), json_type(v), "string"));
                    }
                    Some(Value::String(_) | Value::Null) | None => {
                        if ctx == Ctx::Embedded {
                            out.push(required(&child(path, key), Some("must not be empty")));
                        }
                    }
                }
            }
            if let Some(meta) = m.get("metadata") {
                let w = Self::meta_walker();
                w.validate_node(
                    &[&w.schema.root],
                    meta,
                    &child(path, "metadata"),
                    Ctx::Normal,
                    out,
                );
            }
        }
        for (k, cv) in m {
            if implicit && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let props = view.property(k);
            if !props.is_empty() {
                self.validate_node(&props, cv, &child(path, k), Ctx::Normal, out);
            } else if let Some(ap @ Value::Object(_)) = view.additional() {
                let p = if self.builtin {
                    format!("{path}[{k}]")
                } else {
                    child(path, k)
                };
                self.validate_node(&[ap], cv, &p, Ctx::Normal, out);
            }
        }
    }

    /// Keywords that constrain the value itself.
    fn check_keywords(
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
    fn check_combinators(
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

    pub(super) fn prune_root(&self, object: &mut Value, out: &mut Vec<String>) {
        self.prune_node(&[&self.schema.root], object, "", Ctx::Root, out);
    }

    fn prune_node(
        &self,
        nodes: &[&'a Value],
        v: &mut Value,
        path: &str,
        ctx: Ctx,
        out: &mut Vec<String>,
    ) {
        let mut view = self.view(nodes);
        if self.builtin {
            let _ = self.add_branches(&mut view, v);
        }
        let ctx = if view.flag("x-kubernetes-embedded-resource") {
            Ctx::Embedded
        } else {
            ctx
        };
        let preserve = view.flag("x-kubernetes-preserve-unknown-fields");
        match v {
            Value::Object(m) => {
                let implicit = self.implicit_fields(ctx);
                let ap = view.additional();
                // Built-in objects without declared fields (RawExtension, FieldsV1) hold anything.
                let free_form = self.builtin && !view.has_properties() && ap.is_none();
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let cp = child(path, &k);
                    if implicit && (k == "apiVersion" || k == "kind") {
                        continue;
                    }
                    if implicit && k == "metadata" {
                        if let Some(meta) = m.get_mut("metadata") {
                            let w = Self::meta_walker();
                            w.prune_node(&[&w.schema.root], meta, &cp, Ctx::Normal, out);
                        }
                        continue;
                    }
                    let props = view.property(&k);
                    if !props.is_empty() {
                        if let Some(cv) = m.get_mut(&k) {
                            self.prune_node(&props, cv, &cp, Ctx::Normal, out);
                        }
                        continue;
                    }
                    match ap {
                        Some(Value::Bool(true)) => continue,
                        Some(ap @ Value::Object(_)) => {
                            if let Some(cv) = m.get_mut(&k) {
                                self.prune_node(&[ap], cv, &cp, Ctx::Normal, out);
                            }
                            continue;
                        }
                        Some(_) | None => {}
                    }
                    if preserve || free_form {
                        continue;
                    }
                    out.push(format!(".{cp}"));
                    m.remove(&k);
                }
            }
            Value::Array(a) => {
                let items = view.items();
                if !items.is_empty() {
                    for (i, item) in a.iter_mut().enumerate() {
                        self.prune_node(&items, item, &index(path, i), Ctx::Normal, out);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    // ---------------------------------------------------------------- defaulting

    pub(super) fn default_root(&self, object: &mut Value) {
        self.default_node(&[&self.schema.root], object, Ctx::Root);
    }

    fn default_node(&self, nodes: &[&'a Value], v: &mut Value, ctx: Ctx) {
        let mut view = self.view(nodes);
        if self.builtin {
            let _ = self.add_branches(&mut view, v);
        }
        let ctx = if view.flag("x-kubernetes-embedded-resource") {
            Ctx::Embedded
        } else {
            ctx
        };
        match v {
            Value::Object(m) => {
                let implicit = self.implicit_fields(ctx);
                for name in view.property_names() {
                    if implicit && matches!(name, "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    let sv = self.view(&view.property(name));
                    let default = sv.default_value();
                    match m.get(name) {
                        None => {
                            if let Some(d) = default {
                                m.insert(name.to_string(), d.clone());
                            }
                        }
                        Some(Value::Null) if !sv.nullable() => match default {
                            Some(d) => {
                                m.insert(name.to_string(), d.clone());
                            }
                            // PruneNonNullableNullsWithoutDefaults.
                            None if !self.builtin => {
                                m.remove(name);
                            }
                            None => {}
                        },
                        Some(_) => {}
                    }
                }
                for (k, cv) in m.iter_mut() {
                    if implicit && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    let props = view.property(k);
                    if !props.is_empty() {
                        self.default_node(&props, cv, Ctx::Normal);
                    } else if let Some(ap @ Value::Object(_)) = view.additional() {
                        self.default_node(&[ap], cv, Ctx::Normal);
                    }
                }
            }
            Value::Array(a) => {
                let items = view.items();
                if !items.is_empty() {
                    let iv = self.view(&items);
                    for item in a.iter_mut() {
                        if item.is_null()
                            && !iv.nullable()
                            && let Some(d) = iv.default_value()
                        {
                            *item = d.clone();
                        }
                        self.default_node(&items, item, Ctx::Normal);
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }
}
