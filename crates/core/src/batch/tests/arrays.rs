//! Array jobs: an Indexed Job's parent summary and each child's own detail.

use super::*;

pub(super) fn array_job(size: i32) -> JobView {
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
