//! `batch-terminator serve`: wires the caches, the controller, the AWS API and the admin server.
//! Placeholder until the wiring lands.
