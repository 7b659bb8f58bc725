//! The servers under test, each in its own process: the product (`batch-terminator serve`),
//! the floor (`bench floor`) and moto (`moto_server`). Killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("starting {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("finding a free port")]
    Port(#[source] std::io::Error),
    #[error("{name} exited before it was ready ({status}); its output is in {log}")]
    Exited {
        name: String,
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("{name} was not ready within {waited:?}; its output is in {log}")]
    NotReady {
        name: String,
        waited: Duration,
        log: String,
    },
    #[error("reading the memory or CPU time of process {pid}")]
    Proc {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::Port)?;
    listener.local_addr().map_err(Error::Port)
}

/// A server process under test.
pub struct Server {
    name: String,
    child: Child,
    log: PathBuf,
    /// Where it serves the API.
    pub addr: SocketAddr,
    /// Where it answers `/readyz` (the product's admin port), if anywhere.
    pub admin: Option<SocketAddr>,
}

impl Server {
    /// Starts `program args...` with its output in `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        addr: SocketAddr,
        admin: Option<SocketAddr>,
    ) -> Result<Server> {
        let command = format!("{} {}", program.display(), args.join(" "));
        let spawn_error = |source| Error::Spawn {
            command: command.clone(),
            source,
        };
        let out = std::fs::File::create(&log).map_err(spawn_error)?;
        let err = out.try_clone().map_err(spawn_error)?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        Ok(Server {
            name: name.to_owned(),
            child,
            log,
            addr,
            admin,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    /// Waits until the server is ready: `/readyz` answers 200 on its admin port, or, without
    /// one, its API port accepts connections. Returns how long that took from now.
    pub async fn wait_ready(&mut self, within: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let ready = match self.admin {
                Some(admin) => get_status(admin, "/readyz").await == Some(200),
                None => TcpStream::connect(self.addr).await.is_ok(),
            };
            if ready {
                return Ok(start.elapsed());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if start.elapsed() > within {
                return Err(Error::NotReady {
                    name: self.name.clone(),
                    waited: within,
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Resident memory now, in bytes (`VmRSS`).
    pub fn rss(&self) -> Result<u64> {
        self.status_kib("VmRSS:").map(|kib| kib * 1024)
    }

    /// Time the process's threads have spent runnable but waiting for a CPU, so far: what a
    /// machine shared with other work costs it.
    pub fn cpu_wait(&self) -> Result<Duration> {
        let pid = self.pid();
        let error = |source| Error::Proc { pid, source };
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(error)?;
        let mut waited = 0u64;
        for task in tasks.flatten() {
            // schedstat: time on a CPU, time waiting on a run queue (ns), timeslices.
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            waited += text
                .split_whitespace()
                .nth(1)
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok(Duration::from_nanos(waited))
    }

    /// CPU time the process has used so far, user and system, all threads.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_of(&self.pid().to_string())
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        let pid = self.pid();
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|source| Error::Proc { pid, source })?;
        text.lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| Error::Proc {
                pid,
                source: std::io::Error::other(format!("no {field} in /proc/{pid}/status")),
            })
    }

    /// Kills the process and waits for it; its log file is removed (a run at full speed logs
    /// hundreds of megabytes).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_file(&self.log);
    }
}

/// CPU time this process (the bench: kubesim and the load generator) has used so far.
pub fn own_cpu() -> Result<Duration> {
    cpu_of("self")
}

/// Clock ticks per second of `/proc/*/stat` (`USER_HZ`: 100 on every Linux the bench runs on).
const TICKS_PER_SECOND: u64 = 100;

/// utime + stime of `/proc/<pid>/stat`, fields 14 and 15 (after the parenthesised command).
fn cpu_of(pid: &str) -> Result<Duration> {
    let pid_number = pid.parse().unwrap_or(std::process::id());
    let error = |source| Error::Proc {
        pid: pid_number,
        source,
    };
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(error)?;
    let ticks: Option<u64> = text.rsplit_once(')').and_then(|(_, rest)| {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12.
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    });
    let ticks = ticks.ok_or_else(|| error(std::io::Error::other("unreadable stat")))?;
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// The status of `GET path`, or None when the server cannot be reached.
pub async fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let stream = TcpStream::connect(addr).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}
