//! P5, API calls per termination: kubesim's request log while the service terminates running
//! Jobs (one pod each) and cancels suspended ones, per verb and resource.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    Bench, Error, Result, terminate_each, wait_described, wait_finished, wait_running_pods,
};
use crate::cluster::{JobRef, Shape};
use crate::loadgen::{self, Load, Mode};
use crate::report::{CallCount, Figure, Goal, Report};

/// The controller issue's budget: record create, one Job patch, one Event, the pod delete (or,
/// for a cancel, the Job delete) and at most two status writes.
const BUDGET: f64 = 6.0;

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let count = if bench.quick { 5 } else { 20 };
    let (dir, cluster, namespace) = bench.cluster("p5", Shape::simulated(1)).await?;
    let running = cluster.create_jobs(&namespace, &namespace, count)?;
    let queued = cluster.create_suspended_jobs(&namespace, &namespace, count)?;
    wait_running_pods(&cluster, &namespace, count, Duration::from_secs(120)).await?;
    let product = bench
        .ready_product(&cluster, &dir, "p5-service", &[])
        .await?;
    wait_described(product.addr, &running, "RUNNING", Duration::from_secs(60)).await?;
    wait_described(product.addr, &queued, "RUNNABLE", Duration::from_secs(60)).await?;

    for (action, path, jobs) in [
        ("terminate", "/v1/terminatejob", &running),
        ("cancel", "/v1/canceljob", &queued),
    ] {
        cluster.clear_requests();
        terminate_all(product.addr, path, jobs).await?;
        let done = wait_finished(
            &cluster,
            jobs,
            action == "cancel",
            Duration::from_millis(50),
            Duration::from_secs(120),
        )
        .await;
        if done.len() != jobs.len() {
            return Err(Error::Timeout {
                what: format!("{} {action}s finished ({} did)", jobs.len(), done.len()),
                waited: Duration::from_secs(120),
            });
        }
        let mut calls: BTreeMap<(String, String), usize> = BTreeMap::new();
        for request in cluster.requests() {
            let resource = match request.subresource.as_str() {
                "" => request.resource,
                sub => format!("{}/{sub}", request.resource),
            };
            *calls.entry((request.verb, resource)).or_default() += 1;
        }
        let total: usize = calls.values().sum();
        let per = |n: usize| n as f64 / jobs.len() as f64;
        report.figures.push(
            Figure::new(
                "P5",
                format!("{action}: API calls per termination"),
                per(total),
                "",
            )
            .goal(Goal::AtMost(BUDGET)),
        );
        for ((verb, resource), n) in calls {
            report.figures.push(Figure::new(
                "P5",
                format!("{action}:   {verb} {resource}"),
                per(n),
                "",
            ));
            report.calls.push(CallCount {
                action: action.to_owned(),
                verb,
                resource,
                per_termination: per(n),
            });
        }
    }
    product.stop().await;
    cluster.shutdown().await;
    Ok(())
}

async fn terminate_all(addr: std::net::SocketAddr, path: &str, jobs: &[JobRef]) -> Result<()> {
    let target = terminate_each(addr, path, jobs);
    let load = Load {
        connections: 4,
        mode: Mode::Closed,
        duration: Duration::from_secs(60),
    };
    let out = loadgen::run(&target, load).await?;
    if out.ok != jobs.len() as u64 {
        return Err(Error::Check(format!(
            "{path}: {} of {} answered 200 ({:?})",
            out.ok,
            jobs.len(),
            out.statuses
        )));
    }
    Ok(())
}
