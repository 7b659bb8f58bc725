//! `validateJobSpec`'s rules for failure handling (pkg/apis/batch/validation/validation.go,
//! Kubernetes 1.33): `podFailurePolicy`, `podReplacementPolicy`, `backoffLimitPerIndex`,
//! `maxFailedIndexes` and the Indexed completion mode they need. They run before defaulting,
//! so a missing pattern status (defaulted to `True`) is not an error.

use serde_json::Value;

use super::{invalid, not_supported, qualified_name_errors, required};
use crate::status::Cause;

const MAX_RULES: usize = 20;
const MAX_EXIT_CODE_VALUES: usize = 255;
const MAX_POD_CONDITION_PATTERNS: usize = 20;
const ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
const OPERATORS: [&str; 2] = ["In", "NotIn"];
const CONDITION_STATUSES: [&str; 3] = ["False", "True", "Unknown"];

/// `Invalid value` with a value printed as Go prints a non-string (`%v`, `%#v`).
fn invalid_raw(field: &str, shown: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {detail}"),
        field: field.into(),
    }
}

/// `field.Invalid` with `field.OmitValueType{}`: no value shown.
fn invalid_no_value(field: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {detail}"),
        field: field.into(),
    }
}

fn too_many(field: &str, n: usize, max: usize) -> Cause {
    Cause {
        reason: "FieldValueTooMany".into(),
        message: format!("Too many: {n}: must have at most {max} items"),
        field: field.into(),
    }
}

/// `Required value: valid values: ["A" "B"]` (Go's `%q` of a string slice).
fn required_one_of(field: &str, values: &[&str]) -> Cause {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    let mut c = required(field);
    c.message = format!("Required value: valid values: [{}]", quoted.join(" "));
    c
}

/// Go's `%#v` of an `[]int32`.
fn int32_slice(values: &[i64]) -> String {
    let items: Vec<String> = values.iter().map(i64::to_string).collect();
    format!("[]int32{{{}}}", items.join(", "))
}

