//! Unit tests of the Batch domain: the state mapping, the decision table, JobDetail fields,
//! array jobs, validation and ListJobs paging.

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0)
        .single()
        .expect("valid time")
}

fn ms(secs: i64) -> i64 {
    t(secs).timestamp_millis()
}

fn job() -> JobView {
    JobView {
        uid: "uid-1".into(),
        name: "train".into(),
        namespace: "ml".into(),
        created_at: t(0),
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
fn decide_reads_the_job_and_pods() {
    let suspended = JobView {
        suspended: true,
        ..job()
    };
    assert_eq!(
        decide(&suspended, &[], TerminateKind::Terminate),
        Decision::Cancel
    );
    assert_eq!(
        decide(&job(), &[running_pod("p", 5)], TerminateKind::Terminate),
        Decision::Terminate
    );
    assert_eq!(
        decide(&job(), &[running_pod("p", 5)], TerminateKind::Cancel),
        Decision::NoChange
    );
    let done = with_cond(job(), cond("Complete", None, None, 9));
    assert_eq!(
        decide(&done, &[], TerminateKind::Terminate),
        Decision::NoChange
    );
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

// ---- array jobs ----

fn array_job(size: i32) -> JobView {
    JobView {
        indexed: true,
        completions: Some(size),
        completed_indexes: Some("0".into()),
        ..job()
    }
}

fn indexed(mut p: PodView, i: u32) -> PodView {
    p.completion_index = Some(i);
    p
}

#[test]
fn array_parent_has_size_and_status_summary() {
    let pods = [
        indexed(finished_pod("p0", PodPhase::Succeeded, 0, 5, 9), 0),
        indexed(running_pod("p1", 6), 1),
        indexed(pod("p2", Some("node-b"), PodPhase::Pending), 2),
    ];
    let d = job_detail(Some(&array_job(4)), &pods, None, &ctx()).expect("detail");
    let a = d.array_properties.expect("arrayProperties");
    assert_eq!(a.size, Some(4));
    let summary = a.status_summary.expect("statusSummary");
    assert_eq!(summary.len(), 7, "every state is present");
    assert_eq!(summary[&BatchState::Succeeded], 1);
    assert_eq!(summary[&BatchState::Running], 1);
    assert_eq!(summary[&BatchState::Starting], 1);
    assert_eq!(summary[&BatchState::Runnable], 1);
    assert!(d.eks_properties.is_none() && d.attempts.is_empty());
    let json =
        serde_json::to_value(job_detail(Some(&array_job(4)), &pods, None, &ctx()).expect("detail"))
            .expect("json");
    assert_eq!(json["arrayProperties"]["statusSummary"]["RUNNING"], 1);
}

#[test]
fn array_children_are_addressed_by_index() {
    let pods = [indexed(running_pod("p1", 6), 1)];
    let j = array_job(3);
    let child = array_child_detail(&j, &pods, 1, None, &ctx()).expect("child 1");
    assert_eq!(child.job_id, "job-1:1");
    assert_eq!(
        child.job_arn,
        "arn:aws:batch:us-east-1:123456789012:job/job-1:1"
    );
    assert_eq!(child.status, BatchState::Running);
    assert_eq!(
        child.array_properties.as_ref().and_then(|a| a.index),
        Some(1)
    );
    assert_eq!(
        child
            .eks_properties
            .as_ref()
            .and_then(|e| e.pod_properties.pod_name.as_deref()),
        Some("p1")
    );
    assert_eq!(
        array_child_detail(&j, &pods, 0, None, &ctx()).map(|c| c.status),
        Some(BatchState::Succeeded),
        "completedIndexes says 0 is done"
    );
    assert_eq!(
        array_child_detail(&j, &pods, 3, None, &ctx()),
        None,
        "out of range"
    );
    assert_eq!(
        array_child_detail(&job(), &pods, 0, None, &ctx()),
        None,
        "not indexed"
    );
    let all = array_children(&j, &pods, None, &ctx());
    assert_eq!(
        all.iter().map(|c| c.status).collect::<Vec<_>>(),
        [
            BatchState::Succeeded,
            BatchState::Running,
            BatchState::Runnable
        ]
    );
}

#[test]
fn terminating_the_parent_fails_unfinished_children() {
    let j = with_cond(
        array_job(2),
        cond("Failed", Some("DeadlineExceeded"), None, 120),
    );
    let r = record(
        TerminateKind::Terminate,
        Some(Action::Terminate),
        TerminationPhase::Completed,
    );
    let all = array_children(&j, &[], Some(&r), &ctx());
    assert_eq!(all[0].status, BatchState::Succeeded);
    assert_eq!(all[1].status, BatchState::Failed);
    assert_eq!(all[1].status_reason.as_deref(), Some("operator says stop"));
    assert!(all[1].is_terminated);
}

#[test]
fn index_sets_parse_the_api_format() {
    let s = IndexSet::parse(Some("1,3-5,7"));
    for (i, want) in [
        (0, false),
        (1, true),
        (2, false),
        (3, true),
        (5, true),
        (6, false),
        (7, true),
    ] {
        assert_eq!(s.contains(i), want, "{i}");
    }
    assert!(!IndexSet::parse(None).contains(0));
    assert!(
        IndexSet::parse(Some("x,2")).contains(2),
        "a bad part does not hide the rest"
    );
}

// ---- validation ----

#[test]
fn terminate_command_validation_names_the_field() {
    let err = TerminateCommand::new(TerminateKind::Terminate, String::new(), "r".into())
        .expect_err("empty jobId");
    assert_eq!(err.to_string(), "jobId is required");
    let err = TerminateCommand::new(TerminateKind::Terminate, "j".into(), String::new())
        .expect_err("empty reason");
    assert_eq!(err.to_string(), "reason is required");
    // 1024 characters of 4 bytes each: fine, though 4096 bytes.
    let ok = TerminateCommand::new(TerminateKind::Cancel, "j".into(), "😀".repeat(1024))
        .expect("1024 characters");
    assert_eq!(ok.kind(), TerminateKind::Cancel);
    let err = TerminateCommand::new(TerminateKind::Cancel, "j".into(), "a".repeat(1025))
        .expect_err("1025 characters");
    assert_eq!(err.field(), "reason");
    assert_eq!(
        err.to_string(),
        "reason must be 1 to 1024 characters long, but it is 1025"
    );
}

#[test]
fn array_child_ids_split_and_explain() {
    assert_eq!(split_array_child("abc:12"), Some(("abc", 12)));
    assert_eq!(split_array_child("abc"), None);
    assert_eq!(split_array_child("abc:x"), None);
    assert_eq!(split_array_child(":1"), None);
    let cmd =
        TerminateCommand::new(TerminateKind::Terminate, "abc:2".into(), "r".into()).expect("valid");
    let err = cmd.array_child_error().expect("a child");
    assert!(
        err.to_string()
            .contains("terminate or cancel the array job abc"),
        "{err}"
    );
}

#[test]
fn describe_command_limits_and_dedups() {
    let ids: Vec<String> = (0..101).map(|i| format!("j{i}")).collect();
    let err = DescribeCommand::new(ids).expect_err("101 IDs");
    assert_eq!(
        err.to_string(),
        "jobs may list at most 100 items, but it lists 101"
    );
    let ok = DescribeCommand::new(vec!["a".into(), "b".into(), "a".into()]).expect("valid");
    assert_eq!(ok.job_ids(), ["a", "b"]);
    assert_eq!(
        DescribeCommand::new(vec![String::new()])
            .expect_err("empty")
            .field(),
        "jobs"
    );
}

#[test]
fn truncation_keeps_whole_characters() {
    assert_eq!(truncate_utf8("héllo", 2), "h");
    assert_eq!(truncate_utf8("héllo", 3), "hé");
    assert_eq!(truncate_utf8("abc", 10), "abc");
}

// ---- ListJobs ----

fn summary(id: &str, name: &str, created: i64, status: BatchState) -> JobSummary {
    JobSummary {
        job_arn: job_arn("r", "a", id),
        job_id: id.into(),
        job_name: name.into(),
        created_at: ms(created),
        status,
        status_reason: None,
        started_at: None,
        stopped_at: None,
        container: None,
        array_properties: None,
    }
}

fn queue_params() -> ListParams {
    ListParams {
        job_queue: Some("default".into()),
        ..ListParams::default()
    }
}

#[test]
fn list_defaults_to_running_in_a_queue() {
    let q = ListQuery::new(queue_params()).expect("valid");
    assert_eq!(q.scope, ListScope::JobQueue("default".into()));
    assert_eq!(q.selection, ListSelection::Status(BatchState::Running));
    assert_eq!(q.max_results, 100);
    let arn = ListParams {
        job_queue: Some("arn:aws:batch:us-east-1:1:job-queue/gpu".into()),
        ..ListParams::default()
    };
    assert_eq!(
        ListQuery::new(arn).expect("valid").scope,
        ListScope::JobQueue("gpu".into())
    );
    let jobs = [
        summary("a", "x", 1, BatchState::Running),
        summary("b", "x", 2, BatchState::Succeeded),
    ];
    let page = paginate(jobs, &q);
    assert_eq!(
        page.jobs
            .iter()
            .map(|j| j.job_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(page.next_token, None);
}

#[test]
fn list_validation_names_the_field() {
    let none = ListQuery::new(ListParams::default()).expect_err("no scope");
    assert_eq!(none.field(), "jobQueue");
    let both = ListParams {
        array_job_id: Some("p".into()),
        ..queue_params()
    };
    assert_eq!(ListQuery::new(both).expect_err("both").field(), "jobQueue");
    let mnp = ListParams {
        multi_node_job_id: Some("m".into()),
        ..queue_params()
    };
    assert_eq!(
        ListQuery::new(mnp).expect_err("mnp").field(),
        "multiNodeJobId"
    );
    for n in [0, 101, -1] {
        let p = ListParams {
            max_results: Some(n),
            ..queue_params()
        };
        assert_eq!(
            ListQuery::new(p).expect_err("maxResults").field(),
            "maxResults"
        );
    }
    let p = ListParams {
        job_status: Some("DONE".into()),
        ..queue_params()
    };
    assert_eq!(ListQuery::new(p).expect_err("status").field(), "jobStatus");
    let p = ListParams {
        next_token: Some("zz".into()),
        ..queue_params()
    };
    assert_eq!(ListQuery::new(p).expect_err("token").field(), "nextToken");
    let two = ListParams {
        filters: vec![
            ListFilter {
                name: "JOB_NAME".into(),
                values: vec!["a".into()],
            },
            ListFilter {
                name: "JOB_NAME".into(),
                values: vec!["b".into()],
            },
        ],
        ..queue_params()
    };
    assert_eq!(
        ListQuery::new(two).expect_err("two filters").field(),
        "filters"
    );
    for (name, value) in [
        ("JOB_DEFINITION", "d"),
        ("NOPE", "x"),
        ("AFTER_CREATED_AT", "soon"),
    ] {
        let p = ListParams {
            filters: vec![ListFilter {
                name: name.into(),
                values: vec![value.into()],
            }],
            ..queue_params()
        };
        assert_eq!(ListQuery::new(p).expect_err(name).field(), "filters");
    }
}

#[test]
fn list_filters_replace_the_status() {
    let filter = |name: &str, value: &str| ListParams {
        job_status: Some("RUNNING".into()),
        filters: vec![ListFilter {
            name: name.into(),
            values: vec![value.into()],
        }],
        ..queue_params()
    };
    let jobs = || {
        vec![
            summary("a", "Train-1", 10, BatchState::Succeeded),
            summary("b", "train-2", 20, BatchState::Failed),
            summary("c", "eval", 30, BatchState::Running),
        ]
    };
    let ids = |p: ListParams| {
        let q = ListQuery::new(p).expect("valid");
        paginate(jobs(), &q)
            .jobs
            .into_iter()
            .map(|j| j.job_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(filter("JOB_NAME", "TRAIN*")),
        ["b", "a"],
        "prefix, any case, newest first"
    );
    assert_eq!(ids(filter("JOB_NAME", "train-1")), ["a"]);
    assert_eq!(ids(filter("BEFORE_CREATED_AT", &ms(20).to_string())), ["a"]);
    assert_eq!(
        ids(filter("AFTER_CREATED_AT", &ms(10).to_string())),
        ["c", "b"]
    );
}

#[test]
fn list_pages_with_opaque_tokens_and_no_token_on_the_last_page() {
    let jobs: Vec<JobSummary> = (0..7)
        .map(|i| summary(&format!("j{i}"), "x", i / 2, BatchState::Running))
        .collect();
    let mut token = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let q = ListQuery::new(ListParams {
            max_results: Some(3),
            next_token: token.clone(),
            ..queue_params()
        })
        .expect("valid");
        let page = paginate(jobs.clone(), &q);
        pages += 1;
        seen.extend(page.jobs.iter().map(|j| j.job_id.clone()));
        match page.next_token {
            Some(t) => {
                assert_ne!(Some(&t), token.as_ref(), "a token is never repeated");
                token = Some(t);
            }
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["j6", "j4", "j5", "j2", "j3", "j0", "j1"],
        "newest first, ties by ID"
    );
}

#[test]
fn array_children_list_in_index_order_and_ignore_filters() {
    let p = ListParams {
        array_job_id: Some("p".into()),
        job_status: Some("RUNNABLE".into()),
        filters: vec![ListFilter {
            name: "JOB_NAME".into(),
            values: vec!["zzz".into()],
        }],
        ..ListParams::default()
    };
    let q = ListQuery::new(p).expect("valid");
    assert_eq!(q.scope, ListScope::ArrayJob("p".into()));
    let child = |i: i32| JobSummary {
        array_properties: Some(ArrayPropertiesSummary {
            size: None,
            index: Some(i),
        }),
        ..summary(&format!("p:{i}"), "x", 0, BatchState::Runnable)
    };
    let page = paginate([child(10), child(2), child(1)], &q);
    assert_eq!(
        page.jobs
            .iter()
            .map(|j| j.job_id.as_str())
            .collect::<Vec<_>>(),
        ["p:1", "p:2", "p:10"]
    );
}

fn bulk(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("job-{i}"), "why".to_owned()))
        .collect()
}

#[test]
fn bulk_takes_one_to_fifty_distinct_jobs() {
    assert_eq!(
        bulk_commands(TerminateKind::Terminate, Vec::new()),
        Err(Error::Required { field: "jobs" })
    );
    assert_eq!(
        bulk_commands(TerminateKind::Terminate, bulk(MAX_BULK_JOBS + 1)),
        Err(Error::TooMany {
            field: "jobs",
            max: 50,
            actual: 51
        })
    );
    assert_eq!(
        bulk_commands(TerminateKind::Cancel, bulk(MAX_BULK_JOBS))
            .expect("fifty is fine")
            .len(),
        50
    );
    let mut twice = bulk(3);
    twice.push(("job-1".into(), "again".into()));
    let err = bulk_commands(TerminateKind::Terminate, twice).expect_err("duplicate");
    assert!(
        err.to_string()
            .contains("job-1 is listed twice (positions 1 and 3)"),
        "{err}"
    );
}

#[test]
fn bulk_validates_each_entry_on_its_own() {
    let entries = vec![
        ("a".to_owned(), "ok".to_owned()),
        (String::new(), "no id".to_owned()),
        ("b".to_owned(), String::new()),
        ("c".to_owned(), "x".repeat(MAX_REASON_CHARS + 1)),
        (String::new(), "another without id".to_owned()),
    ];
    let out = bulk_commands(TerminateKind::Cancel, entries).expect("request is valid");
    assert_eq!(out.len(), 5);
    let cmd = out[0].command.as_ref().expect("first is valid");
    assert_eq!((cmd.job_id(), cmd.kind()), ("a", TerminateKind::Cancel));
    assert_eq!(out[1].command, Err(Error::Required { field: "jobId" }));
    assert_eq!(out[2].job_id, "b");
    assert_eq!(out[2].command, Err(Error::Required { field: "reason" }));
    assert!(matches!(
        out[3].command,
        Err(Error::Length {
            field: "reason",
            ..
        })
    ));
    assert_eq!(out[4].command, Err(Error::Required { field: "jobId" }));
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
