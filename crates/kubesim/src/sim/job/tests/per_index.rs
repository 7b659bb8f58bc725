//! backoffLimitPerIndex and maxFailedIndexes: per-index failure counts, failed indexes, and the
//! Job's end with `FailedIndexes` or `MaxFailedIndexesExceeded`.

use super::failure_policy::exited;
use super::*;
use crate::sim::job::per_index::{
    INDEX_FAILURE_COUNT_ANNOTATION, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
};

fn indexed(extra: Value, status: Value) -> Job {
    let mut spec = json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2,
                          "backoffLimitPerIndex": 1});
    merge(&mut spec, extra);
    job(spec, status)
}

/// A pod of index `ix` that failed with `code`, after `failures` earlier failures of its index.
fn failed_at(name: &str, ix: i32, failures: i32, code: i32) -> Pod {
    exited(
        name,
        code,
        json!({"metadata": {"annotations": {
            COMPLETION_INDEX_ANNOTATION: ix.to_string(),
            INDEX_FAILURE_COUNT_ANNOTATION: failures.to_string()}}}),
    )
}

fn running_at(name: &str, ix: i32) -> Pod {
    pod(
        name,
        "Running",
        json!({"metadata": {"annotations": {COMPLETION_INDEX_ANNOTATION: ix.to_string(),
                                            INDEX_FAILURE_COUNT_ANNOTATION: "0"}}}),
    )
}

fn annotation(p: &Pod, key: &str) -> Option<String> {
    p.metadata.annotations.as_ref()?.get(key).cloned()
}

/// Index, failure count and ignored failure count of each pod the sync creates.
fn created_counts(s: &JobSync) -> Vec<(String, String, Option<String>)> {
    creates(s)
        .into_iter()
        .map(|p| {
            (
                annotation(p, COMPLETION_INDEX_ANNOTATION).unwrap_or_default(),
                annotation(p, INDEX_FAILURE_COUNT_ANNOTATION).unwrap_or_default(),
                annotation(p, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION),
            )
        })
        .collect()
}

const STARTED: &str = "2025-06-15T15:06:40Z";

#[test]
fn new_pods_carry_a_zero_failure_count() {
    let j = indexed(json!({}), json!({}));
    assert_eq!(j.spec.as_ref().unwrap().backoff_limit, Some(i32::MAX));
    let s = sync_job(&j, &[], &JobMemory::default(), &at(0));
    let pods = creates(&s);
    assert_eq!(pods.len(), 2);
    for p in pods {
        assert_eq!(
            annotation(p, INDEX_FAILURE_COUNT_ANNOTATION).as_deref(),
            Some("0")
        );
        assert_eq!(annotation(p, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION), None);
    }
    assert_eq!(last_status(&s)["failedIndexes"], "");
}

#[test]
fn a_failed_index_under_its_limit_is_retried_after_its_own_back_off_with_the_count() {
    let j = indexed(json!({}), json!({"startTime": STARTED, "active": 2}));
    let first = failed_at("pi-1-a", 1, 0, 3);
    let pods = [running_at("pi-0-a", 0), first.clone()];
    // Within the index's back-off (10 s simulated, 100 ms here): no pod, and the failed pod
    // keeps its finalizer so that its replacement can take its count.
    let s = sync_job(&j, &pods, &JobMemory::default(), &at(50));
    assert!(creates(&s).is_empty());
    assert!(finalizer_removals(&s).is_empty());
    let left = s.requeue_after.expect("requeued for the back-off");
    assert!(left <= Duration::from_millis(50), "{left:?}");
    let st = last_status(&s);
    assert_eq!(st["failedIndexes"], "");
    assert!(st.get("failed").is_none());

    let s = sync_job(&j, &pods, &s.memory, &at(150));
    assert_eq!(created_counts(&s), [("1".into(), "1".into(), None)]);
    assert!(
        finalizer_removals(&s).is_empty(),
        "until the replacement is seen"
    );

    // Once the replacement is active, the failed pod is counted and let go.
    let pods = [running_at("pi-0-a", 0), first, running_at("pi-1-b", 1)];
    let s = sync_job(&j, &pods, &s.memory, &at(200));
    assert_eq!(finalizer_removals(&s), ["pi-1-a"]);
    assert_eq!(last_status(&s)["failed"], 1);
    assert!(creates(&s).is_empty());
}

