//! Command line and environment configuration.
//!
//! Every `serve` flag also reads an environment variable named `BATCH_TERMINATOR_<FLAG>`, so the
//! chart can pass values either way. There are no exceptions to the prefix: `KUBECONFIG` is still
//! honoured, but through kube's own inference when `--kubeconfig` is unset, because it may hold
//! a colon-separated list that a single path flag cannot represent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::batch::{QueueConfig, Queues};

/// An AWS Batch compatible HTTP API in front of Kubernetes Jobs.
#[derive(Parser, Clone, Debug)]
#[command(name = "batch-terminator", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at startup, so boxing ServeArgs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Run the AWS Batch API, the controller and the admin server.
    Serve(ServeArgs),
    /// Print the CustomResourceDefinitions (JobTermination, JobDefinition) as YAML.
    Crd(CrdArgs),
    /// Print the OpenAPI 3 document of the HTTP API as JSON.
    #[command(name = "openapi")]
    OpenApi,
    /// Remove, once, the `batch-terminator.dev/attempt` finalizer that versions before 0.2 put
    /// on pods, from every pod of the namespaces (the chart's post-upgrade hook runs this).
    /// Exits 1 when a pod could not be released.
    ReleaseLegacyFinalizers(ReleaseArgs),
}

/// Which cluster, and which of its namespaces.
#[derive(Args, Clone, Debug)]
pub struct ClusterArgs {
    /// Path of a kubeconfig file. When unset, kube infers the configuration: $KUBECONFIG,
    /// then ~/.kube/config, then the in-cluster service account.
    #[arg(long, env = "BATCH_TERMINATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, env = "BATCH_TERMINATOR_CONTEXT")]
    pub context: Option<String>,

    /// Namespaces to watch, comma-separated. Empty watches all namespaces.
    #[arg(long, env = "BATCH_TERMINATOR_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
}

#[derive(Args, Clone, Debug)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Log filter in RUST_LOG syntax.
    #[arg(long, env = "BATCH_TERMINATOR_LOG", default_value = "info")]
    pub log_filter: String,
}

#[derive(Args, Clone, Debug)]
pub struct CrdArgs {
    /// Print only this CRD (e.g. jobdefinitions.batch-terminator.dev); all of them otherwise.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address of the AWS Batch API.
    #[arg(long, env = "BATCH_TERMINATOR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Address of the admin server: /livez, /readyz and /metrics.
    #[arg(
        long,
        env = "BATCH_TERMINATOR_ADMIN_LISTEN",
        default_value = "0.0.0.0:8081"
    )]
    pub admin_listen: SocketAddr,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// How long a JobTermination record is kept once its Job is gone or finished
    /// (e.g. 24h, 90m, 7d).
    #[arg(long, env = "BATCH_TERMINATOR_RECORD_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub record_retention: Duration,

    /// AWS region this endpoint presents itself as (e.g. in job ARNs).
    #[arg(long, env = "BATCH_TERMINATOR_REGION", default_value = "us-east-1")]
    pub region: String,

    /// AWS account ID (12 digits) this endpoint presents itself as (e.g. in job ARNs).
    #[arg(long, env = "BATCH_TERMINATOR_ACCOUNT_ID", default_value = "000000000000", value_parser = parse_account_id)]
    pub account_id: String,

    /// Log output format.
    #[arg(long, env = "BATCH_TERMINATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in RUST_LOG syntax, e.g. `info,batch_terminator=debug`.
    #[arg(long, env = "BATCH_TERMINATOR_LOG", default_value = "info")]
    pub log_filter: String,

    /// How long to wait for in-flight requests and reconciles on SIGTERM (e.g. 10s).
    #[arg(long, env = "BATCH_TERMINATOR_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// Elect one acting controller among the replicas through a coordination.k8s.io Lease in
    /// this namespace (the chart passes its own). Unset: this process always acts, so run one
    /// replica only.
    #[arg(long, env = "BATCH_TERMINATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// The Lease's name.
    #[arg(
        long,
        env = "BATCH_TERMINATOR_LEASE_NAME",
        default_value = "batch-terminator"
    )]
    pub lease_name: String,

    /// How long a Lease holds without renewal: a replica takes over about this long after
    /// the leader dies.
    #[arg(long, env = "BATCH_TERMINATOR_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,

    /// Answer ClientException for unknown job IDs, instead of 200 as AWS Batch does.
    #[arg(long, env = "BATCH_TERMINATOR_STRICT_UNKNOWN_JOBS")]
    pub strict_unknown_jobs: bool,

    /// The job queues, as a JSON list of {name, namespace, kueueLocalQueue?, priority?,
    /// state?} (the chart's `queues:`). SubmitJob to another name uses the namespace of that
    /// name; DescribeJobQueues lists these.
    #[arg(long, env = "BATCH_TERMINATOR_JOB_QUEUES", default_value = "[]", value_parser = parse_queues)]
    pub job_queues: Queues,

    /// The namespace of the JobDefinition objects (RegisterJobDefinition's revisions).
    #[arg(
        long,
        env = "BATCH_TERMINATOR_JOB_DEFINITION_NAMESPACE",
        default_value = "default"
    )]
    pub job_definition_namespace: String,

    /// Run against an embedded in-memory Kubernetes API server (kubesim), for a demo without a
    /// cluster.
    #[cfg(feature = "sim")]
    #[arg(long, env = "BATCH_TERMINATOR_SIM")]
    pub sim: bool,

    /// With --sim: write the embedded cluster's kubeconfig to this path, for kubectl.
    #[cfg(feature = "sim")]
    #[arg(long, env = "BATCH_TERMINATOR_SIM_KUBECONFIG", requires = "sim")]
    pub sim_kubeconfig: Option<PathBuf>,

    /// How API requests are authenticated: `sigv4` (AWS Signature Version 4, keys from
    /// --credentials-file) or `none` (anyone who reaches the port may do anything). Default:
    /// sigv4, or none with --sim.
    #[arg(long, env = "BATCH_TERMINATOR_AUTH", value_enum)]
    pub auth: Option<AuthMode>,

    /// With --auth sigv4: a YAML (or JSON) file mapping access key IDs to their secret and
    /// the namespaces and operations they may use (see the README).
    #[arg(long, env = "BATCH_TERMINATOR_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Serve the API over HTTPS with this PEM certificate chain (with --tls-key). The files
    /// are read again when they change, so a rotated certificate needs no restart.
    #[arg(long, env = "BATCH_TERMINATOR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "BATCH_TERMINATOR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// API requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, env = "BATCH_TERMINATOR_MAX_CONCURRENT_REQUESTS", default_value_t = 256, value_parser = parse_positive)]
    pub max_concurrent_requests: usize,

    /// Open connections at once, per port; further clients wait until one closes.
    #[arg(long, env = "BATCH_TERMINATOR_MAX_CONNECTIONS", default_value_t = 1024, value_parser = parse_positive)]
    pub max_connections: usize,

    /// The longest a client may take to send a request's head (and the TLS handshake).
    #[arg(long, env = "BATCH_TERMINATOR_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// The longest wait for the next part of a request body (408 after it).
    #[arg(long, env = "BATCH_TERMINATOR_BODY_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,

    /// The longest a request may take, body and handler included (408 after it).
    #[arg(long, env = "BATCH_TERMINATOR_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
}

