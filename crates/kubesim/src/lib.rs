//! kubesim: an in-memory Kubernetes API server over real HTTP, with a simulated control plane.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kubesim::Error> {
//! let sim = kubesim::start(kubesim::Config::default()).await?;
//! println!("{}", sim.url());
//! let kubeconfig = sim.kubeconfig();
//! # let _ = kubeconfig;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod faults;
pub mod gc;
pub mod openapi;
pub mod patch;
pub mod rbac;
pub mod requestlog;
pub mod resources;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod sim;
pub mod status;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

pub use config::Config;
pub use requestlog::{RequestLog, RequestRecord};
pub use resources::Gvr;
pub use store::Store;

/// Errors of starting and running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("writing kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("serving")]
    Serve(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A running kubesim. Dropping it shuts the server down.
pub struct Handle {
    addr: SocketAddr,
    store: Store,
    requests: RequestLog,
    server: Option<JoinHandle<()>>,
    faults: Arc<faults::FaultEngine>,
    authenticator: Arc<rbac::Authenticator>,
    auth_enabled: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").field("addr", &self.addr).finish()
    }
}

/// Starts the API server (and the garbage collector, and `config.background` tasks).
pub async fn start(config: Config) -> Result<Handle> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let store = Store::new(config.event_log_capacity);
    let requests = RequestLog::new(config.request_log_capacity);
    // Feeds are taken before the tasks start, so they miss no write.
    tokio::spawn(gc::run(store.clone(), store.feed()));
    if config.control_plane {
        tokio::spawn(gc::pods::run(store.clone(), store.feed()));
        sim::runner::spawn(&store, config.sim.clone());
    }
    for task in &config.background {
        tokio::spawn(task(store.clone(), store.shutdown_signal()));
    }
    let app = server::router(store.clone(), requests.clone(), config.bookmark_interval);
    let faults = Arc::new(faults::FaultEngine::new(config.fault_seed));
    let auth = config.auth.clone().unwrap_or_default();
    let superuser = auth
        .superuser_token
        .unwrap_or_else(|| format!("kubesim-admin.{}", uuid::Uuid::new_v4().simple()));
    let authenticator = Arc::new(
        rbac::Authenticator::new(auth.static_tokens, superuser)
            .with_anonymous_user(auth.anonymous_user),
    );
    let auth_enabled = config.auth.is_some();
    if auth_enabled {
        access::seed_bootstrap_policy(&store);
    }
    let app = access::wrap(
        app,
        access::Access {
            store: store.clone(),
            requests: requests.clone(),
            faults: faults.clone(),
            auth: auth_enabled.then(|| authenticator.clone()),
        },
    );
    let mut stop = store.shutdown_signal();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "kubesim server stopped");
        }
    });
    tracing::info!(%addr, "kubesim listening");
    Ok(Handle {
        addr,
        store,
        requests,
        server: Some(server),
        faults,
        authenticator,
        auth_enabled,
    })
}

/// The runtime kubesim's binary and examples run on: multi-threaded, one worker per core and
/// at least two, so the control plane's loops and the API server run in parallel.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .max(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

/// A kubeconfig for `url`: cluster, user and context all named `kubesim`, no auth.
pub fn kubeconfig_for(url: &str) -> String {
    kubeconfig_with_token(url, None)
}

/// A kubeconfig for `url` whose user sends `token` as a bearer token (none when None).
pub fn kubeconfig_with_token(url: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(t) => format!("{{token: {}}}", serde_json::Value::from(t)),
        None => "{}".to_string(),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: {url}
users:
- name: kubesim
  user: {user}
contexts:
- name: kubesim
  context:
    cluster: kubesim
    user: kubesim
    namespace: default
current-context: kubesim
preferences: {{}}
"
    )
}

impl Handle {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig for the server; with authentication on, it carries the superuser token
    /// (kube-rs sends it over plain HTTP; client-go, and so kubectl and helm, does not: see
    /// `rbac::AuthConfig::anonymous_user`).
    pub fn kubeconfig(&self) -> String {
        kubeconfig_with_token(&self.url(), self.superuser_token())
    }

    /// A kubeconfig that authenticates with `token`.
    pub fn kubeconfig_for_token(&self, token: &str) -> String {
        kubeconfig_with_token(&self.url(), Some(token))
    }

    /// The fault injection engine (also reachable over HTTP at `/kubesim/faults`).
    pub fn faults(&self) -> &faults::FaultEngine {
        &self.faults
    }

    /// Whether authentication and RBAC are on.
    pub fn auth_enabled(&self) -> bool {
        self.auth_enabled
    }

    /// The `system:masters` token, when authentication is on.
    pub fn superuser_token(&self) -> Option<&str> {
        self.auth_enabled
            .then(|| self.authenticator.superuser_token())
    }

    /// Mints a bearer token for the ServiceAccount `namespace/name` (it need not exist; its
    /// permissions are whatever RBAC grants the account).
    pub fn token_for_service_account(&self, namespace: &str, name: &str) -> String {
        self.authenticator
            .mint_service_account_token(namespace, name)
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig()).map_err(|source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The store, for in-process controllers and assertions.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The requests served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.snapshot()
    }

    pub fn clear_requests(&self) {
        self.requests.clear()
    }

    /// Makes every resourceVersion seen so far too old: open watches end with a 410 ERROR.
    pub fn expire_watch_history(&self) {
        self.store.expire_watch_history()
    }

    /// Stops the server and waits for it to finish (watches end).
    pub async fn shutdown(mut self) {
        self.store.shutdown();
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.store.shutdown();
    }
}
