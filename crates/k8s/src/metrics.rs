//! Prometheus metrics: one registry, a sub-registry per subsystem.
//!
//! Every name starts with `batch_terminator_`, then the subsystem (`api_`, `controller_`).
//! [`METRIC_NAMES`] lists them as they are queried (counters with `_total`, histograms by their
//! base name); a test renders the registry and checks the list, so docs can be checked against it.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::api::{AwsErrorCode, Operation};
use crate::batch::Action;
use crate::controller::Stage;

/// The prefix of every metric name, without its trailing `_`.
pub const PREFIX: &str = "batch_terminator";

/// The `code` label of a request that succeeded. Failed requests carry their AWS error code
/// (`ClientException`, `ServerException`), so `code!="OK"` selects the errors.
pub const SUCCESS_CODE: &str = "OK";

/// Every metric name this module exposes, as used in PromQL.
pub const METRIC_NAMES: &[&str] = &[
    "batch_terminator_api_requests_total",
    "batch_terminator_api_request_duration_seconds",
    "batch_terminator_controller_reconciles_total",
    "batch_terminator_controller_reconcile_errors_total",
    "batch_terminator_controller_reconcile_duration_seconds",
];

/// All metric handles. Cloning is cheap: every handle is an `Arc` inside.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub api: ApiMetrics,
    pub controller: ControllerMetrics,
}

impl Metrics {
    /// Registers every metric in `registry` (under `batch_terminator_`) and returns the handles.
    pub fn new(registry: &mut Registry) -> Metrics {
        let root = registry.sub_registry_with_prefix(PREFIX);
        let api = ApiMetrics::register(root.sub_registry_with_prefix("api"));
        let controller = ControllerMetrics::register(root.sub_registry_with_prefix("controller"));
        Metrics { api, controller }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: OperationLabel,
    code: CodeLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: OperationLabel,
}

/// An [`Operation`] as a label value: its AWS name.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct OperationLabel(Operation);

impl EncodeLabelValue for OperationLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.0.as_str().encode(encoder)
    }
}

/// The AWS error code a request answered with, or [`SUCCESS_CODE`].
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct CodeLabel(Option<AwsErrorCode>);

impl EncodeLabelValue for CodeLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.0
            .map_or(SUCCESS_CODE, AwsErrorCode::as_str)
            .encode(encoder)
    }
}

/// Metrics of the AWS Batch HTTP API.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<OperationLabels>,
}

impl ApiMetrics {
    fn register(registry: &mut Registry) -> ApiMetrics {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "AWS API requests by operation and AWS error code (OK on success)",
            requests.clone(),
        );
        // 1 ms to about 8 s.
        let duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 14)));
        registry.register_with_unit(
            "request_duration",
            "AWS API request latency by operation",
            Unit::Seconds,
            duration.clone(),
        );
        ApiMetrics { requests, duration }
    }

    /// Records one request: its operation and the AWS error code it answered with, or `None`
    /// on success.
    pub fn observe(&self, operation: Operation, error: Option<AwsErrorCode>, elapsed: Duration) {
        let operation = OperationLabel(operation);
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                code: CodeLabel(error),
            })
            .inc();
        self.duration
            .get_or_create(&OperationLabels { operation })
            .observe(elapsed.as_secs_f64());
    }
}

/// What a successful reconcile did: the `action` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Reconciled {
    /// Carried out (or went on with) this action.
    Action(Action),
    /// Found nothing to do and wrote so.
    NoChange,
    /// Wrote the final status.
    Complete,
    /// Deleted a record past its retention.
    Expire,
}

impl Reconciled {
    fn as_str(self) -> &'static str {
        match self {
            Reconciled::Action(action) => action.as_str(),
            Reconciled::NoChange => "none",
            Reconciled::Complete => "complete",
            Reconciled::Expire => "expire",
        }
    }
}

/// The `action` label: what a reconcile did, or `unknown` for one that failed before it was
/// done.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct ActionLabel(Option<Reconciled>);

