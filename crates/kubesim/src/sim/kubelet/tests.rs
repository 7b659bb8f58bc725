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

/// A running pod with this `on-sigterm` answer, deleted at 20 ms with `grace` seconds.
fn deleted(answer: Option<&str>, grace: i64) -> (Pod, PodMemory) {
    let ann = match answer {
        Some(a) => json!({ON_SIGTERM_ANNOTATION: a}),
        None => json!({}),
    };
    let (mut running, mem) = run(&pod(ann, "Never"));
    running.metadata.deletion_timestamp = Some(Time(at(20).now));
    running.metadata.deletion_grace_period_seconds = Some(grace);
    (running, mem)
}

fn terminated(s: &KubeletStep) -> ContainerStateTerminated {
    status_of(s).unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap()
}

#[test]
fn sigterm_stops_a_default_container_at_once_with_143() {
    let cfg = KubeletConfig::default();
    let (running, mem) = deleted(None, 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(reasons(&s), ["Killing"]);
    assert_eq!(s.actions.last(), Some(&KubeletAction::Remove));
    let st = status_of(&s).unwrap();
    assert_eq!(st.phase.as_deref(), Some("Failed"));
    let term = terminated(&s);
    assert_eq!(term.exit_code, SIGTERM_EXIT_CODE);
    assert_eq!(term.reason.as_deref(), Some("Error"));
    assert_eq!(term.signal, None, "the CRI reports no signal");
    assert_eq!(term.finished_at, Some(at(20).time()));
    assert!(term.started_at.is_some() && term.container_id.is_some());
}

#[test]
fn an_ignored_sigterm_is_killed_at_the_end_of_the_scaled_grace_period() {
    let cfg = KubeletConfig::default();
    let (running, mem) = deleted(Some("ignore"), 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(reasons(&s), ["Killing"]);
    assert!(!s.actions.contains(&KubeletAction::Remove));
    // 30 s at scale 0.01.
    assert_eq!(s.requeue_after, Some(Duration::from_millis(300)));
    let s2 = step(&running, &node(), &s.memory, &at(200), &cfg);
    assert!(s2.actions.is_empty());
    let s3 = step(&running, &node(), &s.memory, &at(320), &cfg);
    assert_eq!(status_of(&s3).unwrap().phase.as_deref(), Some("Failed"));
    let term = terminated(&s3);
    assert_eq!(term.exit_code, SIGKILL_EXIT_CODE);
    assert_eq!(term.reason.as_deref(), Some("Error"));
    assert_eq!(term.finished_at, Some(at(320).time()));
    assert_eq!(s3.actions.last(), Some(&KubeletAction::Remove));
}

#[test]
fn exit_code_on_sigterm_stops_at_once_with_that_code() {
    let cfg = KubeletConfig::default();
    let (running, mem) = deleted(Some("exit-code:0"), 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(status_of(&s).unwrap().phase.as_deref(), Some("Succeeded"));
    let term = terminated(&s);
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );

    let (running, mem) = deleted(Some("exit-code:7"), 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(terminated(&s).exit_code, 7);
}

#[test]
fn delay_stops_after_its_seconds_or_is_killed_at_the_grace_period() {
    let cfg = KubeletConfig::default();
    let (running, mem) = deleted(Some("delay:5"), 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(s.requeue_after, Some(Duration::from_millis(50)));
    let s = step(&running, &node(), &s.memory, &at(70), &cfg);
    assert_eq!(terminated(&s).exit_code, SIGTERM_EXIT_CODE);

    let (running, mem) = deleted(Some("delay:60"), 30);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(s.requeue_after, Some(Duration::from_millis(300)));
    let s = step(&running, &node(), &s.memory, &at(320), &cfg);
    assert_eq!(terminated(&s).exit_code, SIGKILL_EXIT_CODE);
}

#[test]
fn sigkill_waits_at_least_two_seconds_and_grace_zero_kills_at_once() {
    assert_eq!(
        stop_plan(OnSigterm::Ignore, 1),
        Stop {
            after: Duration::from_secs(2),
            exit_code: SIGKILL_EXIT_CODE
        }
    );
    assert_eq!(
        stop_plan(OnSigterm::Delay(Duration::from_secs(1)), 1).exit_code,
        SIGTERM_EXIT_CODE,
        "a 1 s delay beats the 2 s minimum"
    );
    for answer in [
        OnSigterm::Exit,
        OnSigterm::Ignore,
        OnSigterm::ExitCode(0),
        OnSigterm::Delay(Duration::from_secs(1)),
    ] {
        assert_eq!(
            stop_plan(answer, 0),
            Stop {
                after: Duration::ZERO,
                exit_code: SIGKILL_EXIT_CODE
            }
        );
    }
    let cfg = KubeletConfig::default();
    let (running, mem) = deleted(Some("exit-code:0"), 0);
    let s = step(&running, &node(), &mem, &at(20), &cfg);
    assert_eq!(terminated(&s).exit_code, SIGKILL_EXIT_CODE);
    assert_eq!(s.actions.last(), Some(&KubeletAction::Remove));
}

#[test]
fn on_sigterm_reads_the_annotation() {
    let p = |v: &str| pod(json!({ON_SIGTERM_ANNOTATION: v}), "Never");
    assert_eq!(on_sigterm(&pod(json!({}), "Never")), OnSigterm::Exit);
    assert_eq!(on_sigterm(&p("ignore")), OnSigterm::Ignore);
    assert_eq!(on_sigterm(&p("exit-code:3")), OnSigterm::ExitCode(3));
    assert_eq!(
        on_sigterm(&p("delay:1.5")),
        OnSigterm::Delay(Duration::from_millis(1500))
    );
    for bad in ["exit-code:x", "delay:-1", "nonsense", "exit"] {
        assert_eq!(on_sigterm(&p(bad)), OnSigterm::Exit, "{bad}");
    }
}

#[test]
fn a_pod_deleted_before_it_ran_reports_its_containers_unknown() {
    let cfg = KubeletConfig::default();
    let p = pod(json!({START_AFTER_ANNOTATION: "100"}), "Never");
    let s1 = step(&p, &node(), &PodMemory::default(), &at(0), &cfg);
    let mut creating = apply(&p, &s1);
    creating.metadata.deletion_timestamp = Some(Time(at(20).now));
    creating.metadata.deletion_grace_period_seconds = Some(30);
    let s = step(&creating, &node(), &s1.memory, &at(20), &cfg);
    assert_eq!(status_of(&s).unwrap().phase.as_deref(), Some("Failed"));
    let term = terminated(&s);
    assert_eq!(term.exit_code, SIGKILL_EXIT_CODE);
    assert_eq!(term.reason.as_deref(), Some("ContainerStatusUnknown"));
    assert_eq!(
        term.message.as_deref(),
        Some("The container could not be located when the pod was terminated")
    );
    assert_eq!((term.started_at, term.finished_at), (None, None));
    assert_eq!(s.actions.last(), Some(&KubeletAction::Remove));
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
