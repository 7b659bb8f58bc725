use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::sim::clock::{SimTime, TimeScale};

mod failure_policy;
mod per_index;

const T0: i64 = 1_750_000_000;

fn at(ms: i64) -> SimTime {
    SimTime::new(
        Timestamp::from_second(T0)
            .unwrap()
            .checked_add(SignedDuration::from_millis(ms))
            .unwrap(),
        TimeScale::new(0.01).unwrap(),
    )
}

fn job(spec: Value, status: Value) -> Job {
    let mut v = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "ns", "uid": "job-uid"},
        "spec": spec,
    });
    v["spec"]["template"] = json!({
        "metadata": {"labels": {"app": "pi"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
    });
    crate::store::defaults::on_create("batch", "Job", &mut v);
    v["status"] = status;
    serde_json::from_value(v).unwrap()
}

fn pod(name: &str, phase: &str, extra: Value) -> Pod {
    let mut v = json!({
        "metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
            "finalizers": [TRACKING_FINALIZER],
            "creationTimestamp": "2025-06-15T15:00:00Z",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi",
                                 "uid": "job-uid", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {"nodeName": "kubesim-node-0", "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": phase}
    });
    if phase == "Running" {
        v["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    }
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn creates(s: &JobSync) -> Vec<&Pod> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            JobAction::CreatePod(p) => Some(p.as_ref()),
            _ => None,
        })
        .collect()
}

fn deletes(s: &JobSync) -> Vec<&str> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            JobAction::DeletePod(r) => Some(r.name.as_str()),
            _ => None,
        })
        .collect()
}

fn finalizer_removals(s: &JobSync) -> Vec<&str> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            JobAction::RemoveTrackingFinalizer(r) => Some(r.name.as_str()),
            _ => None,
        })
        .collect()
}

fn statuses(s: &JobSync) -> Vec<Value> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            JobAction::UpdateStatus(st) => Some(serde_json::to_value(st).unwrap()),
            _ => None,
        })
        .collect()
}

fn last_status(s: &JobSync) -> Value {
    statuses(s).pop().expect("a status update")
}

fn events(s: &JobSync) -> Vec<(EventType, String)> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            JobAction::Event(e) => Some((e.type_, e.reason.clone())),
            _ => None,
        })
        .collect()
}

