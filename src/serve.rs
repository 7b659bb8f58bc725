//! `batch-terminator serve`: wires the caches, the controller, the AWS API and the admin server.
//! Placeholder until the wiring lands.

/// PLACEHOLDER (added for main.rs by the config/telemetry helper): returns at once.
/// The lead replaces it with the real wiring and its own `serve::Error`.
pub async fn run(_args: crate::config::ServeArgs) -> Result<(), std::io::Error> {
    Ok(())
}
