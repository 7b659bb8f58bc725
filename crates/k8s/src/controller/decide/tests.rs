use std::sync::Arc;

use super::*;
use crate::index::views::tests::job;
use crate::record::JobTerminationSpec;
use jiff::SignedDuration;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, PodSpec,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

const HOUR: Duration = Duration::from_secs(3600);

fn record(operation: TerminateKind, status: Option<JobTerminationStatus>) -> JobTermination {
    let mut r = JobTermination::new(
        "uid-1",
        JobTerminationSpec {
            job_id: "uid-1".into(),
            job_name: "j".into(),
            job_uid: "uid-1".into(),
            job_created_at: Timestamp::now(),
            operation,
            reason: "stop it".into(),
            requested_at: Timestamp::now(),
            request_id: None,
        },
    );
    r.metadata.namespace = Some("ns".into());
    r.metadata.uid = Some("record-uid".into());
    r.status = status;
    r
}

fn decided(action: Action) -> Option<JobTerminationStatus> {
    Some(JobTerminationStatus {
        phase: Some(TerminationPhase::InProgress),
        action: Some(action),
        event_recorded: true,
        deadline: Some(Timestamp::now() + SignedDuration::from_hours(1)),
        ..Default::default()
    })
}

fn marked(mut job: Job, r: &JobTermination, action: Action) -> Job {
    job.metadata.annotations = Some(
        annotations(r, action)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    );
    let spec = job.spec.get_or_insert_with(Default::default);
    match action {
        Action::Cancel => spec.suspend = Some(true),
        Action::Terminate => spec.active_deadline_seconds = Some(0),
    }
    job
}

