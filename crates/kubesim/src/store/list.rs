//! LIST: pages, continue tokens and selectors.

use std::ops::{Bound, RangeBounds};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::entry::Entry;
use super::object::meta_str;
use super::{EventType, ListOptions, ObjKey, ObjectList, State, StorageKey, to_served};
use crate::resources::{ResourceInfo, Shape};
use crate::status::{Cause, Error, Result};

/// A continue token as the API server writes it (`storage.EncodeContinue`): base64 of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`, where the key is `ns/name` (`name`
/// for cluster-scoped objects) and the NUL starts the page after it.
pub(super) fn encode_continue(rv: u64, key: &ObjKey) -> String {
    let start = if key.0.is_empty() {
        format!("{}\0", key.1)
    } else {
        format!("{}/{}\0", key.0, key.1)
    };
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    BASE64.encode(token.to_string())
}

/// The list resourceVersion and last key of a continue token; 400 as the API server answers
/// a token it cannot read.
pub(super) fn decode_continue(token: &str) -> Result<(u64, ObjKey)> {
    let bytes = BASE64.decode(token).map_err(|e| {
        Error::bad_request(format!(
            "continue key is not valid: illegal base64 data: {e}"
        ))
    })?;
    let bad = |why: &str| Error::bad_request(format!("continue key is not valid: {why}"));
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let rv = v["rv"]
        .as_u64()
        .filter(|rv| *rv > 0)
        .ok_or_else(|| bad("incorrect encoded start resourceVersion"))?;
    let start = v["start"]
        .as_str()
        .and_then(|s| s.strip_suffix('\0'))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("encoded start key is empty"))?;
    let key = match start.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (String::new(), start.to_string()),
    };
    Ok((rv, key))
}

/// Which state a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadAt {
    /// The latest state (`resourceVersion` unset or "0", or not older than one we have).
    Latest,
    /// Exactly this resourceVersion (a continue token, `resourceVersionMatch=Exact`, or a
    /// legacy paged list with a resourceVersion).
    Exact(u64),
}

fn list_options_invalid(field: &str, reason: &str, message: String) -> Error {
    Error::invalid(
        "meta.k8s.io",
        "ListOptions",
        "",
        vec![Cause {
            reason: reason.into(),
            message,
            field: field.into(),
        }],
    )
}

