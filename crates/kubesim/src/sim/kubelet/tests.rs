use super::*;
use crate::sim::clock::TimeScale;
use crate::sim::nodes::NodeConfig;
use k8s_openapi::jiff::SignedDuration;
use serde_json::{Value, json};

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

fn node() -> Node {
    NodeConfig::new("kubesim-node-0").to_node(0, &at(0))
}

fn pod(annotations: Value, restart: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid", "annotations": annotations},
        "spec": {"nodeName": "kubesim-node-0", "restartPolicy": restart,
                 "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Pending",
                   "conditions": [{"type": "PodScheduled", "status": "True"}]}
    }))
    .unwrap()
}

fn status_of(s: &KubeletStep) -> Option<PodStatus> {
    s.actions.iter().rev().find_map(|a| match a {
        KubeletAction::UpdateStatus(st) => Some((**st).clone()),
        _ => None,
    })
}

fn apply(p: &Pod, s: &KubeletStep) -> Pod {
    let mut p = p.clone();
    if let Some(st) = status_of(s) {
        p.status = Some(st);
    }
    p
}

fn reasons(s: &KubeletStep) -> Vec<String> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            KubeletAction::Event(e) => Some(e.reason.clone()),
            _ => None,
        })
        .collect()
}

fn cond(st: &PodStatus, type_: &str) -> String {
    st.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap()
        .status
        .clone()
}

fn run(p: &Pod) -> (Pod, PodMemory) {
    let cfg = KubeletConfig::default();
    let s1 = step(p, &node(), &PodMemory::default(), &at(0), &cfg);
    let p1 = apply(p, &s1);
    let s2 = step(&p1, &node(), &s1.memory, &at(10), &cfg);
    (apply(&p1, &s2), s2.memory)
}

#[test]
fn bound_pod_is_created_then_runs_after_the_start_delay() {
    let cfg = KubeletConfig::default();
    let p = pod(json!({}), "Never");
    let s1 = step(&p, &node(), &PodMemory::default(), &at(0), &cfg);
    let st = status_of(&s1).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Pending"));
    assert_eq!(st.host_ip.as_deref(), Some("10.0.0.2"));
    assert!(st.start_time.is_some());
    let cs = &st.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        cs.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("ContainerCreating")
    );
    assert_eq!(cond(&st, "Ready"), "False");
    assert_eq!(cond(&st, "PodScheduled"), "True");
    // 1 s at scale 0.01.
    assert_eq!(s1.requeue_after, Some(Duration::from_millis(10)));

    let p1 = apply(&p, &s1);
    let s = step(&p1, &node(), &s1.memory, &at(5), &cfg);
    assert!(s.actions.is_empty(), "nothing new while creating");

    let s2 = step(&p1, &node(), &s1.memory, &at(10), &cfg);
    let st = status_of(&s2).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    assert!(st.pod_ip.as_deref().unwrap().starts_with("10.244.0."));
    for c in [
        "Ready",
        "ContainersReady",
        "Initialized",
        "PodReadyToStartContainers",
        "PodScheduled",
    ] {
        assert_eq!(cond(&st, c), "True", "{c}");
    }
    let cs = &st.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready);
    assert_eq!(cs.started, Some(true));
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(reasons(&s2), ["Pulled", "Created", "Started"]);
    assert_eq!(s2.requeue_after, None, "runs until deleted");
    let (_, mem) = run(&p);
    let still = step(&apply(&p1, &s2), &node(), &mem, &at(100_000), &cfg);
    assert!(still.actions.is_empty());
}

