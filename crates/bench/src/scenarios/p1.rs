//! P1, the no-op request path: throughput and p99 of TerminateJob on an unknown ID,
//! DescribeJobs of 100 IDs and ListJobs on a 1,000-job queue, each against the floor (and moto
//! for TerminateJob), closed loop at 16 connections; then latency against offered load.

use std::time::Duration;

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::json;

use super::{Bench, CONNECTIONS, Error, Result, post_ok, terminate_body};
use crate::cluster::Shape;
use crate::loadgen::{self, Bodies, Load, Mode, Outcome, Target};
use crate::procs::Server;
use crate::report::{Figure, Goal, LoadPoint, Report};

const QUEUE_JOBS: usize = 1_000;
/// The goals: at least half the floor's throughput on TerminateJob, p99 under 2 ms.
const RATIO_GOAL: f64 = 0.5;
const P99_GOAL_MS: f64 = 2.0;

struct Operation {
    name: &'static str,
    path: &'static str,
    body: Bytes,
}

struct Timing {
    warm_up: Duration,
    measure: Duration,
    /// Offered loads of the latency curve, as fractions of the service's closed-loop throughput.
    fractions: &'static [f64],
    step: Duration,
}

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let timing = match bench.quick {
        true => Timing {
            warm_up: Duration::from_millis(300),
            measure: Duration::from_secs(1),
            fractions: &[0.25, 0.5, 0.9],
            step: Duration::from_secs(1),
        },
        false => Timing {
            warm_up: Duration::from_secs(1),
            measure: Duration::from_secs(5),
            fractions: &[0.1, 0.25, 0.5, 0.75, 0.9],
            step: Duration::from_secs(3),
        },
    };
    let (dir, cluster, namespace) = bench.cluster("p1", Shape::bare()).await?;
    let jobs = cluster.create_jobs(&namespace, &namespace, QUEUE_JOBS)?;
    let ids: Vec<&str> = jobs.iter().take(100).map(|j| j.id.as_str()).collect();
    let operations = [
        Operation {
            name: "TerminateJob",
            path: "/v1/terminatejob",
            body: terminate_body(&format!("unknown-{}", uuid::Uuid::new_v4())),
        },
        Operation {
            name: "DescribeJobs",
            path: "/v1/describejobs",
            body: Bytes::from(json!({ "jobs": ids }).to_string()),
        },
        Operation {
            name: "ListJobs",
            path: "/v1/listjobs",
            body: Bytes::from(json!({ "jobQueue": namespace }).to_string()),
        },
    ];

    let product = bench
        .ready_product(&cluster, &dir, "p1-service", &[])
        .await?;
    check_answers(&product, &operations).await?;
    let floor = bench.floor(&dir).await?;
    let mut terminate_rate = 0.0;
    for op in &operations {
        let floor_out = measure(&floor, op, &[], &timing).await?;
        let product_out = measure(&product, op, &[], &timing).await?;
        let ratio = product_out.throughput() / floor_out.throughput();
        let goal = (op.name == "TerminateJob").then_some(Goal::AtLeast(RATIO_GOAL));
        report.figures.extend([
            Figure::new(
                "P1",
                format!("{}: floor", op.name),
                floor_out.throughput(),
                "req/s",
            ),
            Figure::new(
                "P1",
                format!("{}: service", op.name),
                product_out.throughput(),
                "req/s",
            )
            .note(failures(op.name, "service", &product_out)),
            ratio_figure(op.name, "service/floor", ratio, goal),
            Figure::new(
                "P1",
                format!("{}: service p99 at {CONNECTIONS} conns", op.name),
                product_out.percentile_ms(0.99),
                "ms",
            )
            .goal(Goal::AtMost(P99_GOAL_MS)),
        ]);
        if op.name == "TerminateJob" {
            terminate_rate = product_out.throughput();
        }
    }
    let terminate = &operations[0];
    compare_moto(bench, &dir, terminate, &floor, &timing, report).await?;
    latency_curve(&product, &floor, terminate, terminate_rate, &timing, report).await?;
    product.stop().await;

    // The same request with the per-request INFO lines filtered out (what the logging
    // costs), and with the JSON lines the chart's default `logFormat: json` writes.
    for (label, flags) in [
        ("service --log-filter warn/floor", ["--log-filter", "warn"]),
        ("service --log-format json/floor", ["--log-format", "json"]),
    ] {
        let variant = bench
            .ready_product(&cluster, &dir, "p1-service-variant", &flags)
            .await?;
        let floor_out = measure(&floor, terminate, &[], &timing).await?;
        let variant_out = measure(&variant, terminate, &[], &timing).await?;
        report.figures.push(ratio_figure(
            "TerminateJob",
            label,
            variant_out.throughput() / floor_out.throughput(),
            None,
        ));
        variant.stop().await;
    }
    floor.stop().await;
    cluster.shutdown().await;
    Ok(())
}

fn ratio_figure(op: &str, what: &str, ratio: f64, goal: Option<Goal>) -> Figure {
    let figure = Figure::new("P1", format!("{op}: {what}"), ratio, "x");
    match goal {
        Some(goal) => figure.goal(goal),
        None => figure,
    }
}

