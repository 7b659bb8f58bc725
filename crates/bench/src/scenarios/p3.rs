//! P3, end to end: 2,000 running Jobs (one pod each, grace period 0) under kubesim's control
//! plane; the time from each TerminateJob request until its record is Completed and its Job
//! Failed with no pod left.

use std::time::Duration;

use tokio::time::Instant;

use super::{
    Bench, CONNECTIONS, Error, Result, Usage, ms, terminate_each, wait_described, wait_finished,
    wait_running_pods,
};
use crate::cluster::Shape;
use crate::loadgen::{self, Load, Mode};
use crate::report::{Figure, Goal, Report};

const TOTAL_GOAL_S: f64 = 10.0;
/// The controller issue's goals: over 200 terminations a second, memory flat within 20%.
const RATE_GOAL: f64 = 200.0;
const GROWTH_GOAL_PCT: f64 = 20.0;
/// How often completion is checked: the resolution of the end-to-end times.
const POLL: Duration = Duration::from_millis(100);

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let count = if bench.quick { 200 } else { 2_000 };
    // A simulated node holds 110 pods.
    let (dir, cluster, namespace) = bench
        .cluster("p3", Shape::simulated(count / 100 + 1))
        .await?;
    let jobs = cluster.create_jobs(&namespace, &namespace, count)?;
    let started = wait_running_pods(&cluster, &namespace, count, Duration::from_secs(300)).await?;
    report.notes.push(format!(
        "P3: kubesim took {:.1} s to run the {count} Jobs' pods (setup, not a figure of the service)",
        started.as_secs_f64()
    ));
    let product = bench
        .ready_product(&cluster, &dir, "p3-service", &[])
        .await?;
    wait_described(product.addr, &jobs, "RUNNING", Duration::from_secs(120)).await?;
    let rss_before = product.rss()?;

    let target = terminate_each(product.addr, "/v1/terminatejob", &jobs);
    let load = Load {
        connections: CONNECTIONS,
        mode: Mode::Closed,
        duration: Duration::from_secs(120),
    };
    let usage = Usage::start(&product, &cluster)?;
    let run_start = Instant::now();
    let (out, done) = tokio::join!(
        loadgen::run(&target, load),
        wait_finished(
            &cluster,
            &jobs,
            false,
            POLL,
            Duration::from_secs(if bench.quick { 60 } else { 120 })
        )
    );
    let out = out?;
    // Every call of the run (the bench reads kubesim's store directly), retries and
    // conflicts at scale included; watches aside.
    let calls = cluster
        .requests()
        .iter()
        .filter(|r| !r.verb.is_empty() && r.verb != "watch")
        .count();
    let usage = usage.figures("P3", &product, &cluster)?;
    let rss_after = product.rss()?;
    if out.ok != count as u64 {
        return Err(Error::Check(format!(
            "{count} TerminateJobs: {} answered 200 ({:?})",
            out.ok, out.statuses
        )));
    }
    // Each job's time from its request (sent after the run's connections opened) to done.
    let first_sent = out.started;
    let mut latencies: Vec<Duration> = jobs
        .iter()
        .zip(&out.sent_at)
        .filter_map(|(job, sent)| Some(done.get(&job.name)?.duration_since(out.started + (*sent)?)))
        .collect();
    latencies.sort();
    let finished = latencies.len();
    let last_done = done.values().max().copied().unwrap_or(run_start);
    let total = last_done.duration_since(first_sent);
    let quantile = |q: f64| {
        latencies
            .get(((finished as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    let growth = (rss_after as f64 / rss_before as f64 - 1.0) * 100.0;
    report.figures.extend([
        Figure::new(
            "P3",
            format!("Jobs finished, of {count}"),
            finished as f64,
            "",
        )
        .goal(Goal::AtLeast(count as f64)),
        Figure::new("P3", "end to end p50", ms(quantile(0.5)), "ms"),
        Figure::new("P3", "end to end p99", ms(quantile(0.99)), "ms"),
        Figure::new(
            "P3",
            format!("all {count} finished after"),
            total.as_secs_f64(),
            "s",
        )
        .goal(Goal::AtMost(TOTAL_GOAL_S)),
        Figure::new(
            "P3",
            "end-to-end rate",
            finished as f64 / total.as_secs_f64(),
            "/s",
        )
        .goal(Goal::AtLeast(RATE_GOAL)),
        Figure::new(
            "P3",
            "API calls per termination over the run",
            calls as f64 / count as f64,
            "",
        ),
        Figure::new("P3", "service RSS growth over the run", growth, "%")
            .goal(Goal::AtMost(GROWTH_GOAL_PCT))
            .note(format!(
                "P3: service RSS {:.0} MiB before, {:.0} MiB after; completion polled every {} ms",
                rss_before as f64 / 1048576.0,
                rss_after as f64 / 1048576.0,
                POLL.as_millis()
            )),
    ]);
    report.figures.extend(usage);
    product.stop().await;
    cluster.shutdown().await;
    Ok(())
}