#[test]
fn exit_after_ends_the_pod() {
    let cfg = KubeletConfig::default();
    let p = pod(json!({EXIT_AFTER_ANNOTATION: "5"}), "Never");
    let (running, mem) = run(&p);
    let s = step(&running, &node(), &mem, &at(30), &cfg);
    assert!(s.actions.is_empty());
    assert_eq!(s.requeue_after, Some(Duration::from_millis(30)));
    let s = step(&running, &node(), &mem, &at(60), &cfg);
    let st = status_of(&s).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Succeeded"));
    assert_eq!(cond(&st, "Ready"), "False");
    let term = st.container_statuses.as_ref().unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(term.exit_code, 0);
    assert_eq!(term.reason.as_deref(), Some("Completed"));
    assert!(term.started_at.is_some() && term.finished_at.is_some());
}

#[test]
fn exit_code_fails_the_pod() {
    let p = pod(
        json!({EXIT_AFTER_ANNOTATION: "0", EXIT_CODE_ANNOTATION: "3"}),
        "Never",
    );
    let (running, mem) = run(&p);
    let s = step(&running, &node(), &mem, &at(11), &KubeletConfig::default());
    let st = status_of(&s).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Failed"));
    let term = st.container_statuses.as_ref().unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(term.exit_code, 3);
    assert_eq!(term.reason.as_deref(), Some("Error"));
}

#[test]
fn on_failure_restarts_in_place() {
    let p = pod(
        json!({EXIT_AFTER_ANNOTATION: "1", EXIT_CODE_ANNOTATION: "1"}),
        "OnFailure",
    );
    let (running, mem) = run(&p);
    let s = step(&running, &node(), &mem, &at(25), &KubeletConfig::default());
    let st = status_of(&s).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    let cs = &st.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.restart_count, 1);
    assert_eq!(
        cs.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
}

#[test]
fn graceful_deletion_waits_for_the_scaled_grace_period() {
    let cfg = KubeletConfig::default();
    let (mut running, mem) = run(&pod(json!({}), "Never"));
    running.metadata.deletion_timestamp = Some(Time(at(20).now));
    running.metadata.deletion_grace_period_seconds = Some(30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(reasons(&s), ["Killing"]);
    assert!(!s.actions.contains(&KubeletAction::Remove));
    // 30 s at scale 0.01.
    assert_eq!(s.requeue_after, Some(Duration::from_millis(300)));
    let s2 = step(&running, &node(), &s.memory, &at(200), &cfg);
    assert!(s2.actions.is_empty());
    let s3 = step(&running, &node(), &s.memory, &at(320), &cfg);
    let st = status_of(&s3).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Failed"));
    let term = st.container_statuses.as_ref().unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(term.exit_code, SIGTERM_EXIT_CODE);
    assert_eq!(term.reason.as_deref(), Some("Error"));
    assert_eq!(s3.actions.last(), Some(&KubeletAction::Remove));
}

#[test]
fn zero_grace_and_finished_pods_go_at_once() {
    let cfg = KubeletConfig::default();
    let (mut running, mem) = run(&pod(json!({}), "Never"));
    running.metadata.deletion_timestamp = Some(Time(at(20).now));
    running.metadata.deletion_grace_period_seconds = Some(0);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(s.actions.last(), Some(&KubeletAction::Remove));

    let mut done = running.clone();
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    done.metadata.deletion_grace_period_seconds = Some(30);
    let s = step(&done, &node(), &mem, &at(20), &cfg);
    assert_eq!(s.actions, [KubeletAction::Remove]);
}

#[test]
fn start_after_holds_a_bound_pod_in_container_creating() {
    let cfg = KubeletConfig::default();
    let p = pod(json!({START_AFTER_ANNOTATION: "100"}), "Never");
    let s1 = step(&p, &node(), &PodMemory::default(), &at(0), &cfg);
    // 100 s at scale 0.01.
    assert_eq!(s1.requeue_after, Some(Duration::from_secs(1)));
    let p1 = apply(&p, &s1);
    // Past the default delay, still creating.
    let s = step(&p1, &node(), &s1.memory, &at(500), &cfg);
    assert!(s.actions.is_empty());
    let s = step(&p1, &node(), &s1.memory, &at(1000), &cfg);
    assert_eq!(status_of(&s).unwrap().phase.as_deref(), Some("Running"));
}
