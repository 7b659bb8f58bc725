//! Simulated time: one scale factor applied to every delay of the simulation.
//!
//! Timestamps written into objects stay real wall-clock time. Only durations are scaled: a
//! 30 s grace period at `time_scale = 0.01` takes 0.3 s of real time. Decisions compare real
//! elapsed time with the scaled duration, so nothing depends on how fast the machine is.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("time scale must be a finite number greater than 0, got {0}")]
    InvalidScale(f64),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How much faster than real time the simulation runs: simulated durations are multiplied by it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(f64);

impl Default for TimeScale {
    fn default() -> Self {
        Self(1.0)
    }
}

impl TimeScale {
    pub fn new(factor: f64) -> Result<Self> {
        if factor.is_finite() && factor > 0.0 {
            Ok(Self(factor))
        } else {
            Err(Error::InvalidScale(factor))
        }
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    /// The real duration that a simulated duration takes.
    pub fn real(self, simulated: Duration) -> Duration {
        Duration::try_from_secs_f64(simulated.as_secs_f64() * self.0).unwrap_or(Duration::MAX)
    }

    /// The real duration of `seconds` simulated seconds (negative counts as 0).
    pub fn real_secs(self, seconds: i64) -> Duration {
        self.real(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
    }
}

/// The moment a decision is made, and the scale it is made under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimTime {
    pub now: Timestamp,
    pub scale: TimeScale,
}

impl SimTime {
    pub fn new(now: Timestamp, scale: TimeScale) -> Self {
        Self { now, scale }
    }

    /// Real time, scale 1.
    pub fn real_now() -> Self {
        Self::new(Timestamp::now(), TimeScale::default())
    }

    pub fn time(&self) -> Time {
        Time(self.now)
    }

    /// Real time passed since `since` (zero if `since` is in the future).
    pub fn elapsed(&self, since: Timestamp) -> Duration {
        Duration::try_from(self.now.duration_since(since)).unwrap_or(Duration::ZERO)
    }

    /// Real time left until `simulated` has passed since `since`; `None` once it has.
    pub fn remaining(&self, since: Timestamp, simulated: Duration) -> Option<Duration> {
        let total = self.scale.real(simulated);
        let elapsed = self.elapsed(since);
        (elapsed < total).then(|| total - elapsed)
    }

    /// `now` plus a real duration.
    pub fn after(&self, real: Duration) -> Timestamp {
        SignedDuration::try_from(real)
            .ok()
            .and_then(|d| self.now.checked_add(d).ok())
            .unwrap_or(Timestamp::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_rejects_nonsense() {
        assert!(TimeScale::new(0.0).is_err());
        assert!(TimeScale::new(-1.0).is_err());
        assert!(TimeScale::new(f64::NAN).is_err());
        assert!(TimeScale::new(f64::INFINITY).is_err());
        assert_eq!(TimeScale::new(0.5).map(TimeScale::factor).ok(), Some(0.5));
    }

    #[test]
    fn scaled_durations() {
        let s = TimeScale::new(0.01).unwrap();
        assert_eq!(s.real(Duration::from_secs(30)), Duration::from_millis(300));
        assert_eq!(s.real_secs(-5), Duration::ZERO);
    }

    #[test]
    fn remaining_counts_real_time_against_scaled_duration() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let scale = TimeScale::new(0.1).unwrap();
        let at = |ms: i64| {
            SimTime::new(
                t0.checked_add(SignedDuration::from_millis(ms)).unwrap(),
                scale,
            )
        };
        // 10 simulated seconds take 1 real second.
        assert_eq!(
            at(400).remaining(t0, Duration::from_secs(10)),
            Some(Duration::from_millis(600))
        );
        assert_eq!(at(1000).remaining(t0, Duration::from_secs(10)), None);
        assert_eq!(at(-5).elapsed(t0), Duration::ZERO);
    }
}
