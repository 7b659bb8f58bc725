//! The load generator: HTTP/1.1 POSTs over keep-alive connections, closed or open loop, with
//! latencies in an HdrHistogram.
//!
//! Closed loop: each connection sends its next request as soon as the previous one is answered,
//! so the figure is the server's throughput at that concurrency. Open loop: requests are due at
//! a fixed rate whatever the server does, and each latency counts from when the request was due,
//! not from when it was sent (no coordinated omission).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connecting to {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP handshake with {addr}")]
    Handshake {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("building a request for {path}")]
    Request {
        path: String,
        #[source]
        source: hyper::http::Error,
    },
    #[error("a load task panicked")]
    Task(#[source] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to send: one path, fixed headers, and the bodies.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub bodies: Bodies,
}

/// The request bodies of a run.
#[derive(Clone, Debug)]
pub enum Bodies {
    /// The same body every time; the run lasts a duration.
    Fixed(Bytes),
    /// Each body is sent once, in order over all connections; the run ends when all are
    /// answered. [`Outcome::sent_at`] tells when each was sent.
    Each(Arc<Vec<Bytes>>),
}

/// How the load is offered.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Each connection sends as soon as its previous request is answered.
    Closed,
    /// Requests are due at `rate` per second over all connections.
    Open { rate: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub connections: usize,
    pub mode: Mode,
    /// How long a [`Bodies::Fixed`] run lasts (a [`Bodies::Each`] run ends when all are sent,
    /// or at this deadline).
    pub duration: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Requests answered with a 2xx.
    pub ok: u64,
    /// Requests answered otherwise, or lost with their connection.
    pub failed: u64,
    /// Count per HTTP status (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
    /// When the run started (its connections open).
    pub started: Instant,
    pub elapsed: Duration,
    /// Latency of every answered request, in microseconds.
    pub latency: Histogram<u64>,
    /// For [`Bodies::Each`]: when each body was sent, from the start of the run (None: it
    /// was not, the run ran out of time).
    pub sent_at: Vec<Option<Duration>>,
}

impl Outcome {
    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        (self.ok + self.failed) as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, 3 significant digits: the bounds are constants that HdrHistogram accepts.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| Error::Connect { addr, source })?;
        // Small requests: without NODELAY, Nagle's algorithm adds 40 ms to some of them.
        stream
            .set_nodelay(true)
            .map_err(|source| Error::Connect { addr, source })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| Error::Handshake { addr, source })?;
        tokio::spawn(connection);
        Ok(Connection { addr, sender })
    }

    /// Sends one request and reads the whole answer; its status, or None when the connection
    /// failed (it is then reopened). A connection the server closed after its last answer
    /// (`Connection: close`, as moto's server does) is reopened first, and that is no failure.
    async fn send(&mut self, request: hyper::Request<Full<Bytes>>) -> Result<Option<u16>> {
        if self.sender.ready().await.is_err() {
            *self = Connection::open(self.addr).await?;
        }
        let status = match self.sender.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.into_body().collect().await {
                    Ok(_) => Some(status),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        if status.is_none() {
            *self = Connection::open(self.addr).await?;
        }
        Ok(status)
    }
}

/// Runs `load` against `target` and measures it.
pub async fn run(target: &Target, load: Load) -> Result<Outcome> {
    let target = Arc::new(target.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let connections = load.connections.max(1);
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(target.addr).await?);
    }
    let start = Instant::now();
    let deadline = start + load.duration;
    let tasks: Vec<_> = opened
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let worker = Worker {
                target: target.clone(),
                next: next.clone(),
                start,
                deadline,
                schedule: match load.mode {
                    Mode::Closed => None,
                    // Connection i sends at start + i/rate, then every connections/rate.
                    Mode::Open { rate } => Some((
                        Duration::from_secs_f64(index as f64 / rate),
                        Duration::from_secs_f64(connections as f64 / rate),
                    )),
                },
            };
            tokio::spawn(worker.run(connection))
        })
        .collect();
    let mut outcome = Outcome {
        ok: 0,
        failed: 0,
        statuses: BTreeMap::new(),
        started: start,
        elapsed: Duration::ZERO,
        latency: histogram(),
        sent_at: match &target.bodies {
            Bodies::Fixed(_) => Vec::new(),
            Bodies::Each(bodies) => vec![None; bodies.len()],
        },
    };
    for task in tasks {
        let part = task.await.map_err(Error::Task)??;
        outcome.ok += part.ok;
        outcome.failed += part.failed;
        for (status, n) in part.statuses {
            *outcome.statuses.entry(status).or_default() += n;
        }
        outcome
            .latency
            .add(&part.latency)
            .expect("histograms of equal bounds add");
        for (index, at) in part.sent {
            outcome.sent_at[index] = Some(at);
        }
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

struct Worker {
    target: Arc<Target>,
    next: Arc<AtomicUsize>,
    start: Instant,
    deadline: Instant,
    /// Open loop: (offset of the first request, interval).
    schedule: Option<(Duration, Duration)>,
}

struct Part {
    ok: u64,
    failed: u64,
    statuses: BTreeMap<u16, u64>,
    latency: Histogram<u64>,
    sent: Vec<(usize, Duration)>,
}

impl Worker {
    fn request(&self, body: Bytes) -> Result<hyper::Request<Full<Bytes>>> {
        let mut builder = hyper::Request::post(self.target.path.as_str())
            .header(HOST, self.target.addr.to_string())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &self.target.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(body))
            .map_err(|source| Error::Request {
                path: self.target.path.clone(),
                source,
            })
    }

    async fn run(self, mut connection: Connection) -> Result<Part> {
        let mut part = Part {
            ok: 0,
            failed: 0,
            statuses: BTreeMap::new(),
            latency: histogram(),
            sent: Vec::new(),
        };
        let mut sent: u32 = 0;
        loop {
            let due = match self.schedule {
                None => Instant::now(),
                Some((offset, interval)) => self.start + offset + interval * sent,
            };
            if due >= self.deadline {
                break;
            }
            let (index, body) = match &self.target.bodies {
                Bodies::Fixed(body) => (None, body.clone()),
                Bodies::Each(bodies) => {
                    let index = self.next.fetch_add(1, Ordering::Relaxed);
                    match bodies.get(index) {
                        Some(body) => (Some(index), body.clone()),
                        None => break,
                    }
                }
            };
            tokio::time::sleep_until(due).await;
            let request = self.request(body)?;
            let status = connection.send(request).await?;
            let answered = Instant::now();
            sent += 1;
            let micros =
                u64::try_from(answered.duration_since(due).as_micros()).unwrap_or(u64::MAX);
            part.latency.saturating_record(micros.max(1));
            *part.statuses.entry(status.unwrap_or(0)).or_default() += 1;
            match status {
                Some(200..=299) => part.ok += 1,
                _ => part.failed += 1,
            }
            if let Some(index) = index {
                part.sent.push((index, due.duration_since(self.start)));
            }
        }
        Ok(part)
    }
}

