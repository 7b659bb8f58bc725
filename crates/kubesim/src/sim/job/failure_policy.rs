//! `podFailurePolicy`: which rule a failed pod matches, after
//! pkg/controller/job/pod_failure_policy.go (`matchPodFailurePolicy`) in Kubernetes 1.33.
//!
//! Rules are tried in order and the first that matches decides. `onExitCodes` looks at the
//! terminated containers (then init containers) with a non-zero exit code, optionally of one
//! `containerName`, with `In` or `NotIn`; `onPodConditions` at the pod's conditions by type and
//! status. `FailJob` ends the Job (reason `PodFailurePolicy`), `FailIndex` fails the pod's
//! index (with `backoffLimitPerIndex`), `Ignore` neither counts the failure nor fails anything,
//! `Count` counts it as usual. A pod that matches no rule counts as usual.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// A rule's action (`PodFailurePolicyAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "FailJob" => Some(Self::FailJob),
            "FailIndex" => Some(Self::FailIndex),
            "Ignore" => Some(Self::Ignore),
            "Count" => Some(Self::Count),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::FailJob => "FailJob",
            Self::FailIndex => "FailIndex",
            Self::Ignore => "Ignore",
            Self::Count => "Count",
        }
    }
}

/// What the policy says of one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The matched rule's action; `None` when no rule matched (or there is no policy).
    pub action: Option<Action>,
    /// The Job's failure message when a `FailJob` rule matched.
    pub fail_job_message: Option<String>,
}

impl Verdict {
    /// Whether the failure counts against `backoffLimit` (and `backoffLimitPerIndex`): all
    /// but `Ignore` do.
    pub fn counts(&self) -> bool {
        self.action != Some(Action::Ignore)
    }
}

/// matchPodFailurePolicy for a failed pod.
pub fn evaluate(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Verdict {
    let no_match = Verdict {
        action: None,
        fail_job_message: None,
    };
    let Some(policy) = policy else {
        return no_match;
    };
    let status = pod.status.as_ref();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    for (index, rule) in policy.rules.iter().enumerate() {
        // An action this controller does not know matches nothing, as in Go's switch.
        let Some(action) = Action::parse(&rule.action) else {
            continue;
        };
        let matched = if let Some(req) = &rule.on_exit_codes {
            let containers = status.and_then(|s| s.container_statuses.as_deref());
            let init = status.and_then(|s| s.init_container_statuses.as_deref());
            matching_container(containers, req)
                .or_else(|| matching_container(init, req))
                .map(|c| {
                    let code = c
                        .state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .map_or(0, |t| t.exit_code);
                    format!(
                        "Container {} for pod {namespace}/{name} failed with exit code {code} matching {} rule at index {index}",
                        c.name,
                        action.as_str()
                    )
                })
        } else if let Some(patterns) = rule.on_pod_conditions.as_deref() {
            status
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or(&[])
                .iter()
                .find(|c| {
                    patterns
                        .iter()
                        .any(|p| p.type_ == c.type_ && p.status == c.status)
                })
                .map(|c| {
                    format!(
                        "Pod {namespace}/{name} has condition {} matching {} rule at index {index}",
                        c.type_,
                        action.as_str()
                    )
                })
        } else {
            None
        };
        if let Some(message) = matched {
            return Verdict {
                action: Some(action),
                fail_job_message: (action == Action::FailJob).then_some(message),
            };
        }
    }
    no_match
}

/// getMatchingContainerFromList: a terminated container with a non-zero exit code that the
/// requirement's operator accepts.
fn matching_container<'a>(
    statuses: Option<&'a [ContainerStatus]>,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    statuses?.iter().find(|c| {
        let Some(code) = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
        else {
            // Still terminating: no exit code to match yet.
            return false;
        };
        req.container_name.as_ref().is_none_or(|n| *n == c.name)
            && code != 0
            && match req.operator.as_str() {
                "In" => req.values.contains(&code),
                "NotIn" => !req.values.contains(&code),
                _ => false,
            }
    })
}
