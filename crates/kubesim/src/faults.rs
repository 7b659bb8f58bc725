//! Fault injection: deterministic under a seed.
//!
//! A [`FaultEngine`] holds rules, each with a fraction of matching requests it hits, a verb,
//! resource and namespace filter, and an effect: an error (500, 503, 429 with `Retry-After`,
//! or 409 on writes), added latency, or a watch stream that ends after a while. Besides rules
//! it can answer the next watches with 410 Gone, close every open watch stream now, and pause
//! the server for a span (requests wait until the pause is over). Faults apply to resource
//! requests only: discovery, `/version` and the `/kubesim` admin surface are never hit.
//!
//! The random draws come from a small seeded PRNG (SplitMix64), so a run with the same seed and
//! the same request order makes the same decisions. The admin surface is JSON:
//! `GET|POST|DELETE /kubesim/faults` (read, replace, clear the rules), `POST
//! /kubesim/faults/pause` `{"millis": N}`, `POST /kubesim/faults/watch-gone` `{"count": N,
//! "resource": "jobs"}` and `POST /kubesim/faults/drop-watches`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::rbac::RequestAttributes;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("fraction must be within 0 and 1, got {0}")]
    Fraction(f64),
    #[error("status {0} is not an injectable error: use 409, 429, 500 or 503")]
    Status(u16),
    #[error("invalid fault configuration: {0}")]
    Json(#[source] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a rule does to a request it hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Effect {
    /// Answer with an error Status: 500 InternalError, 503 ServiceUnavailable, 429
    /// TooManyRequests (with `Retry-After`), or 409 Conflict (writes only).
    #[serde(rename_all = "camelCase")]
    Error {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
    },
    /// Serve the request after this delay.
    #[serde(rename_all = "camelCase")]
    Latency { millis: u64 },
    /// A watch that is hit ends (cleanly) after this long.
    #[serde(rename_all = "camelCase")]
    DropWatch { after_millis: u64 },
}

fn one() -> f64 {
    1.0
}

/// A fault rule. Empty filters match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Share of matching requests hit, 0 to 1.
    #[serde(default = "one")]
    pub fraction: f64,
    /// Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<String>,
    /// Resources (`jobs`), with a subresource (`jobs/status`), or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Hit at most this many requests, then stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    pub effect: Effect,
}

impl Rule {
    pub fn new(effect: Effect) -> Self {
        Self {
            fraction: 1.0,
            verbs: Vec::new(),
            resources: Vec::new(),
            namespaces: Vec::new(),
            limit: None,
            effect,
        }
    }

    pub fn fraction(mut self, f: f64) -> Self {
        self.fraction = f;
        self
    }

    pub fn verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = verbs.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn resources(mut self, resources: &[&str]) -> Self {
        self.resources = resources.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(Error::Fraction(self.fraction));
        }
        match &self.effect {
            Effect::Error { code, .. } if !matches!(code, 409 | 429 | 500 | 503) => {
                Err(Error::Status(*code))
            }
            Effect::Error { .. } | Effect::Latency { .. } | Effect::DropWatch { .. } => Ok(()),
        }
    }

    fn matches(&self, a: &RequestAttributes) -> bool {
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let verb_ok = self.verbs.is_empty() || self.verbs.iter().any(|v| v == "*" || *v == a.verb);
        let res_ok =
            self.resources.is_empty() || self.resources.iter().any(|r| r == "*" || *r == combined);
        let ns_ok = self.namespaces.is_empty() || self.namespaces.contains(&a.namespace);
        let effect_ok = match &self.effect {
            Effect::Error { code: 409, .. } => a.is_write(),
            Effect::DropWatch { .. } => a.verb == "watch",
            Effect::Error { .. } | Effect::Latency { .. } => true,
        };
        verb_ok && res_ok && ns_ok && effect_ok
    }
}

/// The rule set, as the admin surface reads and writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Reseeds the PRNG when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl FaultConfig {
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let c: Self = serde_json::from_slice(body).map_err(Error::Json)?;
        for r in &c.rules {
            r.validate()?;
        }
        Ok(c)
    }
}

/// An injected error, rendered as a `metav1.Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedError {
    pub code: u16,
    pub retry_after_seconds: Option<u32>,
    pub status: Value,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Wait this long before anything else (latency and pauses).
    pub delay: Duration,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Proceed,
    Fail(InjectedError),
    /// Answer the watch with an ERROR event holding a 410 Expired Status.
    WatchGone,
    /// Serve the watch, then end the stream after this long.
    DropWatchAfter(Duration),
}

/// SplitMix64: small, seedable, stable across platforms and crate versions.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct State {
    rng: SplitMix64,
    seed: u64,
    rules: Vec<(Rule, u64)>,
    paused_until: Option<Instant>,
    /// Pending forced 410s: (resource filter, remaining count).
    gone: Vec<(Option<String>, u64)>,
}

/// Seeded fault decisions plus the watch-drop signal.
#[derive(Debug)]
pub struct FaultEngine {
    state: Mutex<State>,
    drops: watch::Sender<u64>,
}

