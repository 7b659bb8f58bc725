//! The cluster the product runs against: kubesim, in this process. Objects are written to
//! its store directly (no HTTP), so setting up 100k Jobs costs the bench little and kubesim's
//! request log holds only the product's calls.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kubesim::{Gvr, RequestRecord};
use serde_json::{Value, json};

/// The label that gives a Job its Batch job ID.
const JOB_ID_LABEL: &str = "batch-terminator.dev/job-id";
/// The label that puts a Job in a Batch job queue.
const JOB_QUEUE_LABEL: &str = "batch-terminator.dev/job-queue";
/// The node the pods written directly are bound to (without the control plane, no Node
/// object is needed: the service reads only the pod's `spec.nodeName`).
const NODE: &str = "kubesim-node-0";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("starting kubesim")]
    Start(#[source] kubesim::Error),
    #[error("kubesim time scale")]
    TimeScale(#[source] kubesim::sim::clock::Error),
    #[error("kubesim refused {what}")]
    Store {
        what: String,
        #[source]
        source: kubesim::status::Error,
    },
    #[error("running `{command}`")]
    Command {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    CommandFailed { command: String, stderr: String },
    #[error("parsing the CRD that `batch-terminator crd` printed")]
    Crd(#[source] serde_yaml::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the simulated cluster runs.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Run kubesim's Job controller, scheduler and kubelet. Off, pods are written Running
    /// directly and nothing moves unless the product moves it.
    pub control_plane: bool,
    pub nodes: usize,
    /// kubesim's time scale: 0.01 makes its one-second start delay 10 ms.
    pub time_scale: f64,
}

impl Shape {
    /// No control plane: the pods are written Running and only the service moves anything.
    pub fn bare() -> Shape {
        Shape {
            control_plane: false,
            nodes: 1,
            time_scale: 1.0,
        }
    }

    /// kubesim's control plane on `nodes` nodes, at 0.01 of real time.
    pub fn simulated(nodes: usize) -> Shape {
        Shape {
            control_plane: true,
            nodes,
            time_scale: 0.01,
        }
    }
}

/// A running kubesim and its kubeconfig file.
pub struct Cluster {
    sim: kubesim::Handle,
    kubeconfig: PathBuf,
    control_plane: bool,
}

/// One Job and the Batch job ID it answers to.
#[derive(Clone, Debug)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub id: String,
}

impl Cluster {
    /// Starts kubesim, writes its kubeconfig into `dir` and installs the product's CRD, as
    /// printed by `product crd`.
    pub async fn start(shape: Shape, dir: &Path, product: &Path) -> Result<Cluster> {
        let scale = kubesim::sim::TimeScale::new(shape.time_scale).map_err(Error::TimeScale)?;
        let config = kubesim::Config::default()
            .control_plane(shape.control_plane)
            .time_scale(scale)
            .nodes(kubesim::sim::NodeConfig::numbered(
                shape.nodes.max(1),
                &Default::default(),
            ))
            // Big enough that a slow watcher is not sent back to relist during a run.
            .event_log_capacity(100_000)
            .request_log_capacity(1_000_000);
        let sim = kubesim::start(config).await.map_err(Error::Start)?;
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).map_err(Error::Start)?;
        let cluster = Cluster {
            sim,
            kubeconfig,
            control_plane: shape.control_plane,
        };
        cluster.install_crd(product)?;
        Ok(cluster)
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn install_crd(&self, product: &Path) -> Result<()> {
        // The JobTermination CRD only: the bench submits nothing (`crd` alone prints every CRD).
        let command = format!(
            "{} crd --name jobterminations.batch-terminator.dev",
            product.display()
        );
        let output = std::process::Command::new(product)
            .args(["crd", "--name", "jobterminations.batch-terminator.dev"])
            .output()
            .map_err(|source| Error::Command {
                command: command.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(Error::CommandFailed {
                command,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let crd: Value = serde_yaml::from_slice(&output.stdout).map_err(Error::Crd)?;
        self.create(&Gvr::crds(), None, crd).map(drop)
    }

    fn create(&self, gvr: &Gvr, namespace: Option<&str>, object: Value) -> Result<Value> {
        self.sim
            .store()
            .create(gvr, namespace, object)
            .map_err(|source| Error::Store {
                what: format!("creating a {}", gvr.resource),
                source,
            })
    }

    pub fn create_namespace(&self, name: &str) -> Result<()> {
        self.create(
            &Gvr::namespaces(),
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .map(drop)
    }

    /// Creates `count` Jobs `job-0`, `job-1`, ... in `namespace` and queue `queue`, with job IDs
    /// `<namespace>-job-<n>`. With the control plane off, each gets one Running pod written
    /// directly; with it on, kubesim starts them.
    pub fn create_jobs(&self, namespace: &str, queue: &str, count: usize) -> Result<Vec<JobRef>> {
        self.create_job_set(namespace, queue, count, false)
    }

    /// Creates `count` suspended Jobs `queued-0`, ... (RUNNABLE, no pods), IDs
    /// `<namespace>-queued-<n>`.
    pub fn create_suspended_jobs(
        &self,
        namespace: &str,
        queue: &str,
        count: usize,
    ) -> Result<Vec<JobRef>> {
        self.create_job_set(namespace, queue, count, true)
    }

    fn create_job_set(
        &self,
        namespace: &str,
        queue: &str,
        count: usize,
        suspended: bool,
    ) -> Result<Vec<JobRef>> {
        let prefix = if suspended { "queued" } else { "job" };
        (0..count)
            .map(|n| {
                let name = format!("{prefix}-{n}");
                let job = JobRef {
                    namespace: namespace.to_owned(),
                    id: format!("{namespace}-{name}"),
                    name,
                };
                let object = job_object(&job, queue, suspended);
                let created = self.create(&Gvr::jobs(), Some(namespace), object)?;
                if !self.control_plane && !suspended {
                    self.create_running_pod(&job, &created)?;
                }
                Ok(job)
            })
            .collect()
    }

    fn create_running_pod(&self, job: &JobRef, created: &Value) -> Result<()> {
        let uid = created["metadata"]["uid"].as_str().unwrap_or_default();
        let name = format!("{}-pod", job.name);
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": job.namespace,
                "labels": {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": job.name,
                    "controller-uid": uid, "job-name": job.name,
                },
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "Job", "name": job.name, "uid": uid,
                    "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "nodeName": NODE, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
            },
        });
        self.create(&Gvr::pods(), Some(&job.namespace), pod)?;
        let now = kubesim::store::now_rfc3339();
        self.sim
            .store()
            .mutate_status(&Gvr::pods(), Some(&job.namespace), &name, |pod| {
                pod["status"] = json!({
                    "phase": "Running", "startTime": now, "hostIP": "10.0.0.1", "podIP": "10.1.0.1",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                    "containerStatuses": [{
                        "name": "main", "image": "busybox:1.36", "imageID": "", "ready": true,
                        "restartCount": 0, "started": true,
                        "state": {"running": {"startedAt": now}},
                    }],
                });
                Ok(())
            })
            .map(drop)
            .map_err(|source| Error::Store {
                what: format!("marking pod {name} Running"),
                source,
            })
    }

    /// How many pods in `namespace` are Running.
    pub fn running_pods(&self, namespace: &str) -> usize {
        self.list(&Gvr::pods(), namespace)
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count()
    }

    /// Every object of `gvr` in `namespace` (none when the list fails).
    pub fn list(&self, gvr: &Gvr, namespace: &str) -> Vec<Value> {
        let options = kubesim::store::ListOptions {
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        };
        self.sim
            .store()
            .list(gvr, &options)
            .map(|l| l.items)
            .unwrap_or_default()
    }

    /// The requests the API server has served since the last [`Cluster::clear_requests`].
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.sim.requests()
    }

    pub fn clear_requests(&self) {
        self.sim.clear_requests()
    }

    pub async fn shutdown(self) {
        // Watches end with the server; give the product no time to notice before it is killed.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.sim.shutdown()).await;
    }
}

fn job_object(job: &JobRef, queue: &str, suspended: bool) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job.name, "namespace": job.namespace,
            "labels": {JOB_ID_LABEL: job.id, JOB_QUEUE_LABEL: queue},
        },
        "spec": {
            "backoffLimit": 0,
            "suspend": suspended,
            "template": {
                "spec": {
                    "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
                },
            },
        },
    })
}
