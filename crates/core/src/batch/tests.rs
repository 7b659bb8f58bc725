//! Unit tests of the Batch domain: the state mapping, the decision table, JobDetail fields,
//! array jobs and kept attempts; request validation and ListJobs paging are in [`requests`].

use jiff::Timestamp;

use super::*;

mod arrays;
use arrays::array_job;
mod requests;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).expect("valid time")
}

fn ms(secs: i64) -> i64 {
    t(secs).as_millisecond()
}

fn job() -> JobView {
    JobView {
        uid: "uid-1".into(),
        name: "train".into(),
        namespace: "ml".into(),
        created_at: t(0),
        // The Job controller has looked at it (see `a_job_the_job_controller_has_not_seen_is_submitted`).
        start_time: Some(t(0)),
        ..JobView::default()
    }
}

fn cond(type_: &str, reason: Option<&str>, message: Option<&str>, at: i64) -> ConditionView {
    ConditionView {
        type_: type_.into(),
        status: "True".into(),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
        last_transition: Some(t(at)),
    }
}

fn with_cond(mut j: JobView, c: ConditionView) -> JobView {
    j.conditions.push(c);
    j
}

fn pod(name: &str, node: Option<&str>, phase: PodPhase) -> PodView {
    PodView {
        name: name.into(),
        namespace: "ml".into(),
        uid: format!("uid-{name}"),
        node_name: node.map(Into::into),
        phase,
        created_at: t(1),
        ..PodView::default()
    }
}

fn running_pod(name: &str, started: i64) -> PodView {
    PodView {
        start_time: Some(t(started - 1)),
        containers: vec![ContainerView {
            name: "main".into(),
            started_at: Some(t(started)),
            running: true,
            ..ContainerView::default()
        }],
        ..pod(name, Some("node-a"), PodPhase::Running)
    }
}

fn finished_pod(name: &str, phase: PodPhase, exit: i32, started: i64, finished: i64) -> PodView {
    PodView {
        start_time: Some(t(started - 1)),
        containers: vec![ContainerView {
            name: "main".into(),
            exit_code: Some(exit),
            reason: Some(if exit == 0 { "Completed" } else { "Error" }.into()),
            started_at: Some(t(started)),
            finished_at: Some(t(finished)),
            running: false,
        }],
        ..pod(name, Some("node-a"), phase)
    }
}

fn ctx() -> DetailContext {
    DetailContext {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        job_id: "job-1".into(),
        job_queue: "default".into(),
    }
}

fn record(
    requested: TerminateKind,
    action: Option<Action>,
    phase: TerminationPhase,
) -> TerminationView {
    TerminationView {
        requested,
        action,
        reason: "operator says stop".into(),
        requested_at: t(100),
        state_before: None,
        phase,
        completed_at: None,
        job_name: "train".into(),
        job_namespace: "ml".into(),
        job_created_at: Some(t(0)),
        job_started_at: None,
        attempts: Vec::new(),
    }
}

// ---- BatchState ----

#[test]
fn states_have_aws_wire_forms() {
    for state in BatchState::ALL {
        let json = serde_json::to_string(&state).expect("serialise");
        assert_eq!(json, format!("\"{}\"", state.as_str()));
        assert_eq!(state.as_str().parse::<BatchState>().expect("parse"), state);
    }
    assert_eq!(BatchState::Runnable.to_string(), "RUNNABLE");
    let err = "running"
        .parse::<BatchState>()
        .expect_err("lowercase is not a status");
    assert_eq!(err.field(), "jobStatus");
}

#[test]
fn final_started_and_queued_partition_the_states() {
    for state in BatchState::ALL {
        let n = [state.is_final(), state.is_started(), state.is_queued()]
            .into_iter()
            .filter(|b| *b)
            .count();
        assert_eq!(
            n, 1,
            "{state} must be exactly one of final, started, queued"
        );
    }
    assert!(BatchState::Succeeded.is_final() && BatchState::Failed.is_final());
    assert!(BatchState::Starting.is_started() && BatchState::Running.is_started());
}

// ---- batch_state: one test per row of the mapping ----

#[test]
fn complete_condition_is_succeeded() {
    let j = with_cond(job(), cond("Complete", None, None, 50));
    assert_eq!(batch_state(&j, &[]), BatchState::Succeeded);
    let j = with_cond(
        job(),
        cond("SuccessCriteriaMet", Some("SuccessPolicy"), None, 50),
    );
    assert_eq!(
        batch_state(&j, &[running_pod("p", 5)]),
        BatchState::Succeeded
    );
}

