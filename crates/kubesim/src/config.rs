//! Server configuration: a builder-style struct with defaults, open for additions.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::rbac::AuthConfig;
use crate::sim::{NodeConfig, SimConfig, TimeScale};
use crate::store::Store;

/// A background task started with the server (simulated controllers). It gets the store and a
/// shutdown signal that turns `true` when the server stops.
pub type BackgroundTask = Arc<
    dyn Fn(Store, tokio::sync::watch::Receiver<bool>) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How many store events a watch can replay from (older resourceVersions get 410 Expired).
    pub event_log_capacity: usize,
    /// How many requests the request log keeps (oldest dropped first).
    pub request_log_capacity: usize,
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Start the simulated control plane (Job controller, scheduler, kubelet) with the server.
    /// The flag is read by the control-plane work (`crate::sim`); the core server ignores it.
    pub control_plane: bool,
    /// Settings of the simulated control plane: time scale, nodes, Event TTL, start delay.
    pub sim: SimConfig,
    /// Seed of the fault injection engine (no faults until rules are set).
    pub fault_seed: u64,
    /// Bearer-token authentication and RBAC; None (the default) serves everyone.
    pub auth: Option<AuthConfig>,
    /// Extra background tasks started with the server.
    pub background: Vec<BackgroundTask>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            event_log_capacity: 10_000,
            request_log_capacity: 100_000,
            bookmark_interval: Duration::from_secs(30),
            control_plane: false,
            sim: SimConfig::default(),
            fault_seed: 0,
            auth: None,
            background: Vec::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("event_log_capacity", &self.event_log_capacity)
            .field("request_log_capacity", &self.request_log_capacity)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("control_plane", &self.control_plane)
            .field("sim", &self.sim)
            .field("fault_seed", &self.fault_seed)
            .field("auth", &self.auth.is_some())
            .field("background", &self.background.len())
            .finish()
    }
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn event_log_capacity(mut self, n: usize) -> Self {
        self.event_log_capacity = n.max(1);
        self
    }

    pub fn request_log_capacity(mut self, n: usize) -> Self {
        self.request_log_capacity = n.max(1);
        self
    }

    pub fn bookmark_interval(mut self, d: Duration) -> Self {
        self.bookmark_interval = d;
        self
    }

    pub fn control_plane(mut self, on: bool) -> Self {
        self.control_plane = on;
        self
    }

    pub fn sim(mut self, sim: SimConfig) -> Self {
        self.sim = sim;
        self
    }

    pub fn time_scale(mut self, scale: TimeScale) -> Self {
        self.sim.time_scale = scale;
        self
    }

    pub fn nodes(mut self, nodes: Vec<NodeConfig>) -> Self {
        self.sim.nodes = nodes;
        self
    }

    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.sim.event_ttl = ttl;
        self
    }

    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.fault_seed = seed;
        self
    }

    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Adds a background task, started with the server and told to stop at shutdown.
    pub fn background<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Store, tokio::sync::watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push(Arc::new(move |store, stop| Box::pin(f(store, stop))));
        self
    }
}