#[test]
fn an_index_past_its_limit_fails_and_the_job_ends_with_failed_indexes() {
    let j = indexed(
        json!({}),
        json!({"startTime": STARTED, "active": 2, "failed": 1}),
    );
    let pods = [running_at("pi-0-a", 0), failed_at("pi-1-b", 1, 1, 3)];
    let s = sync_job(&j, &pods, &JobMemory::default(), &at(0));
    assert!(creates(&s).is_empty(), "a failed index is not retried");
    assert_eq!(finalizer_removals(&s), ["pi-1-b"]);
    let st = last_status(&s);
    assert_eq!(st["failedIndexes"], "1");
    assert_eq!(st["failed"], 2);
    assert!(cond(&st, "FailureTarget").is_none(), "index 0 still runs");

    // Index 0 succeeds: every index is done, one failed.
    let mut j2 = j.clone();
    j2.status = Some(serde_json::from_value(st).unwrap());
    let mut done = running_at("pi-0-a", 0);
    done.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
    let s = sync_job(&j2, &[done], &s.memory, &at(10));
    let sts = statuses(&s);
    assert_eq!(sts.len(), 2, "FailureTarget is written before Failed");
    assert!(cond(&sts[0], "Failed").is_none());
    let ft = cond(&sts[0], "FailureTarget").expect("FailureTarget first");
    assert_eq!(
        (&ft["reason"], &ft["message"]),
        (&json!("FailedIndexes"), &json!("Job has failed indexes"))
    );
    let st = last_status(&s);
    assert_eq!(cond(&st, "Failed").unwrap()["reason"], "FailedIndexes");
    assert_eq!(st["completedIndexes"], "0");
    assert_eq!(st["failedIndexes"], "1");
    assert_eq!(st["succeeded"], 1);
    assert_eq!(
        events(&s),
        [(EventType::Warning, "FailedIndexes".to_string())]
    );
}

#[test]
fn max_failed_indexes_exceeded_ends_the_job_and_deletes_its_pods() {
    let j = indexed(
        json!({"completions": 3, "parallelism": 3, "backoffLimitPerIndex": 0,
               "maxFailedIndexes": 0}),
        json!({"startTime": STARTED, "active": 3}),
    );
    let pods = [
        running_at("pi-0-a", 0),
        failed_at("pi-1-a", 1, 0, 1),
        running_at("pi-2-a", 2),
    ];
    let s = sync_job(&j, &pods, &JobMemory::default(), &at(0));
    assert_eq!(deletes(&s), ["pi-0-a", "pi-2-a"]);
    let st = last_status(&s);
    let ft = cond(&st, "FailureTarget").unwrap();
    assert_eq!(
        (&ft["reason"], &ft["message"]),
        (
            &json!("MaxFailedIndexesExceeded"),
            &json!("Job has exceeded the specified maximal number of failed indexes")
        )
    );
    assert_eq!(st["failedIndexes"], "1");
    assert!(cond(&st, "Failed").is_none(), "two pods are terminating");
}

#[test]
fn fail_index_fails_the_index_at_once_and_ignore_keeps_its_own_count() {
    let j = indexed(
        json!({"backoffLimitPerIndex": 3, "podFailurePolicy": {"rules": [
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]}}),
        json!({"startTime": STARTED, "active": 2}),
    );
    let pods = [failed_at("pi-0-a", 0, 0, 42), failed_at("pi-1-a", 1, 2, 1)];
    let s = sync_job(&j, &pods, &JobMemory::default(), &at(500));
    let st = last_status(&s);
    assert_eq!(st["failedIndexes"], "0");
    assert_eq!(
        st["failed"], 1,
        "the FailIndex failure counts, the ignored one not"
    );
    assert!(cond(&st, "FailureTarget").is_none());
    assert_eq!(
        created_counts(&s),
        [("1".into(), "2".into(), Some("1".into()))]
    );
    assert_eq!(finalizer_removals(&s), ["pi-0-a"]);
}
