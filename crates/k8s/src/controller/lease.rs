//! Leader election through a `coordination.k8s.io` Lease, as client-go's leaderelection does
//! it: the holder renews every third of the lease duration and steps down when it has not
//! renewed for two thirds of it; another process takes over once it has seen the same
//! renewTime for a whole duration. Every write is a PUT with the resourceVersion read, so two
//! processes never both win.

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

/// What this process last saw of the lease: its holder and renewTime, and when they changed.
#[derive(Debug)]
struct Observed {
    holder: Option<String>,
    renewed: Option<Timestamp>,
    since: Instant,
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

/// Whether another holder's lease has run out, judged by this process's own clock: the
/// holder and renewTime have not changed for a whole duration (or nobody holds it).
fn expired(observed: &Observed, duration: Duration, now: Instant) -> bool {
    observed.holder.as_deref().is_none_or(str::is_empty) || now >= observed.since + duration
}

/// One attempt to take or renew the lease. `Ok(true)` when this process holds it now.
async fn try_hold(
    api: &Api<Lease>,
    settings: &LeaseSettings,
    observed: &mut Option<Observed>,
) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
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
            since: Instant::now(),
        });
    }
    let ours = holder.as_deref() == Some(settings.identity.as_str());
    let free = observed
        .as_ref()
        .is_some_and(|o| expired(o, settings.duration, Instant::now()));
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
    let retry_every = settings.duration / 5;
    let renew_deadline = settings.duration * 2 / 3;
    let mut observed = None;
    let mut last_renewal: Option<Instant> = None;
    loop {
        let attempt = Instant::now();
        let holds = match try_hold(&api, &settings, &mut observed).await {
            Ok(holds) => holds,
            Err(error) => {
                tracing::warn!(%error, "leader election: the lease could not be read or written");
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
        let wait = if leads { renew_every } else { retry_every };
        tokio::select! {
            _ = tokio::time::sleep_until(attempt + wait) => {}
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
    fn a_lease_expires_a_duration_after_it_was_last_seen_to_change() {
        let since = Instant::now();
        let duration = Duration::from_secs(15);
        let held_by = |holder: Option<&str>| Observed {
            holder: holder.map(Into::into),
            renewed: None,
            since,
        };
        assert!(!expired(&held_by(Some("other")), duration, since));
        assert!(!expired(
            &held_by(Some("other")),
            duration,
            since + Duration::from_secs(14)
        ));
        assert!(expired(&held_by(Some("other")), duration, since + duration));
        assert!(expired(&held_by(None), duration, since));
        assert!(expired(&held_by(Some("")), duration, since));
    }
}
