//! The environment a scenario runs in: a cluster (kubesim in-process, or an external one such as
//! kind), the service, and one fresh namespace per test.
//!
//! With `BT_E2E_KUBECONFIG` and `BT_E2E_ENDPOINT` set, the scenarios run against that cluster and
//! that already running service (tests/e2e/kind.sh sets them). Otherwise each test starts its own
//! kubesim with its control plane, installs the CRD and runs the service in-process.

pub use batch_terminator::serve::Settings;
use batch_terminator::serve::{Server, install_crd};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
pub use test_support::{eventually, eventually_within, settings};

/// Label on every namespace a test creates, for cleanup of leftovers.
pub const TEST_LABEL: &str = "batch-terminator.dev/test";

pub struct Env {
    pub client: Client,
    pub endpoint: String,
    pub ns: String,
    pub http: reqwest::Client,
    pub sim: Option<kubesim::Handle>,
    pub server: Option<Server>,
}

pub fn sim_config() -> kubesim::Config {
    kubesim::Config::default()
        .control_plane(true)
        .time_scale(kubesim::sim::clock::TimeScale::new(0.01).expect("time scale"))
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(sim_config()).await
    }

    pub async fn start_with(config: kubesim::Config) -> Env {
        Self::start_with_settings(config, |_| settings()).await
    }

    /// Starts the service with the settings `settings_for(namespace)` gives for the test's
    /// namespace (e.g. credentials scoped to it). Not for an external service.
    pub async fn start_with_settings(
        config: kubesim::Config,
        settings_for: impl FnOnce(&str) -> Settings,
    ) -> Env {
        let http = reqwest::Client::new();
        let ns = format!(
            "bt-test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let external = (
            std::env::var("BT_E2E_KUBECONFIG").ok(),
            std::env::var("BT_E2E_ENDPOINT").ok(),
        );
        let (client, endpoint, sim, server) = match external {
            (Some(kubeconfig), Some(endpoint)) => {
                let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
                let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .expect("kube config");
                (Client::try_from(cfg).expect("client"), endpoint, None, None)
            }
            _ => {
                let sim = kubesim::start(config).await.expect("kubesim starts");
                let client = sim_client(&sim);
                install_crd(&client).await.expect("CRD installs");
                let server = Server::start(service_client(&sim), settings_for(&ns))
                    .await
                    .expect("service starts");
                (client, server.api_url(), Some(sim), Some(server))
            }
        };
        let env = Env {
            client,
            endpoint,
            ns,
            http,
            sim,
            server,
        };
        env.create_namespace(&env.ns).await;
        if let Some(server) = &env.server {
            let index = server.index().clone();
            eventually("the service's caches to sync", || {
                let synced = index.is_synced();
                async move { synced.then_some(()) }
            })
            .await;
        }
        env
    }

    /// The in-process kubesim (scenarios that inject faults need it).
    pub fn sim(&self) -> &kubesim::Handle {
        self.sim.as_ref().expect("this scenario needs kubesim")
    }

    pub fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates a namespace labelled for cleanup.
    pub async fn create_namespace(&self, name: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {TEST_LABEL: "true"}}
        }))
        .expect("namespace");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
    }

    /// Creates a Job running `busybox` with the given extra pod annotations and spec fields.
    pub async fn create_job(&self, name: &str, job_spec: Value, pod_annotations: Value) -> Job {
        self.create_job_in(&self.ns, name, json!({}), job_spec, pod_annotations)
            .await
    }

    /// [`Env::create_job`] in namespace `ns`, with these labels on the Job.
    pub async fn create_job_in(
        &self,
        ns: &str,
        name: &str,
        labels: Value,
        job_spec: Value,
        pod_annotations: Value,
    ) -> Job {
        let metadata = json!({"name": name, "namespace": ns, "labels": labels});
        self.create_job_with(metadata, job_spec, pod_annotations)
            .await
    }

    /// [`Env::create_job`] with this Job metadata (name, namespace, labels, annotations).
    pub async fn create_job_with(
        &self,
        metadata: Value,
        job_spec: Value,
        pod_annotations: Value,
    ) -> Job {
        let ns = metadata["namespace"]
            .as_str()
            .unwrap_or(&self.ns)
            .to_string();
        let mut spec = json!({
            "backoffLimit": 3,
            "template": {
                "metadata": {"annotations": pod_annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]
                }
            }
        });
        json_merge(&mut spec, job_spec);
        let job: Job = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": metadata,
            "spec": spec,
        }))
        .expect("job");
        Api::<Job>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &job)
            .await
            .expect("job created")
    }

    pub async fn job_pods(&self, job: &Job) -> Vec<Pod> {
        let selector = format!(
            "batch.kubernetes.io/controller-uid={}",
            job.uid().unwrap_or_default()
        );
        self.pods()
            .list(&ListParams::default().labels(&selector))
            .await
            .expect("pods list")
            .items
    }

    /// Waits until some pod of the Job is in phase `phase`.
    pub async fn wait_pod_phase(&self, job: &Job, phase: &str) -> Pod {
        eventually(
            &format!("a pod of {} in phase {phase}", job.name_any()),
            || async {
                self.job_pods(job).await.into_iter().find(|p| {
                    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase)
                        && p.metadata.deletion_timestamp.is_none()
                })
            },
        )
        .await
    }

    /// Waits until a pod of the Job runs and the service sees the job RUNNING: its caches lag
    /// the API server, and a job they have not seen yet is an unknown ID (200, nothing done).
    pub async fn wait_running(&self, job: &Job) -> Pod {
        let pod = self.wait_pod_phase(job, "Running").await;
        self.wait_described(&job.uid().expect("uid"), "RUNNING")
            .await;
        pod
    }

    /// Waits until every pod of the Job is terminating (its deletion requested) or gone.
    pub async fn wait_pods_terminating(&self, job: &Job) {
        eventually(
            &format!("the pods of {} to be terminating or gone", job.name_any()),
            || async {
                self.job_pods(job)
                    .await
                    .iter()
                    .all(|p| p.metadata.deletion_timestamp.is_some())
                    .then_some(())
            },
        )
        .await
    }

    /// Waits until the Job named `name` is gone.
    pub async fn wait_job_gone(&self, name: &str) {
        eventually(&format!("Job {name} to be deleted"), || async {
            let job = self.jobs().get_opt(name).await.expect("get job");
            job.is_none().then_some(())
        })
        .await
    }

    /// Waits until the Job has the condition `type_` True.
    pub async fn wait_condition(&self, name: &str, type_: &str) -> Job {
        eventually(&format!("Job {name} condition {type_}"), || async {
            let job = self.jobs().get_opt(name).await.expect("get job")?;
            let conds = job.status.as_ref()?.conditions.as_ref()?;
            conds
                .iter()
                .any(|c| c.type_ == type_ && c.status == "True")
                .then_some(job.clone())
        })
        .await
    }

    /// Events in the namespace regarding the Job named `name`, with this reason.
    pub async fn events_for(&self, name: &str, reason: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        events
            .list(&ListParams::default())
            .await
            .expect("events list")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect()
    }

    /// POSTs a JSON body to an operation path; returns status, error type header and body.
    pub async fn post(&self, path: &str, body: &str) -> (u16, Option<String>, Value) {
        test_support::post(&self.http, &format!("{}{path}", self.endpoint), body).await
    }

    pub async fn terminate(&self, job_id: &str, reason: &str) -> (u16, Value) {
        let body = json!({"jobId": job_id, "reason": reason}).to_string();
        let (status, _, body) = self.post("/v1/terminatejob", &body).await;
        (status, body)
    }

    pub async fn cancel(&self, job_id: &str, reason: &str) -> (u16, Value) {
        let body = json!({"jobId": job_id, "reason": reason}).to_string();
        let (status, _, body) = self.post("/v1/canceljob", &body).await;
        (status, body)
    }

    /// DescribeJobs for one ID: the JobDetail, or None when it is left out.
    pub async fn describe(&self, job_id: &str) -> Option<Value> {
        test_support::describe(&self.http, &self.endpoint, job_id).await
    }

    /// Waits until DescribeJobs shows the job with this status.
    pub async fn wait_described(&self, job_id: &str, status: &str) -> Value {
        eventually(
            &format!("DescribeJobs to show {job_id} as {status}"),
            || async {
                self.describe(job_id)
                    .await
                    .filter(|d| d["status"] == status)
            },
        )
        .await
    }
}