/// How API requests are authenticated.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication (the demo).
    None,
    /// AWS Signature Version 4.
    Sigv4,
}

impl ServeArgs {
    /// --auth, or its default: sigv4, except for the --sim demo.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth.unwrap_or(if self.is_demo() {
            AuthMode::None
        } else {
            AuthMode::Sigv4
        })
    }

    /// Whether this is the --sim demo (a build without the `sim` feature has no demo).
    pub fn is_demo(&self) -> bool {
        #[cfg(feature = "sim")]
        return self.sim;
        #[cfg(not(feature = "sim"))]
        false
    }
}

/// How log lines are written.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the enclosing spans flattened into it.
    Json,
}

fn parse_positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a whole number of at least 1".to_owned()),
    }
}

fn parse_queues(value: &str) -> Result<Queues, String> {
    let configs: Vec<QueueConfig> = serde_json::from_str(value)
        .map_err(|e| format!("a JSON list of {{name, namespace, ...}}: {e}"))?;
    Queues::new(configs).map_err(|e| e.to_string())
}

fn parse_account_id(value: &str) -> Result<String, String> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("an AWS account ID is exactly 12 digits".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let argv = ["batch-terminator", "serve"].iter().chain(args).copied();
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(args) => Ok(args),
            Command::Crd(_) | Command::OpenApi | Command::ReleaseLegacyFinalizers(_) => {
                panic!("parsed serve as another command")
            }
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    // These assume the test process has no BATCH_TERMINATOR_* variables set.
    #[test]
    fn defaults() {
        let args = serve(&[]).unwrap();
        assert_eq!(args.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(args.admin_listen, "0.0.0.0:8081".parse().unwrap());
        assert_eq!(args.cluster.kubeconfig, None);
        assert_eq!(args.cluster.context, None);
        assert!(args.cluster.namespaces.is_empty());
        assert_eq!(args.record_retention, Duration::from_secs(24 * 3600));
        assert_eq!(args.region, "us-east-1");
        assert_eq!(args.account_id, "000000000000");
        assert_eq!(args.log_format, LogFormat::Text);
        assert_eq!(args.log_filter, "info");
        assert_eq!(args.shutdown_timeout, Duration::from_secs(10));
        assert!(!args.strict_unknown_jobs);
        assert!(args.job_queues.is_empty());
        assert_eq!(args.job_definition_namespace, "default");
        assert!(!args.is_demo());
        assert_eq!(args.auth, None);
        assert_eq!(args.auth_mode(), AuthMode::Sigv4);
        assert_eq!(args.credentials_file, None);
        assert_eq!((args.tls_cert, args.tls_key), (None, None));
        assert_eq!(args.max_concurrent_requests, 256);
        assert_eq!(args.max_connections, 1024);
        assert_eq!(args.header_read_timeout, Duration::from_secs(10));
        assert_eq!(args.body_timeout, Duration::from_secs(10));
        assert_eq!(args.request_timeout, Duration::from_secs(30));
    }

    #[cfg(feature = "sim")]
    #[test]
    fn the_demo_flags() {
        let args = serve(&[]).unwrap();
        assert!(!args.sim);
        assert_eq!(args.sim_kubeconfig, None);
        let args = serve(&["--sim", "--sim-kubeconfig=/tmp/kc"]).unwrap();
        assert!(args.is_demo());
        assert_eq!(args.sim_kubeconfig, Some(PathBuf::from("/tmp/kc")));
        assert_eq!(args.auth_mode(), AuthMode::None);
        let args = serve(&["--sim", "--auth=sigv4"]).unwrap();
        assert_eq!(args.auth_mode(), AuthMode::Sigv4);
        // --sim-kubeconfig requires --sim.
        assert!(serve(&["--sim-kubeconfig=/tmp/kc"]).is_err());
    }

    #[cfg(not(feature = "sim"))]
    #[test]
    fn a_build_without_sim_has_no_demo_flags() {
        assert!(serve(&["--sim"]).is_err());
        assert!(serve(&["--sim-kubeconfig=/tmp/kc"]).is_err());
    }

    #[test]
    fn flags_override_defaults() {
        let args = serve(&[
            "--listen=127.0.0.1:9000",
            "--namespaces=a,b",
            "--namespaces",
            "c",
            "--record-retention=90m",
            "--shutdown-timeout=1m 30s",
            "--log-format=json",
            "--account-id=123456789012",
            "--strict-unknown-jobs",
            "--auth=sigv4",
            "--credentials-file=/etc/bt/credentials.yaml",
        ])
        .unwrap();
        assert_eq!(args.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(args.cluster.namespaces, ["a", "b", "c"]);
        assert_eq!(args.record_retention, Duration::from_secs(90 * 60));
        assert_eq!(args.shutdown_timeout, Duration::from_secs(90));
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.account_id, "123456789012");
        assert!(args.strict_unknown_jobs);
        assert_eq!(args.auth_mode(), AuthMode::Sigv4);
        assert_eq!(
            args.credentials_file,
            Some(PathBuf::from("/etc/bt/credentials.yaml"))
        );
        assert_eq!(serve(&["--auth=none"]).unwrap().auth_mode(), AuthMode::None);
        let args = serve(&[
            r#"--job-queues=[{"name":"high","namespace":"team-a","kueueLocalQueue":"lq"}]"#,
            "--job-definition-namespace=batch",
        ])
        .unwrap();
        assert_eq!(args.job_queues.get("high").unwrap().namespace, "team-a");
        assert_eq!(args.job_definition_namespace, "batch");
    }

    #[test]
    fn invalid_values_are_rejected() {
        for bad in [
            &["--record-retention=forever"][..],
            &["--account-id=12345"],
            &["--listen=localhost"],
            &["--log-format=yaml"],
            &["--auth=basic"],
            &["--tls-cert=/tmp/cert.pem"], // requires --tls-key
            &["--tls-key=/tmp/key.pem"],
            &["--max-concurrent-requests=0"],
            &["--max-connections=0"],
            &["--job-queues=not json"],
            &[r#"--job-queues=[{"name":"q","namespace":"Not_A_Namespace"}]"#],
            &[r#"--job-queues=[{"name":"q","namespace":"a"},{"name":"q","namespace":"b"}]"#],
        ] {
            assert!(serve(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn crd_subcommand_parses() {
        let cli = Cli::try_parse_from(["batch-terminator", "crd"]).unwrap();
        assert!(matches!(cli.command, Command::Crd(CrdArgs { name: None })));
    }

    #[test]
    fn every_serve_flag_is_documented_and_reads_a_prefixed_env_var() {
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        let mut seen = 0;
        for arg in serve.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            seen += 1;
            let env = arg
                .get_env()
                .unwrap_or_else(|| panic!("--{id} has no env var"))
                .to_str()
                .unwrap();
            let expected = format!("BATCH_TERMINATOR_{}", id.to_uppercase());
            // log_filter reads BATCH_TERMINATOR_LOG, the conventional short name.
            if id == "log_filter" {
                assert_eq!(env, "BATCH_TERMINATOR_LOG");
            } else {
                assert_eq!(env, expected, "--{id}");
            }
            assert!(arg.get_help().is_some(), "--{id} has no doc comment");
            assert!(arg.get_long().is_some(), "--{id} is not a long flag");
        }
        // --sim and --sim-kubeconfig exist only with the `sim` feature.
        let expected = if cfg!(feature = "sim") { 28 } else { 26 };
        assert_eq!(
            seen, expected,
            "a ServeArgs field was added or removed: update this test"
        );
    }
}
