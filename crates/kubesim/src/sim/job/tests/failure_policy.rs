//! podFailurePolicy: the rule a failed pod matches, and what the Job does with it.

use super::*;
use crate::sim::job::failure_policy::{Action, evaluate};

/// A Failed pod whose `main` container exited with `code` at T0 (+ `extra`).
pub(super) fn exited(name: &str, code: i32, extra: Value) -> Pod {
    let mut v = json!({"status": {"containerStatuses": [{
        "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "finishedAt": "2025-06-15T15:06:40Z"}}
    }]}});
    merge(&mut v, extra);
    pod(name, "Failed", v)
}

fn policy(rules: Value) -> k8s_openapi::api::batch::v1::PodFailurePolicy {
    serde_json::from_value(json!({ "rules": rules })).unwrap()
}

fn on_codes(action: &str, op: &str, values: Value) -> Value {
    json!({"action": action, "onExitCodes": {"operator": op, "values": values}})
}

#[test]
fn rules_are_tried_in_order_and_the_first_match_decides() {
    let p = policy(json!([
        on_codes("Ignore", "In", json!([1])),
        on_codes("FailJob", "In", json!([42])),
        on_codes("Count", "NotIn", json!([0])),
    ]));
    let v = evaluate(Some(&p), &exited("pi-a", 42, json!({})));
    assert_eq!(v.action, Some(Action::FailJob));
    assert!(v.counts());
    assert_eq!(
        v.fail_job_message.as_deref(),
        Some(
            "Container main for pod ns/pi-a failed with exit code 42 matching FailJob rule at index 1"
        )
    );
    let v = evaluate(Some(&p), &exited("pi-a", 1, json!({})));
    assert_eq!((v.action, v.counts()), (Some(Action::Ignore), false));
    assert_eq!(v.fail_job_message, None);
    let v = evaluate(Some(&p), &exited("pi-a", 7, json!({})));
    assert_eq!((v.action, v.counts()), (Some(Action::Count), true));
}

#[test]
fn exit_codes_match_only_terminated_non_zero_containers_of_the_named_one() {
    let named = policy(json!([{"action": "FailJob", "onExitCodes":
        {"containerName": "side", "operator": "NotIn", "values": [0]}}]));
    assert_eq!(
        evaluate(Some(&named), &exited("p", 3, json!({}))).action,
        None
    );
    let both = exited(
        "p",
        3,
        json!({"status": {"initContainerStatuses": [{
            "name": "side", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 9}}}]}}),
    );
    let v = evaluate(Some(&named), &both);
    assert_eq!(v.action, Some(Action::FailJob));
    assert!(v.fail_job_message.unwrap().starts_with("Container side "));

    // Exit code 0 never matches, even NotIn; a running container has no code to match.
    let any = policy(json!([on_codes("FailJob", "NotIn", json!([1]))]));
    assert_eq!(
        evaluate(Some(&any), &exited("p", 0, json!({}))).action,
        None
    );
    let running = pod(
        "p",
        "Failed",
        json!({"status": {"containerStatuses": [{"name": "main", "image": "busybox",
            "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}}),
    );
    assert_eq!(evaluate(Some(&any), &running).action, None);
    // No policy: the failure counts.
    let v = evaluate(None, &exited("p", 1, json!({})));
    assert_eq!((v.action, v.counts()), (None, true));
}

#[test]
fn pod_conditions_match_by_type_and_status() {
    let p = policy(json!([
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}
    ]));
    let disrupted = exited(
        "p",
        137,
        json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "True"}]}}),
    );
    assert_eq!(evaluate(Some(&p), &disrupted).action, Some(Action::Ignore));
    let not_quite = exited(
        "p",
        137,
        json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "False"}]}}),
    );
    assert_eq!(evaluate(Some(&p), &not_quite).action, None);
    let config = exited(
        "p",
        1,
        json!({"status": {"conditions": [{"type": "ConfigIssue", "status": "True"}]}}),
    );
    assert_eq!(
        evaluate(Some(&p), &config).fail_job_message.as_deref(),
        Some("Pod ns/p has condition ConfigIssue matching FailJob rule at index 1")
    );
}

#[test]
fn fail_job_sets_failure_target_then_failed_with_the_rule_message() {
    let j = job(
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            on_codes("FailJob", "In", json!([42]))]}}),
        json!({"startTime": "2025-06-15T15:06:40Z"}),
    );
    assert_eq!(
        j.spec.as_ref().unwrap().pod_replacement_policy.as_deref(),
        Some("Failed")
    );
    let s = sync_job(
        &j,
        &[exited("pi-a", 42, json!({}))],
        &JobMemory::default(),
        &at(0),
    );
    let message =
        "Container main for pod ns/pi-a failed with exit code 42 matching FailJob rule at index 0";
    let sts = statuses(&s);
    let ft = cond(&sts[0], "FailureTarget").expect("interim FailureTarget");
    assert_eq!(
        (&ft["reason"], &ft["message"]),
        (&json!("PodFailurePolicy"), &json!(message))
    );
    assert!(cond(&sts[0], "Failed").is_none());
    assert_eq!(
        sts[0]["uncountedTerminatedPods"]["failed"],
        json!(["uid-pi-a"])
    );
    let st = last_status(&s);
    let failed = cond(&st, "Failed").expect("Failed");
    assert_eq!(
        (&failed["reason"], &failed["message"]),
        (&json!("PodFailurePolicy"), &json!(message))
    );
    assert_eq!(st["failed"], 1);
    // No replacement, though the backoff limit is far.
    assert!(creates(&s).is_empty());
    assert_eq!(
        events(&s),
        [(EventType::Warning, "PodFailurePolicy".to_string())]
    );
}

