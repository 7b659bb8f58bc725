//! P4, memory and start-up: the service's resident memory with 10k and 100k Jobs (one
//! Running pod each) in the cluster, and its time from start to `/readyz` 200. kubesim runs
//! without its control plane and the pods are written directly.

use std::time::Duration;

use tokio::time::Instant;

use super::{Bench, Result};
use crate::cluster::Shape;
use crate::report::{Figure, Goal, Report};

const RSS_GOAL_MIB: f64 = 150.0;
const READY_GOAL_S: f64 = 10.0;
/// How long resident memory is sampled after ready (the peak is the figure).
const SETTLE: Duration = Duration::from_secs(2);

pub async fn run(bench: &Bench, report: &mut Report) -> Result<()> {
    let sizes: &[usize] = if bench.quick {
        &[1_000, 5_000]
    } else {
        &[10_000, 100_000]
    };
    let largest = sizes.iter().copied().max().unwrap_or_default();
    for &count in sizes {
        let (dir, cluster, namespace) =
            bench.cluster(&format!("p4-{count}"), Shape::bare()).await?;
        let setup = Instant::now();
        cluster.create_jobs(&namespace, &namespace, count)?;
        let setup = setup.elapsed();

        let mut product =
            bench.start_product(&cluster, &dir, &format!("p4-service-{count}"), &[])?;
        let ready = product.wait_ready(Duration::from_secs(300)).await?;
        let sampled = Instant::now();
        let mut rss = product.rss()?;
        while sampled.elapsed() < SETTLE {
            tokio::time::sleep(Duration::from_millis(100)).await;
            rss = rss.max(product.rss()?);
        }
        let mib = rss as f64 / 1048576.0;
        let label = format!("{}k Jobs", count / 1000);
        let (rss_figure, ready_figure) = (
            Figure::new("P4", format!("service RSS, {label}"), mib, "MiB"),
            Figure::new(
                "P4",
                format!("start to /readyz 200, {label}"),
                ready.as_secs_f64(),
                "s",
            ),
        );
        let goals = count == largest;
        report.figures.extend([
            if goals {
                rss_figure.goal(Goal::AtMost(RSS_GOAL_MIB))
            } else {
                rss_figure
            },
            if goals {
                ready_figure.goal(Goal::AtMost(READY_GOAL_S))
            } else {
                ready_figure
            },
        ]);
        report.notes.push(format!(
            "P4: writing {count} Jobs and pods into kubesim took {:.1} s (setup)",
            setup.as_secs_f64()
        ));
        product.stop().await;
        cluster.shutdown().await;
    }
    Ok(())
}
