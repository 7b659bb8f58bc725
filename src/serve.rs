//! `batch-terminator serve`: wires the caches, the controller, the AWS API and the admin server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::admin::{self, Readiness};
use crate::auth::{Auth, Credentials};
use crate::config::{AuthMode, ClusterArgs, ServeArgs};
use crate::controller::lease::LeaseSettings;
use crate::controller::{self, Context};
use crate::definition::JobDefinition;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::record::JobTermination;
use crate::service::{KubeJobService, ServiceSettings};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

pub mod http;
pub mod tls;

pub use http::ConnectionLimits;
pub use tls::TlsFiles;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("loading the Kubernetes client configuration: {0}")]
    KubeConfig(#[source] kube::config::KubeconfigError),
    #[error("inferring the Kubernetes client configuration: {0}")]
    InferConfig(#[source] kube::config::InferConfigError),
    #[error("building the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "sim")]
    #[error("the embedded kubesim cluster: {0}")]
    Sim(#[source] kubesim::Error),
    #[cfg(feature = "sim")]
    #[error("the embedded kubesim cluster's URL: {0}")]
    SimUrl(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[cfg(feature = "sim")]
    #[error("creating the demo jobs: {0}")]
    Demo(#[source] kube::Error),
    #[cfg(feature = "sim")]
    #[error("installing the JobTermination CRD into the embedded cluster: {0}")]
    InstallCrd(#[source] kube::Error),
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
    #[error(
        "--auth sigv4 (the default without --sim) needs --credentials-file \
         (BATCH_TERMINATOR_CREDENTIALS_FILE); pass --auth none to run without authentication"
    )]
    CredentialsFileRequired,
    #[error("loading the credentials: {0}")]
    Credentials(#[source] crate::auth::credentials::Error),
    #[error("TLS: {0}")]
    Tls(#[source] tls::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a running service needs besides its client.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// Namespaces watched; empty means all.
    pub namespaces: Vec<String>,
    pub record_retention: Duration,
    pub service: ServiceSettings,
    pub shutdown_timeout: Duration,
    /// How API requests are authenticated. `Debug` shows no secret.
    pub auth: Auth,
    /// What the API takes on at once, and how long a request may take.
    pub limits: crate::api::Limits,
    /// Limits on connections to either port.
    pub connections: ConnectionLimits,
    /// Serve the API over TLS with these files.
    pub tls: Option<TlsFiles>,
    /// With a Lease, only its holder's controller acts (every replica serves the API).
    /// Without, this process always acts.
    pub leader_election: Option<LeaseSettings>,
}

impl Settings {
    /// Reads the credentials file when --auth is sigv4.
    pub fn from_args(args: &ServeArgs) -> Result<Self> {
        let auth = match args.auth_mode() {
            AuthMode::None => Auth::None,
            AuthMode::Sigv4 => {
                let path = args
                    .credentials_file
                    .as_deref()
                    .ok_or(Error::CredentialsFileRequired)?;
                Auth::sigv4(
                    Credentials::load(path).map_err(Error::Credentials)?,
                    &args.region,
                )
            }
        };
        Ok(Settings {
            listen: args.listen,
            admin_listen: args.admin_listen,
            namespaces: args.cluster.namespaces.clone(),
            record_retention: args.record_retention,
            service: ServiceSettings {
                region: args.region.clone(),
                account_id: args.account_id.clone(),
                strict_unknown_jobs: args.strict_unknown_jobs,
                queues: args.job_queues.clone(),
                job_definition_namespace: args.job_definition_namespace.clone(),
            },
            shutdown_timeout: args.shutdown_timeout,
            auth,
            limits: crate::api::Limits {
                max_concurrent_requests: args.max_concurrent_requests,
                request_timeout: args.request_timeout,
                body_timeout: args.body_timeout,
            },
            connections: ConnectionLimits {
                max_connections: args.max_connections,
                header_read_timeout: args.header_read_timeout,
            },
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                // clap requires both or neither.
                _ => None,
            },
            leader_election: args.lease_namespace.clone().map(|namespace| LeaseSettings {
                namespace,
                name: args.lease_name.clone(),
                // Pod names are unique in a cluster; the pid keeps two processes of one host
                // (the tests) apart.
                identity: format!("{}-{}", instance_name(), std::process::id()),
                duration: args.lease_duration,
            }),
        })
    }
}

/// A running service: the AWS API, the admin endpoints, the watches and the controller.
pub struct Server {
    api_addr: SocketAddr,
    admin_addr: SocketAddr,
    index: Index,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    shutdown_timeout: Duration,
    tls: bool,
}

fn local_url(scheme: &str, mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("{scheme}://{addr}")
}

async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

fn instance_name() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "batch-terminator".into())
}

impl Server {
    /// Binds both listeners and starts everything; readiness follows the caches' first sync.
    pub async fn start(client: Client, settings: Settings) -> Result<Server> {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let registry = Arc::new(registry);
        let readiness = Readiness::new();
        let (shutdown, shutdown_rx) = watch::channel(false);

        let index = Index::new();
        let (trigger_tx, trigger_rx) = mpsc::unbounded_channel();
        let mut tasks = index.spawn_watches(client.clone(), &settings.namespaces, trigger_tx);

        // Ready while every watch is listed and running (a forbidden namespace aside).
        let ready = readiness.clone();
        let health = index.clone();
        tasks.push(tokio::spawn(async move {
            let mut changes = health.health_changes();
            loop {
                match health.is_ready() {
                    true if !ready.is_ready() => {
                        tracing::info!("caches synced; ready");
                        ready.set_ready();
                    }
                    false if ready.is_ready() => {
                        tracing::warn!("a watch is failing; not ready until it has listed again");
                        ready.set_not_ready();
                    }
                    true | false => {}
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }));

        let ctx = Arc::new(Context::new(
            client.clone(),
            index.clone(),
            metrics.clone(),
            settings.record_retention,
            instance_name(),
        ));
        let (leader_tx, leader_rx) = watch::channel(settings.leader_election.is_none());
        if let Some(lease) = settings.leader_election.clone() {
            tasks.push(tokio::spawn(controller::lease::elect(
                client.clone(),
                lease,
                leader_tx,
                shutdown_rx.clone(),
            )));
        } else {
            // Without an election this process always leads; the sender lives as long as it.
            tasks.push(tokio::spawn(async move {
                leader_tx.closed().await;
            }));
        }
        tasks.push(tokio::spawn(controller::run(
            ctx,
            trigger_rx,
            leader_rx,
            shutdown_rx.clone(),
        )));

        let service = Arc::new(KubeJobService::new(
            client,
            index.clone(),
            settings.service.clone(),
        ));
        let tls = settings
            .tls
            .clone()
            .map(tls::acceptor)
            .transpose()
            .map_err(Error::Tls)?;
        let api_listener = bind(settings.listen).await?;
        let admin_listener = bind(settings.admin_listen).await?;
        let api_addr = api_listener.local_addr().map_err(Error::Serve)?;
        let admin_addr = admin_listener.local_addr().map_err(Error::Serve)?;

        let api = crate::api::router(service, settings.auth.clone(), settings.limits).layer(
            axum::middleware::from_fn_with_state(metrics.clone(), track_request),
        );
        let admin = admin::router(readiness, registry);
        let serves_tls = tls.is_some();
        let servers = vec![
            tokio::spawn(http::serve(
                api_listener,
                api,
                settings.connections,
                tls,
                shutdown_rx.clone(),
            )),
            tokio::spawn(http::serve(
                admin_listener,
                admin,
                settings.connections,
                None,
                shutdown_rx,
            )),
        ];
        tracing::info!(%api_addr, %admin_addr, tls = serves_tls, "serving");
        Ok(Server {
            api_addr,
            admin_addr,
            index,
            shutdown,
            tasks,
            servers,
            shutdown_timeout: settings.shutdown_timeout,
            tls: serves_tls,
        })
    }

    /// The AWS API's base URL, e.g. `http://127.0.0.1:8080` (loopback when bound to all
    /// addresses, so the URL can be used as it is; `https` with TLS).
    pub fn api_url(&self) -> String {
        local_url(if self.tls { "https" } else { "http" }, self.api_addr)
    }

    pub fn admin_url(&self) -> String {
        local_url("http", self.admin_addr)
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Serves until `stop` resolves, then shuts down.
    pub async fn serve_until(self, stop: impl std::future::Future<Output = ()>) {
        stop.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Stops accepting requests, lets in-flight ones finish (up to the shutdown timeout), then
    /// stops the controller and the watches.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let drain = futures::future::join_all(std::mem::take(&mut self.servers));
        if tokio::time::timeout(self.shutdown_timeout, drain)
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within the shutdown timeout");
        }
        // Dropping aborts the controller and the watches.
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for server in &self.servers {
            server.abort();
        }
    }
}

/// Counts and times every API request by operation and AWS error code.
async fn track_request(
    axum::extract::State(metrics): axum::extract::State<Metrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let operation = response
        .extensions()
        .get::<crate::api::Operation>()
        .copied()
        .unwrap_or(crate::api::Operation::Unknown);
    let code = response
        .extensions()
        .get::<crate::api::AwsErrorCode>()
        .copied();
    metrics.api.observe(operation, code, started.elapsed());
    response
}

/// The User-Agent of every request to the API server.
pub const USER_AGENT: &str = concat!("batch-terminator/", env!("CARGO_PKG_VERSION"));

/// A client for the cluster the flags name.
pub async fn client_for(args: &ClusterArgs) -> Result<Client> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let mut config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig =
                kube::config::Kubeconfig::read_from(path).map_err(Error::KubeConfig)?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(Error::KubeConfig)?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(Error::KubeConfig)?,
        None => kube::Config::infer().await.map_err(Error::InferConfig)?,
    };
    // Names this program in the API server's audit log.
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    Client::try_from(config).map_err(Error::Client)
}

/// The product's CRDs: JobTermination and JobDefinition.
pub fn crds() -> Vec<CustomResourceDefinition> {
    use kube::CustomResourceExt;
    vec![JobTermination::crd(), JobDefinition::crd()]
}

type RenderCrd = fn() -> Result<String, serde_yaml::Error>;

/// The CRDs as YAML documents (`batch-terminator crd`), or only the one named `name`.
pub fn crds_yaml(name: Option<&str>) -> Result<String, CrdError> {
    let rendered: [(&str, RenderCrd); 2] = [
        (
            "jobterminations.batch-terminator.dev",
            crate::record::crd_yaml,
        ),
        (
            "jobdefinitions.batch-terminator.dev",
            crate::definition::crd_yaml,
        ),
    ];
    let docs = rendered
        .iter()
        .filter(|(crd, _)| name.is_none_or(|n| n == *crd))
        .map(|(_, yaml)| yaml().map_err(CrdError::Yaml))
        .collect::<Result<Vec<_>, _>>()?;
    if docs.is_empty() {
        return Err(CrdError::Unknown(name.unwrap_or_default().to_owned()));
    }
    Ok(docs.join("---\n"))
}

#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("no CRD is named {0:?}")]
    Unknown(String),
    #[error("rendering a CRD: {0}")]
    Yaml(#[source] serde_yaml::Error),
}

/// Installs (or updates) the CRDs with server-side apply.
pub async fn install_crd(client: &Client) -> Result<(), kube::Error> {
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(controller::FIELD_MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await?;
    }
    Ok(())
}

/// Listens for SIGTERM and Ctrl-C from the moment it is called (so a signal that arrives during
/// start-up is not lost) and returns a future that resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (term, int) => {
                    let error = term.err().or(int.err());
                    tracing::warn!(?error, "cannot listen for signals; falling back to Ctrl-C");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(args: ServeArgs) -> Result<()> {
    let stop = shutdown_signal();
    let settings = Settings::from_args(&args)?;
    match &settings.auth {
        Auth::None => tracing::warn!(
            "no authentication (--auth none): anyone who reaches the API port can terminate jobs"
        ),
        Auth::SigV4 { credentials, .. } => {
            tracing::info!(access_keys = credentials.len(), "SigV4 authentication on")
        }
    }
    #[cfg(feature = "sim")]
    if args.sim {
        return crate::demo::serve(&args, settings, stop).await;
    }
    let client = client_for(&args.cluster).await?;
    Server::start(client, settings)
        .await?
        .serve_until(stop)
        .await;
    Ok(())
}