/// An `aws-sdk-batch` client for the service, signing with this key in us-east-1; `configure`
/// adds to its configuration (retries, timeouts, a clock).
pub fn sdk_client(
    env: &Env,
    key: &str,
    secret: &str,
    configure: impl FnOnce(aws_sdk_batch::config::Builder) -> aws_sdk_batch::config::Builder,
) -> aws_sdk_batch::Client {
    let config = aws_sdk_batch::Config::builder()
        .endpoint_url(&env.endpoint)
        .region(aws_sdk_batch::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            key, secret, None, None, "test",
        ))
        .behavior_version_latest();
    aws_sdk_batch::Client::from_conf(configure(config).build())
}

/// The error code and message of a failed `aws-sdk-batch` call, as the SDK surfaces them.
macro_rules! code_and_message {
    ($result:expr $(,)?) => {{
        let err = $result.expect_err("the call fails").into_service_error();
        (
            err.meta().code().unwrap_or_default().to_owned(),
            err.meta().message().unwrap_or_default().to_owned(),
        )
    }};
}
pub(crate) use code_and_message;

/// The User-Agent of the in-process service's requests, to tell them from the test's own.
pub const SERVICE_AGENT: &str = "batch-terminator-scenario-service";

/// A client for the in-process service, with [`SERVICE_AGENT`].
pub fn service_client(sim: &kubesim::Handle) -> Client {
    let mut config = kube::Config::new(sim.url().parse().expect("kubesim url"));
    config.headers.push((
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(SERVICE_AGENT),
    ));
    Client::try_from(config).expect("client")
}

pub fn sim_client(sim: &kubesim::Handle) -> Client {
    let config = kube::Config::new(sim.url().parse().expect("kubesim url"));
    Client::try_from(config).expect("client")
}

fn json_merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                json_merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}