impl FaultEngine {
    pub fn new(seed: u64) -> Self {
        let (drops, _) = watch::channel(0);
        Self {
            state: Mutex::new(State {
                rng: SplitMix64(seed),
                seed,
                rules: Vec::new(),
                paused_until: None,
                gone: Vec::new(),
            }),
            drops,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the rules (and reseeds when the config has a seed).
    pub fn set(&self, config: FaultConfig) -> Result<()> {
        for r in &config.rules {
            r.validate()?;
        }
        let mut s = self.lock();
        if let Some(seed) = config.seed {
            s.rng = SplitMix64(seed);
            s.seed = seed;
        }
        s.rules = config.rules.into_iter().map(|r| (r, 0)).collect();
        Ok(())
    }

    pub fn add(&self, rule: Rule) -> Result<()> {
        rule.validate()?;
        self.lock().rules.push((rule, 0));
        Ok(())
    }

    /// The current rules and seed.
    pub fn config(&self) -> FaultConfig {
        let s = self.lock();
        FaultConfig {
            seed: Some(s.seed),
            rules: s.rules.iter().map(|(r, _)| r.clone()).collect(),
        }
    }

    /// Removes every rule, pause and pending 410.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.rules.clear();
        s.paused_until = None;
        s.gone.clear();
    }

    /// Requests arriving before `now + span` wait until then.
    pub fn pause(&self, span: Duration, now: Instant) {
        self.lock().paused_until = Some(now + span);
    }

    /// The next `count` watches (of `resource`, or any) get 410 Gone.
    pub fn gone_next_watches(&self, count: u64, resource: Option<String>) {
        self.lock().gone.push((resource, count));
    }

    /// Ends every open watch stream now.
    pub fn drop_watches(&self) {
        self.drops.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever [`Self::drop_watches`] is called; a watch stream ends when it does.
    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// Decides the fate of one resource request.
    pub fn decide(&self, a: &RequestAttributes, now: Instant) -> Decision {
        let mut s = self.lock();
        let mut delay = s
            .paused_until
            .map(|until| until.saturating_duration_since(now))
            .unwrap_or_default();
        if !a.resource_request {
            return Decision {
                delay,
                outcome: Outcome::Proceed,
            };
        }
        if a.verb == "watch" {
            let hit = s
                .gone
                .iter()
                .position(|(r, n)| *n > 0 && r.as_ref().is_none_or(|r| *r == a.resource));
            if let Some(i) = hit {
                s.gone[i].1 -= 1;
                s.gone.retain(|(_, n)| *n > 0);
                return Decision {
                    delay,
                    outcome: Outcome::WatchGone,
                };
            }
        }
        let mut outcome = Outcome::Proceed;
        let State { rng, rules, .. } = &mut *s;
        for (rule, hits) in rules.iter_mut() {
            if rule.limit.is_some_and(|l| *hits >= l) || !rule.matches(a) {
                continue;
            }
            // Always draw for a matching rule, so decisions depend only on the request order.
            let draw = rng.next_f64();
            if draw >= rule.fraction {
                continue;
            }
            *hits += 1;
            match &rule.effect {
                Effect::Latency { millis } => delay += Duration::from_millis(*millis),
                Effect::Error {
                    code,
                    retry_after_seconds,
                } => {
                    if outcome == Outcome::Proceed {
                        outcome = Outcome::Fail(injected_error(*code, *retry_after_seconds, a));
                    }
                }
                Effect::DropWatch { after_millis } => {
                    if outcome == Outcome::Proceed {
                        outcome = Outcome::DropWatchAfter(Duration::from_millis(*after_millis));
                    }
                }
            }
        }
        Decision { delay, outcome }
    }
}

fn qualified(a: &RequestAttributes) -> String {
    if a.api_group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.api_group)
    }
}

fn status(code: u16, reason: &str, message: String, details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code
    })
}

/// The Status kube-apiserver would send for such an error.
fn injected_error(code: u16, retry_after: Option<u32>, a: &RequestAttributes) -> InjectedError {
    let mut details = json!({"kind": a.resource});
    if !a.name.is_empty() {
        details["name"] = json!(a.name);
    }
    if !a.api_group.is_empty() {
        details["group"] = json!(a.api_group);
    }
    let body = match code {
        409 => status(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {:?}: the object has been modified; please apply your changes to the latest version and try again",
                qualified(a),
                a.name
            ),
            details,
        ),
        429 => {
            let secs = retry_after.unwrap_or(1);
            details["causes"] =
                json!([{"reason": "TooManyRequests", "message": "kubesim: injected fault"}]);
            details["retryAfterSeconds"] = json!(secs);
            status(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.".to_string(),
                details,
            )
        }
        503 => {
            details["causes"] = json!([{"message": "kubesim: injected fault"}]);
            if let Some(secs) = retry_after {
                details["retryAfterSeconds"] = json!(secs);
            }
            status(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request".to_string(),
                details,
            )
        }
        _ => {
            details["causes"] = json!([{"message": "kubesim: injected fault"}]);
            status(
                500,
                "InternalError",
                "Internal error occurred: kubesim: injected fault".to_string(),
                details,
            )
        }
    };
    InjectedError {
        code: if matches!(code, 409 | 429 | 503) {
            code
        } else {
            500
        },
        retry_after_seconds: match code {
            429 => Some(retry_after.unwrap_or(1)),
            503 => retry_after,
            _ => None,
        },
        status: body,
    }
}

/// The watch event that a forced 410 sends.
pub fn gone_watch_event() -> Value {
    json!({
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version: kubesim: injected fault",
            "reason": "Expired",
            "code": 410
        }
    })
}

#[cfg(test)]
mod tests;