#[test]
fn failed_or_failure_target_is_failed() {
    let j = with_cond(
        job(),
        cond("Failed", Some("BackoffLimitExceeded"), None, 50),
    );
    assert_eq!(batch_state(&j, &[]), BatchState::Failed);
    let j = with_cond(
        job(),
        cond("FailureTarget", Some("DeadlineExceeded"), None, 50),
    );
    assert_eq!(batch_state(&j, &[running_pod("p", 5)]), BatchState::Failed);
}

#[test]
fn a_false_condition_does_not_count() {
    let mut c = cond("Failed", None, None, 50);
    c.status = "False".into();
    assert_eq!(batch_state(&with_cond(job(), c), &[]), BatchState::Runnable);
}

#[test]
fn suspended_is_runnable_even_with_a_terminating_pod() {
    let j = JobView {
        suspended: true,
        ..job()
    };
    assert_eq!(batch_state(&j, &[]), BatchState::Runnable);
    assert_eq!(
        batch_state(&j, &[running_pod("p", 5)]),
        BatchState::Runnable
    );
}

#[test]
fn no_pod_or_unbound_pod_is_runnable() {
    assert_eq!(batch_state(&job(), &[]), BatchState::Runnable);
    let unschedulable = PodView {
        pod_scheduled: Some(false),
        ..pod("p", None, PodPhase::Pending)
    };
    assert_eq!(batch_state(&job(), &[unschedulable]), BatchState::Runnable);
}

#[test]
fn a_job_the_job_controller_has_not_seen_is_submitted() {
    let unseen = JobView {
        start_time: None,
        ..job()
    };
    assert_eq!(batch_state(&unseen, &[]), BatchState::Submitted);
    let d = job_detail(Some(&unseen), &[], None, &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Submitted);
    assert_eq!(d.started_at, None);
    // Any sign of the Job controller moves it on: a pod, a condition, a start time.
    let p = pod("p", None, PodPhase::Pending);
    assert_eq!(batch_state(&unseen, &[p]), BatchState::Runnable);
    let suspended = with_cond(
        JobView {
            suspended: true,
            ..unseen.clone()
        },
        cond("Suspended", Some("JobSuspended"), None, 1),
    );
    assert_eq!(batch_state(&suspended, &[]), BatchState::Runnable);
    assert_eq!(batch_state(&job(), &[]), BatchState::Runnable);
    // A suspended Job is RUNNABLE even before the Job controller marks it (Kueue's queue).
    let queued = JobView {
        suspended: true,
        ..unseen.clone()
    };
    assert_eq!(batch_state(&queued, &[]), BatchState::Runnable);
    // A job with dependencies is PENDING, then RUNNABLE once released: never back to
    // SUBMITTED while the Job controller has yet to see the release.
    let released = JobView {
        dependencies: Some(DependencyOutcome::Released),
        ..held(unseen.clone())
    };
    assert_eq!(
        batch_state(
            &JobView {
                suspended: false,
                ..released
            },
            &[]
        ),
        BatchState::Runnable
    );
    // TerminateJob cancels it, as AWS cancels a SUBMITTED job.
    assert_eq!(
        decide_state(BatchState::Submitted, TerminateKind::Terminate),
        Decision::Cancel
    );
}

#[test]
fn bound_pod_not_running_is_starting() {
    let p = pod("p", Some("node-a"), PodPhase::Pending);
    assert_eq!(batch_state(&job(), &[p]), BatchState::Starting);
}

#[test]
fn running_pod_is_running_and_wins_over_starting() {
    let starting = pod("a", Some("node-a"), PodPhase::Pending);
    assert_eq!(
        batch_state(&job(), &[starting, running_pod("b", 5)]),
        BatchState::Running
    );
}

#[test]
fn a_failed_pod_awaiting_retry_is_runnable() {
    let failed = finished_pod("a", PodPhase::Failed, 1, 5, 9);
    assert_eq!(batch_state(&job(), &[failed]), BatchState::Runnable);
}

// ---- decide: every row of the state table ----

