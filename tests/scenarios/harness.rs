//! The environment a scenario runs in: a cluster (kubesim in-process, or an external one such as
//! kind), the service, and one fresh namespace per test.
//!
//! With `BT_E2E_KUBECONFIG` and `BT_E2E_ENDPOINT` set, the scenarios run against that cluster and
//! that already running service, installed by the chart with the values of tests/e2e (its
//! `queues:` from tests/e2e/queues.json): tests/e2e/kind.sh (kind) and tests/e2e/external.sh
//! (the kubesim and batch-terminator binaries) set them, with `BT_E2E_DEFINITION_NAMESPACE`
//! (the release namespace, where job definitions live) and the chart's SigV4 key in
//! `BT_E2E_ACCESS_KEY_ID` and `BT_E2E_SECRET_ACCESS_KEY`, which sign every request. The
//! scenarios that cannot run so are listed, with the reason, in tests/e2e/kubesim-only.txt.
//! Otherwise each test starts its own kubesim with its control plane, installs the CRD and runs
//! the service in-process.

use std::future::Future;
use std::time::{Duration, SystemTime};

pub use batch_terminator::serve::Settings;
use batch_terminator::serve::{Server, install_crd};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
pub use test_support::{eventually_within, settings};

/// Label on every namespace a test creates, for cleanup of leftovers.
pub const TEST_LABEL: &str = "batch-terminator.dev/test";

/// The region the service presents itself as (the chart's default), which requests are
/// signed for.
pub const REGION: &str = "us-east-1";

/// The job queues the e2e scripts give the chart (`queues:`); in-process services of the
/// submit scenarios get the same.
pub const QUEUES_JSON: &str = include_str!("../e2e/queues.json");

/// The time scale of the scenarios' kubesim (tests/e2e/external.sh passes the same).
pub const TIME_SCALE: f64 = 0.01;

/// A SigV4 access key.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// The external cluster and service, when the environment names them.
struct External {
    kubeconfig: String,
    endpoint: String,
    definition_namespace: String,
    key: Option<Key>,
}

fn external() -> Option<External> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (kubeconfig, endpoint) = (var("BT_E2E_KUBECONFIG")?, var("BT_E2E_ENDPOINT")?);
    let key = match (var("BT_E2E_ACCESS_KEY_ID"), var("BT_E2E_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some(Key { id, secret }),
        (None, None) => None,
        _ => panic!("set both BT_E2E_ACCESS_KEY_ID and BT_E2E_SECRET_ACCESS_KEY, or neither"),
    };
    Some(External {
        kubeconfig,
        endpoint,
        definition_namespace: var("BT_E2E_DEFINITION_NAMESPACE")
            .expect("BT_E2E_DEFINITION_NAMESPACE: the release namespace, with the definitions"),
        key,
    })
}

/// Whether the scenarios run against an external cluster and service.
pub fn is_external() -> bool {
    external().is_some()
}

/// The shell script of a container that exits with `code` after `seconds` of kubesim's clock,
/// as the pod annotations `kubesim.dev/exit-after` and `kubesim.dev/exit-code` make kubesim's
/// kubelet do: `sleep S; exit CODE`, S being as long in real time (rounded up to whole
/// seconds), for a real kubelet, which ignores the annotations. SIGTERM ends it with 143, as
/// in kubesim (a shell that is PID 1 would ignore it).
pub fn exit_script(seconds: f64, code: i32) -> String {
    let real = (seconds * TIME_SCALE).ceil().max(1.0);
    format!("trap 'exit 143' TERM; sleep {real} & wait; exit {code}")
}

/// How long a wait polls before it fails: real pods (kind) start and stop in seconds, and the
/// Job controller waits 10 s and more between retries.
fn deadline() -> Duration {
    if is_external() {
        Duration::from_secs(180)
    } else {
        test_support::DEADLINE
    }
}

/// Polls `check` until it returns Some, or panics with `what` after [`deadline`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(deadline(), what, check).await
}

