//! `kubesim`: runs the in-memory Kubernetes API server until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// An in-memory Kubernetes API server over real HTTP.
#[derive(Debug, Parser)]
#[command(name = "kubesim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "KUBESIM_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write a kubeconfig for the server to this path.
    #[arg(long, env = "KUBESIM_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// How many store events watches can replay from.
    #[arg(long, env = "KUBESIM_EVENT_LOG_CAPACITY", default_value_t = 10_000)]
    event_log_capacity: usize,
    /// Run the simulated control plane (Job controller, scheduler, kubelet, TTL controller,
    /// Event expiry); `--control-plane false` serves a plain API server.
    #[arg(long, env = "KUBESIM_CONTROL_PLANE", default_value_t = true, action = clap::ArgAction::Set)]
    control_plane: bool,
    /// Multiplies every delay and grace period of the simulation: 0.01 makes a 30 s grace
    /// period take 0.3 s. Timestamps stay real time.
    #[arg(long, env = "KUBESIM_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    /// How many simulated nodes (kubesim-node-0, kubesim-node-1, ...), all Ready.
    #[arg(long, env = "KUBESIM_NODES", default_value_t = 1)]
    nodes: usize,
    /// Extra labels on every simulated node, as key=value,key=value.
    #[arg(long, env = "KUBESIM_NODE_LABELS", default_value = "")]
    node_labels: String,
    /// How long Events live before they expire, in (simulated) seconds.
    #[arg(long, env = "KUBESIM_EVENT_TTL_SECONDS", default_value_t = 3600)]
    event_ttl_seconds: u64,
    /// Seconds (simulated) from binding a pod until its containers run.
    #[arg(long, env = "KUBESIM_START_DELAY_SECONDS", default_value_t = 1.0)]
    start_delay_seconds: f64,
    /// Seed of the fault injection engine (rules are set at /kubesim/faults).
    #[arg(long, env = "KUBESIM_SEED", default_value_t = 0)]
    seed: u64,
    /// Require bearer tokens and authorize requests with RBAC. The kubeconfig written carries
    /// the superuser (system:masters) token.
    #[arg(long, env = "KUBESIM_AUTH")]
    auth: bool,
    /// The superuser token when --auth is on (random when unset).
    #[arg(long, env = "KUBESIM_SUPERUSER_TOKEN")]
    superuser_token: Option<String>,
    /// With --auth, requests without a token act as the superuser. kubectl and helm never send
    /// tokens over plain HTTP; this lets them set things up while token clients are checked.
    #[arg(long, env = "KUBESIM_ANONYMOUS_SUPERUSER")]
    anonymous_superuser: bool,
    /// A static token file when --auth is on: lines of token,user[,group...].
    #[arg(long, env = "KUBESIM_TOKEN_AUTH_FILE")]
    token_auth_file: Option<PathBuf>,
}

impl Args {
    fn config(&self) -> anyhow::Result<kubesim::Config> {
        let labels = kubesim::sim::nodes::parse_labels(&self.node_labels)?;
        let sim = kubesim::sim::SimConfig {
            time_scale: kubesim::sim::TimeScale::new(self.time_scale)?,
            nodes: kubesim::sim::NodeConfig::numbered(self.nodes, &labels),
            event_ttl: std::time::Duration::from_secs(self.event_ttl_seconds),
            start_delay: std::time::Duration::try_from_secs_f64(self.start_delay_seconds)
                .context("--start-delay-seconds")?,
        };
        let mut config = kubesim::Config::default()
            .listen(self.listen)
            .event_log_capacity(self.event_log_capacity)
            .control_plane(self.control_plane)
            .sim(sim)
            .fault_seed(self.seed);
        if self.auth {
            let mut auth = kubesim::rbac::AuthConfig::default();
            if let Some(t) = &self.superuser_token {
                auth = auth.superuser_token(t.clone());
            }
            if self.anonymous_superuser {
                auth = auth.anonymous_user(kubesim::rbac::UserInfo::superuser());
            }
            if let Some(path) = &self.token_auth_file {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    let (token, user) = kubesim::rbac::parse_static_token(line)?;
                    auth = auth.token(token, user);
                }
            }
            config = config.auth(auth);
        }
        Ok(config)
    }
}

fn main() -> anyhow::Result<()> {
    kubesim::runtime()?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = args.config()?;
    let handle = kubesim::start(config).await.context("starting kubesim")?;
    if let Some(path) = &args.kubeconfig {
        handle
            .write_kubeconfig(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", handle.url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn args_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn flags_build_the_config() {
        let args = Args::parse_from([
            "kubesim",
            "--time-scale",
            "0.01",
            "--nodes",
            "2",
            "--node-labels",
            "zone=a",
            "--control-plane",
            "false",
            "--auth",
            "--superuser-token",
            "root",
            "--seed",
            "9",
        ]);
        let c = args.config().unwrap();
        assert!(!c.control_plane);
        assert_eq!(c.sim.time_scale.factor(), 0.01);
        assert_eq!(c.sim.nodes.len(), 2);
        assert_eq!(c.sim.nodes[1].labels["zone"], "a");
        assert_eq!(c.fault_seed, 9);
        assert_eq!(c.auth.unwrap().superuser_token.as_deref(), Some("root"));
        let d = Args::parse_from(["kubesim"]).config().unwrap();
        assert!(d.control_plane && d.auth.is_none());
        assert!(
            Args::parse_from(["kubesim", "--time-scale", "0"])
                .config()
                .is_err()
        );
    }
}
