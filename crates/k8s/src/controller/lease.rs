//! Leader election through a `coordination.k8s.io` Lease, after client-go's leaderelection: the
//! holder renews every third of the lease duration and steps down when it has not renewed for
//! two thirds of it (a renewal that hangs counts as failed once that much time is up). Another
//! process takes the lease over a whole duration after its last renewal, waking for that
//! moment rather than for its next retry. It dates the renewal by the lease's renewTime, but
//! never earlier than one retry period before it saw the renewal: a clock that runs ahead of
//! the holder's can cost at most that much of the two thirds' margin, so two processes never
//! both act. Every write is a PUT with the resourceVersion read, so two processes never both
//! win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This process's name in `holderIdentity`: unique per process.
    pub identity: String,
    pub duration: Duration,
}

/// What this process last saw of the lease: its holder and renewTime, and when, by this
/// process's monotonic clock, that renewal happened.
#[derive(Debug)]
struct Observed {
    holder: Option<String>,
    renewed: Option<Timestamp>,
    since: Instant,
}

/// The retry period of a process that does not hold the lease.
fn retry_period(duration: Duration) -> Duration {
    duration / 5
}

/// When, by this process's clock, a renewal it sees at `seen` (wall clock `now`) happened: at
/// its renewTime, but no earlier than one retry period before it was seen, so a clock skewed
/// ahead cannot make the lease look older than that.
fn renewed_at(
    renewed: Option<Timestamp>,
    now: Timestamp,
    seen: Instant,
    duration: Duration,
) -> Instant {
    let age = renewed
        .and_then(|at| Duration::try_from(now.duration_since(at)).ok())
        .unwrap_or_default()
        .min(retry_period(duration));
    seen.checked_sub(age).unwrap_or(seen)
}

/// The lease as this process writes it when it takes or renews it.
fn held(settings: &LeaseSettings, old: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
    let ours = old.and_then(|s| s.holder_identity.as_deref()) == Some(settings.identity.as_str());
    let transitions = old.and_then(|s| s.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(settings.identity.clone()),
        lease_duration_seconds: Some(settings.duration.as_secs().max(1) as i32),
        acquire_time: match ours {
            true => old.and_then(|s| s.acquire_time.clone()),
            false => Some(MicroTime(now)),
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if ours || old.is_none() {
            transitions
        } else {
            transitions + 1
        }),
        ..Default::default()
    }
}

/// When another holder's lease runs out, by this process's own clock: a whole duration after
/// the renewal it last saw (at once when nobody holds it).
fn expiry(observed: &Observed, duration: Duration) -> Instant {
    match observed.holder.as_deref().is_none_or(str::is_empty) {
        true => observed.since,
        false => observed.since + duration,
    }
}