#[test]
fn fail_job_deletes_the_other_pods_and_fails_once_they_are_gone() {
    let j = job(
        json!({"parallelism": 2, "completions": 2, "podFailurePolicy": {"rules": [
            on_codes("FailJob", "NotIn", json!([0]))]}}),
        json!({"startTime": "2025-06-15T15:06:40Z", "active": 2}),
    );
    let s = sync_job(
        &j,
        &[
            exited("pi-a", 3, json!({})),
            pod("pi-b", "Running", json!({})),
        ],
        &JobMemory::default(),
        &at(0),
    );
    assert_eq!(deletes(&s), ["pi-b"]);
    let st = last_status(&s);
    assert_eq!(
        cond(&st, "FailureTarget").unwrap()["reason"],
        "PodFailurePolicy"
    );
    assert!(cond(&st, "Failed").is_none(), "pi-b is still terminating");
    assert_eq!(st["terminating"], 1);
    assert!(events(&s).is_empty());

    // Next sync: pi-b terminating, then gone.
    let mut j2 = j.clone();
    j2.status = Some(serde_json::from_value(st).unwrap());
    let mut b = pod("pi-b", "Running", json!({}));
    b.metadata.deletion_timestamp = Some(at(10).time());
    b.metadata.finalizers = None;
    let s = sync_job(&j2, &[b], &s.memory, &at(10));
    assert!(statuses(&s).iter().all(|st| cond(st, "Failed").is_none()));
    let s = sync_job(&j2, &[], &s.memory, &at(20));
    let st = last_status(&s);
    let failed = cond(&st, "Failed").expect("Failed once no pod is terminating");
    assert_eq!(failed["reason"], "PodFailurePolicy");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("pod ns/pi-a failed with exit code 3")
    );
}

#[test]
fn ignore_does_not_count_and_the_pod_is_replaced() {
    let j = job(
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}),
        json!({"startTime": "2025-06-15T15:06:40Z"}),
    );
    // The API server defaults the pattern's status to True.
    let rules = &j
        .spec
        .as_ref()
        .unwrap()
        .pod_failure_policy
        .as_ref()
        .unwrap()
        .rules;
    assert_eq!(
        rules[0].on_pod_conditions.as_ref().unwrap()[0].status,
        "True"
    );
    let evicted = exited(
        "pi-a",
        137,
        json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "True"}]}}),
    );
    let s = sync_job(
        &j,
        std::slice::from_ref(&evicted),
        &JobMemory::default(),
        &at(0),
    );
    assert_eq!(finalizer_removals(&s), ["pi-a"]);
    let st = last_status(&s);
    assert!(
        st.get("failed").is_none(),
        "an ignored failure is not counted: {st}"
    );
    assert!(cond(&st, "FailureTarget").is_none());
    assert!(s.requeue_after.is_some(), "replaced after the back-off");
    let mut gone = evicted;
    gone.metadata.finalizers = None;
    let s = sync_job(&j, &[gone], &s.memory, &at(150));
    assert_eq!(creates(&s).len(), 1, "replaced");
    assert!(statuses(&s).iter().all(|st| st.get("failed").is_none()));
}

#[test]
fn count_counts_against_the_backoff_limit() {
    let j = job(
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            on_codes("Ignore", "In", json!([1])), on_codes("Count", "In", json!([2]))]}}),
        json!({"startTime": "2025-06-15T15:06:40Z"}),
    );
    let s = sync_job(
        &j,
        &[exited("pi-a", 2, json!({}))],
        &JobMemory::default(),
        &at(0),
    );
    let st = last_status(&s);
    assert_eq!(st["failed"], 1);
    assert_eq!(
        cond(&st, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
}

#[test]
fn a_terminating_pod_is_not_a_failure_until_it_is_terminal() {
    let j = job(
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            on_codes("FailJob", "In", json!([42]))]}}),
        json!({"startTime": "2025-06-15T15:06:40Z", "active": 1}),
    );
    let mut p = pod("pi-a", "Running", json!({}));
    p.metadata.deletion_timestamp = Some(at(0).time());
    let s = sync_job(&j, &[p], &JobMemory::default(), &at(0));
    assert!(creates(&s).is_empty(), "podReplacementPolicy Failed waits");
    assert!(finalizer_removals(&s).is_empty());
    let st = last_status(&s);
    assert_eq!(st["terminating"], 1);
    assert!(st.get("failed").is_none());
    assert!(cond(&st, "FailureTarget").is_none());
}
