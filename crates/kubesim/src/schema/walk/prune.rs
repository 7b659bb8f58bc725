//! Pruning: fields the schema does not know are dropped (and reported).

use serde_json::Value;

use super::{Ctx, Walker, child, index};

impl<'a> Walker<'a> {
    pub(in crate::schema) fn prune_root(&self, object: &mut Value, out: &mut Vec<String>) {
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
}