/// The failure-handling rules of a Job spec, appended to `causes`.
pub(super) fn rules(spec: &Value, causes: &mut Vec<Cause>) {
    let indexed = spec["completionMode"].as_str() == Some("Indexed");
    if let Some(n) = spec["backoffLimitPerIndex"].as_i64()
        && !indexed
    {
        causes.push(invalid_raw(
            "spec.backoffLimitPerIndex",
            &n.to_string(),
            "requires indexed completion mode",
        ));
    }
    if !spec["maxFailedIndexes"].is_null() && spec["backoffLimitPerIndex"].is_null() {
        let mut c = required("spec.backoffLimitPerIndex");
        c.message = "Required value: when maxFailedIndexes is specified".into();
        causes.push(c);
    }
    match spec["completionMode"].as_str() {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if spec["completions"].is_null() {
                let mut c = required("spec.completions");
                c.message = "Required value: when completion mode is Indexed".into();
                causes.push(c);
            }
            if let (Some(max), Some(completions), false) = (
                spec["maxFailedIndexes"].as_i64(),
                spec["completions"].as_i64(),
                spec["backoffLimitPerIndex"].is_null(),
            ) && max > completions
            {
                causes.push(invalid_raw(
                    "spec.maxFailedIndexes",
                    &max.to_string(),
                    "must be less than or equal to completions",
                ));
            }
        }
        Some(other) => causes.push(not_supported(
            "spec.completionMode",
            other,
            &["NonIndexed", "Indexed"],
        )),
    }
    let policy = &spec["podFailurePolicy"];
    if policy.is_object() {
        pod_failure_policy(spec, policy, causes);
    }
    if let Some(replacement) = spec["podReplacementPolicy"].as_str() {
        if policy.is_object() {
            if replacement != "Failed" {
                causes.push(not_supported(
                    "spec.podReplacementPolicy",
                    replacement,
                    &["Failed"],
                ));
            }
        } else if !["Failed", "TerminatingOrFailed"].contains(&replacement) {
            causes.push(not_supported(
                "spec.podReplacementPolicy",
                replacement,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
}

/// validatePodFailurePolicy and its rules.
fn pod_failure_policy(spec: &Value, policy: &Value, causes: &mut Vec<Cause>) {
    let rules = policy["rules"].as_array().map_or(&[][..], Vec::as_slice);
    if rules.len() > MAX_RULES {
        causes.push(too_many(
            "spec.podFailurePolicy.rules",
            rules.len(),
            MAX_RULES,
        ));
    }
    let pod = &spec["template"]["spec"];
    let containers: Vec<&str> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod[*k].as_array())
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let has_per_index = !spec["backoffLimitPerIndex"].is_null();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("spec.podFailurePolicy.rules[{i}]");
        let action_path = format!("{path}.action");
        match rule["action"].as_str().unwrap_or("") {
            "" => causes.push(required_one_of(&action_path, &ACTIONS)),
            "FailIndex" if !has_per_index => causes.push(invalid(
                &action_path,
                "FailIndex",
                "requires the backoffLimitPerIndex to be set",
            )),
            a if !ACTIONS.contains(&a) => causes.push(not_supported(&action_path, a, &ACTIONS)),
            _ => {}
        }
        let on_codes = &rule["onExitCodes"];
        let on_conditions = rule["onPodConditions"].as_array().filter(|a| !a.is_empty());
        if on_codes.is_object() {
            on_exit_codes(
                on_codes,
                &format!("{path}.onExitCodes"),
                &containers,
                causes,
            );
        }
        if let Some(patterns) = on_conditions {
            on_pod_conditions(patterns, &format!("{path}.onPodConditions"), causes);
        }
        match (on_codes.is_object(), on_conditions.is_some()) {
            (true, true) => causes.push(invalid_no_value(
                &path,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            )),
            (false, false) => causes.push(invalid_no_value(
                &path,
                "specifying one of OnExitCodes and OnPodConditions is required",
            )),
            _ => {}
        }
    }
}

/// validatePodFailurePolicyRuleOnExitCode.
fn on_exit_codes(req: &Value, path: &str, containers: &[&str], causes: &mut Vec<Cause>) {
    let operator = req["operator"].as_str().unwrap_or("");
    let operator_path = format!("{path}.operator");
    if operator.is_empty() {
        causes.push(required_one_of(&operator_path, &OPERATORS));
    } else if !OPERATORS.contains(&operator) {
        causes.push(not_supported(&operator_path, operator, &OPERATORS));
    }
    if let Some(name) = req["containerName"].as_str()
        && !containers.contains(&name)
    {
        causes.push(invalid(
            &format!("{path}.containerName"),
            name,
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let values_path = format!("{path}.values");
    let values: Vec<i64> = req["values"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if values.is_empty() {
        let shown = if req["values"].is_array() {
            "[]int32{}"
        } else {
            "[]int32(nil)"
        };
        causes.push(invalid_raw(
            &values_path,
            shown,
            "at least one value is required",
        ));
    } else if values.len() > MAX_EXIT_CODE_VALUES {
        causes.push(too_many(&values_path, values.len(), MAX_EXIT_CODE_VALUES));
    }
    let mut seen = std::collections::HashSet::new();
    for (j, v) in values.iter().enumerate() {
        let value_path = format!("{values_path}[{j}]");
        if operator == "In" && *v == 0 {
            causes.push(invalid_raw(
                &value_path,
                "0",
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            causes.push(Cause {
                reason: "FieldValueDuplicate".into(),
                message: format!("Duplicate value: {v}"),
                field: value_path,
            });
        }
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        causes.push(invalid_raw(
            &values_path,
            &int32_slice(&values),
            "must be ordered",
        ));
    }
}

/// validatePodFailurePolicyRuleOnPodConditions.
fn on_pod_conditions(patterns: &[Value], path: &str, causes: &mut Vec<Cause>) {
    if patterns.len() > MAX_POD_CONDITION_PATTERNS {
        causes.push(too_many(path, patterns.len(), MAX_POD_CONDITION_PATTERNS));
    }
    for (j, pattern) in patterns.iter().enumerate() {
        let type_ = pattern["type"].as_str().unwrap_or("");
        let type_path = format!("{path}[{j}].type");
        for msg in qualified_name_errors(type_) {
            causes.push(invalid(&type_path, type_, &msg));
        }
        let status = pattern["status"].as_str().unwrap_or("");
        if !status.is_empty() && !CONDITION_STATUSES.contains(&status) {
            causes.push(not_supported(
                &format!("{path}[{j}].status"),
                status,
                &CONDITION_STATUSES,
            ));
        }
    }
}

/// The template's restartPolicy with a podFailurePolicy: only `Never`.
pub(super) fn restart_policy(spec: &Value, restart_policy: &str, causes: &mut Vec<Cause>) {
    if spec["podFailurePolicy"].is_object() && restart_policy != "Never" {
        causes.push(invalid(
            "spec.template.spec.restartPolicy",
            restart_policy,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::job_spec;
    use super::*;

    fn causes(spec: Value) -> Vec<(String, String)> {
        let mut c = Vec::new();
        job_spec(&json!({ "spec": spec }), &mut c);
        c.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn template(restart_policy: &str) -> Value {
        json!({"spec": {"restartPolicy": restart_policy,
                        "containers": [{"name": "main", "image": "busybox"}],
                        "initContainers": [{"name": "setup", "image": "busybox"}]}})
    }

    #[test]
    fn a_valid_policy_passes() {
        let ok = causes(json!({
            "completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1,
            "maxFailedIndexes": 3, "podReplacementPolicy": "Failed",
            "podFailurePolicy": {"rules": [
                {"action": "FailJob", "onExitCodes":
                    {"containerName": "setup", "operator": "In", "values": [1, 42]}},
                {"action": "FailIndex", "onExitCodes": {"operator": "NotIn", "values": [0]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                {"action": "Count", "onPodConditions": [{"type": "x.io/Y", "status": "False"}]}
            ]},
            "template": template("Never")
        }));
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn pod_failure_policy_rules_as_the_api_server_gives_them() {
        let c = causes(json!({
            "podReplacementPolicy": "TerminatingOrFailed",
            "podFailurePolicy": {"rules": [
                {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3, 0, 3]}},
                {"action": "Retry", "onExitCodes":
                    {"containerName": "nope", "operator": "Is", "values": []}},
                {"action": "", "onPodConditions": [{"type": "", "status": "Maybe"}],
                 "onExitCodes": {"values": [1]}},
                {"action": "Count"}
            ]},
            "template": template("OnFailure")
        }));
        let want = [
            (
                "spec.podFailurePolicy.rules[0].action",
                "Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
            ),
            (
                "spec.podFailurePolicy.rules[0].onExitCodes.values[1]",
                "Invalid value: 0: must not be 0 for the In operator",
            ),
            (
                "spec.podFailurePolicy.rules[0].onExitCodes.values[2]",
                "Duplicate value: 3",
            ),
            (
                "spec.podFailurePolicy.rules[0].onExitCodes.values",
                "Invalid value: []int32{3, 0, 3}: must be ordered",
            ),
            (
                "spec.podFailurePolicy.rules[1].action",
                "Unsupported value: \"Retry\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
            ),
            (
                "spec.podFailurePolicy.rules[1].onExitCodes.operator",
                "Unsupported value: \"Is\": supported values: \"In\", \"NotIn\"",
            ),
            (
                "spec.podFailurePolicy.rules[1].onExitCodes.containerName",
                "Invalid value: \"nope\": must be one of the container or initContainer names in the pod template",
            ),
            (
                "spec.podFailurePolicy.rules[1].onExitCodes.values",
                "Invalid value: []int32{}: at least one value is required",
            ),
            (
                "spec.podFailurePolicy.rules[2].action",
                "Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            ),
            (
                "spec.podFailurePolicy.rules[2].onExitCodes.operator",
                "Required value: valid values: [\"In\" \"NotIn\"]",
            ),
            (
                "spec.podFailurePolicy.rules[2].onPodConditions[0].type",
                "Invalid value: \"\": name part must be non-empty",
            ),
            (
                "spec.podFailurePolicy.rules[2].onPodConditions[0].type",
                "Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "spec.podFailurePolicy.rules[2].onPodConditions[0].status",
                "Unsupported value: \"Maybe\": supported values: \"False\", \"True\", \"Unknown\"",
            ),
            (
                "spec.podFailurePolicy.rules[2]",
                "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
            ),
            (
                "spec.podFailurePolicy.rules[3]",
                "Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            ),
            (
                "spec.podReplacementPolicy",
                "Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\"",
            ),
            (
                "spec.template.spec.restartPolicy",
                "Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(f, m)| (f.to_string(), m.to_string()))
            .collect();
        assert_eq!(c, want);
    }

    #[test]
    fn per_index_limits_need_an_indexed_job() {
        let c = causes(json!({
            "backoffLimitPerIndex": 1, "template": template("Never")
        }));
        assert_eq!(
            c,
            [(
                "spec.backoffLimitPerIndex".to_string(),
                "Invalid value: 1: requires indexed completion mode".to_string()
            )]
        );
        let c = causes(json!({
            "completionMode": "Indexed", "maxFailedIndexes": 1, "template": template("Never")
        }));
        assert_eq!(
            c,
            [
                (
                    "spec.backoffLimitPerIndex".to_string(),
                    "Required value: when maxFailedIndexes is specified".to_string()
                ),
                (
                    "spec.completions".to_string(),
                    "Required value: when completion mode is Indexed".to_string()
                ),
            ]
        );
        let c = causes(json!({
            "completionMode": "Indexed", "completions": 2, "backoffLimitPerIndex": 0,
            "maxFailedIndexes": 3, "template": template("Never")
        }));
        assert_eq!(
            c,
            [(
                "spec.maxFailedIndexes".to_string(),
                "Invalid value: 3: must be less than or equal to completions".to_string()
            )]
        );
        let c = causes(json!({"completionMode": "Sometimes", "template": template("Never")}));
        assert_eq!(
            c,
            [(
                "spec.completionMode".to_string(),
                "Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\""
                    .to_string()
            )]
        );
    }
}
