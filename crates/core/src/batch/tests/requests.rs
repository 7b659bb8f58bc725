//! Request validation (TerminateJob, DescribeJobs, the bulk extensions) and ListJobs paging.

use super::*;

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

#[test]
fn paging_by_key_builds_only_the_summaries_of_the_page_and_agrees_with_paginate() {
    // 1,000 jobs, every third one running; two pages of 100 running ones.
    let jobs: Vec<JobSummary> = (0..1000)
        .map(|n| {
            let status = match n % 3 {
                0 => BatchState::Running,
                _ => BatchState::Succeeded,
            };
            summary(&format!("job-{n:04}"), "x", n % 7, status)
        })
        .collect();
    let mut params = queue_params();
    let mut token = None;
    for _ in 0..2 {
        params.next_token = token.clone();
        let q = ListQuery::new(params.clone()).expect("valid");
        let mut built = 0;
        let lazy = paginate_by(
            jobs.clone(),
            |job| ListKey {
                created_at: job.created_at,
                index: None,
                job_id: job.job_id.clone(),
            },
            |job| {
                built += 1;
                Some(job)
            },
            &q,
        );
        assert_eq!(lazy, paginate(jobs.clone(), &q));
        assert_eq!(lazy.jobs.len(), 100);
        // About three per running job on the page (the others are built and filtered out).
        assert!(
            built <= 3 * 101 + 2,
            "{built} summaries built for a page of 100"
        );
        token = lazy.next_token;
        assert!(token.is_some());
    }
}
