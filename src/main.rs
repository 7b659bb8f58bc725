//! The `batch-terminator` binary: parses the command line and calls into the library.

use std::io::Write;

use anyhow::Context;
use batch_terminator::config::{Cli, Command, LogFormat};
use batch_terminator::{api, legacy, serve, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd(crd) => {
            let yaml = serve::crds_yaml(crd.name.as_deref()).context("rendering the CRDs")?;
            std::io::stdout()
                .write_all(yaml.as_bytes())
                .context("writing the CRD to stdout")?;
        }
        Command::OpenApi => {
            std::io::stdout()
                .write_all(api::openapi::document_json().as_bytes())
                .context("writing the OpenAPI document to stdout")?;
        }
        Command::Serve(args) => {
            // Held until the end, so the last lines are written out.
            let _log = telemetry::init(args.log_format, &args.log_filter)?;
            serve::run(args).await?;
        }
        Command::ReleaseLegacyFinalizers(args) => {
            let _log = telemetry::init(LogFormat::Text, &args.log_filter)?;
            let client = serve::client_for(&args.cluster).await?;
            let done = legacy::release_legacy_finalizers(&client, &args.cluster.namespaces)
                .await
                .context("releasing the pods held by the attempt finalizer")?;
            tracing::info!(
                released = done.released.len(),
                gone = done.gone,
                "no pod carries the attempt finalizer any more"
            );
        }
    }
    Ok(())
}