#[test]
fn decision_table() {
    use BatchState::*;
    use TerminateKind::{Cancel as C, Terminate as T};
    let table = [
        (Submitted, T, Decision::Cancel),
        (Pending, T, Decision::Cancel),
        (Runnable, T, Decision::Cancel),
        (Starting, T, Decision::Terminate),
        (Running, T, Decision::Terminate),
        (Succeeded, T, Decision::NoChange),
        (Failed, T, Decision::NoChange),
        (Submitted, C, Decision::Cancel),
        (Pending, C, Decision::Cancel),
        (Runnable, C, Decision::Cancel),
        (Starting, C, Decision::NoChange),
        (Running, C, Decision::NoChange),
        (Succeeded, C, Decision::NoChange),
        (Failed, C, Decision::NoChange),
    ];
    for (state, kind, want) in table {
        assert_eq!(decide_state(state, kind), want, "{state} {kind:?}");
    }
}

#[test]
fn decisions_name_their_action() {
    assert_eq!(Decision::Cancel.action(), Some(Action::Cancel));
    assert_eq!(Decision::NoChange.action(), None);
    assert_eq!(Action::Terminate.as_str(), "terminate");
}

// ---- JobDetail ----

#[test]
fn running_job_detail_fields() {
    let pods = [running_pod("train-abc", 10)];
    let d = job_detail(Some(&job()), &pods, None, &ctx()).expect("detail");
    assert_eq!(d.job_arn, "arn:aws:batch:us-east-1:123456789012:job/job-1");
    assert_eq!(d.job_id, "job-1");
    assert_eq!(d.job_name, "train");
    assert_eq!(d.job_queue, "default");
    assert_eq!(d.status, BatchState::Running);
    assert_eq!(d.status_reason, None);
    assert!(!d.is_cancelled && !d.is_terminated);
    assert_eq!(d.created_at, ms(0));
    assert_eq!(d.started_at, Some(ms(10)));
    assert_eq!(d.stopped_at, None);
    let pp = &d
        .eks_properties
        .as_ref()
        .expect("eksProperties")
        .pod_properties;
    assert_eq!(pp.pod_name.as_deref(), Some("train-abc"));
    assert_eq!(pp.node_name.as_deref(), Some("node-a"));
    assert_eq!(d.eks_attempts.len(), 1);
    assert_eq!(d.eks_attempts[0].pod_namespace, "ml");
    assert_eq!(d.eks_attempts[0].stopped_at, None);
}

#[test]
fn never_started_job_omits_started_at_on_the_wire() {
    let d = job_detail(
        Some(&job()),
        &[pod("p", None, PodPhase::Pending)],
        None,
        &ctx(),
    )
    .expect("detail");
    assert_eq!(d.status, BatchState::Runnable);
    let v = serde_json::to_value(&d).expect("json");
    assert!(v.get("startedAt").is_none(), "{v}");
    assert!(v.get("stoppedAt").is_none(), "{v}");
    assert!(v.get("statusReason").is_none(), "{v}");
    assert_eq!(v["createdAt"], ms(0));
    assert_eq!(v["status"], "RUNNABLE");
    assert_eq!(v["isCancelled"], false);
    assert_eq!(
        v["jobArn"],
        "arn:aws:batch:us-east-1:123456789012:job/job-1"
    );
}

#[test]
fn self_failed_job_reason_comes_from_the_condition() {
    let j = with_cond(
        job(),
        cond(
            "Failed",
            Some("BackoffLimitExceeded"),
            Some("Job has reached the specified backoff limit"),
            40,
        ),
    );
    let pods = [
        finished_pod("a", PodPhase::Failed, 1, 5, 9),
        finished_pod("b", PodPhase::Failed, 2, 20, 30),
    ];
    let d = job_detail(Some(&j), &pods, None, &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Failed);
    assert_eq!(
        d.status_reason.as_deref(),
        Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
    );
    assert_eq!(d.stopped_at, Some(ms(40)));
    assert_eq!(d.started_at, Some(ms(5)));
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(d.attempts[0].container.exit_code, Some(1));
    assert_eq!(d.attempts[1].container.exit_code, Some(2));
    assert_eq!(d.attempts[1].stopped_at, Some(ms(30)));
    assert_eq!(
        d.attempts[1].status_reason.as_deref(),
        Some("container main exited with code 2 (Error)")
    );
    assert_eq!(d.eks_attempts[0].pod_name, "a");
    assert_eq!(d.eks_attempts[0].node_name.as_deref(), Some("node-a"));
    assert_eq!(d.eks_attempts[0].containers[0].exit_code, Some(1));
    assert_eq!(
        d.eks_attempts[0].containers[0].reason.as_deref(),
        Some("Error")
    );
    assert!(!d.is_terminated);
    let s = d.summary();
    assert_eq!(s.container.as_ref().and_then(|c| c.exit_code), Some(2));
    assert_eq!(s.status, BatchState::Failed);
}

