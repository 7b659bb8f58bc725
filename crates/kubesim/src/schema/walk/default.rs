//! Defaulting: `default`s filled in where the object has no value.

use serde_json::Value;

use super::{Ctx, Walker};

impl<'a> Walker<'a> {
    pub(in crate::schema) fn default_root(&self, object: &mut Value) {
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
