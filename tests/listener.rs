//! The API's HTTP server against hostile clients (slow heads, silent and surplus connections)
//! and its TLS: a rotated certificate is served without a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use batch_terminator::serve::http::{ConnectionLimits, serve};
use batch_terminator::serve::tls::{TlsFiles, acceptor};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(10);

/// Starts the server on a loopback port; dropping the sender stops it.
async fn start(
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (std::net::SocketAddr, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new().route("/", get(|| async { "served" }));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve(listener, router, limits, tls, stopped));
    (addr, stop)
}

/// One `GET /` on `stream`; the whole response.
async fn get_root<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("request written");
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
        .await
        .expect("a response within the deadline")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

/// Reads until the server closes the connection; fails after the deadline.
async fn closed_by_server(mut stream: TcpStream, what: &str) {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "{what}: the server kept it open");
}

#[tokio::test]
async fn slow_and_silent_connections_are_cut_off_and_other_clients_are_still_served() {
    let limits = ConnectionLimits {
        max_connections: 4,
        header_read_timeout: Duration::from_millis(500),
    };
    let (addr, _stop) = start(limits, None).await;
    // Fill every slot: two clients trickle a request head and stop, two send nothing.
    let mut hostile = Vec::new();
    for n in 0..4 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        if n % 2 == 0 {
            stream
                .write_all(b"POST /v1/describejobs HTTP/1.1\r\nHost: test\r\nX-Slow: ")
                .await
                .expect("partial head");
        }
        hostile.push(stream);
    }
    // A well-behaved client queued behind them is served once the slow ones are cut off.
    let started = Instant::now();
    let client = TcpStream::connect(addr).await.expect("connect");
    let response = get_root(client).await;
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("served"),
        "{response}"
    );
    println!(
        "a client behind 4 hostile connections was served after {:?}",
        started.elapsed()
    );
    for (n, stream) in hostile.into_iter().enumerate() {
        closed_by_server(stream, &format!("hostile connection {n}")).await;
    }
}

#[tokio::test]
async fn many_connections_beyond_the_cap_wait_and_are_all_served() {
    let limits = ConnectionLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(5),
    };
    let (addr, _stop) = start(limits, None).await;
    let clients: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(
                async move { get_root(TcpStream::connect(addr).await.expect("connect")).await },
            )
        })
        .collect();
    for client in clients {
        let response = client.await.expect("client task");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
}

/// A CA, and a function issuing `localhost` certificates from it: (cert PEM, key PEM, DER).
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Ca { issuer }
    }

    fn issue(&self) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &self.issuer)
            .expect("certificate");
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }

    fn connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).expect("CA added");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Every handshake a full one, so each shows the certificate served now.
        config.resumption = rustls::client::Resumption::disabled();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

/// Writes a file the way a Secret volume updates: a new file renamed over the old one.
fn replace(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, content).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test]
async fn tls_serves_the_certificate_and_picks_up_a_rotated_one() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bt-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    let ca = Ca::new();
    let (cert, key, first) = ca.issue();
    replace(&files.cert, &cert);
    replace(&files.key, &key);
    let (addr, _stop) = start(
        ConnectionLimits::default(),
        Some(acceptor(files.clone()).expect("TLS acceptor")),
    )
    .await;
    let connector = ca.connector();
    let connect = || async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        connector
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("TLS handshake with a certificate the CA signed")
    };
    let served = |stream: &tokio_rustls::client::TlsStream<TcpStream>| {
        stream
            .get_ref()
            .1
            .peer_certificates()
            .expect("a certificate")[0]
            .clone()
    };

    let stream = connect().await;
    assert_eq!(served(&stream), first);
    let response = get_root(stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // cert-manager rotates the Secret: the next handshake serves the new certificate.
    let (cert, key, second) = ca.issue();
    replace(&files.key, &key);
    replace(&files.cert, &cert);
    assert_eq!(served(&connect().await), second);

    // A broken rotation keeps the last good certificate.
    replace(&files.cert, "not a certificate");
    assert_eq!(served(&connect().await), second);

    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, plain.read_to_end(&mut answer)).await;
    assert!(!String::from_utf8_lossy(&answer).contains("served"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_tls_files_are_refused_at_start() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bt-tls-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = Ca::new();
    let (cert, _, _) = ca.issue();
    let (_, other_key, _) = ca.issue();
    let files = TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    std::fs::write(&files.cert, &cert).expect("write");
    std::fs::write(&files.key, &other_key).expect("write");
    let Err(error) = acceptor(files.clone()) else {
        panic!("a key of another certificate was accepted")
    };
    assert!(error.to_string().contains("pair"), "{error}");
    let missing = TlsFiles {
        cert: dir.join("missing.crt"),
        key: files.key,
    };
    let Err(error) = acceptor(missing) else {
        panic!("a missing file was accepted")
    };
    assert!(error.to_string().contains("missing.crt"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