#[test]
fn succeeded_job_uses_completion_time_and_has_no_reason() {
    let j = JobView {
        completion_time: Some(t(60)),
        ..with_cond(job(), cond("Complete", None, None, 61))
    };
    let pods = [finished_pod("a", PodPhase::Succeeded, 0, 5, 59)];
    let d = job_detail(Some(&j), &pods, None, &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Succeeded);
    assert_eq!(d.status_reason, None);
    assert_eq!(d.stopped_at, Some(ms(60)));
    assert_eq!(
        d.attempts[0].status_reason.as_deref(),
        Some("all containers exited with code 0")
    );
}

#[test]
fn pending_terminate_shows_reason_at_once_but_state_until_pods_stop() {
    let r = record(TerminateKind::Terminate, None, TerminationPhase::Pending);
    let d = job_detail(Some(&job()), &[running_pod("p", 10)], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Running);
    assert_eq!(d.status_reason.as_deref(), Some("operator says stop"));
    assert!(d.is_terminated && !d.is_cancelled);
    assert_eq!(d.stopped_at, None);
}

#[test]
fn completed_terminate_is_failed_with_the_callers_reason() {
    let j = with_cond(job(), cond("Failed", Some("DeadlineExceeded"), None, 120));
    let r = TerminationView {
        completed_at: Some(t(125)),
        ..record(
            TerminateKind::Terminate,
            Some(Action::Terminate),
            TerminationPhase::Completed,
        )
    };
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Failed);
    assert_eq!(d.status_reason.as_deref(), Some("operator says stop"));
    assert!(d.is_terminated);
    assert_eq!(d.stopped_at, Some(ms(120)));
}

#[test]
fn a_terminated_job_keeps_started_at_while_its_record_lags_its_pods() {
    // The pods are gone and the record does not show the start yet (its watch lags).
    let j = JobView {
        start_time: Some(t(5)),
        ..with_cond(job(), cond("Failed", Some("DeadlineExceeded"), None, 120))
    };
    let r = record(
        TerminateKind::Terminate,
        Some(Action::Terminate),
        TerminationPhase::InProgress,
    );
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Failed);
    assert_eq!(d.started_at, Some(ms(5)));
    // A cancelled job never started, whatever the Job controller's start time says.
    let c = record(
        TerminateKind::Cancel,
        Some(Action::Cancel),
        TerminationPhase::InProgress,
    );
    let d = job_detail(Some(&j), &[], Some(&c), &ctx()).expect("detail");
    assert_eq!(d.started_at, None);
}

#[test]
fn cancel_is_failed_from_the_record_even_before_it_is_done() {
    let j = JobView {
        suspended: true,
        ..job()
    };
    let r = record(TerminateKind::Cancel, None, TerminationPhase::Pending);
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Failed);
    assert!(d.is_cancelled && !d.is_terminated);
    assert_eq!(d.status_reason.as_deref(), Some("operator says stop"));
    assert_eq!(d.stopped_at, Some(ms(100)));
    assert_eq!(d.started_at, None);
}

#[test]
fn a_deleted_cancelled_job_is_described_from_its_record() {
    let r = TerminationView {
        completed_at: Some(t(103)),
        state_before: Some(BatchState::Runnable),
        ..record(
            TerminateKind::Terminate,
            Some(Action::Cancel),
            TerminationPhase::Completed,
        )
    };
    let d = job_detail(None, &[], Some(&r), &ctx()).expect("detail from the record");
    assert_eq!(d.status, BatchState::Failed);
    assert!(d.is_cancelled);
    assert_eq!(d.job_name, "train");
    assert_eq!(d.status_reason.as_deref(), Some("operator says stop"));
    assert_eq!(d.created_at, ms(0));
    assert_eq!(d.stopped_at, Some(ms(103)));
    assert_eq!(d.started_at, None);
}

#[test]
fn nothing_to_describe_without_job_or_record() {
    assert_eq!(job_detail(None, &[], None, &ctx()), None);
}

