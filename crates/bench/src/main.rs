//! `bench`: batch-terminator's benchmark, side by side with an HTTP floor and moto.
//!
//! `scripts/bench.sh` builds the release binaries and runs this. It drives the product only
//! through its binary and HTTP, against kubesim in this process, and prints one table: each
//! figure, its goal, pass or short. `bench floor` is the floor server it spawns.
#![forbid(unsafe_code)]

mod cluster;
mod floor;
mod loadgen;
mod procs;
mod report;
mod scenarios;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use report::{Figure, Report};
use scenarios::Bench;

/// batch-terminator's benchmark: scenarios P1 to P5, side by side with the floor and moto.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A reduced run (under two minutes): fewer Jobs, shorter measurements.
    #[arg(long)]
    quick: bool,
    /// The batch-terminator binary to measure.
    #[arg(long, default_value = "target/release/batch-terminator")]
    product: PathBuf,
    /// moto's server; moto is skipped with a note when the file does not exist.
    #[arg(long, default_value = ".venv/bin/moto_server")]
    moto: PathBuf,
    /// Where report.json, the plots and the scratch files go (default target/bench, or
    /// target/bench/quick with --quick).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only these scenarios (comma-separated, e.g. P1,P4).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the floor: read the body, check it is JSON, answer 200 `{}`.
    Floor {
        #[arg(long)]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Floor { listen }) = cli.command {
        return floor::serve(listen).await.context("serving the floor");
    }
    let out = cli.out.clone().unwrap_or_else(|| match cli.quick {
        true => PathBuf::from("target/bench/quick"),
        false => PathBuf::from("target/bench"),
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bench = Bench {
        quick: cli.quick,
        product: cli.product.clone(),
        moto: cli.moto.exists().then(|| cli.moto.clone()),
        me: std::env::current_exe().context("finding this binary")?,
        out: out.clone(),
    };
    anyhow::ensure!(
        bench.product.exists(),
        "{} does not exist: build it (scripts/bench.sh does)",
        bench.product.display()
    );
    let mut report = Report {
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        machine: machine(),
        quick: cli.quick,
        ..Report::default()
    };
    report.notes.push(
        "the service runs with --auth none (no SigV4 verification) and the default INFO logging, its log in a file"
            .to_owned(),
    );
    for name in scenarios::ALL {
        if !cli.only.is_empty() && !cli.only.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            continue;
        }
        eprintln!("bench: {name}");
        if let Err(error) = scenarios::run(name, &bench, &mut report).await {
            let chain = format!("{:#}", anyhow::Error::from(error));
            eprintln!("bench: {name} failed: {chain}");
            report.figures.push(Figure::missing(
                name,
                "scenario failed",
                "",
                format!("{name} failed: {chain}"),
            ));
        }
        // After each scenario, so a run cut short keeps what it measured.
        report.write(&out).context("writing the report")?;
    }
    print!("{}", report.table());
    report.write(&out).context("writing the report")?;
    println!("report: {}", out.join("report.json").display());
    let missing: Vec<&str> = report
        .figures
        .iter()
        .filter(|f| f.value.is_none() && !f.name.contains("moto"))
        .map(|f| f.scenario)
        .collect();
    anyhow::ensure!(missing.is_empty(), "figures missing from {missing:?}");
    Ok(())
}

/// "N cores, <CPU model>" from /proc/cpuinfo.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    format!("{cores} cores, {model}")
}
