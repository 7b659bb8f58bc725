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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    action: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

/// Metrics of the JobTermination controller.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<StageLabels, Counter>,
    duration: HistogramFamily<ActionLabels>,
}

/// The `action` label of a reconcile that failed before or while deciding.
const UNKNOWN_ACTION: &str = "unknown";

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
            "Failed reconciles by the stage that failed (read, decide, annotate, event, act, status)",
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

    /// Records a successful reconcile that took `action` (`cancel`, `terminate` or `none`).
    pub fn reconciled(&self, action: &str, elapsed: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                action: action.to_owned(),
                result: "ok".to_owned(),
            })
            .inc();
        self.duration
            .get_or_create(&ActionLabels {
                action: action.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records a failed reconcile and the stage that failed (`read`, `decide`, `annotate`,
    /// `event`, `act` or `status`). It counts in `reconciles_total` with `action="unknown"`,
    /// `result="error"`, and is not timed.
    pub fn failed(&self, stage: &str) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                action: UNKNOWN_ACTION.to_owned(),
                result: "error".to_owned(),
            })
            .inc();
        self.errors
            .get_or_create(&StageLabels {
                stage: stage.to_owned(),
            })
            .inc();
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
        metrics
            .controller
            .reconciled("terminate", Duration::from_millis(20));
        metrics.controller.failed("annotate");

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
        metrics.controller.reconciled("none", Duration::ZERO);
        metrics.controller.failed("read");

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
