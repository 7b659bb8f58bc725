//! Server-side apply and managedFields tracking, after structured-merge-diff's `merge.Updater`
//! and the API server's field manager chain.

use super::fieldset::{self, FieldSet, Path};
use super::types::{Ctx, ListKind, ObjType, key_default};
use super::{ApplyOptions, Error, FieldConflict, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Shapes: how a value at some position is walked.

/// Where a value sits, which decides how it is walked.
#[derive(Debug, Clone, Copy)]
enum Slot<'a> {
    Root,
    /// Field `name` of a struct whose context is the `Ctx`.
    Field(Ctx, &'a str),
    /// A value of a `map[string]T`.
    MapEntry,
    /// An item of a keyed list, a struct with the given context.
    Item(Ctx),
    /// An item of a set.
    SetItem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Leaf,
    Struct(Ctx),
    StringMap,
    List(ListKind, Ctx),
}

impl Slot<'_> {
    fn shape(self, v: &Value, ty: ObjType) -> Shape {
        match (self, v) {
            (Slot::Root, Value::Object(_)) => Shape::Struct(Ctx::Root),
            (Slot::Field(c, f), Value::Object(_)) => {
                if c.is_atomic_map(f, ty) {
                    Shape::Leaf
                } else if c.is_string_map(f, ty) {
                    Shape::StringMap
                } else {
                    Shape::Struct(c.child(f, ty))
                }
            }
            (Slot::Field(c, f), Value::Array(_)) => match c.list_kind(f, ty) {
                ListKind::Atomic => Shape::Leaf,
                k => Shape::List(k, c.item(f)),
            },
            (Slot::MapEntry, Value::Object(_)) => Shape::Struct(Ctx::Other),
            (Slot::Item(c), Value::Object(_)) => Shape::Struct(c),
            _ => Shape::Leaf,
        }
    }

    /// Items of maps and lists are set members in their own right (SMD's `.`).
    fn is_item(self) -> bool {
        matches!(self, Slot::MapEntry | Slot::Item(_) | Slot::SetItem)
    }

    /// For Update tracking: whether a non-leaf node appearing or disappearing is recorded.
    /// The API server compares against a typed Go object, where these fields are never absent
    /// (non-pointer structs, non-omitempty slices), so they are not "added".
    fn records_presence(self) -> bool {
        match self {
            Slot::Root => false,
            Slot::Field(_, f) => !matches!(
                f,
                "metadata"
                    | "spec"
                    | "status"
                    | "template"
                    | "jobTemplate"
                    | "containers"
                    | "strategy"
                    | "updateStrategy"
            ),
            Slot::MapEntry | Slot::Item(_) | Slot::SetItem => true,
        }
    }
}

fn child_slot(shape: Shape, field: &str) -> Slot<'_> {
    match shape {
        Shape::Struct(c) => Slot::Field(c, field),
        Shape::StringMap | Shape::Leaf | Shape::List(..) => Slot::MapEntry,
    }
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The path element of a list item (`k:{..}` or `v:..`).
fn item_pe(kind: ListKind, item: &Value) -> Result<String> {
    match kind {
        ListKind::Map { ssa_keys, .. } => {
            let Value::Object(m) = item else {
                return Err(Error::Invalid(format!(
                    "expected a map in an associative list, got {item}"
                )));
            };
            let mut vals = Vec::new();
            for k in ssa_keys {
                let v = match m.get(*k) {
                    Some(v) => v.clone(),
                    None => key_default(k).ok_or_else(|| {
                        Error::Invalid(format!(
                            "associative list with keys has an element that omits key field {k:?} \
                             (and doesn't have default value)"
                        ))
                    })?,
                };
                vals.push((*k, v));
            }
            let refs: Vec<(&str, &Value)> = vals.iter().map(|(k, v)| (*k, v)).collect();
            Ok(fieldset::key(&refs))
        }
        ListKind::Set | ListKind::Atomic => Ok(fieldset::set_value(item)),
    }
}

fn item_slot(kind: ListKind, item_ctx: Ctx) -> Slot<'static> {
    match kind {
        ListKind::Map { .. } => Slot::Item(item_ctx),
        ListKind::Set | ListKind::Atomic => Slot::SetItem,
    }
}