#[test]
fn a_no_change_record_does_not_alter_the_detail() {
    let j = with_cond(job(), cond("Complete", None, None, 50));
    let r = TerminationView {
        state_before: Some(BatchState::Succeeded),
        ..record(TerminateKind::Terminate, None, TerminationPhase::NoChange)
    };
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Succeeded);
    assert_eq!(d.status_reason, None);
    assert!(!d.is_terminated);
    // With the Job gone, the record still tells the final state it saw.
    let gone = job_detail(None, &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(gone.status, BatchState::Succeeded);
    assert_eq!(gone.status_reason, None);
}

#[test]
fn success_wins_over_a_late_terminate() {
    let j = with_cond(job(), cond("Complete", None, None, 50));
    let r = record(
        TerminateKind::Terminate,
        Some(Action::Terminate),
        TerminationPhase::InProgress,
    );
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Succeeded);
}

// ---- kept attempts ----

fn kept(name: &str, exit: Option<i32>, started: i64, index: Option<u32>) -> AttemptView {
    AttemptView {
        pod_name: name.into(),
        pod_namespace: "ml".into(),
        node_name: Some("node-a".into()),
        completion_index: index,
        started_at: Some(t(started)),
        stopped_at: exit.map(|_| t(started + 5)),
        status_reason: exit.map(|e| format!("container main exited with code {e}")),
        containers: vec![AttemptContainerView {
            name: "main".into(),
            exit_code: exit,
            reason: exit.map(|_| "Error".into()),
        }],
    }
}

#[test]
fn live_pods_win_over_kept_attempts_of_the_same_name() {
    // Kept while running; the live pod has since exited.
    let old = [kept("a", None, 5, None), kept("gone", Some(1), 1, None)];
    let live = [finished_pod("a", PodPhase::Failed, 143, 5, 9)];
    let all = merge_attempts(&old, &live);
    let names: Vec<&str> = all.iter().map(|a| a.pod_name.as_str()).collect();
    assert_eq!(names, ["gone", "a"], "oldest first");
    assert_eq!(all[1].containers[0].exit_code, Some(143));
    assert_eq!(all[1].stopped_at, Some(t(9)));
    // A pod that never ran adds nothing.
    let pending = [pod("p", None, PodPhase::Pending)];
    assert_eq!(merge_attempts(&[], &pending), Vec::new());
}

#[test]
fn keeping_attempts_caps_the_list_and_the_strings() {
    let many: Vec<AttemptView> = (0..15)
        .map(|i| kept(&format!("p{i:02}"), Some(1), i, None))
        .collect();
    let kept_now = keep_attempts(&many, &[]);
    assert_eq!(kept_now.len(), MAX_KEPT_ATTEMPTS);
    assert_eq!(kept_now[0].pod_name, "p05", "the newest are kept");
    assert_eq!(kept_now[9].pod_name, "p14");
    let mut long = kept("x", Some(1), 0, None);
    long.status_reason = Some("é".repeat(1000));
    long.containers = vec![long.containers[0].clone(); 20];
    let cut = &keep_attempts(&[long], &[])[0];
    assert!(cut.status_reason.as_ref().unwrap().len() <= MAX_KEPT_REASON_BYTES);
    assert_eq!(cut.containers.len(), MAX_KEPT_CONTAINERS);
}

#[test]
fn a_terminated_job_shows_its_kept_attempt_after_its_pods_are_gone() {
    let j = with_cond(job(), cond("Failed", Some("DeadlineExceeded"), None, 120));
    let r = TerminationView {
        completed_at: Some(t(125)),
        attempts: vec![kept("train-abc", Some(143), 10, None)],
        ..record(
            TerminateKind::Terminate,
            Some(Action::Terminate),
            TerminationPhase::Completed,
        )
    };
    let d = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("detail");
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].container.exit_code, Some(143));
    assert_eq!(d.attempts[0].started_at, Some(ms(10)));
    assert_eq!(d.attempts[0].stopped_at, Some(ms(15)));
    assert_eq!(d.eks_attempts[0].pod_name, "train-abc");
    assert_eq!(d.eks_attempts[0].node_name.as_deref(), Some("node-a"));
    assert_eq!(d.started_at, Some(ms(10)));
    let pp = d
        .eks_properties
        .as_ref()
        .expect("eksProperties")
        .pod_properties
        .clone();
    assert_eq!(pp.pod_name.as_deref(), Some("train-abc"));
    assert_eq!(
        d.summary().container.and_then(|c| c.exit_code),
        Some(143),
        "ListJobs shows the kept exit code"
    );
    // And once the Job is gone too.
    let gone = job_detail(None, &[], Some(&r), &ctx()).expect("from the record");
    assert_eq!(gone.attempts, d.attempts);
    assert_eq!(gone.eks_attempts, d.eks_attempts);
}

