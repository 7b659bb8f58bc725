//! TLS for the API (rustls), with the certificate reloaded when its files change, as
//! cert-manager rotates a mounted Secret.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate: {source}")]
    Certificate {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no PEM private key: {source}")]
    Key {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the certificate and key do not make a usable pair: {0}")]
    Pair(#[source] rustls::Error),
    #[error("configuring TLS: {0}")]
    Config(#[source] rustls::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The PEM files of a certificate chain and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A TLS acceptor serving the certificate in `files`, reloaded when the files change. Fails
/// when the files are not a usable certificate and key now.
pub fn acceptor(files: TlsFiles) -> Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let resolver = Reloading::new(files, provider.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    // AWS clients speak HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The files' bytes and the key built from them.
struct Loaded {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    key: Arc<CertifiedKey>,
}

/// Reads the files on each handshake (two small files, cheap beside a handshake) and builds a
/// new certificate when their bytes changed. A broken rotation (half-written files, a key
/// that does not match) keeps the previous certificate, with a warning.
struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Mutex<Loaded>,
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

impl Reloading {
    fn new(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<Self> {
        let (cert_pem, key_pem) = (read(&files.cert)?, read(&files.key)?);
        let key = certified_key(&files, &cert_pem, &key_pem, &provider)?;
        Ok(Reloading {
            files,
            provider,
            current: Mutex::new(Loaded {
                cert_pem,
                key_pem,
                key,
            }),
        })
    }

    fn refresh(&self, current: &mut Loaded) -> Result<()> {
        let (cert_pem, key_pem) = (read(&self.files.cert)?, read(&self.files.key)?);
        if cert_pem == current.cert_pem && key_pem == current.key_pem {
            return Ok(());
        }
        let key = certified_key(&self.files, &cert_pem, &key_pem, &self.provider)?;
        tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
        *current = Loaded {
            cert_pem,
            key_pem,
            key,
        };
        Ok(())
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock only means a reload panicked; the loaded key is still whole.
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = self.refresh(&mut current) {
            tracing::warn!(%error, "TLS certificate files changed but cannot be used; keeping the previous certificate");
        }
        Some(current.key.clone())
    }
}

fn certified_key(
    files: &TlsFiles,
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|chain| {
            if chain.is_empty() {
                Err(rustls::pki_types::pem::Error::NoItemsFound)
            } else {
                Ok(chain)
            }
        })
        .map_err(|source| Error::Certificate {
            path: files.cert.clone(),
            source,
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|source| Error::Key {
        path: files.key.clone(),
        source,
    })?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(Error::Pair)
}
