//! Sets of field paths, as structured-merge-diff's `fieldpath.Set`, and their FieldsV1 encoding.
//!
//! A path element is kept in its FieldsV1 spelling: `f:<field>`, `k:<json of the key fields>`,
//! `v:<json value>` or `i:<index>`. That spelling is canonical (key fields sorted by name), so
//! plain string comparison is path-element equality.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A set of paths, stored as a tree. `member` says whether the path ending at a node is in
/// the set; a node may also just be a prefix of deeper members.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

pub(crate) type Path = Vec<String>;

pub(crate) fn field(name: &str) -> String {
    format!("f:{name}")
}

/// `k:{...}` for a keyed list item; `keys` must be sorted by name.
pub(crate) fn key(keys: &[(&str, &Value)]) -> String {
    let body: Vec<String> = keys
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String((*k).to_owned()), v))
        .collect();
    format!("k:{{{}}}", body.join(","))
}

pub(crate) fn set_value(v: &Value) -> String {
    format!("v:{v}")
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        path.iter().try_fold(self, |n, pe| n.children.get(pe))
    }

    #[cfg(test)]
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether `path` or anything below it is a member.
    pub fn has_at_or_below(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Members of `self` that are not members of `other` (not recursive, as in SMD).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let d = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let i = child.intersection(o);
                if !i.is_empty() {
                    out.children.insert(pe.clone(), i);
                }
            }
        }
        out
    }

    /// All member paths, parents before children.
    pub fn members(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Decodes a FieldsV1 object. Unknown shapes decode to nothing rather than failing, so a
    /// hand-edited managedFields entry cannot wedge an object.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        if let Value::Object(m) = v {
            for (k, child) in m {
                if k == "." {
                    out.member = true;
                    continue;
                }
                let mut c = FieldSet::from_fields_v1(child);
                if matches!(child, Value::Object(cm) if cm.is_empty()) {
                    c.member = true;
                }
                out.children.insert(k.clone(), c);
            }
        }
        out
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        for (pe, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            let mut v = child.to_fields_v1();
            if let Value::Object(o) = &mut v
                && child.member
                && !o.is_empty()
            {
                o.insert(".".into(), Value::Object(Map::new()));
            }
            m.insert(pe.clone(), v);
        }
        Value::Object(m)
    }
}

/// A path as structured-merge-diff prints it: `.spec.containers[name="app"].image`.
pub(crate) fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for pe in path {
        if let Some(f) = pe.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            let parts: Vec<String> = match serde_json::from_str::<Map<String, Value>>(k) {
                Ok(m) => m.iter().map(|(n, v)| format!("{n}={v}")).collect(),
                Err(_) => vec![k.to_owned()],
            };
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = pe.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = pe.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        } else {
            out.push_str(pe);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(items: &[&str]) -> Path {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}}
            }
        });
        let s = FieldSet::from_fields_v1(&v);
        assert!(s.contains(&p(&["f:metadata", "f:labels"])));
        assert!(!s.contains(&p(&["f:metadata"])));
        assert!(s.contains(&p(&["f:spec", "f:replicas"])));
        assert_eq!(s.to_fields_v1(), v);
        assert_eq!(s.members().len(), 6);
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::default();
        a.insert(&p(&["f:a", "f:x"]));
        a.insert(&p(&["f:a", "f:y"]));
        let mut b = FieldSet::default();
        b.insert(&p(&["f:a", "f:y"]));
        b.insert(&p(&["f:b"]));
        assert_eq!(a.intersection(&b).members(), vec![p(&["f:a", "f:y"])]);
        assert_eq!(a.difference(&b).members(), vec![p(&["f:a", "f:x"])]);
        assert_eq!(a.union(&b).members().len(), 3);
        assert!(a.has_at_or_below(&p(&["f:a"])));
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn printing() {
        let k = key(&[("containerPort", &json!(80)), ("protocol", &json!("TCP"))]);
        assert_eq!(k, r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(
            path_string(&[field("spec"), field("ports"), k, field("name")]),
            r#".spec.ports[containerPort=80,protocol="TCP"].name"#
        );
        assert_eq!(
            path_string(&[
                field("metadata"),
                field("finalizers"),
                set_value(&json!("x"))
            ]),
            r#".metadata.finalizers[="x"]"#
        );
    }
}
