//! Creates and updates: type checks, schema work, validation, defaults, generation and
//! managedFields, then the stored change.

use std::sync::Arc;

use serde_json::{Value, json};

use super::crd::crd_status;
use super::object::{
    finalizers, is_crd, is_deleting, is_namespace, meta_str, now_rfc3339, obj_key, random_suffix,
    same_content, same_spec,
};
use super::{
    DEFAULT_MANAGER, EventType, FieldValidation, ObjKey, State, StorageKey, Subresource,
    WriteOptions, Written, defaults, served_shared, to_served, to_stored, validate,
};
use crate::resources::{ResourceInfo, Shape, crd_resources};
use crate::status::{Cause, Error, Result};

/// A create checked and shaped outside the lock (see [`State::prepare_create`]).
pub(super) struct PreparedCreate {
    key: ObjKey,
    /// The object to store and the resources it defines (a CRD), or the error to answer once
    /// the namespace is known to exist.
    stored: Result<(Value, Option<Vec<Arc<ResourceInfo>>>)>,
    warnings: Vec<String>,
}

/// An update computed outside the lock (see [`State::prepare_update`]).
pub(super) enum Prepared {
    /// Nothing to store (no change, or a dry run): the answer as is.
    Done(Written),
    Store(PreparedUpdate),
}

/// The new state of an updated object, to commit under the lock.
pub(super) struct PreparedUpdate {
    stored: Value,
    /// The resources a CRD update serves.
    crd_infos: Option<Vec<Arc<ResourceInfo>>>,
    warnings: Vec<String>,
    /// The update removes the last finalizer of a deleted object: it goes.
    done: bool,
}

