//! Validation: types, required and unknown fields, the object's own rules.

use serde_json::{Map, Value};

use super::{
    Cause, Ctx, QUANTITY_DEF, View, Walker, child, index, invalid, required, type_invalid,
};
use crate::schema::format::{QUANTITY_REGEX, is_integer, is_quantity, json_type, type_matches};

impl<'a> Walker<'a> {
    pub(in crate::schema) fn validate_root(&self, object: &Value, out: &mut Vec<Cause>) {
        self.validate_node(&[&self.schema.root], object, "", Ctx::Root, out);
    }

    pub(super) fn validate_node(
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
}
