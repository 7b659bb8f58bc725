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
    /// Start the simulated control plane (Job controller, scheduler, kubelet).
    #[arg(long, env = "KUBESIM_CONTROL_PLANE")]
    control_plane: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = kubesim::Config::default()
        .listen(args.listen)
        .event_log_capacity(args.event_log_capacity)
        .control_plane(args.control_plane);
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
}