/// One POST on a fresh connection: the status and the body. For checks before a run.
pub async fn post_once(
    addr: SocketAddr,
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> Result<(Option<u16>, Bytes)> {
    let mut connection = Connection::open(addr).await?;
    let mut builder = hyper::Request::post(path)
        .header(HOST, addr.to_string())
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(body))
        .map_err(|source| Error::Request {
            path: path.to_owned(),
            source,
        })?;
    let response = match connection.sender.send_request(request).await {
        Ok(response) => response,
        Err(_) => return Ok((None, Bytes::new())),
    };
    let status = response.status().as_u16();
    match response.into_body().collect().await {
        Ok(body) => Ok((Some(status), body.to_bytes())),
        Err(_) => Ok((None, Bytes::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `router` on a free loopback port for the rest of the test.
    async fn serve(router: axum::Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    fn target(addr: SocketAddr, bodies: Bodies) -> Target {
        Target {
            addr,
            path: "/v1/terminatejob".to_owned(),
            headers: Vec::new(),
            bodies,
        }
    }

    #[tokio::test]
    async fn a_closed_loop_counts_every_answer() {
        let addr = serve(crate::floor::router()).await;
        let body = Bytes::from_static(br#"{"jobId": "a", "reason": "b"}"#);
        let load = Load {
            connections: 4,
            mode: Mode::Closed,
            duration: Duration::from_millis(200),
        };
        let out = run(&target(addr, Bodies::Fixed(body)), load).await.unwrap();
        assert!(out.ok > 0, "{out:?}");
        assert_eq!(out.failed, 0, "{out:?}");
        assert_eq!(out.statuses.get(&200), Some(&out.ok));
        assert_eq!(out.latency.len(), out.ok);

        let refused = run(
            &target(addr, Bodies::Fixed(Bytes::from_static(b"{nope"))),
            load,
        )
        .await
        .unwrap();
        assert_eq!(refused.ok, 0);
        assert!(
            refused.failed > 0 && refused.statuses.contains_key(&400),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn each_body_is_sent_once_and_timed() {
        let addr = serve(crate::floor::router()).await;
        let bodies: Vec<Bytes> = (0..50)
            .map(|n| Bytes::from(format!(r#"{{"jobId": "job-{n}", "reason": "b"}}"#)))
            .collect();
        let load = Load {
            connections: 3,
            mode: Mode::Closed,
            duration: Duration::from_secs(30),
        };
        let out = run(&target(addr, Bodies::Each(Arc::new(bodies))), load)
            .await
            .unwrap();
        assert_eq!((out.ok, out.failed), (50, 0));
        assert!(out.sent_at.iter().all(Option::is_some), "{:?}", out.sent_at);
        assert!(
            out.elapsed < Duration::from_secs(30),
            "the run ends when the bodies do"
        );
    }

    #[tokio::test]
    async fn an_open_loop_sends_at_its_rate() {
        let addr = serve(crate::floor::router()).await;
        let load = Load {
            connections: 4,
            mode: Mode::Open { rate: 200.0 },
            duration: Duration::from_millis(500),
        };
        let out = run(
            &target(addr, Bodies::Fixed(Bytes::from_static(b"{}"))),
            load,
        )
        .await
        .unwrap();
        // 100 requests are due in half a second, the last at 495 ms.
        assert_eq!(out.ok, 100, "{out:?}");
    }

    #[tokio::test]
    async fn a_server_that_closes_each_connection_is_no_failure() {
        // As moto's server does: `Connection: close` on every answer.
        let router = axum::Router::new().route(
            "/v1/terminatejob",
            axum::routing::post(|| async { ([(hyper::header::CONNECTION, "close")], "{}") }),
        );
        let addr = serve(router).await;
        let load = Load {
            connections: 2,
            mode: Mode::Closed,
            duration: Duration::from_millis(200),
        };
        let out = run(
            &target(addr, Bodies::Fixed(Bytes::from_static(b"{}"))),
            load,
        )
        .await
        .unwrap();
        assert!(out.ok > 2, "{out:?}");
        assert_eq!(out.failed, 0, "{out:?}");
    }
}