impl State {
    pub(super) fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<()> {
        let Some(m) = obj.as_object_mut() else {
            return Err(Error::bad_request(
                "the object provided is unrecognized: expected a JSON object",
            ));
        };
        let want_av = info.api_version();
        match m.get("apiVersion").and_then(Value::as_str) {
            Some(av) if !av.is_empty() && av != want_av => {
                // Another served version of the same group shares the storage.
                let same_group = match av.split_once('/') {
                    Some((g, _)) => g == info.group,
                    None => info.group.is_empty(),
                };
                if !same_group || info.shape == Shape::EventsV1 {
                    return Err(Error::bad_request(format!(
                        "the API version in the data ({av}) does not match the expected API version ({want_av})"
                    )));
                }
            }
            _ => {}
        }
        match m.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != info.kind => {
                return Err(Error::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): kind {k}",
                    info.kind
                )));
            }
            _ => {}
        }
        m.insert("apiVersion".into(), json!(want_av));
        m.insert("kind".into(), json!(info.kind));
        if !m.get("metadata").is_some_and(Value::is_object) {
            m.insert("metadata".into(), json!({}));
        }
        Ok(())
    }

    /// Schema work on a client's object (served shape): unknown fields per `fieldValidation`,
    /// pruning and defaults for custom resources, then validation causes.
    pub(super) fn schema_pass(
        info: &ResourceInfo,
        obj: &mut Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
        causes: &mut Vec<Cause>,
    ) -> Result<()> {
        let Some(schema) = info.validation_schema() else {
            return Ok(());
        };
        // Pruning returns what it dropped: the unknown fields (a Strict error discards `obj`).
        let unknown: Vec<String> = schema
            .prune(obj)
            .into_iter()
            .map(|p| p.trim_start_matches('.').to_string())
            .collect();
        if !unknown.is_empty() {
            match validation {
                FieldValidation::Strict => {
                    let list = unknown
                        .iter()
                        .map(|p| format!("unknown field \"{p}\""))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(Error::bad_request(format!("strict decoding error: {list}")));
                }
                FieldValidation::Warn => {
                    warnings.extend(unknown.iter().map(|p| format!("unknown field \"{p}\"")));
                }
                FieldValidation::Ignore => {}
            }
        }
        schema.apply_defaults(obj);
        causes.extend(schema.validate(obj).into_iter().map(Cause::from));
        Ok(())
    }

    pub(super) fn check_namespace(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<()> {
        let nsk = StorageKey::new("", "namespaces");
        match self.get(&nsk, &(String::new(), ns.to_string())) {
            None => Err(Error::not_found("", "namespaces", ns)),
            Some(n) if is_deleting(&n) => Err(Error::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                crate::status::qualified(&info.group, &info.plural)
            ))
            .with_details(crate::status::Details {
                name: name.to_string(),
                group: info.group.clone(),
                kind: info.plural.clone(),
                uid: String::new(),
                causes: vec![Cause {
                    reason: "NamespaceTerminating".into(),
                    message: format!("namespace {ns} is being terminated"),
                    field: "metadata.namespace".into(),
                }],
            })),
            Some(_) => Ok(()),
        }
    }

    /// The work of a create that reads no stored state (type and namespace checks, validation,
    /// the schema walk, defaults, managedFields), done before the lock is taken. Errors that
    /// a real server reports after the namespace check are kept in the result for
    /// [`State::commit_create`].
    pub(super) fn prepare_create(
        info: &ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<PreparedCreate> {
        Self::check_type(info, &mut obj)?;
        let meta_ns = meta_str(&obj, "namespace").to_string();
        let ns = if info.namespaced {
            let url_ns = namespace.filter(|n| !n.is_empty());
            match (url_ns, meta_ns.as_str()) {
                (Some(u), m) if !m.is_empty() && m != u => {
                    return Err(Error::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (Some(u), _) => u.to_string(),
                (None, m) if !m.is_empty() => m.to_string(),
                (None, _) => {
                    return Err(Error::bad_request(
                        "a namespace is required for this resource",
                    ));
                }
            }
        } else {
            String::new()
        };
        {
            let meta = obj["metadata"]
                .as_object_mut()
                .ok_or_else(|| Error::bad_request("metadata must be an object"))?;
            if info.namespaced {
                meta.insert("namespace".into(), json!(ns));
            } else {
                meta.remove("namespace");
            }
            let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
            let generate = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() && !generate.is_empty() {
                let generated = format!("{generate}{}", random_suffix());
                meta.insert("name".into(), json!(generated));
            }
            for f in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ] {
                meta.remove(f);
            }
            if !opts.server_side_apply {
                meta.remove("managedFields");
            }
        }
        let name = meta_str(&obj, "name").to_string();
        let mut warnings = Vec::new();
        let stored = Self::validate_new(info, obj, &name, opts, &mut warnings);
        Ok(PreparedCreate {
            key: (ns, name),
            stored,
            warnings,
        })
    }

    /// Validation and the stored form of a new object named `name`.
    fn validate_new(
        info: &ResourceInfo,
        mut obj: Value,
        name: &str,
        opts: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> Result<(Value, Option<Vec<Arc<ResourceInfo>>>)> {
        if info.has_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let mut causes = Vec::new();
        validate::name(info.name_rule, name, &mut causes);
        validate::labels_and_annotations(&obj["metadata"], &mut causes);
        if info.shape == Shape::EventsV1 {
            validate::events_v1(&obj, &mut causes);
        }
        validate::kind_rules(&info.storage, &obj, &mut causes);
        if !opts.typed {
            Self::schema_pass(info, &mut obj, opts.field_validation, warnings, &mut causes)?;
        }
        let crd_infos = if is_crd(info) && causes.is_empty() {
            Some(crd_resources(&obj)?)
        } else {
            None
        };
        if !causes.is_empty() {
            return Err(Error::invalid(&info.group, &info.kind, name, causes));
        }
        let now = now_rfc3339();
        obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        obj["metadata"]["creationTimestamp"] = json!(now);
        if info.has_generation {
            obj["metadata"]["generation"] = json!(1);
        }
        let mut stored = to_stored(info, obj);
        defaults::on_create(&info.storage.group, &info.kind, &mut stored);
        if let Some(infos) = &crd_infos {
            crd_status(&mut stored, infos);
        }
        let manager = opts.field_manager.as_deref().unwrap_or(DEFAULT_MANAGER);
        if !opts.server_side_apply {
            crate::patch::track_update(None, &mut stored, manager, None, &now);
        }
        Ok((stored, crd_infos))
    }

    /// The part of a create that reads and changes the store: the namespace, the name's
    /// uniqueness, then the stored change.
    pub(super) fn commit_create(
        &mut self,
        info: &Arc<ResourceInfo>,
        prepared: PreparedCreate,
        opts: &WriteOptions,
    ) -> Result<Written> {
        let PreparedCreate {
            key,
            stored,
            warnings,
        } = prepared;
        let name = key.1.clone();
        if info.namespaced {
            self.check_namespace(info, &key.0, &name)?;
        }
        let (stored, crd_infos) = stored?;
        if self.entry(&info.storage, &key).is_some() {
            return Err(Error::already_exists(&info.group, &info.plural, &name));
        }
        if opts.dry_run {
            return Ok(Written {
                object: Arc::new(to_served(info, &stored)),
                warnings,
                created: true,
            });
        }
        if let Some(infos) = crd_infos {
            self.registry.set_crd(&name, infos);
        }
        let stored = self.put(&info.storage, key, stored, None, EventType::Added);
        Ok(Written {
            object: served_shared(info, &stored),
            warnings,
            created: true,
        })
    }

    /// The checks of a PUT's body that read no stored state; the object's key.
    pub(super) fn check_put(
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        obj: &mut Value,
    ) -> Result<ObjKey> {
        Self::check_type(info, obj)?;
        let body_name = meta_str(obj, "name").to_string();
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(Error::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let key = obj_key(info, namespace, name)?;
        if info.namespaced {
            let body_ns = meta_str(obj, "namespace");
            if !body_ns.is_empty() && body_ns != key.0 {
                return Err(Error::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        Ok(key)
    }

    /// A read-modify-write's edit of `old` by `f`, then [`State::prepare_update`]; nothing to
    /// store when `f` changes nothing.
    pub(super) fn prepare_mutate<F>(
        info: &ResourceInfo,
        key: &ObjKey,
        old: &Arc<Value>,
        sub: Subresource,
        opts: &WriteOptions,
        f: &mut F,
    ) -> Result<Prepared>
    where
        F: FnMut(&mut Value) -> Result<()>,
    {
        let served = served_shared(info, old);
        let mut new = (*served).clone();
        f(&mut new)?;
        if new == *served {
            return Ok(Prepared::Done(Written {
                object: served,
                warnings: Vec::new(),
                created: false,
            }));
        }
        Self::check_type(info, &mut new)?;
        let new_name = meta_str(&new, "name");
        if !new_name.is_empty() && new_name != key.1 {
            return Err(Error::bad_request(format!(
                "the name of the object ({new_name}) does not match the name on the URL ({})",
                key.1
            )));
        }
        Self::prepare_update(info, key, old, new, sub, opts)
    }

    /// The common path of every update, run without the lock on the version `old` read:
    /// preconditions, subresource separation, validation, generation, managedFields. The
    /// result is committed by [`State::commit_update`] if `old` is still the stored version.
    pub(super) fn prepare_update(
        info: &ResourceInfo,
        key: &ObjKey,
        old: &Arc<Value>,
        body: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Prepared> {
        let name = key.1.as_str();
        let body_rv = meta_str(&body, "resourceVersion");
        if !body_rv.is_empty() && body_rv != meta_str(old, "resourceVersion") {
            return Err(Error::stale(&info.group, &info.plural, name));
        }
        let body_uid = meta_str(&body, "uid");
        if !body_uid.is_empty() && body_uid != meta_str(old, "uid") {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                    meta_str(old, "uid")
                ),
            ));
        }
        let old_served = served_shared(info, old);
        let mut causes = Vec::new();
        let mut warnings = Vec::new();
        let mut new = match sub {
            Subresource::Status => {
                let mut n = (*old_served).clone();
                let mut body = body;
                match body.get_mut("status").map(Value::take) {
                    Some(s) if !s.is_null() => n["status"] = s,
                    _ => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                n
            }
            Subresource::Main => {
                let mut n = body;
                defaults::on_write(&info.group, &info.kind, &mut n);
                if info.has_status {
                    match old_served.get("status") {
                        Some(s) => n["status"] = s.clone(),
                        None => {
                            if let Some(m) = n.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                let old_meta = &old_served["metadata"];
                for f in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "name",
                    "namespace",
                    "resourceVersion",
                ] {
                    match old_meta.get(f) {
                        Some(v) => n["metadata"][f] = v.clone(),
                        None => {
                            if let Some(m) = n["metadata"].as_object_mut() {
                                m.remove(f);
                            }
                        }
                    }
                }
                if n["metadata"].get("managedFields").is_none()
                    && let Some(mf) = old_meta.get("managedFields")
                {
                    n["metadata"]["managedFields"] = mf.clone();
                }
                if is_namespace(info) {
                    // spec.finalizers change only through /finalize.
                    n["spec"] = old_served["spec"].clone();
                }
                if is_deleting(old) {
                    let before = finalizers(old);
                    if finalizers(&n).iter().any(|f| !before.contains(f)) {
                        causes.push(Cause {
                            reason: "FieldValueForbidden".into(),
                            message: "Forbidden: no new finalizers can be added if the object is being deleted".into(),
                            field: "metadata.finalizers".into(),
                        });
                    }
                }
                validate::labels_and_annotations(&n["metadata"], &mut causes);
                validate::kind_rules(&info.storage, &n, &mut causes);
                if info.storage.group == "batch" && info.storage.resource == "jobs" {
                    validate::job_immutable(&old_served, &n, &mut causes);
                }
                n
            }
        };
        if !opts.typed {
            Self::schema_pass(
                info,
                &mut new,
                opts.field_validation,
                &mut warnings,
                &mut causes,
            )?;
        }
        let crd_infos = if is_crd(info) && causes.is_empty() {
            Some(crd_resources(&new)?)
        } else {
            None
        };
        if !causes.is_empty() {
            return Err(Error::invalid(&info.group, &info.kind, name, causes));
        }
        let mut stored = to_stored(info, new);
        if same_content(&stored, old, opts.server_side_apply) {
            return Ok(Prepared::Done(Written {
                object: old_served,
                warnings,
                created: false,
            }));
        }
        if info.has_generation && !same_spec(&stored, old, info.has_status) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
            stored["metadata"]["generation"] = json!(g + 1);
        }
        if let Some(infos) = &crd_infos {
            crd_status(&mut stored, infos);
        }
        let now = now_rfc3339();
        let manager = opts.field_manager.as_deref().unwrap_or(DEFAULT_MANAGER);
        if !opts.server_side_apply {
            crate::patch::track_update(Some(old), &mut stored, manager, sub.name(), &now);
        }
        if opts.dry_run {
            return Ok(Prepared::Done(Written {
                object: Arc::new(to_served(info, &stored)),
                warnings,
                created: false,
            }));
        }
        let done = is_deleting(&stored)
            && finalizers(&stored).is_empty()
            && stored["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0)
                == 0
            && !(is_namespace(info)
                && stored["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()));
        Ok(Prepared::Store(PreparedUpdate {
            stored,
            crd_infos,
            warnings,
            done,
        }))
    }

    /// Stores a prepared update of `old` (the caller checked it is still the stored version),
    /// or completes the pending deletion it finishes.
    pub(super) fn commit_update(
        &mut self,
        info: &ResourceInfo,
        key: &ObjKey,
        old: Arc<Value>,
        prepared: PreparedUpdate,
    ) -> Written {
        let PreparedUpdate {
            stored,
            crd_infos,
            warnings,
            done,
        } = prepared;
        if let Some(infos) = crd_infos {
            self.registry.set_crd(&key.1, infos);
        }
        let stored = if done {
            self.remove(&info.storage, key, stored)
        } else {
            self.put(
                &info.storage,
                key.clone(),
                stored,
                Some(old),
                EventType::Modified,
            )
        };
        Written {
            object: served_shared(info, &stored),
            warnings,
            created: false,
        }
    }
}