/// A new test namespace's name.
pub fn fresh_namespace() -> String {
    format!(
        "bt-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub struct Env {
    pub client: Client,
    pub endpoint: String,
    pub ns: String,
    /// Where job definitions live: the test's namespace in-process, the release namespace of
    /// an external service.
    pub definitions_ns: String,
    /// The key requests are signed with (an external service's); none in-process.
    pub key: Option<Key>,
    pub http: reqwest::Client,
    pub sim: Option<kubesim::Handle>,
    pub server: Option<Server>,
}

pub fn sim_config() -> kubesim::Config {
    kubesim::Config::default()
        .control_plane(true)
        .time_scale(kubesim::sim::clock::TimeScale::new(TIME_SCALE).expect("time scale"))
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
        Self::start_in(fresh_namespace(), config, settings_for).await
    }

    /// [`Env::start_with_settings`] in the namespace `ns`, which must not exist yet.
    pub async fn start_in(
        ns: String,
        config: kubesim::Config,
        settings_for: impl FnOnce(&str) -> Settings,
    ) -> Env {
        let http = reqwest::Client::new();
        let (client, endpoint, definitions_ns, key, sim, server) = match external() {
            Some(external) => {
                let kc =
                    kube::config::Kubeconfig::read_from(&external.kubeconfig).expect("kubeconfig");
                let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .expect("kube config");
                let client = Client::try_from(cfg).expect("client");
                let namespace = external.definition_namespace;
                (
                    client,
                    external.endpoint,
                    namespace,
                    external.key,
                    None,
                    None,
                )
            }
            None => {
                let sim = kubesim::start(config).await.expect("kubesim starts");
                let client = sim_client(&sim);
                install_crd(&client).await.expect("CRD installs");
                let settings = settings_for(&ns);
                let definitions_ns = settings.service.job_definition_namespace.clone();
                let server = Server::start(service_client(&sim), settings)
                    .await
                    .expect("service starts");
                let url = server.api_url();
                (client, url, definitions_ns, None, Some(sim), Some(server))
            }
        };
        let env = Env {
            client,
            endpoint,
            ns,
            definitions_ns,
            key,
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

    /// Creates a Job running `busybox` with the given extra pod annotations and spec fields: it
    /// runs for an hour, or exits as `kubesim.dev/exit-after` and `kubesim.dev/exit-code` say
    /// (see [`exit_script`]).
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
        let command = match pod_annotations["kubesim.dev/exit-after"].as_str() {
            Some(seconds) => {
                let code = pod_annotations["kubesim.dev/exit-code"]
                    .as_str()
                    .map_or(0, |c| c.parse().expect("exit code"));
                let script = exit_script(seconds.parse().expect("exit-after seconds"), code);
                json!(["sh", "-c", script])
            }
            None => json!(["sh", "-c", exit_script(360_000.0, 0)]),
        };
        let mut spec = json!({
            "backoffLimit": 3,
            "template": {
                "metadata": {"annotations": pod_annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "main", "image": "busybox", "command": command}]
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
        self.post_with(path, body, &[]).await
    }

    /// [`Env::post`] with these extra headers.
    pub async fn post_with(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        test_support::send(self.request(path, body, headers)).await
    }

    /// A POST of `body` to `path`, signed with the environment's key when it has one.
    pub fn request(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.endpoint);
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let mut request = self.http.post(&url).body(body.to_owned());
        for (name, value) in &all {
            request = request.header(*name, *value);
        }
        let Some(key) = &self.key else {
            return request;
        };
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let parsed = reqwest::Url::parse(&url).expect("endpoint URL");
        let host = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().expect("host")),
            None => parsed.host_str().expect("host").to_owned(),
        };
        all.push(("host", &host));
        let identity =
            aws_credential_types::Credentials::new(&key.id, &key.secret, None, None, "e2e").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("batch")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing parameters")
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            all.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable request");
        let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        request
    }

    /// An `aws-sdk-batch` client for the service, signing with the environment's key (any key
    /// in-process, where the service checks none); `configure` as for [`sdk_client`].
    pub fn sdk(
        &self,
        configure: impl FnOnce(aws_sdk_batch::config::Builder) -> aws_sdk_batch::config::Builder,
    ) -> aws_sdk_batch::Client {
        let (id, secret) = match &self.key {
            Some(key) => (key.id.as_str(), key.secret.as_str()),
            None => ("AKIDEXAMPLE", "secret"),
        };
        sdk_client(self, id, secret, configure)
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
        let body = json!({"jobs": [job_id]}).to_string();
        test_support::first_job(self.post("/v1/describejobs", &body).await, false)
    }

    /// Waits until DescribeJobs shows the job with this status.
    pub async fn wait_described(&self, job_id: &str, status: &str) -> Value {
        self.wait_described_with(job_id, status, |_| true).await
    }

    /// [`Env::wait_described`] until `settled` holds too. A job's final state comes from the
    /// Job watch and its attempts from the pod watch, which may lag it: a test that reads the
    /// attempts of a finished job waits for them.
    pub async fn wait_described_with(
        &self,
        job_id: &str,
        status: &str,
        settled: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(
            &format!("DescribeJobs to show {job_id} as {status}, settled"),
            || async {
                self.describe(job_id)
                    .await
                    .filter(|d| d["status"] == status && settled(d))
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
        .region(aws_sdk_batch::config::Region::new(REGION))
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