/// A pod in `phase`; `running` gives it a running container, `exit` a terminated one.
fn pod(name: &str, phase: &str, running: bool, exit: Option<i32>) -> Arc<Pod> {
    let t = Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap());
    Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(format!("{name}-uid")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-0".into()),
            termination_grace_period_seconds: Some(10),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "main".into(),
                state: Some(ContainerState {
                    running: running.then(|| ContainerStateRunning {
                        started_at: Some(t.clone()),
                    }),
                    terminated: exit.map(|code| ContainerStateTerminated {
                        exit_code: code,
                        reason: Some("Error".into()),
                        started_at: Some(t.clone()),
                        finished_at: Some(t.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    })
}

fn seen<'a>(job: Option<&'a Job>, pods: &'a [Arc<Pod>]) -> Seen<'a> {
    Seen {
        job,
        pods,
        departed: &[],
    }
}

fn step(r: &JobTermination, job: Option<&Job>, pods: &[Arc<Pod>]) -> Step {
    decide(r, seen(job, pods), Timestamp::now(), HOUR)
}

#[test]
fn the_state_table_decides_the_action() {
    let (t, c) = (TerminateKind::Terminate, TerminateKind::Cancel);
    let running = [pod("p", "Running", true, None)];
    let unbound = {
        let mut p = (*pod("p", "Pending", false, None)).clone();
        p.spec.as_mut().unwrap().node_name = None;
        [Arc::new(p)]
    };
    type Case<'a> = (TerminateKind, Job, &'a [Arc<Pod>], Option<Action>);
    let cases: [Case; 8] = [
        (t, job(true, None), &[], Some(Action::Cancel)),
        (t, job(false, None), &unbound, Some(Action::Cancel)),
        (t, job(false, None), &running, Some(Action::Terminate)),
        (t, job(false, Some("Complete")), &[], None),
        (t, job(false, Some("Failed")), &[], None),
        (c, job(true, None), &[], Some(Action::Cancel)),
        (c, job(false, None), &running, None),
        (c, job(false, Some("Complete")), &[], None),
    ];
    for (op, job, pods, want) in cases {
        let got = match step(&record(op, None), Some(&job), pods) {
            Step::Act { action, first, .. } => {
                assert!(first);
                Some(action)
            }
            Step::NoChange { .. } => None,
            other => panic!("{op:?}: {other:?}"),
        };
        assert_eq!(got, want, "{op:?}");
    }
}

#[test]
fn a_vanished_job_completes_an_undecided_record() {
    let r = record(TerminateKind::Terminate, None);
    assert!(matches!(step(&r, None, &[]), Step::Complete { .. }));
}

#[test]
fn a_decided_action_sticks_even_when_the_state_moves() {
    // After the fence the Job reads as FAILED: the record finishes, it does not re-decide.
    let r = record(TerminateKind::Terminate, decided(Action::Terminate));
    let j = marked(job(false, Some("Failed")), &r, Action::Terminate);
    let terminating = {
        let mut p = (*pod("p", "Running", true, None)).clone();
        p.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        [Arc::new(p)]
    };
    // Pods still stopping: wait (until the deadline), do not delete them again.
    assert!(matches!(
        step(&r, Some(&j), &terminating),
        Step::Wait { until: Some(_) }
    ));
    assert!(matches!(step(&r, Some(&j), &[]), Step::Complete { .. }));
    // A pod not yet deleted: act (delete it), not a new decision.
    let running = [pod("p", "Running", true, None)];
    assert_eq!(
        step(&r, Some(&j), &running),
        Step::Act {
            action: Action::Terminate,
            state_before: BatchState::Running,
            first: false
        }
    );
}

#[test]
fn a_terminal_job_in_either_direction_completes_and_finished_pods_stay() {
    let r = record(TerminateKind::Terminate, decided(Action::Terminate));
    let finished = [
        pod("ok", "Succeeded", false, Some(0)),
        pod("bad", "Failed", false, Some(1)),
    ];
    for condition in ["Complete", "Failed"] {
        let j = marked(job(false, Some(condition)), &r, Action::Terminate);
        assert!(
            matches!(step(&r, Some(&j), &finished), Step::Complete { .. }),
            "{condition}"
        );
    }
    assert_eq!(to_delete(&finished).count(), 0);
}

/// The pod watch lags the Job watch: a Job Failed with one pod counted, and no pod in the
/// caches yet. The record waits for the pod (or [`POD_WATCH_LAG`]), never past its deadline.
#[test]
fn a_finished_job_waits_for_the_pods_it_counts_to_show_their_final_state() {
    let r = record(TerminateKind::Terminate, decided(Action::Terminate));
    let mut j = marked(job(false, Some("Failed")), &r, Action::Terminate);
    let failed_at = Timestamp::now();
    let status = j.status.as_mut().unwrap();
    status.failed = Some(1);
    status.conditions.as_mut().unwrap()[0].last_transition_time =
        Some(Time(failed_at.to_string().parse().unwrap()));
    let until = failed_at + SignedDuration::try_from(POD_WATCH_LAG).unwrap();
    let at = |now: Timestamp, pods: &[Arc<Pod>], departed: &[Arc<Pod>]| {
        let seen = Seen {
            job: Some(&j),
            pods,
            departed,
        };
        decide(&r, seen, now, HOUR)
    };
    let waits = |step: Step| match step {
        Step::Wait { until: Some(t) } => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(waits(at(failed_at, &[], &[])), until);
    // Its final state arrives, in the cache or as departed: complete, and keep it.
    let gone = [pod("p", "Failed", false, Some(143))];
    assert!(matches!(at(failed_at, &gone, &[]), Step::Complete { .. }));
    assert!(matches!(at(failed_at, &[], &gone), Step::Complete { .. }));
    // A pod that never arrives (deleted while the service was away) holds it only so long.
    assert!(matches!(at(until, &[], &[]), Step::Complete { .. }));
    // Kept attempts count as shown; the record's deadline bounds the wait.
    let mut kept = r.clone();
    let mut status = decided(Action::Terminate).unwrap();
    status.attempts = kept_attempts(
        &r,
        Seen {
            job: None,
            pods: &gone,
            departed: &[],
        },
    );
    assert_eq!(status.attempts.len(), 1);
    kept.status = Some(status);
    assert!(matches!(
        decide(&kept, seen(Some(&j), &[]), failed_at, HOUR),
        Step::Complete { .. }
    ));
    let mut near = r.clone();
    let deadline = failed_at + SignedDuration::from_secs(1);
    near.status.as_mut().unwrap().deadline = Some(deadline);
    assert_eq!(
        waits(decide(&near, seen(Some(&j), &[]), failed_at, HOUR)),
        deadline
    );
}

#[test]
fn the_annotations_on_the_job_recover_a_decision_whose_status_was_lost() {
    // A crash after the Job patch, before the status write: the Job reads as FAILED, which
    // would otherwise decide "nothing to do".
    let r = record(TerminateKind::Terminate, None);
    let j = marked(job(false, Some("FailureTarget")), &r, Action::Terminate);
    let running = [pod("p", "Running", true, None)];
    assert_eq!(decided_action(&r, Some(&j)), Some(Action::Terminate));
    assert!(matches!(
        step(&r, Some(&j), &running),
        Step::Act {
            action: Action::Terminate,
            first: false,
            ..
        }
    ));
}

#[test]
fn no_record_waits_past_its_deadline_in_any_state() {
    let past = Timestamp::now() - SignedDuration::from_secs(1);
    for action in [Action::Cancel, Action::Terminate] {
        let mut status = decided(action).unwrap();
        status.deadline = Some(past);
        status.event_recorded = false;
        let r = record(TerminateKind::Terminate, Some(status));
        let j = marked(job(false, None), &r, action);
        let running = [pod("p", "Running", true, None)];
        assert!(
            matches!(step(&r, Some(&j), &running), Step::Complete { .. }),
            "{action:?}"
        );
    }
}

#[test]
fn a_terminate_after_a_no_op_cancel_decides_again() {
    let status = JobTerminationStatus {
        phase: Some(TerminationPhase::NoChange),
        observed_generation: Some(1),
        ..Default::default()
    };
    let mut r = record(TerminateKind::Cancel, Some(status));
    r.metadata.generation = Some(1);
    let running = [pod("p", "Running", true, None)];
    let j = job(false, None);
    assert!(matches!(step(&r, Some(&j), &running), Step::Wait { .. }));
    // The service turned it into a TerminateJob: the spec's generation moved.
    r.spec.operation = TerminateKind::Terminate;
    r.metadata.generation = Some(2);
    assert_eq!(
        step(&r, Some(&j), &running),
        Step::Act {
            action: Action::Terminate,
            state_before: BatchState::Running,
            first: true
        }
    );
}

#[test]
fn finished_records_wait_for_retention_then_expire_once_the_job_settles() {
    let done_at = Timestamp::now() - SignedDuration::from_hours(2);
    let status = JobTerminationStatus {
        phase: Some(TerminationPhase::Completed),
        completed_at: Some(done_at),
        ..Default::default()
    };
    let r = record(TerminateKind::Terminate, Some(status));
    let now = Timestamp::now();
    let wait = decide(&r, seen(None, &[]), now, Duration::from_secs(3 * 3600));
    assert_eq!(
        wait,
        Step::Wait {
            until: Some(done_at + SignedDuration::from_hours(3))
        }
    );
    assert_eq!(decide(&r, seen(None, &[]), now, HOUR), Step::Expire);
    let running = job(false, None);
    assert_eq!(
        decide(&r, seen(Some(&running), &[]), now, HOUR),
        Step::Wait { until: None }
    );
}

#[test]
fn a_new_decision_tests_the_resource_version_it_was_made_from() {
    let r = record(TerminateKind::Terminate, None);
    let patch = job_patch(&job(false, None), &r, Action::Terminate, true);
    assert_eq!(
        patch[0],
        json!({"op": "test", "path": "/metadata/uid", "value": "uid-1"})
    );
    assert_eq!(
        patch[1],
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"})
    );
    assert_eq!(patch[2]["path"], "/metadata/annotations");
    assert_eq!(patch[2]["value"][REASON_ANNOTATION], "stop it");
    assert_eq!(patch[2]["value"][ACTION_ANNOTATION], "terminate");
    assert_eq!(
        patch[3],
        json!({"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 0})
    );

    let mut annotated = job(true, None);
    annotated.metadata.annotations = Some(Default::default());
    let patch = job_patch(&annotated, &r, Action::Cancel, false);
    assert_eq!(
        patch[1]["path"],
        "/metadata/annotations/batch-terminator.dev~1reason"
    );
    assert_eq!(
        patch[4],
        json!({"op": "add", "path": "/spec/suspend", "value": true})
    );
}

#[test]
fn kept_attempts_include_departed_pods_with_their_exit_code() {
    let r = record(TerminateKind::Terminate, decided(Action::Terminate));
    let departed = [pod("gone", "Failed", false, Some(143))];
    let seen = Seen {
        job: None,
        pods: &[],
        departed: &departed,
    };
    let kept = kept_attempts(&r, seen);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].pod_name, "gone");
    assert_eq!(kept[0].node_name.as_deref(), Some("node-0"));
    assert_eq!(kept[0].containers[0].exit_code, Some(143));
}

#[test]
fn the_deadline_is_the_longest_grace_period_plus_the_margin() {
    let now = Timestamp::now();
    let pods = [pod("p", "Running", true, None)];
    let margin = SignedDuration::try_from(DEADLINE_MARGIN).unwrap();
    assert_eq!(
        deadline(&pods, now),
        now + SignedDuration::from_secs(10) + margin
    );
    assert_eq!(deadline(&[], now), now + margin);
}

#[test]
fn the_event_comes_from_the_record_alone() {
    let r = record(TerminateKind::Terminate, None);
    let event = event_for(&r, Action::Terminate, "pod-0");
    assert_eq!(event.metadata.name.as_deref(), Some("j.record-uid"));
    assert_eq!(event.reason.as_deref(), Some("JobTerminated"));
    let regarding = event.regarding.unwrap();
    assert_eq!(regarding.uid.as_deref(), Some("uid-1"));
    assert_eq!(regarding.namespace.as_deref(), Some("ns"));
}

#[test]
fn notes_are_cut_to_1024_bytes_on_a_char_boundary() {
    let long = "é".repeat(1024);
    let note = truncate_note(&long);
    assert!(note.len() <= NOTE_LIMIT);
    assert_eq!(note.chars().count(), 512);
    assert_eq!(truncate_note("short"), "short");
}