/// One attempt to take or renew the lease. `Ok(true)` when this process holds it now.
async fn try_hold(
    api: &Api<Lease>,
    settings: &LeaseSettings,
    observed: &mut Option<Observed>,
) -> Result<bool, kube::Error> {
    let (now, seen) = (Timestamp::now(), Instant::now());
    let Some(mut lease) = api.get_opt(&settings.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(settings.name.clone()),
                namespace: Some(settings.namespace.clone()),
                ..Default::default()
            },
            spec: Some(held(settings, None, now)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone();
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let changed = observed
        .as_ref()
        .is_none_or(|o| o.holder != holder || o.renewed != renewed);
    if changed {
        *observed = Some(Observed {
            holder: holder.clone(),
            renewed,
            since: renewed_at(renewed, now, seen, settings.duration),
        });
    }
    let ours = holder.as_deref() == Some(settings.identity.as_str());
    let free = observed
        .as_ref()
        .is_some_and(|o| Instant::now() >= expiry(o, settings.duration));
    if !ours && !free {
        return Ok(false);
    }
    lease.spec = Some(held(settings, Some(&spec), now));
    // The resourceVersion read makes the PUT fail if anyone wrote in between.
    match api
        .replace(&lease.name_any(), &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the lease up on shutdown, so another process takes over at once.
async fn release(api: &Api<Lease>, settings: &LeaseSettings) {
    let Ok(Some(mut lease)) = api.get_opt(&settings.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(settings.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    if let Err(error) = api
        .replace(&lease.name_any(), &PostParams::default(), &lease)
        .await
    {
        tracing::warn!(%error, "could not release the lease");
    }
}

/// Holds the election until `shutdown` turns true, telling `leader` whether this process
/// leads.
pub async fn elect(
    client: Client,
    settings: LeaseSettings,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let renew_every = settings.duration / 3;
    let retry_every = retry_period(settings.duration);
    let renew_deadline = settings.duration * 2 / 3;
    let mut observed = None;
    let mut last_renewal: Option<Instant> = None;
    loop {
        let attempt = Instant::now();
        // An attempt that hangs past the next one counts as failed, so a leader cut off from
        // the API server still steps down by its renew deadline.
        let bounded = tokio::time::timeout(renew_every, try_hold(&api, &settings, &mut observed));
        let holds = match bounded.await {
            Ok(Ok(holds)) => holds,
            Ok(Err(error)) => {
                tracing::warn!(%error, "leader election: the lease could not be read or written");
                false
            }
            Err(_) => {
                tracing::warn!(timeout = ?renew_every, "leader election: the lease request hung");
                false
            }
        };
        if holds {
            last_renewal = Some(attempt);
        }
        // A leader that has not renewed within the renew deadline steps down before anyone
        // else can take over.
        let leads = last_renewal.is_some_and(|at| attempt.duration_since(at) < renew_deadline);
        if !leads {
            last_renewal = None;
        }
        leader.send_if_modified(|was| {
            let changed = *was != leads;
            if changed {
                tracing::info!(identity = settings.identity, leads, "leadership changed");
            }
            *was = leads;
            changed
        });
        // A standby wakes when the holder's lease runs out, if that comes before its retry.
        let next = match leads {
            true => attempt + renew_every,
            false => observed
                .as_ref()
                .map(|o| expiry(o, settings.duration))
                .filter(|at| *at > attempt)
                .map_or(attempt + retry_every, |at| at.min(attempt + retry_every)),
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    leader.send_replace(false);
    release(&api, &settings).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LeaseSettings {
        LeaseSettings {
            namespace: "ns".into(),
            name: "lease".into(),
            identity: "me".into(),
            duration: Duration::from_secs(15),
        }
    }

    #[test]
    fn taking_a_lease_counts_a_transition_and_renewing_does_not() {
        let now = Timestamp::now();
        let first = held(&settings(), None, now);
        assert_eq!(first.holder_identity.as_deref(), Some("me"));
        assert_eq!(first.lease_transitions, Some(0));
        assert_eq!(first.lease_duration_seconds, Some(15));
        let renewed = held(&settings(), Some(&first), now);
        assert_eq!(renewed.lease_transitions, Some(0));
        assert_eq!(renewed.acquire_time, first.acquire_time);
        let theirs = LeaseSpec {
            holder_identity: Some("other".into()),
            lease_transitions: Some(3),
            ..Default::default()
        };
        assert_eq!(
            held(&settings(), Some(&theirs), now).lease_transitions,
            Some(4)
        );
    }

    #[test]
    fn a_lease_expires_a_duration_after_its_renewal() {
        let since = Instant::now();
        let duration = Duration::from_secs(15);
        let held_by = |holder: Option<&str>| Observed {
            holder: holder.map(Into::into),
            renewed: None,
            since,
        };
        assert_eq!(expiry(&held_by(Some("other")), duration), since + duration);
        assert_eq!(expiry(&held_by(None), duration), since);
        assert_eq!(expiry(&held_by(Some("")), duration), since);
    }

    #[test]
    fn a_renewal_is_dated_by_its_renew_time_within_one_retry_period() {
        let seen = Instant::now() + Duration::from_secs(60);
        let duration = Duration::from_secs(15);
        let now = Timestamp::now();
        let ago = |secs: i64| Some(now - k8s_openapi::jiff::SignedDuration::from_secs(secs));
        // Renewed 2 s before it was seen: dated 2 s back.
        assert_eq!(
            renewed_at(ago(2), now, seen, duration),
            seen - Duration::from_secs(2)
        );
        // A renewal that looks older than a retry period (3 s here) — a clock ahead of the
        // holder's — is dated one retry period back, no more.
        assert_eq!(
            renewed_at(ago(40), now, seen, duration),
            seen - Duration::from_secs(3)
        );
        // One from the future (a clock behind the holder's), or none: dated when seen.
        assert_eq!(renewed_at(ago(-5), now, seen, duration), seen);
        assert_eq!(renewed_at(None, now, seen, duration), seen);
    }
}