fn failures(op: &str, server: &str, out: &Outcome) -> String {
    match out.failed {
        0 => String::new(),
        n => format!(
            "P1 {op}: {n} of {} requests to the {server} failed ({:?})",
            out.ok + n,
            out.statuses
        ),
    }
}

/// The answers the figures rely on: 200 to every operation, 100 jobs described, a page of
/// the queue listed.
async fn check_answers(product: &Server, operations: &[Operation]) -> Result<()> {
    for op in operations {
        let answer = post_ok(product.addr, op.path, op.body.clone()).await?;
        let count = |key: &str| answer[key].as_array().map_or(0, Vec::len);
        let expected = match op.name {
            "DescribeJobs" => count("jobs") == 100,
            "ListJobs" => count("jobSummaryList") == 100,
            _ => answer == json!({}),
        };
        if !expected {
            return Err(Error::Check(format!("{} answered {answer}", op.name)));
        }
    }
    Ok(())
}

async fn measure(
    server: &Server,
    op: &Operation,
    headers: &[(HeaderName, HeaderValue)],
    timing: &Timing,
) -> Result<Outcome> {
    let target = Target {
        addr: server.addr,
        path: op.path.to_owned(),
        headers: headers.to_vec(),
        bodies: Bodies::Fixed(op.body.clone()),
    };
    let mut load = Load {
        connections: CONNECTIONS,
        mode: Mode::Closed,
        duration: timing.warm_up,
    };
    loadgen::run(&target, load).await?;
    load.duration = timing.measure;
    Ok(loadgen::run(&target, load).await?)
}

/// moto's TerminateJob on the same request. moto routes a request to its Batch backend by the
/// credential scope of the Authorization header, and does not check the signature.
async fn compare_moto(
    bench: &Bench,
    dir: &std::path::Path,
    terminate: &Operation,
    floor: &Server,
    timing: &Timing,
    report: &mut Report,
) -> Result<()> {
    let Some(moto) = bench.moto(dir).await? else {
        let why = "moto_server is not installed (scripts/bench.sh installs moto[server] into .venv): moto skipped".to_owned();
        report
            .figures
            .push(Figure::missing("P1", "TerminateJob: moto", "req/s", why));
        return Ok(());
    };
    let headers = [
        (
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/batch/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=0",
            ),
        ),
        (
            HeaderName::from_static("x-amz-date"),
            HeaderValue::from_static("20260101T000000Z"),
        ),
    ];
    let (status, answer) =
        loadgen::post_once(moto.addr, terminate.path, &headers, terminate.body.clone()).await?;
    let floor_out = measure(floor, terminate, &[], timing).await?;
    let moto_out = measure(&moto, terminate, &headers, timing).await?;
    report.figures.extend([
        Figure::new("P1", "TerminateJob: moto", moto_out.throughput(), "req/s")
            .note(moto_answer(status, &answer))
            .note(failures("TerminateJob", "moto", &moto_out)),
        ratio_figure(
            "TerminateJob",
            "moto/floor",
            moto_out.throughput() / floor_out.throughput(),
            None,
        ),
    ]);
    moto.stop().await;
    Ok(())
}

fn moto_answer(status: Option<u16>, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let body = match body.trim() {
        "" => "an empty body".to_owned(),
        text => text.chars().take(120).collect(),
    };
    match status {
        Some(status) => {
            format!("P1: moto answers TerminateJob of an unknown job with {status} and {body}")
        }
        None => "P1: moto did not answer TerminateJob".to_owned(),
    }
}

/// Open-loop runs at fractions of the service's closed-loop throughput, service and floor at
/// the same offered loads.
async fn latency_curve(
    product: &Server,
    floor: &Server,
    terminate: &Operation,
    capacity: f64,
    timing: &Timing,
    report: &mut Report,
) -> Result<()> {
    for &fraction in timing.fractions {
        let rate = (capacity * fraction).max(10.0);
        for (name, server) in [("floor", floor), ("service", product)] {
            let target = Target {
                addr: server.addr,
                path: terminate.path.to_owned(),
                headers: Vec::new(),
                bodies: Bodies::Fixed(terminate.body.clone()),
            };
            let load = Load {
                // Enough connections that none is the limit: each sends rate/64 a second.
                connections: 64,
                mode: Mode::Open { rate },
                duration: timing.step,
            };
            let out = loadgen::run(&target, load).await?;
            report.latency_vs_load.push(LoadPoint {
                server: name.to_owned(),
                offered_per_s: rate,
                achieved_per_s: out.throughput(),
                p50_ms: out.percentile_ms(0.5),
                p90_ms: out.percentile_ms(0.9),
                p99_ms: out.percentile_ms(0.99),
            });
        }
    }
    if let Some(half) = report
        .latency_vs_load
        .iter()
        .find(|p| p.server == "service" && p.offered_per_s >= capacity * 0.5 - 1.0)
    {
        report.figures.push(Figure::new(
            "P1",
            format!(
                "TerminateJob: service p99 at {:.0} req/s offered",
                half.offered_per_s
            ),
            half.p99_ms,
            "ms",
        ));
    }
    Ok(())
}
