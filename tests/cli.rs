//! The binary's command line: the committed CRD matches the Rust types, and flags read env vars.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_batch-terminator");
/// Each CRD's committed file, named after the CRD.
const CRDS: &[&str] = &[
    "jobterminations.batch-terminator.dev",
    "jobdefinitions.batch-terminator.dev",
];

/// Runs the binary with no inherited BATCH_TERMINATOR_* variables, plus `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("BATCH_TERMINATOR_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("running batch-terminator")
}

#[test]
fn committed_crds_match_the_rust_types() {
    let mut all = Vec::new();
    for name in CRDS {
        let output = run(&["crd", "--name", name], &[]);
        assert!(output.status.success(), "{output:?}");
        let generated = String::from_utf8(output.stdout).unwrap();
        let path = format!("charts/batch-terminator/crds/{name}.yaml");
        let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&path);
        let committed = std::fs::read_to_string(&committed_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", committed_path.display()));
        assert!(
            generated == committed,
            "{path} has drifted from the Rust types in crates/k8s/src. Regenerate it with:\n\n    \
             cargo run -q -- crd --name {name} > {path}\n"
        );
        all.push(generated);
    }
    let output = run(&["crd"], &[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), all.join("---\n"));
    let output = run(&["crd", "--name", "nothing.example"], &[]);
    assert!(!output.status.success(), "an unknown CRD name fails");
}

#[test]
fn serve_flags_read_env_vars() {
    // An invalid value that can only have come from the environment is rejected by name.
    let output = run(&["serve"], &[("BATCH_TERMINATOR_LISTEN", "not-an-address")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not-an-address"), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");

    let output = run(
        &["serve"],
        &[("BATCH_TERMINATOR_RECORD_RETENTION", "forever")],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--record-retention"));

    // --sim-kubeconfig requires --sim, from the environment as from the command line.
    #[cfg(feature = "sim")]
    {
        let output = run(
            &["serve"],
            &[("BATCH_TERMINATOR_SIM_KUBECONFIG", "/tmp/never-written")],
        );
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("--sim"));
    }
}

#[test]
fn help_documents_every_env_var() {
    let output = run(&["serve", "--help"], &[]);
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8(output.stdout).unwrap();
    let mut vars = vec![
        "BATCH_TERMINATOR_LISTEN",
        "BATCH_TERMINATOR_ADMIN_LISTEN",
        "BATCH_TERMINATOR_KUBECONFIG",
        "BATCH_TERMINATOR_NAMESPACES",
        "BATCH_TERMINATOR_RECORD_RETENTION",
        "BATCH_TERMINATOR_LOG",
        "BATCH_TERMINATOR_CREDENTIALS_FILE",
    ];
    if cfg!(feature = "sim") {
        vars.push("BATCH_TERMINATOR_SIM_KUBECONFIG");
    }
    for var in vars {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from\n{help}"
        );
    }
}

#[test]
fn an_invalid_log_filter_fails_with_its_cause() {
    let output = run(&["serve", "--log-filter", "batch_terminator=loud"], &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid log filter"), "{stderr}");
    assert!(
        stderr.contains("Caused by"),
        "the error chain is printed: {stderr}"
    );
}

#[test]
fn committed_openapi_document_matches_the_rust_types() {
    const PATH: &str = "docs/openapi.json";
    let output = run(&["openapi"], &[]);
    assert!(output.status.success(), "{output:?}");
    let generated = String::from_utf8(output.stdout).unwrap();
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
    let committed = std::fs::read_to_string(&committed_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", committed_path.display()));
    assert!(
        generated == committed,
        "{PATH} has drifted from the request and response types in crates/api and crates/core. \
         Regenerate it with:\n\n    cargo run -q -- openapi > {PATH}\n"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.0.3");
}