impl EncodeLabelValue for ActionLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.0.map_or("unknown", Reconciled::as_str).encode(encoder)
    }
}

/// The `result` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Outcome {
    Ok,
    Error,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
        .encode(encoder)
    }
}

impl EncodeLabelValue for Stage {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    action: ActionLabel,
    result: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: ActionLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: Stage,
}

/// Metrics of the JobTermination controller.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<StageLabels, Counter>,
    duration: HistogramFamily<ActionLabels>,
}

impl ControllerMetrics {
    fn register(registry: &mut Registry) -> ControllerMetrics {
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles of JobTermination records by action (cancel, terminate, none) and result (ok, error)",
            reconciles.clone(),
        );
        let errors = Family::<StageLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconciles by the stage that failed (annotate, event, act, status, cleanup, release)",
            errors.clone(),
        );
        // 5 ms to about 10 s.
        let duration: HistogramFamily<ActionLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 12)));
        registry.register_with_unit(
            "reconcile_duration",
            "Duration of successful reconciles by action",
            Unit::Seconds,
            duration.clone(),
        );
        ControllerMetrics {
            reconciles,
            errors,
            duration,
        }
    }

    /// Records a successful reconcile and what it did.
    pub fn reconciled(&self, did: Reconciled, elapsed: Duration) {
        let action = ActionLabel(Some(did));
        self.reconciles
            .get_or_create(&ReconcileLabels {
                action,
                result: Outcome::Ok,
            })
            .inc();
        self.duration
            .get_or_create(&ActionLabels { action })
            .observe(elapsed.as_secs_f64());
    }

    /// Records a failed reconcile and the stage that failed. It counts in `reconciles_total`
    /// with `action="unknown"`, `result="error"`, and is not timed.
    pub fn failed(&self, stage: Stage) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                action: ActionLabel(None),
                result: Outcome::Error,
            })
            .inc();
        self.errors.get_or_create(&StageLabels { stage }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn observations_show_in_the_exposition() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let api = metrics.clone().api; // clones share the series
        api.observe(Operation::TerminateJob, None, Duration::from_millis(3));
        api.observe(Operation::TerminateJob, None, Duration::from_millis(5));
        api.observe(
            Operation::DescribeJobs,
            Some(AwsErrorCode::ClientException),
            Duration::from_millis(1),
        );
        metrics.controller.reconciled(
            Reconciled::Action(Action::Terminate),
            Duration::from_millis(20),
        );
        metrics.controller.failed(Stage::Annotate);

        let text = render(&registry);
        for line in [
            r#"batch_terminator_api_requests_total{operation="TerminateJob",code="OK"} 2"#,
            r#"batch_terminator_api_requests_total{operation="DescribeJobs",code="ClientException"} 1"#,
            r#"batch_terminator_api_request_duration_seconds_count{operation="TerminateJob"} 2"#,
            r#"batch_terminator_api_request_duration_seconds_sum{operation="TerminateJob"} 0.008"#,
            r#"batch_terminator_controller_reconciles_total{action="terminate",result="ok"} 1"#,
            r#"batch_terminator_controller_reconciles_total{action="unknown",result="error"} 1"#,
            r#"batch_terminator_controller_reconcile_errors_total{stage="annotate"} 1"#,
            r#"batch_terminator_controller_reconcile_duration_seconds_count{action="terminate"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn metric_names_match_the_exposition() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        // Families without series are not rendered: give each one a series.
        metrics
            .api
            .observe(Operation::ListJobs, None, Duration::ZERO);
        metrics
            .controller
            .reconciled(Reconciled::NoChange, Duration::ZERO);
        metrics.controller.failed(Stage::Status);

        let text = render(&registry);
        let mut rendered: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .map(|rest| match rest.split_once(' ') {
                Some((name, "counter")) => format!("{name}_total"),
                Some((name, _)) => name.to_owned(),
                None => panic!("malformed TYPE line {rest:?}"),
            })
            .collect();
        rendered.sort();
        let mut expected: Vec<String> = METRIC_NAMES.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(rendered, expected);
    }
}
