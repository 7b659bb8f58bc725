//! The scenarios P1 to P5 of the benchmark issue, and what they share: the servers they start
//! and the checks that a run measured what it claims.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use kubesim::Gvr;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::cluster::{self, Cluster, JobRef, Shape};
use crate::loadgen::{self, Bodies, Target};
use crate::procs::{self, Server};
use crate::report::{Figure, Report};

mod p1;
mod p2;
mod p3;
mod p4;
mod p5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    #[error(transparent)]
    Process(#[from] procs::Error),
    #[error(transparent)]
    Load(#[from] loadgen::Error),
    #[error("creating {path}")]
    Scratch {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not happen within {waited:?}")]
    Timeout { what: String, waited: Duration },
    #[error("{0}")]
    Check(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What every scenario needs: the binaries, where to write, and how big to run.
#[derive(Clone, Debug)]
pub struct Bench {
    /// The reduced run of `--quick`.
    pub quick: bool,
    /// The `batch-terminator` binary.
    pub product: PathBuf,
    /// `moto_server`, when installed.
    pub moto: Option<PathBuf>,
    /// This binary, which serves the floor as `bench floor`.
    pub me: PathBuf,
    /// Where logs and scratch files go.
    pub out: PathBuf,
}

/// The reason sent with every termination.
const REASON: &str = "benchmark";
/// Connections of the closed-loop runs, as in the "p99 at 16 connections".
pub const CONNECTIONS: usize = 16;

impl Bench {
    fn scratch(&self, name: &str) -> Result<PathBuf> {
        let dir = self.out.join("scratch").join(name);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Scratch {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(dir)
    }

    /// A scratch directory and a fresh kubesim for `scenario` (e.g. "p1"), with the namespace
    /// `bench-<scenario>` created.
    async fn cluster(&self, scenario: &str, shape: Shape) -> Result<(PathBuf, Cluster, String)> {
        let dir = self.scratch(scenario)?;
        let cluster = Cluster::start(shape, &dir, &self.product).await?;
        let namespace = format!("bench-{scenario}");
        cluster.create_namespace(&namespace)?;
        Ok((dir, cluster, namespace))
    }

    /// `batch-terminator serve` against `cluster`, with `--auth none` (see the README) and the
    /// default log level unless `extra` says otherwise. Not yet ready.
    fn start_product(
        &self,
        cluster: &Cluster,
        dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> Result<Server> {
        let addr = procs::free_addr()?;
        let admin = procs::free_addr()?;
        let mut args: Vec<String> = [
            "serve",
            "--kubeconfig",
            &cluster.kubeconfig().display().to_string(),
            "--auth",
            "none",
            "--listen",
            &addr.to_string(),
            "--admin-listen",
            &admin.to_string(),
        ]
        .map(str::to_owned)
        .into();
        args.extend(extra.iter().map(|a| a.to_string()));
        Ok(Server::spawn(
            name,
            &self.product,
            &args,
            dir.join(format!("{name}.log")),
            addr,
            Some(admin),
        )?)
    }

    /// The product, ready.
    async fn ready_product(
        &self,
        cluster: &Cluster,
        dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> Result<Server> {
        let mut server = self.start_product(cluster, dir, name, extra)?;
        server.wait_ready(Duration::from_secs(120)).await?;
        Ok(server)
    }

    async fn floor(&self, dir: &Path) -> Result<Server> {
        let addr = procs::free_addr()?;
        let args = ["floor".to_owned(), "--listen".to_owned(), addr.to_string()];
        let mut server =
            Server::spawn("floor", &self.me, &args, dir.join("floor.log"), addr, None)?;
        server.wait_ready(Duration::from_secs(30)).await?;
        Ok(server)
    }

    /// moto's server, or None when it is not installed.
    async fn moto(&self, dir: &Path) -> Result<Option<Server>> {
        let Some(moto) = &self.moto else {
            return Ok(None);
        };
        let addr = procs::free_addr()?;
        let args = ["-H", "127.0.0.1", "-p", &addr.port().to_string()].map(str::to_owned);
        let mut server = Server::spawn("moto", moto, &args, dir.join("moto.log"), addr, None)?;
        server.wait_ready(Duration::from_secs(60)).await?;
        Ok(Some(server))
    }
}

/// A TerminateJob or CancelJob body.
fn terminate_body(job_id: &str) -> Bytes {
    Bytes::from(json!({"jobId": job_id, "reason": REASON}).to_string())
}

/// One TerminateJob (or CancelJob, by `path`) of each job, in order.
fn terminate_each(addr: SocketAddr, path: &str, jobs: &[JobRef]) -> Target {
    Target {
        addr,
        path: path.to_owned(),
        headers: Vec::new(),
        bodies: Bodies::Each(std::sync::Arc::new(
            jobs.iter().map(|j| terminate_body(&j.id)).collect(),
        )),
    }
}

/// One POST that must answer 200; its JSON body.
async fn post_ok(addr: SocketAddr, path: &str, body: Bytes) -> Result<Value> {
    let (status, answer) = loadgen::post_once(addr, path, &[], body).await?;
    if status != Some(200) {
        return Err(Error::Check(format!(
            "POST {path} answered {status:?}: {}",
            String::from_utf8_lossy(&answer)
        )));
    }
    serde_json::from_slice(&answer).map_err(|e| {
        Error::Check(format!(
            "POST {path} answered something other than JSON: {e}"
        ))
    })
}

/// Polls DescribeJobs until every job of `jobs` has `status`.
async fn wait_described(
    addr: SocketAddr,
    jobs: &[JobRef],
    status: &str,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let mut matching = 0;
        for chunk in jobs.chunks(100) {
            let ids: Vec<&str> = chunk.iter().map(|j| j.id.as_str()).collect();
            let body = Bytes::from(json!({ "jobs": ids }).to_string());
            let answer = post_ok(addr, "/v1/describejobs", body).await?;
            matching += answer["jobs"]
                .as_array()
                .map(|jobs| jobs.iter().filter(|j| j["status"] == status).count())
                .unwrap_or(0);
        }
        if matching == jobs.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout {
                what: format!(
                    "{} jobs described as {status} ({matching} were)",
                    jobs.len()
                ),
                waited: within,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls until `count` pods of `namespace` are Running.
async fn wait_running_pods(
    cluster: &Cluster,
    namespace: &str,
    count: usize,
    within: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let running = cluster.running_pods(namespace);
        if running >= count {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(Error::Timeout {
                what: format!("{count} pods Running in {namespace} ({running} were)"),
                waited: within,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn records() -> Gvr {
    Gvr::new("batch-terminator.dev", "v1alpha1", "jobterminations")
}

/// Which jobs of `namespace` are done: their record Completed, and, for a termination, the
/// Job Failed with no pod left; for a cancel, the Job deleted.
fn finished(cluster: &Cluster, namespace: &str, cancel: bool) -> Vec<String> {
    let completed: Vec<String> = cluster
        .list(&records(), namespace)
        .iter()
        .filter(|r| r["status"]["phase"] == "Completed")
        .filter_map(|r| r["spec"]["jobName"].as_str().map(str::to_owned))
        .collect();
    let jobs: HashMap<String, Value> = cluster
        .list(&Gvr::jobs(), namespace)
        .into_iter()
        .filter_map(|j| Some((j["metadata"]["name"].as_str()?.to_owned(), j)))
        .collect();
    let mut pods_of: HashMap<String, usize> = HashMap::new();
    for pod in cluster.list(&Gvr::pods(), namespace) {
        for owner in pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(name) = owner["name"].as_str() {
                *pods_of.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    completed
        .into_iter()
        .filter(|name| match (cancel, jobs.get(name)) {
            (true, job) => job.is_none(),
            (false, None) => false,
            (false, Some(job)) => {
                let failed = job["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Failed" && c["status"] == "True");
                failed && pods_of.get(name).copied().unwrap_or(0) == 0
            }
        })
        .collect()
}

/// Polls [`finished`] every `every` until all of `jobs` are done or `within` has passed; when
/// each job was first seen done.
async fn wait_finished(
    cluster: &Cluster,
    jobs: &[JobRef],
    cancel: bool,
    every: Duration,
    within: Duration,
) -> BTreeMap<String, Instant> {
    let namespace = jobs
        .first()
        .map(|j| j.namespace.clone())
        .unwrap_or_default();
    let deadline = Instant::now() + within;
    let mut done = BTreeMap::new();
    while done.len() < jobs.len() && Instant::now() < deadline {
        let now = Instant::now();
        for name in finished(cluster, &namespace, cancel) {
            done.entry(name).or_insert(now);
        }
        tokio::time::sleep(every).await;
    }
    done
}

/// Who does the work of a run: the service's CPU, this process's (kubesim and the load
/// generator: what the service waits on when kubesim is the bound), and the requests kubesim
/// served. Started with [`Usage::start`], read with [`Usage::figures`].
struct Usage {
    started: Instant,
    service: Duration,
    service_wait: Duration,
    bench: Duration,
}

impl Usage {
    /// Clears kubesim's request log and notes the CPU times so far.
    fn start(product: &Server, cluster: &Cluster) -> Result<Usage> {
        cluster.clear_requests();
        Ok(Usage {
            started: Instant::now(),
            service: product.cpu()?,
            service_wait: product.cpu_wait()?,
            bench: procs::own_cpu()?,
        })
    }

    /// The CPU cores each used since [`Usage::start`], and kubesim's request rate.
    fn figures(
        &self,
        scenario: &'static str,
        product: &Server,
        cluster: &Cluster,
    ) -> Result<Vec<Figure>> {
        let wall = self.started.elapsed().as_secs_f64();
        let cores =
            |used: Duration, before: Duration| used.saturating_sub(before).as_secs_f64() / wall;
        let machine = std::thread::available_parallelism().map_or(0, |n| n.get());
        Ok(vec![
            Figure::new(scenario, "service CPU over the run", cores(product.cpu()?, self.service), "cores")
                .note(format!("{scenario}: CPU in cores of the {machine} this machine has, shared with whatever else runs on it")),
            Figure::new(
                scenario,
                "kubesim + load generator CPU over the run",
                cores(procs::own_cpu()?, self.bench),
                "cores",
            ),
            Figure::new(
                scenario,
                "service threads waiting for a CPU, per CPU second used",
                product.cpu_wait()?.saturating_sub(self.service_wait).as_secs_f64()
                    / product.cpu()?.saturating_sub(self.service).as_secs_f64().max(1e-3),
                "s/s",
            ),
            Figure::new(
                scenario,
                "kubesim requests served",
                cluster.requests().len() as f64 / wall,
                "/s",
            ),
        ])
    }
}

/// A duration in milliseconds, the unit of latency figures.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The scenarios by name, in the order they run.
pub const ALL: [&str; 5] = ["P1", "P2", "P3", "P4", "P5"];

/// Runs one scenario by name; its figures go into `report`.
pub async fn run(name: &str, bench: &Bench, report: &mut Report) -> Result<()> {
    match name {
        "P1" => p1::run(bench, report).await,
        "P2" => p2::run(bench, report).await,
        "P3" => p3::run(bench, report).await,
        "P4" => p4::run(bench, report).await,
        "P5" => p5::run(bench, report).await,
        other => Err(Error::Check(format!("no scenario {other}"))),
    }
}
