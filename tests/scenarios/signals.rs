//! TerminateJob against containers that answer SIGTERM in each way a real program does: the
//! exit code and the stop time DescribeJobs reports. Each container's command behaves as its
//! `kubesim.dev/on-sigterm` annotation says, so a real cluster gives the same answers.

use kube::ResourceExt;
use serde_json::{Value, json};

use crate::harness::{Env, eventually, sim_config};

/// Seconds the kubelet waits after SIGTERM before SIGKILL.
const GRACE: i64 = 5;
/// How long `delay` takes to stop after SIGTERM.
const DELAY: i64 = 2;

/// The simulated clock runs in real time here: stop times are stored in whole seconds.
fn real_time() -> kubesim::Config {
    sim_config().time_scale(kubesim::sim::clock::TimeScale::new(1.0).expect("time scale"))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Runs a Job whose container answers SIGTERM with `shell` (`kubesim.dev/on-sigterm:
/// on_sigterm` in kubesim), terminates it once it runs, and returns the terminate request's
/// time and the FAILED or SUCCEEDED JobDetail once its attempt has stopped.
async fn terminate_running(name: &str, on_sigterm: &str, shell: &str) -> (i64, Value) {
    let env = Env::start_with(real_time()).await;
    let job = env
        .create_job(
            name,
            json!({"template": {"spec": {
                "terminationGracePeriodSeconds": GRACE,
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", shell]}]
            }}}),
            json!({"kubesim.dev/on-sigterm": on_sigterm}),
        )
        .await;
    let id = job.uid().expect("uid");
    env.wait_running(&job).await;
    let requested = now_ms();
    assert_eq!(
        env.terminate(&id, "signals scenario").await,
        (200, json!({}))
    );
    let detail = eventually(&format!("{name}'s attempt to stop"), || async {
        env.describe(&id).await.filter(|d| {
            d["eksAttempts"][0]["containers"][0]["exitCode"].is_i64()
                && d["eksAttempts"][0]["stoppedAt"].is_i64()
        })
    })
    .await;
    (requested, detail)
}

/// The exit code and the stop time in ms after the request, from both attempt views.
fn stop(detail: &Value) -> (i64, i64) {
    let eks = &detail["eksAttempts"][0];
    let code = eks["containers"][0]["exitCode"].as_i64().expect("exitCode");
    assert_eq!(
        detail["attempts"][0]["container"]["exitCode"], code,
        "{detail}"
    );
    let stopped = eks["stoppedAt"].as_i64().expect("stoppedAt");
    assert_eq!(detail["attempts"][0]["stoppedAt"], stopped, "{detail}");
    (code, stopped)
}

/// Stop times are whole seconds, so a stop within the request's second reads up to 1 s early.
fn assert_prompt(requested: i64, stopped: i64, detail: &Value) {
    let after = stopped - requested;
    assert!(
        (-1000..1500).contains(&after),
        "stopped {after} ms after the request: {detail}"
    );
}

#[tokio::test]
async fn a_container_that_exits_on_sigterm_stops_at_once_with_143() {
    let (requested, detail) = terminate_running(
        "sig-exit",
        "exit",
        "trap 'exit 143' TERM; sleep 3600 & wait",
    )
    .await;
    let (code, stopped) = stop(&detail);
    assert_eq!(code, 143, "{detail}");
    assert_prompt(requested, stopped, &detail);
}

#[tokio::test]
async fn a_container_that_ignores_sigterm_is_killed_after_the_grace_period_with_137() {
    let (requested, detail) = terminate_running("sig-ignore", "ignore", "sleep 3600").await;
    let (code, stopped) = stop(&detail);
    assert_eq!(code, 137, "{detail}");
    let after = stopped - requested;
    assert!(
        after >= (GRACE - 1) * 1000,
        "killed {after} ms after the request, before the {GRACE} s grace period: {detail}"
    );
}

#[tokio::test]
async fn a_container_that_exits_0_on_sigterm_reports_0() {
    let (requested, detail) = terminate_running(
        "sig-zero",
        "exit-code:0",
        "trap 'exit 0' TERM; sleep 3600 & wait",
    )
    .await;
    let (code, stopped) = stop(&detail);
    assert_eq!(code, 0, "{detail}");
    assert_prompt(requested, stopped, &detail);
}

#[tokio::test]
async fn a_container_that_takes_its_time_stops_with_143_before_the_kill() {
    let (requested, detail) = terminate_running(
        "sig-delay",
        &format!("delay:{DELAY}"),
        &format!("trap 'sleep {DELAY}; exit 143' TERM; sleep 3600 & wait"),
    )
    .await;
    let (code, stopped) = stop(&detail);
    assert_eq!(code, 143, "{detail}");
    let after = stopped - requested;
    assert!(
        ((DELAY - 1) * 1000..(GRACE - 1) * 1000).contains(&after),
        "stopped {after} ms after the request, expected about {DELAY} s: {detail}"
    );
}
