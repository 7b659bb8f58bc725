//! P2, durable terminations: TerminateJob requests that each create a record, against a
//! kubesim holding N running Jobs (pods written Running; no simulated control plane, so only
//! the service works the API server).

use std::time::Duration;

use super::{Bench, CONNECTIONS, Error, Result, Usage, records, terminate_each};
use crate::cluster::Shape;
use crate::loadgen::{self, Load, Mode};
use crate::report::{Figure, Goal, Report};

const RATE_GOAL: f64 = 2_000.0;
const P99_GOAL_MS: f64 = 10.0;
/// The run stops here even if requests remain: the rate is then that of those answered.
const DEADLINE: Duration = Duration::from_secs(60);

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let count = if bench.quick { 500 } else { 5_000 };
    let (dir, cluster, namespace) = bench.cluster("p2", Shape::bare()).await?;
    let jobs = cluster.create_jobs(&namespace, &namespace, count)?;
    let product = bench
        .ready_product(&cluster, &dir, "p2-service", &[])
        .await?;
    let target = terminate_each(product.addr, "/v1/terminatejob", &jobs);
    let load = Load {
        connections: CONNECTIONS,
        mode: Mode::Closed,
        duration: DEADLINE,
    };
    let usage = Usage::start(&product, &cluster)?;
    let out = loadgen::run(&target, load).await?;
    let usage = usage.figures("P2", &product, &cluster)?;
    let stored = cluster.list(&records(), &namespace).len();
    // Every 200 must be a record: a figure of requests that stored nothing would be false.
    if stored < out.ok as usize {
        return Err(Error::Check(format!(
            "{} TerminateJobs answered 200 but {stored} records are stored",
            out.ok
        )));
    }
    let unfinished = match out.ok as usize {
        ok if ok == count => String::new(),
        ok => format!(
            "P2: {ok} of {count} TerminateJobs answered 200 within {} s ({:?})",
            DEADLINE.as_secs(),
            out.statuses
        ),
    };
    report.figures.extend([
        Figure::new(
            "P2",
            format!("durable terminations, {count} running Jobs"),
            out.throughput(),
            "/s",
        )
        .goal(Goal::AtLeast(RATE_GOAL))
        .note(unfinished),
        Figure::new(
            "P2",
            format!("request p99 at {CONNECTIONS} conns"),
            out.percentile_ms(0.99),
            "ms",
        )
        .goal(Goal::AtMost(P99_GOAL_MS)),
    ]);
    report.figures.extend(usage);
    product.stop().await;
    cluster.shutdown().await;
    Ok(())
}