/// Items of a list indexed by path element, first occurrence wins. With `strict`, a duplicate
/// is an error (as for an applied configuration).
fn index_list(
    kind: ListKind,
    list: &[Value],
    strict: bool,
) -> Result<(Vec<String>, BTreeMap<String, &Value>)> {
    let mut order = Vec::new();
    let mut by_pe = BTreeMap::new();
    for item in list {
        let pe = item_pe(kind, item)?;
        if by_pe.contains_key(&pe) {
            if strict {
                return Err(Error::Invalid(format!(
                    "duplicate entries for key {}",
                    fieldset::path_string(std::slice::from_ref(&pe))
                )));
            }
            continue;
        }
        by_pe.insert(pe.clone(), item);
        order.push(pe);
    }
    Ok((order, by_pe))
}

// ---------------------------------------------------------------------------------------------
// ToFieldSet

fn to_field_set(v: &Value, ty: ObjType) -> Result<FieldSet> {
    let mut set = FieldSet::default();
    walk_set(Slot::Root, v, ty, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn walk_set(slot: Slot, v: &Value, ty: ObjType, path: &mut Path, set: &mut FieldSet) -> Result<()> {
    let shape = slot.shape(v, ty);
    if slot.is_item() {
        set.insert(path);
    }
    match (shape, v) {
        (Shape::Leaf, _) => set.insert(path),
        (Shape::Struct(_) | Shape::StringMap, Value::Object(m)) => {
            if m.is_empty() && !matches!(slot, Slot::Root) {
                set.insert(path);
            }
            for (k, cv) in m {
                path.push(fieldset::field(k));
                if cv.is_null() {
                    set.insert(path);
                } else {
                    walk_set(child_slot(shape, k), cv, ty, path, set)?;
                }
                path.pop();
            }
        }
        (Shape::List(kind, ic), Value::Array(items)) => {
            let (order, by_pe) = index_list(kind, items, true)?;
            for pe in order {
                path.push(pe.clone());
                walk_set(item_slot(kind, ic), by_pe[&pe], ty, path, set)?;
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compare

#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

fn compare(lhs: &Value, rhs: &Value, ty: ObjType) -> Comparison {
    let mut c = Comparison::default();
    walk_cmp(
        Slot::Root,
        Some(lhs),
        Some(rhs),
        ty,
        &mut Vec::new(),
        &mut c,
    );
    c
}

fn walk_cmp(
    slot: Slot,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: ObjType,
    path: &mut Path,
    c: &mut Comparison,
) {
    // Equal subtrees hold no change: skip the walk (and its path allocations).
    if let (Some(l), Some(r)) = (lhs, rhs)
        && l == r
    {
        return;
    }
    let shape = match (lhs, rhs) {
        (Some(l), Some(r)) => {
            let (ls, rs) = (slot.shape(l, ty), slot.shape(r, ty));
            if ls == rs { rs } else { Shape::Leaf }
        }
        (None, Some(v)) | (Some(v), None) => slot.shape(v, ty),
        (None, None) => return,
    };
    // Empty on both sides is a leaf: this keeps the empty/absent distinction.
    let leaf = shape == Shape::Leaf || (is_empty_container(lhs) && is_empty_container(rhs));
    if leaf {
        match (lhs, rhs) {
            (None, _) => c.added.insert(path),
            (_, None) => c.removed.insert(path),
            (Some(l), Some(r)) if l != r => c.modified.insert(path),
            _ => {}
        }
        return;
    }
    match shape {
        Shape::Struct(_) | Shape::StringMap => {
            let empty = Map::new();
            let lm = lhs.and_then(Value::as_object).unwrap_or(&empty);
            let rm = rhs.and_then(Value::as_object).unwrap_or(&empty);
            let keys: std::collections::BTreeSet<&String> = lm.keys().chain(rm.keys()).collect();
            for k in keys {
                // managedFields are not fields of the object (see `STRIPPED`).
                if k == "managedFields" && path.len() == 1 && path[0] == "f:metadata" {
                    continue;
                }
                let (l, r) = (
                    lm.get(k).filter(|v| !v.is_null()),
                    rm.get(k).filter(|v| !v.is_null()),
                );
                path.push(fieldset::field(k));
                walk_cmp(child_slot(shape, k), l, r, ty, path, c);
                path.pop();
            }
        }
        Shape::List(kind, ic) => {
            let (li, ri) = (list_index(kind, lhs), list_index(kind, rhs));
            let pes: std::collections::BTreeSet<&String> = li.keys().chain(ri.keys()).collect();
            for pe in pes {
                path.push(pe.clone());
                walk_cmp(
                    item_slot(kind, ic),
                    li.get(pe).copied(),
                    ri.get(pe).copied(),
                    ty,
                    path,
                    c,
                );
                path.pop();
            }
        }
        Shape::Leaf => unreachable!("leaves are handled above"),
    }
    if slot.records_presence() {
        match (lhs, rhs) {
            (None, _) => c.added.insert(path),
            (_, None) => c.removed.insert(path),
            _ => {}
        }
    }
}

fn list_index(kind: ListKind, v: Option<&Value>) -> BTreeMap<String, &Value> {
    v.and_then(Value::as_array)
        .and_then(|a| index_list(kind, a, false).ok())
        .map(|(_, m)| m)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Merge (applied configuration onto the live object)

fn merge(slot: Slot, live: Option<&Value>, config: &Value, ty: ObjType) -> Result<Option<Value>> {
    if config.is_null() {
        return Ok(None);
    }
    let shape = slot.shape(config, ty);
    let live = live.filter(|l| slot.shape(l, ty) == shape);
    match (shape, config) {
        (Shape::Struct(_) | Shape::StringMap, Value::Object(cm)) => {
            let mut out = live.and_then(Value::as_object).cloned().unwrap_or_default();
            for (k, cv) in cm {
                match merge(child_slot(shape, k), out.get(k), cv, ty)? {
                    Some(v) => out.insert(k.clone(), v),
                    None => out.remove(k),
                };
            }
            Ok(Some(Value::Object(out)))
        }
        (Shape::List(kind, ic), Value::Array(ca)) => {
            let empty = Vec::new();
            let la = live.and_then(Value::as_array).unwrap_or(&empty);
            let (lorder, lmap) = index_list(kind, la, false)?;
            let (rorder, rmap) = index_list(kind, ca, true)?;
            let islot = item_slot(kind, ic);
            let mut out = Vec::new();
            for pe in merge_order(&lorder, &rorder, &lmap, &rmap) {
                match rmap.get(pe) {
                    Some(cv) => out.extend(merge(islot, lmap.get(pe).copied(), cv, ty)?),
                    None => out.push(lmap[pe].clone()),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        _ => Ok(Some(config.clone())),
    }
}

/// structured-merge-diff's list merge order: the applied order, with live-only items kept
/// where they were relative to the shared ones.
fn merge_order<'a>(
    lorder: &'a [String],
    rorder: &'a [String],
    lmap: &BTreeMap<String, &Value>,
    rmap: &BTreeMap<String, &Value>,
) -> Vec<&'a String> {
    let mut out = Vec::with_capacity(lorder.len().max(rorder.len()));
    let mut shared = rorder.iter().filter(|pe| lmap.contains_key(*pe));
    let mut next_shared = shared.next();
    let (mut li, mut ri) = (0, 0);
    while li < lorder.len() || ri < rorder.len() {
        if li < lorder.len() && ri < rorder.len() {
            let pe = &lorder[li];
            if *pe == rorder[ri] {
                out.push(pe);
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if rmap.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                // A shared item, emitted when the applied order reaches it.
                li += 1;
                continue;
            }
        }
        if li < lorder.len() && !rmap.contains_key(&lorder[li]) {
            out.push(&lorder[li]);
            li += 1;
            continue;
        }
        if ri < rorder.len() {
            let pe = &rorder[ri];
            out.push(pe);
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.next();
            }
        } else {
            // Only shared live items remain, and those were emitted from the applied side.
            li += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Removing paths (pruning fields an applier stopped applying)

/// Removes the value at `path` from `v`. Returns whether something was removed.
fn remove_path(v: &mut Value, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    if let Some(f) = first.strip_prefix("f:") {
        let Value::Object(m) = v else { return false };
        if rest.is_empty() {
            m.remove(f).is_some()
        } else {
            let Some(child) = m.get_mut(f) else {
                return false;
            };
            let removed = remove_path(child, rest);
            // Maps emptied by pruning go too, as the API server's typed objects omit them.
            if removed && matches!(child, Value::Object(c) if c.is_empty()) {
                m.remove(f);
            }
            removed
        }
    } else {
        let Value::Array(items) = v else { return false };
        let Some(i) = items.iter().position(|item| item_matches(first, item)) else {
            return false;
        };
        if rest.is_empty() {
            items.remove(i);
            true
        } else {
            remove_path(&mut items[i], rest)
        }
    }
}

fn item_matches(pe: &str, item: &Value) -> bool {
    if let Some(k) = pe.strip_prefix("k:") {
        let Ok(keys) = serde_json::from_str::<Map<String, Value>>(k) else {
            return false;
        };
        keys.iter().all(|(name, want)| match item.get(name) {
            Some(have) => have == want,
            None => key_default(name).as_ref() == Some(want),
        })
    } else if let Some(val) = pe.strip_prefix("v:") {
        serde_json::from_str::<Value>(val).is_ok_and(|want| *item == want)
    } else {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// managedFields entries

/// Paths the API server never records in managedFields (its stripMeta manager, plus the
/// deletion fields only the server sets). Built once: every tracked write reads it.
static STRIPPED: std::sync::LazyLock<FieldSet> = std::sync::LazyLock::new(|| {
    let mut s = FieldSet::default();
    for p in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
        &["metadata", "deletionTimestamp"],
        &["metadata", "deletionGracePeriodSeconds"],
    ] {
        let path: Path = p.iter().map(|f| fieldset::field(f)).collect();
        s.insert(&path);
    }
    s
});

/// What identifies a manager (the API server's `BuildManagerIdentifier`): appliers are one
/// manager whatever API version they used, updaters one per API version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ManagerId {
    manager: String,
    apply: bool,
    api_version: String,
    subresource: String,
}

impl ManagerId {
    /// As the API server prints a manager in a conflict message.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if !self.apply {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

#[derive(Debug, Clone)]
struct Managed {
    api_version: String,
    time: Option<String>,
    set: FieldSet,
}

type Managers = BTreeMap<ManagerId, Managed>;

fn decode_managers(obj: Option<&Value>) -> Managers {
    let mut out = Managers::new();
    let Some(entries) = obj
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
    else {
        return out;
    };
    for e in entries {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let op = s("operation");
        if op != "Apply" && op != "Update" {
            continue;
        }
        let apply = op == "Apply";
        let api_version = s("apiVersion");
        let id = ManagerId {
            manager: s("manager"),
            apply,
            api_version: if apply {
                String::new()
            } else {
                api_version.clone()
            },
            subresource: s("subresource"),
        };
        let set = FieldSet::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
        let time = e.get("time").and_then(Value::as_str).map(str::to_owned);
        match out.get_mut(&id) {
            Some(m) => m.set = m.set.union(&set),
            None => {
                out.insert(
                    id,
                    Managed {
                        api_version,
                        time,
                        set,
                    },
                );
            }
        }
    }
    out
}

/// `[{}]` is how a client asks the API server to drop all managedFields.
fn is_reset(obj: &Value) -> bool {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty))
}

fn has_entries(obj: &Value) -> bool {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn encode_managers(obj: &mut Value, managers: &Managers) {
    let mut entries: Vec<(&ManagerId, &Managed)> =
        managers.iter().filter(|(_, m)| !m.set.is_empty()).collect();
    // sortEncodedManagedFields: operation, then time, then manager, apiVersion, subresource.
    let secs = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp())
    };
    entries.sort_by(|(a, am), (b, bm)| {
        (!a.apply)
            .cmp(&!b.apply)
            .then(secs(&am.time).cmp(&secs(&bm.time)))
            .then(a.manager.cmp(&b.manager))
            .then(am.api_version.cmp(&bm.api_version))
            .then(a.subresource.cmp(&b.subresource))
    });
    let encoded: Vec<Value> = entries
        .into_iter()
        .map(|(id, m)| {
            let mut e = json!({
                "manager": id.manager,
                "operation": if id.apply { "Apply" } else { "Update" },
                "apiVersion": m.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": m.set.to_fields_v1(),
            });
            if let Some(t) = &m.time {
                e["time"] = Value::String(t.clone());
            }
            if !id.subresource.is_empty() {
                e["subresource"] = Value::String(id.subresource.clone());
            }
            e
        })
        .collect();
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    if encoded.is_empty() {
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert("managedFields".into(), Value::Array(encoded));
    }
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        meta.remove("managedFields");
    }
    v
}

fn api_version(obj: &Value) -> String {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// The operations

/// Server-side apply. `subresource` is `None` for the main resource, whose apply leaves
/// `status` alone, or `Some("status")`, whose apply touches only `status`.
pub(crate) fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    opts: &ApplyOptions,
    subresource: Option<&str>,
) -> Result<Value> {
    let ty = ObjType::new(opts.group, opts.kind);
    let Value::Object(config) = applied else {
        return Err(Error::Malformed(
            "the applied configuration must be a JSON object".into(),
        ));
    };
    let mut config = config.clone();
    if let Some(Value::Object(meta)) = config.get_mut("metadata") {
        meta.remove("managedFields");
    }
    match subresource {
        None => {
            config.remove("status");
        }
        Some(_) => config.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "status")),
    }
    let config = Value::Object(config);

    let live_clean = live.map_or_else(|| json!({}), without_managed_fields);
    let mut managers = decode_managers(live);
    let me = ManagerId {
        manager: opts.field_manager.to_owned(),
        apply: true,
        api_version: String::new(),
        subresource: subresource.unwrap_or("").to_owned(),
    };
    let strip = &*STRIPPED;

    let mut merged = merge(Slot::Root, Some(&live_clean), &config, ty)?.unwrap_or_default();
    let config_set = to_field_set(&config, ty)?.difference(strip);
    let previous = managers.remove(&me);
    let last_set = previous.as_ref().map(|m| m.set.clone()).unwrap_or_default();

    // Prune what this manager applied before and no longer does, unless someone owns it.
    let owned_by_all = managers
        .values()
        .fold(config_set.clone(), |acc, m| acc.union(&m.set));
    for path in last_set.difference(&config_set).members() {
        if !owned_by_all.has_at_or_below(&path) {
            remove_path(&mut merged, &path);
        }
    }

    // Conflicts: fields other managers own whose value this apply changes.
    let cmp = compare(&live_clean, &merged, ty);
    let changed = cmp.modified.union(&cmp.added).difference(strip);
    let mut conflicts = Vec::new();
    for (id, m) in &managers {
        for path in m.set.intersection(&changed).members() {
            conflicts.push(FieldConflict {
                manager: id.manager.clone(),
                field: fieldset::path_string(&path),
                message: format!("conflict with {}", id.describe()),
            });
        }
    }
    if !conflicts.is_empty() && !opts.force {
        return Err(Error::Conflict { conflicts });
    }
    for m in managers.values_mut() {
        m.set = m.set.difference(&changed).difference(&cmp.removed);
    }
    managers.retain(|_, m| !m.set.is_empty());

    let object_changed = merged != live_clean;
    let set_changed = previous.as_ref().is_none_or(|p| p.set != config_set);
    let time = match previous {
        Some(p) if !object_changed && !set_changed => p.time,
        _ => Some(opts.now.to_owned()),
    };
    managers.insert(
        me,
        Managed {
            api_version: api_version(&config),
            time,
            set: config_set,
        },
    );
    encode_managers(&mut merged, &managers);
    Ok(merged)
}

pub(crate) fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    let version = api_version(new);
    let group = version.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
    let kind = new
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ty = ObjType::new(&group, &kind);

    // DecodeLiveOrNew: a request that carries no managedFields keeps the live ones; a
    // subresource request cannot change them at all.
    let mut managers = if is_reset(new) {
        Managers::new()
    } else if subresource.is_none() && has_entries(new) {
        decode_managers(Some(new))
    } else {
        decode_managers(old)
    };

    let empty = json!({});
    let cmp = compare(old.unwrap_or(&empty), new, ty);
    let strip = &*STRIPPED;
    let changed = cmp.modified.union(&cmp.added).difference(strip);

    for m in managers.values_mut() {
        m.set = m.set.difference(&changed).difference(&cmp.removed);
    }
    if !changed.is_empty() {
        let me = ManagerId {
            manager: manager.to_owned(),
            apply: false,
            api_version: version.clone(),
            subresource: subresource.unwrap_or("").to_owned(),
        };
        let set = match managers.get(&me) {
            Some(prev) => prev.set.union(&changed),
            None => changed,
        };
        managers.insert(
            me,
            Managed {
                api_version: version,
                time: Some(now.to_owned()),
                set,
            },
        );
    }
    managers.retain(|_, m| !m.set.is_empty());
    encode_managers(new, &managers);
}

#[cfg(test)]
mod tests;
