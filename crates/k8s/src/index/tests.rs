//! The index's lookups, secondary indexes, relists and departed pods, on hand-built objects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::*;

fn job(ns: &str, name: &str, uid: &str, label: Option<&str>) -> Job {
    Job {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            uid: Some(uid.into()),
            labels: label.map(|l| [(JOB_ID_LABEL.to_string(), l.to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn pod(ns: &str, name: &str, job_uid: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: "j".into(),
                uid: job_uid.into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// An index that has watched these Jobs appear, in order.
fn index_of(jobs: impl IntoIterator<Item = Job>) -> Index {
    let index = Index::new();
    for job in jobs {
        index.apply_job("", watcher::Event::Apply(job));
    }
    index
}

fn everywhere(_: &str) -> bool {
    true
}

fn found(index: &Index, id: &str) -> JobEntry {
    match index.lookup(id, everywhere) {
        Lookup::Found(entry) => entry,
        other => panic!("{id}: expected Found, got {other:?}"),
    }
}

#[test]
fn finds_jobs_by_label_or_uid_and_a_labelled_job_by_its_uid_too() {
    let index = index_of([
        job("a", "plain", "uid-1", None),
        job("a", "labelled", "uid-2", Some("my-id")),
    ]);
    assert_eq!(found(&index, "uid-1").job.unwrap().name_any(), "plain");
    assert_eq!(found(&index, "my-id").job.unwrap().name_any(), "labelled");
    assert_eq!(found(&index, "uid-2").job.unwrap().name_any(), "labelled");
    assert!(matches!(index.lookup("nope", everywhere), Lookup::NotFound));
}

/// A record for the Job `uid`, whose Batch job ID is `id`.
fn record_for(ns: &str, uid: &str, id: &str) -> JobTermination {
    let mut record = JobTermination::new(
        uid,
        crate::record::JobTerminationSpec {
            job_id: id.into(),
            job_name: "j".into(),
            job_uid: uid.into(),
            job_created_at: jiff::Timestamp::now(),
            operation: crate::batch::TerminateKind::Terminate,
            reason: "r".into(),
            requested_at: jiff::Timestamp::now(),
            request_id: None,
        },
    );
    record.metadata.namespace = Some(ns.into());
    record
}

#[test]
fn a_uid_always_resolves_to_its_job_whatever_other_jobs_are_labelled() {
    let index = index_of([job("victim", "v", "uid-v", Some("nightly"))]);
    // Another tenant labels its Jobs with the victim's uid and the victim's label.
    index.apply_job(
        "",
        watcher::Event::Apply(job("attacker", "a1", "uid-a1", Some("uid-v"))),
    );
    index.apply_job(
        "",
        watcher::Event::Apply(job("attacker", "a2", "uid-a2", Some("nightly"))),
    );
    assert_eq!(found(&index, "uid-v").job.unwrap().name_any(), "v");
    // A cancelled Job that is gone: its record answers for its uid.
    index.apply_job(
        "",
        watcher::Event::Delete(job("victim", "v", "uid-v", Some("nightly"))),
    );
    index.apply_record(
        "",
        watcher::Event::Apply(record_for("victim", "uid-v", "nightly")),
    );
    let entry = found(&index, "uid-v");
    assert!(entry.job.is_none());
    assert_eq!(entry.namespace().as_deref(), Some("victim"));
}

#[test]
fn a_label_resolves_only_among_the_callers_namespaces() {
    let index = index_of([
        job("victim", "v", "uid-v", Some("nightly")),
        job("attacker", "a", "uid-a", Some("nightly")),
    ]);
    let victim = |ns: &str| ns == "victim";
    let attacker = |ns: &str| ns == "attacker";
    let nobody = |_: &str| false;
    match index.lookup("nightly", victim) {
        Lookup::Found(entry) => assert_eq!(entry.job.unwrap().name_any(), "v"),
        other => panic!("{other:?}"),
    }
    match index.lookup("nightly", attacker) {
        Lookup::Found(entry) => assert_eq!(entry.job.unwrap().name_any(), "a"),
        other => panic!("{other:?}"),
    }
    // Seen from everywhere the clash remains, and names both namespaces.
    assert!(
        matches!(index.lookup("nightly", everywhere), Lookup::Ambiguous(ns) if ns == ["attacker", "victim"])
    );
    // Outside every namespace of the caller: refused, not unknown.
    assert!(matches!(index.lookup("nightly", nobody), Lookup::Outside));
    assert!(matches!(index.lookup("uid-v", attacker), Lookup::Outside));
    // A record whose Job is gone takes part like its Job did.
    index.apply_record(
        "",
        watcher::Event::Apply(record_for("other", "uid-gone", "nightly")),
    );
    assert!(matches!(
        index.lookup("nightly", |ns| ns == "victim" || ns == "other"),
        Lookup::Ambiguous(ns) if ns == ["other", "victim"]
    ));
}

/// A record in `phase`, for the Job `job_uid` with no job ID label.
fn record(ns: &str, job_uid: &str, phase: Option<TerminationPhase>) -> JobTermination {
    let mut record = record_for(ns, job_uid, job_uid);
    record.status = phase.map(|phase| crate::record::JobTerminationStatus {
        phase: Some(phase),
        ..Default::default()
    });
    record
}

#[test]
fn pods_that_leave_during_a_termination_are_kept_as_departed() {
    let index = index_of([job("a", "j", "uid-1", None)]);
    index.apply_pod("", watcher::Event::Apply(pod("a", "p1", "uid-1")));
    index.apply_pod("", watcher::Event::Apply(pod("a", "p2", "uid-1")));
    // No record yet: a deleted pod is simply gone.
    assert!(
        index
            .apply_pod("", watcher::Event::Delete(pod("a", "p2", "uid-1")))
            .is_empty()
    );
    let triggered = index.apply_record(
        "",
        watcher::Event::Apply(record("a", "uid-1", Some(TerminationPhase::InProgress))),
    );
    assert_eq!(triggered, [ObjectRef::new("uid-1").within("a")]);

    // The last state is the DELETED event's object.
    index.apply_pod("", watcher::Event::Apply(pod("a", "p1", "uid-1")));
    let mut last = pod("a", "p1", "uid-1");
    last.metadata.uid = Some("pod-uid-1".into());
    last.status = Some(Default::default());
    let triggered = index.apply_pod("", watcher::Event::Delete(last));
    assert_eq!(triggered, [ObjectRef::new("uid-1").within("a")]);
    let snapshot = index.snapshot("a", "uid-1").expect("the record");
    assert!(snapshot.pods.is_empty());
    assert_eq!(snapshot.departed.len(), 1);
    assert_eq!(snapshot.departed[0].name_any(), "p1");
    assert!(snapshot.departed[0].status.is_some());
    assert_eq!(snapshot.job.expect("the Job").name_any(), "j");

    // A pod missing from a relist departs too (the watch gap).
    index.apply_pod("", watcher::Event::Apply(pod("a", "p3", "uid-1")));
    index.apply_pod("", watcher::Event::Init);
    index.apply_pod("", watcher::Event::InitDone);
    assert_eq!(index.snapshot("a", "uid-1").unwrap().departed.len(), 2);

    index.forget_departed("a", "uid-1");
    assert!(index.snapshot("a", "uid-1").unwrap().departed.is_empty());
}

#[test]
fn finished_records_keep_no_departed_pods() {
    let index = Index::new();
    index.apply_record(
        "",
        watcher::Event::Apply(record("a", "uid-1", Some(TerminationPhase::Completed))),
    );
    index.apply_pod("", watcher::Event::Apply(pod("a", "p1", "uid-1")));
    index.apply_pod("", watcher::Event::Delete(pod("a", "p1", "uid-1")));
    assert!(index.snapshot("a", "uid-1").unwrap().departed.is_empty());
    // Another Job with the same name is not this record's Job.
    index.apply_job("", watcher::Event::Apply(job("a", "j", "uid-2", None)));
    assert!(index.snapshot("a", "uid-1").unwrap().job.is_none());
}

#[test]
fn pods_are_found_through_their_job() {
    let index = index_of([job("a", "j", "uid-1", None)]);
    index.apply_pod("", watcher::Event::Apply(pod("a", "p1", "uid-1")));
    index.apply_pod("", watcher::Event::Apply(pod("a", "p2", "uid-1")));
    index.apply_pod("", watcher::Event::Apply(pod("a", "other", "uid-9")));
    assert_eq!(found(&index, "uid-1").pods.len(), 2);
    index.apply_pod("", watcher::Event::Delete(pod("a", "p1", "uid-1")));
    assert_eq!(found(&index, "uid-1").pods.len(), 1);
}

#[test]
fn a_label_shared_across_namespaces_is_ambiguous() {
    let index = index_of([
        job("a", "j", "uid-1", Some("same")),
        job("b", "j", "uid-2", Some("same")),
    ]);
    assert!(matches!(index.lookup("same", everywhere), Lookup::Ambiguous(ns) if ns.len() == 2));
}

#[test]
fn relabelling_moves_the_index_entry() {
    let index = index_of([
        job("a", "j", "uid-1", Some("old")),
        job("a", "j", "uid-1", Some("new")),
    ]);
    assert!(matches!(index.lookup("old", everywhere), Lookup::NotFound));
    assert!(matches!(index.lookup("new", everywhere), Lookup::Found(_)));
}

#[test]
fn a_relist_replaces_only_its_own_namespace() {
    let index = Index::new();
    index.apply_job("a", watcher::Event::Apply(job("a", "gone", "uid-1", None)));
    index.apply_job("b", watcher::Event::Apply(job("b", "kept", "uid-2", None)));
    index.apply_job("a", watcher::Event::Init);
    index.apply_job(
        "a",
        watcher::Event::InitApply(job("a", "new", "uid-3", None)),
    );
    // Until the relist is done the old state is served.
    assert!(matches!(
        index.lookup("uid-1", everywhere),
        Lookup::Found(_)
    ));
    index.apply_job("a", watcher::Event::InitDone);
    assert!(matches!(
        index.lookup("uid-1", everywhere),
        Lookup::NotFound
    ));
    assert!(matches!(
        index.lookup("uid-2", everywhere),
        Lookup::Found(_)
    ));
    assert!(matches!(
        index.lookup("uid-3", everywhere),
        Lookup::Found(_)
    ));
}

fn queued(mut j: Job, labels: &[(&str, &str)]) -> Job {
    let l = j.metadata.labels.get_or_insert_with(Default::default);
    for (k, v) in labels {
        l.insert((*k).to_string(), (*v).to_string());
    }
    j
}

fn queue_names(index: &Index, queue: &str) -> Vec<String> {
    let mut names: Vec<String> = index
        .queue(queue)
        .iter()
        .filter_map(|e| e.job.as_ref().map(|j| j.name_any()))
        .collect();
    names.sort();
    names
}

#[test]
fn jobs_are_indexed_by_queue_and_move_with_their_labels() {
    let index = Index::new();
    let add = |j: Job| index.apply_job("", watcher::Event::Apply(j));
    add(job("a", "plain", "uid-1", None));
    add(queued(
        job("a", "ours", "uid-2", None),
        &[(JOB_QUEUE_LABEL, "gpu")],
    ));
    add(queued(
        job("b", "kueue", "uid-3", None),
        &[(JOB_QUEUE_LABEL, "gpu"), (KUEUE_QUEUE_LABEL, "cpu")],
    ));
    index.apply_pod("", watcher::Event::Apply(pod("a", "p", "uid-2")));
    assert_eq!(queue_names(&index, "a"), ["plain"]);
    assert_eq!(queue_names(&index, "gpu"), ["ours"]);
    assert_eq!(queue_names(&index, "cpu"), ["kueue"]);
    assert_eq!(index.queue("gpu")[0].pods.len(), 1);
    assert!(index.queue("b").is_empty());
    // Relabelled: it leaves the old queue.
    add(queued(
        job("a", "ours", "uid-2", None),
        &[(JOB_QUEUE_LABEL, "cpu")],
    ));
    assert!(index.queue("gpu").is_empty());
    assert_eq!(queue_names(&index, "cpu"), ["kueue", "ours"]);
    index.apply_job("", watcher::Event::Delete(job("b", "kueue", "uid-3", None)));
    assert_eq!(queue_names(&index, "cpu"), ["ours"]);
}

/// SubmitJob's read-after-write wait: a Job in a namespace the watches cover arrives; one in a
/// namespace they do not cover is answered at once (waiting would take the whole `within`, and
/// the answer would be TimedOut).
#[tokio::test]
async fn wait_for_job_does_not_wait_for_an_unwatched_namespace() {
    let within = std::time::Duration::from_secs(5);
    let index = Index::new();
    // Fed by hand, the index covers every namespace.
    assert!(index.watches_namespace("anywhere"));
    index.scopes.set(vec!["a".into()]).expect("scopes");
    assert!(index.watches_namespace("a"));
    assert!(!index.watches_namespace("b"));
    assert_eq!(
        index.wait_for_job("b", "u2", within).await,
        JobArrival::NotWatched
    );

    let waiting = tokio::spawn({
        let index = index.clone();
        async move { index.wait_for_job("a", "u1", within).await }
    });
    index.store_job(job("a", "j1", "u1", None));
    assert_eq!(waiting.await.expect("wait"), JobArrival::Cached);

    let all = Index::new();
    all.scopes.set(vec![String::new()]).expect("scopes");
    assert!(all.watches_namespace("b"));
}