#[test]
fn kept_attempts_of_an_array_job_go_to_their_child() {
    let j = JobView {
        indexed: true,
        completions: Some(2),
        ..job()
    };
    let r = TerminationView {
        attempts: vec![kept("train-1-x", Some(143), 10, Some(1))],
        ..record(
            TerminateKind::Terminate,
            Some(Action::Terminate),
            TerminationPhase::Completed,
        )
    };
    let parent = job_detail(Some(&j), &[], Some(&r), &ctx()).expect("parent");
    assert!(parent.attempts.is_empty());
    let children = array_children(&j, &[], Some(&r), &ctx());
    assert!(children[0].attempts.is_empty());
    assert_eq!(children[1].attempts.len(), 1);
    assert_eq!(children[1].eks_attempts[0].pod_name, "train-1-x");
}

// ---- dependsOn ----

fn held(j: JobView) -> JobView {
    JobView {
        suspended: true,
        depends_on: vec![JobDependency {
            job_id: "first".into(),
            kind: None,
        }],
        ..j
    }
}

#[test]
fn a_job_held_for_its_dependencies_is_pending_and_shows_them() {
    let j = held(job());
    assert_eq!(batch_state(&j, &[]), BatchState::Pending);
    let d = job_detail(Some(&j), &[], None, &ctx()).expect("detail");
    assert_eq!(d.status, BatchState::Pending);
    let json = serde_json::to_value(&d).expect("json");
    assert_eq!(json["dependsOn"], serde_json::json!([{"jobId": "first"}]));
    // Released: a suspended Job is RUNNABLE again (its Kueue queue admits it), and the
    // dependencies stay on show.
    let released = JobView {
        dependencies: Some(DependencyOutcome::Released),
        ..j.clone()
    };
    assert_eq!(batch_state(&released, &[]), BatchState::Runnable);
    let d = job_detail(Some(&released), &[], None, &ctx()).expect("detail");
    assert_eq!(d.depends_on.len(), 1);
    // Without dependencies nothing shows, as before.
    let plain = job_detail(Some(&job()), &[], None, &ctx()).expect("detail");
    assert!(
        serde_json::to_value(&plain)
            .expect("json")
            .get("dependsOn")
            .is_none()
    );
    // Unsuspended by hand while held: its pods say what it is.
    let resumed = JobView {
        suspended: false,
        ..j
    };
    assert_eq!(
        batch_state(&resumed, &[running_pod("p", 5)]),
        BatchState::Running
    );
}

#[test]
fn a_job_whose_dependency_failed_is_failed_with_aws_reason_at_once() {
    let failed = JobView {
        dependencies: Some(DependencyOutcome::Failed),
        suspended: false,
        active_deadline_seconds: Some(0),
        ..held(job())
    };
    // Before the Job controller has written its condition, and after.
    for j in [
        failed.clone(),
        with_cond(
            failed,
            cond(
                "Failed",
                Some("DeadlineExceeded"),
                Some("Job was active longer than specified deadline"),
                7,
            ),
        ),
    ] {
        let d = job_detail(Some(&j), &[], None, &ctx()).expect("detail");
        assert_eq!(d.status, BatchState::Failed);
        assert_eq!(d.status_reason.as_deref(), Some(DEPENDENT_JOB_FAILED));
        assert!(!d.is_cancelled && !d.is_terminated);
        assert_eq!(d.started_at, None, "it never ran");
    }
}

#[test]
fn a_cancelled_pending_job_is_cancelled_like_any_queued_job() {
    assert_eq!(
        decide_state(BatchState::Pending, TerminateKind::Cancel),
        Decision::Cancel
    );
    assert_eq!(
        decide_state(BatchState::Pending, TerminateKind::Terminate),
        Decision::Cancel
    );
}

#[test]
fn the_children_of_a_held_array_are_pending() {
    let j = held(JobView {
        completed_indexes: None,
        ..array_job(3)
    });
    let d = job_detail(Some(&j), &[], None, &ctx()).expect("detail");
    let summary = d
        .array_properties
        .and_then(|a| a.status_summary)
        .expect("statusSummary");
    assert_eq!(summary[&BatchState::Pending], 3);
    let child = array_child_detail(&j, &[], 2, None, &ctx()).expect("child");
    assert_eq!(child.status, BatchState::Pending);
    assert_eq!(child.depends_on, j.depends_on);
}