fn cond<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[test]
fn new_job_creates_pods_from_template() {
    let j = job(json!({"parallelism": 2, "completions": 3}), json!({}));
    let s = sync_job(&j, &[], &JobMemory::default(), &at(0));
    let pods = creates(&s);
    assert_eq!(pods.len(), 2);
    let p = serde_json::to_value(pods[0]).unwrap();
    assert_eq!(p["metadata"]["generateName"], "pi-");
    assert_eq!(p["metadata"]["namespace"], "ns");
    assert_eq!(p["metadata"]["labels"]["app"], "pi");
    assert_eq!(p["metadata"]["labels"][CONTROLLER_UID_LABEL], "job-uid");
    assert_eq!(p["metadata"]["labels"][JOB_NAME_LABEL], "pi");
    assert_eq!(
        p["metadata"]["labels"][LEGACY_CONTROLLER_UID_LABEL],
        "job-uid"
    );
    assert_eq!(p["metadata"]["labels"][LEGACY_JOB_NAME_LABEL], "pi");
    assert_eq!(p["metadata"]["finalizers"], json!([TRACKING_FINALIZER]));
    assert_eq!(
        p["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "job-uid",
                "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(p["spec"]["containers"][0]["name"], "main");
    let st = last_status(&s);
    assert_eq!(st["active"], 2);
    assert_eq!(st["ready"], 0);
    assert_eq!(st["terminating"], 0);
    assert_eq!(st["startTime"], "2025-06-15T15:06:40Z");
    assert!(st.get("succeeded").is_none());
    assert_eq!(s.memory.start_time, Some(at(0).now));
}

#[test]
fn steady_state_needs_no_write() {
    let j = job(
        json!({}),
        json!({"active": 1, "ready": 1, "terminating": 0, "startTime": "2025-06-15T15:06:40Z",
               "uncountedTerminatedPods": {}}),
    );
    let s = sync_job(
        &j,
        &[pod("pi-a", "Running", json!({}))],
        &JobMemory::default(),
        &at(0),
    );
    assert!(s.actions.is_empty(), "{:?}", s.actions);
}

#[test]
fn completes_when_enough_pods_succeed() {
    let j = job(
        json!({}),
        json!({"active": 1, "ready": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let s = sync_job(
        &j,
        &[pod("pi-a", "Succeeded", json!({}))],
        &JobMemory::default(),
        &at(5000),
    );
    let sts = statuses(&s);
    assert_eq!(sts.len(), 2);
    // First write: the pod is uncounted, SuccessCriteriaMet is recorded.
    assert_eq!(
        sts[0]["uncountedTerminatedPods"]["succeeded"],
        json!(["uid-pi-a"])
    );
    assert_eq!(
        cond(&sts[0], "SuccessCriteriaMet").unwrap()["reason"],
        "CompletionsReached"
    );
    assert!(cond(&sts[0], "Complete").is_none());
    assert_eq!(finalizer_removals(&s), ["pi-a"]);
    // Then counted and Complete.
    let st = &sts[1];
    assert_eq!(st["succeeded"], 1);
    assert!(st.get("active").is_none());
    assert_eq!(st["uncountedTerminatedPods"], json!({}));
    let c = cond(st, "Complete").unwrap();
    assert_eq!(c["status"], "True");
    assert_eq!(c["reason"], "CompletionsReached");
    assert_eq!(c["message"], "Reached expected number of succeeded pods");
    assert_eq!(st["completionTime"], "2025-06-15T15:06:45Z");
    assert_eq!(events(&s), [(EventType::Normal, "Completed".to_string())]);
    assert!(creates(&s).is_empty());
}

#[test]
fn finished_job_is_left_alone() {
    let j = job(
        json!({}),
        json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
    );
    let mut p = pod("pi-a", "Succeeded", json!({}));
    p.metadata.finalizers = None;
    let s = sync_job(&j, &[p], &JobMemory::default(), &at(0));
    assert!(s.actions.is_empty());
    let s = sync_job(&j, &[], &JobMemory::default(), &at(0));
    assert!(s.actions.is_empty());
}

#[test]
fn failure_past_backoff_limit_fails_the_job() {
    let j = job(
        json!({"backoffLimit": 1}),
        json!({"failed": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let s = sync_job(
        &j,
        &[pod("pi-b", "Failed", json!({}))],
        &JobMemory::default(),
        &at(0),
    );
    let sts = statuses(&s);
    let ft = cond(&sts[0], "FailureTarget").unwrap();
    assert_eq!(ft["reason"], "BackoffLimitExceeded");
    assert_eq!(ft["message"], "Job has reached the specified backoff limit");
    assert_eq!(
        sts[0]["uncountedTerminatedPods"]["failed"],
        json!(["uid-pi-b"])
    );
    let st = last_status(&s);
    assert_eq!(st["failed"], 2);
    let f = cond(&st, "Failed").unwrap();
    assert_eq!(f["reason"], "BackoffLimitExceeded");
    assert!(creates(&s).is_empty());
    assert_eq!(
        events(&s),
        [(EventType::Warning, "BackoffLimitExceeded".to_string())]
    );
}

#[test]
fn failure_under_the_limit_is_replaced_after_backoff() {
    let j = job(
        json!({}),
        json!({"active": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let failed = pod("pi-a", "Failed", json!({}));
    let s = sync_job(
        &j,
        std::slice::from_ref(&failed),
        &JobMemory::default(),
        &at(0),
    );
    assert!(creates(&s).is_empty(), "replacement waits for the back-off");
    // 10 s simulated at scale 0.01.
    assert_eq!(s.requeue_after, Some(Duration::from_millis(100)));
    assert_eq!(s.memory.backoff.failures_after_last_success, 1);
    assert_eq!(last_status(&s)["failed"], 1);

    // Next sync after the back-off: the finalizer is gone, the pod counted.
    let mut j2 = j.clone();
    j2.status = serde_json::from_value(last_status(&s)).unwrap();
    let mut gone = failed.clone();
    gone.metadata.finalizers = None;
    let s2 = sync_job(&j2, &[gone], &s.memory, &at(150));
    assert_eq!(creates(&s2).len(), 1);
    assert_eq!(last_status(&s2)["failed"], 1);
    assert_eq!(last_status(&s2)["active"], 1);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let mut b = BackoffRecord::default();
    assert_eq!(b.delay(), Duration::ZERO);
    b.failures_after_last_success = 1;
    assert_eq!(b.delay(), Duration::from_secs(10));
    b.failures_after_last_success = 3;
    assert_eq!(b.delay(), Duration::from_secs(40));
    b.failures_after_last_success = 30;
    assert_eq!(b.delay(), MAX_POD_FAILURE_BACKOFF);
    assert_eq!(b.updated(1, 0, at(0).now), BackoffRecord::default());
}

#[test]
fn deleted_pod_counts_as_failed_and_is_replaced() {
    let j = job(
        json!({}),
        json!({"active": 1, "ready": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let deleted = pod(
        "pi-a",
        "Running",
        json!({"metadata": {"deletionTimestamp": "2025-06-15T15:07:10Z",
                            "deletionGracePeriodSeconds": 30}}),
    );
    let s = sync_job(
        &j,
        std::slice::from_ref(&deleted),
        &JobMemory::default(),
        &at(0),
    );
    assert_eq!(finalizer_removals(&s), ["pi-a"]);
    let st = last_status(&s);
    assert_eq!(st["failed"], 1);
    assert_eq!(st["terminating"], 1);
    assert!(st.get("active").is_none());
    assert!(cond(&st, "Failed").is_none());

    // After the back-off a replacement comes, while the old pod still terminates.
    let mut j2 = j.clone();
    j2.status = serde_json::from_value(st).unwrap();
    let mut old = deleted.clone();
    old.metadata.finalizers = None;
    let s2 = sync_job(&j2, &[old], &s.memory, &at(200));
    assert_eq!(creates(&s2).len(), 1);
    let st2 = last_status(&s2);
    assert_eq!(st2["failed"], 1);
    assert_eq!(st2["active"], 1);
    assert_eq!(st2["terminating"], 1);
}

#[test]
fn replacement_policy_failed_waits_for_terminal_phase() {
    let j = job(
        json!({"podReplacementPolicy": "Failed"}),
        json!({"active": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let deleted = pod(
        "pi-a",
        "Running",
        json!({"metadata": {"deletionTimestamp": "2025-06-15T15:07:10Z"}}),
    );
    let s = sync_job(&j, &[deleted], &JobMemory::default(), &at(0));
    assert!(creates(&s).is_empty());
    assert!(finalizer_removals(&s).is_empty());
    assert!(last_status(&s).get("failed").is_none());
}

#[test]
fn suspend_deletes_active_pods_without_counting_failures() {
    let j = job(
        json!({"suspend": true}),
        json!({"active": 1, "ready": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let s = sync_job(
        &j,
        &[pod("pi-a", "Running", json!({}))],
        &JobMemory::default(),
        &at(0),
    );
    // The finalizer goes first, so the deletion is not counted.
    assert!(matches!(&s.actions[0], JobAction::RemoveTrackingFinalizer(r) if r.name == "pi-a"));
    assert!(matches!(&s.actions[1], JobAction::DeletePod(r) if r.name == "pi-a"));
    let st = last_status(&s);
    assert!(st.get("failed").is_none());
    assert!(st.get("active").is_none());
    assert_eq!(st["terminating"], 1);
    let c = cond(&st, "Suspended").unwrap();
    assert_eq!(c["status"], "True");
    assert_eq!(c["reason"], "JobSuspended");
    assert_eq!(c["message"], "Job suspended");
    assert_eq!(events(&s), [(EventType::Normal, "Suspended".to_string())]);
    assert!(creates(&s).is_empty());
}

#[test]
fn resume_sets_a_new_start_time() {
    let j = job(
        json!({"suspend": false}),
        json!({"startTime": "2025-06-15T15:00:00Z",
               "conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended",
                               "message": "Job suspended"}]}),
    );
    let s = sync_job(&j, &[], &JobMemory::default(), &at(3000));
    let st = last_status(&s);
    assert_eq!(st["startTime"], "2025-06-15T15:06:43Z");
    let c = cond(&st, "Suspended").unwrap();
    assert_eq!(c["status"], "False");
    assert_eq!(c["reason"], "JobResumed");
    assert_eq!(events(&s), [(EventType::Normal, "Resumed".to_string())]);
    assert_eq!(creates(&s).len(), 1);
}

#[test]
fn job_created_suspended_has_no_start_time() {
    let j = job(json!({"suspend": true}), json!({}));
    let s = sync_job(&j, &[], &JobMemory::default(), &at(0));
    let st = last_status(&s);
    assert!(st.get("startTime").is_none());
    assert_eq!(cond(&st, "Suspended").unwrap()["status"], "True");
    assert!(creates(&s).is_empty());
}

#[test]
fn deadline_zero_on_running_job_deletes_pods_then_fails() {
    let j = job(
        json!({"activeDeadlineSeconds": 0}),
        json!({"active": 1, "ready": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let running = pod("pi-a", "Running", json!({}));
    let s = sync_job(
        &j,
        std::slice::from_ref(&running),
        &JobMemory::default(),
        &at(0),
    );
    assert_eq!(deletes(&s), ["pi-a"]);
    assert!(creates(&s).is_empty());
    // The deletion comes before the finalizer is removed: the pod counts as failed.
    assert!(matches!(&s.actions[0], JobAction::DeletePod(_)));
    let sts = statuses(&s);
    let ft = cond(&sts[0], "FailureTarget").unwrap();
    assert_eq!(ft["reason"], "DeadlineExceeded");
    assert_eq!(
        ft["message"],
        "Job was active longer than specified deadline"
    );
    let st = last_status(&s);
    assert_eq!(st["failed"], 1);
    assert_eq!(st["terminating"], 1);
    assert!(
        cond(&st, "Failed").is_none(),
        "Failed waits for the terminating pod"
    );
    assert!(events(&s).is_empty());

    // The pod is still terminating: nothing but waiting.
    let mut j2 = j.clone();
    j2.status = serde_json::from_value(st).unwrap();
    let mut terminating = running.clone();
    terminating.metadata.finalizers = None;
    terminating.metadata.deletion_timestamp = Some(at(0).time());
    let s2 = sync_job(&j2, std::slice::from_ref(&terminating), &s.memory, &at(100));
    assert!(s2.actions.is_empty(), "{:?}", s2.actions);

    // The kubelet has ended it: Failed, DeadlineExceeded.
    let mut ended = terminating.clone();
    ended.status.as_mut().unwrap().phase = Some("Failed".into());
    let s3 = sync_job(&j2, &[ended], &s2.memory, &at(400));
    let st3 = last_status(&s3);
    assert_eq!(st3["terminating"], 0);
    assert_eq!(st3["failed"], 1);
    let f = cond(&st3, "Failed").unwrap();
    assert_eq!(f["reason"], "DeadlineExceeded");
    assert!(creates(&s3).is_empty());
    assert_eq!(
        events(&s3),
        [(EventType::Warning, "DeadlineExceeded".to_string())]
    );
    let s4 = sync_job(&j2, &[], &s2.memory, &at(400));
    assert!(cond(&last_status(&s4), "Failed").is_some());
}

#[test]
fn deadline_uses_scaled_seconds_and_requeues() {
    // 60 s at scale 0.01 is 600 ms of real time.
    let j = job(
        json!({"activeDeadlineSeconds": 60}),
        json!({"active": 1, "ready": 1, "terminating": 0, "startTime": "2025-06-15T15:06:40Z",
               "uncountedTerminatedPods": {}}),
    );
    let mem = JobMemory {
        start_time: Some(at(0).now),
        ..JobMemory::default()
    };
    let pods = [pod("pi-a", "Running", json!({}))];
    let s = sync_job(&j, &pods, &mem, &at(250));
    assert!(s.actions.is_empty());
    assert_eq!(s.requeue_after, Some(Duration::from_millis(350)));
    let s = sync_job(&j, &pods, &mem, &at(600));
    assert_eq!(deletes(&s), ["pi-a"]);
}

#[test]
fn suspended_job_never_passes_its_deadline() {
    let j = job(
        json!({"activeDeadlineSeconds": 0, "suspend": true}),
        json!({"startTime": "2025-06-15T15:00:00Z",
               "conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended",
                               "message": "Job suspended"}]}),
    );
    let s = sync_job(&j, &[], &JobMemory::default(), &at(100_000));
    for st in statuses(&s) {
        assert!(cond(&st, "FailureTarget").is_none());
        assert!(cond(&st, "Failed").is_none());
    }
    assert!(events(&s).is_empty());
}

#[test]
fn on_failure_restarts_count_against_backoff_limit() {
    let mut j = job(
        json!({"backoffLimit": 2}),
        json!({"startTime": "2025-06-15T15:06:40Z"}),
    );
    j.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .restart_policy = Some("OnFailure".into());
    let p = pod(
        "pi-a",
        "Running",
        json!({"status": {"containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
                                                 "ready": true, "restartCount": 2}]}}),
    );
    let s = sync_job(&j, &[p], &JobMemory::default(), &at(0));
    assert_eq!(deletes(&s), ["pi-a"]);
    assert_eq!(
        cond(&statuses(&s)[0], "FailureTarget").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
}

#[test]
fn scale_down_deletes_extra_pods_pending_first() {
    let j = job(
        json!({"parallelism": 1, "completions": 5}),
        json!({"active": 2, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let mut pending = pod("pi-p", "Pending", json!({}));
    pending.spec.as_mut().unwrap().node_name = None;
    let s = sync_job(
        &j,
        &[pod("pi-r", "Running", json!({})), pending],
        &JobMemory::default(),
        &at(0),
    );
    assert_eq!(deletes(&s), ["pi-p"]);
    assert_eq!(finalizer_removals(&s), ["pi-p"]);
    assert!(last_status(&s).get("failed").is_none());
}

#[test]
fn indexed_job_creates_pods_per_index() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 2}),
        json!({"completedIndexes": "0", "succeeded": 1, "startTime": "2025-06-15T15:06:40Z"}),
    );
    let s = sync_job(&j, &[], &JobMemory::default(), &at(0));
    let pods = creates(&s);
    assert_eq!(pods.len(), 2);
    let p = serde_json::to_value(pods[0]).unwrap();
    assert_eq!(p["metadata"]["generateName"], "pi-1-");
    assert_eq!(
        p["metadata"]["annotations"][COMPLETION_INDEX_ANNOTATION],
        "1"
    );
    assert_eq!(p["metadata"]["labels"][COMPLETION_INDEX_ANNOTATION], "1");
    assert_eq!(p["spec"]["hostname"], "pi-1");
    assert_eq!(
        p["spec"]["containers"][0]["env"][0]["name"],
        COMPLETION_INDEX_ENV
    );
    assert_eq!(
        serde_json::to_value(pods[1]).unwrap()["metadata"]["generateName"],
        "pi-2-"
    );
}

#[test]
fn indexed_job_completes_with_completed_indexes() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2}),
        json!({"active": 1, "completedIndexes": "0", "succeeded": 1,
               "startTime": "2025-06-15T15:06:40Z"}),
    );
    let p = pod(
        "pi-1-x",
        "Succeeded",
        json!({"metadata": {"annotations": {COMPLETION_INDEX_ANNOTATION: "1"}}}),
    );
    let s = sync_job(&j, &[p], &JobMemory::default(), &at(0));
    let st = last_status(&s);
    assert_eq!(st["completedIndexes"], "0,1");
    assert_eq!(st["succeeded"], 2);
    assert!(cond(&st, "Complete").is_some());
}

#[test]
fn indexes_parse_and_format() {
    let s = parse_indexes("0,2-4, 7,9-12", 11);
    assert_eq!(
        s.iter().copied().collect::<Vec<_>>(),
        [0, 2, 3, 4, 7, 9, 10]
    );
    assert_eq!(format_indexes(&s), "0,2-4,7,9,10");
    assert_eq!(format_indexes(&BTreeSet::new()), "");
}