/// A list's `resourceVersion`/`resourceVersionMatch`/`continue` as the API server reads them:
/// apimachinery's `ValidateListOptions` (422), then the storage's `ValidateListOptions` and the
/// watch cache (400, 410, 504).
fn read_at(opts: &ListOptions, current: u64) -> Result<(ReadAt, Option<ObjKey>)> {
    let rv = opts.resource_version.as_deref().unwrap_or_default();
    let continue_token = opts.continue_token.as_deref().filter(|t| !t.is_empty());
    if let Some(m) = opts
        .resource_version_match
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        let forbidden = |message: &str| {
            list_options_invalid(
                "resourceVersionMatch",
                "FieldValueForbidden",
                format!("Forbidden: {message}"),
            )
        };
        if rv.is_empty() {
            return Err(forbidden(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if continue_token.is_some() {
            return Err(forbidden(
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "FieldValueNotSupported",
                format!(
                    "Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                ),
            ));
        }
        if m == "Exact" && rv == "0" {
            return Err(forbidden(
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if let Some(t) = continue_token {
        if !rv.is_empty() && rv != "0" {
            return Err(Error::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let (at, key) = decode_continue(t)?;
        return Ok((ReadAt::Exact(at), Some(key)));
    }
    if rv.is_empty() || rv == "0" {
        return Ok((ReadAt::Latest, None));
    }
    let n: u64 = rv
        .parse()
        .map_err(|_| Error::bad_request(format!("invalid resource version: {rv}")))?;
    if n > current {
        // The watch cache waits up to 3 s for a resourceVersion it has not seen, then says so.
        return Err(Error::too_large_resource_version(n, current));
    }
    let exact = match opts.resource_version_match.as_deref() {
        Some("Exact") => true,
        Some("NotOlderThan") => false,
        // Legacy: a paged list with a resourceVersion reads exactly it (from etcd).
        _ => opts.limit.is_some_and(|l| l > 0),
    };
    Ok((
        if exact {
            ReadAt::Exact(n)
        } else {
            ReadAt::Latest
        },
        None,
    ))
}

impl State {
    /// The objects of `sk` whose state at `rv` differs from now: key -> state at `rv` (None:
    /// absent then), undone from the event log. None when the log no longer reaches `rv`.
    fn rewind(&self, sk: &StorageKey, rv: u64) -> Option<HashMap<ObjKey, Option<Arc<Value>>>> {
        if rv < self.oldest {
            return None;
        }
        let mut at = HashMap::new();
        // Newest first: the last write wins, leaving the state before the oldest change.
        for ev in self.log.iter().rev() {
            if ev.resource_version <= rv {
                break;
            }
            if ev.storage != *sk {
                continue;
            }
            let key = (
                meta_str(&ev.object, "namespace").to_string(),
                meta_str(&ev.object, "name").to_string(),
            );
            let before = match ev.event_type {
                EventType::Added => None,
                EventType::Modified | EventType::Deleted => ev.previous.clone(),
            };
            at.insert(key, before);
        }
        Some(at)
    }

    pub(super) fn list(&self, info: &ResourceInfo, opts: &ListOptions) -> Result<ObjectList> {
        let page = self.list_stored(info, opts)?;
        Ok(ObjectList {
            items: page.items.iter().map(|o| to_served(info, o)).collect(),
            resource_version: page.resource_version,
            continue_token: page.continue_token,
        })
    }

    /// [`State::list`] without copies: the matching objects as stored, shared.
    pub(super) fn list_stored(
        &self,
        info: &ResourceInfo,
        opts: &ListOptions,
    ) -> Result<StoredList> {
        let (at, after) = read_at(opts, self.rv)?;
        let (list_rv, rewound) = match at {
            ReadAt::Latest => (self.rv, HashMap::new()),
            ReadAt::Exact(rv) => {
                let rewound = self.rewind(&info.storage, rv).ok_or_else(|| {
                    Error::expired(if after.is_some() {
                        CONTINUE_EXPIRED
                    } else {
                        "The resourceVersion for the provided list is too old."
                    })
                })?;
                (rv, rewound)
            }
        };
        let start = match (&after, &opts.namespace) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included((ns.clone(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let range = (start, Bound::Unbounded);
        let empty = BTreeMap::new();
        let current = self.objects.get(&info.storage).unwrap_or(&empty);
        let in_ns = |k: &ObjKey| opts.namespace.as_ref().is_none_or(|ns| k.0 == *ns);
        // The keys to look at, in list order: a label index's matches, or the whole range.
        let indexed = opts
            .label_selector
            .as_ref()
            .and_then(|s| s.indexed_values())
            .map(|(key, values)| {
                let index = self.labels.get(&info.storage);
                let mut keys = BTreeSet::new();
                for v in values {
                    if let Some(set) = index.and_then(|i| i.get(&(key.to_string(), v.clone()))) {
                        keys.extend(set.range(range.clone()).take_while(|k| in_ns(k)));
                    }
                }
                keys
            });
        let keys: Box<dyn Iterator<Item = &ObjKey>> = match indexed {
            Some(mut keys) => {
                keys.extend(rewound.keys().filter(|k| range.contains(k) && in_ns(k)));
                Box::new(keys.into_iter())
            }
            None if rewound.is_empty() => Box::new(
                current
                    .range(range.clone())
                    .map(|(k, _)| k)
                    .take_while(|k| in_ns(k)),
            ),
            None => {
                let mut keys: BTreeSet<&ObjKey> = current
                    .range(range.clone())
                    .map(|(k, _)| k)
                    .take_while(|k| in_ns(k))
                    .collect();
                keys.extend(rewound.keys().filter(|k| range.contains(k) && in_ns(k)));
                Box::new(keys.into_iter())
            }
        };
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut last_key: Option<&ObjKey> = None;
        for k in keys {
            let object = match rewound.get(k) {
                Some(then) => then.clone(),
                None => current.get(k).map(Entry::value),
            };
            let Some(o) = object else { continue };
            if let Some(l) = limit
                && items.len() == l
            {
                // One more match exists: this page ends at the previous key.
                if let Some(lk) = last_key {
                    continue_token = Some(encode_continue(list_rv, lk));
                }
                break;
            }
            // Native objects are matched as stored; only matches are copied (by the caller).
            let converted = match info.shape {
                Shape::Native => None,
                Shape::EventsV1 => Some(to_served(info, &o)),
            };
            let view = converted.as_ref().unwrap_or(&o);
            let ok = opts.label_selector.as_ref().is_none_or(|s| s.matches(view))
                && opts.field_selector.as_ref().is_none_or(|s| s.matches(view));
            if ok {
                items.push(o);
                last_key = Some(k);
            }
        }
        Ok(StoredList {
            items,
            resource_version: list_rv,
            continue_token,
        })
    }
}

/// One page of a list, as stored.
pub(super) struct StoredList {
    pub(super) items: Vec<Arc<Value>>,
    pub(super) resource_version: u64,
    pub(super) continue_token: Option<String>,
}

/// The 410 of a continue token whose resourceVersion the event log no longer reaches.
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";
