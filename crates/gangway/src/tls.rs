//! TLS with rustls (the `ring` provider): certificates for listeners ([`TlsListener`], HAProxy's
//! `bind ... ssl crt FILE`) and TLS to servers ([`TlsServer`], `server ... ssl`).
//!
//! Certificates and keys are read from PEM when these values are built, so a missing or bad
//! file is a [`TlsError`] naming it before the gateway starts; a reload builds new values (and
//! reads the files again).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The one crypto provider gangway uses (ring), built once.
fn provider() -> &'static Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The ALPN protocol both sides offer: gangway speaks HTTP/1.1.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why a certificate, key or CA could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The PEM text is malformed.
    Pem {
        /// Where it came from (a file, or `<memory>`).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// No `CERTIFICATE` section was found.
    NoCertificate {
        /// Where it was looked for.
        origin: String,
    },
    /// No private key section (PKCS#8, PKCS#1 or SEC1) was found.
    NoKey {
        /// Where it was looked for.
        origin: String,
    },
    /// The key is not usable (unsupported type, or it does not match the certificate).
    Key {
        /// Where it came from.
        origin: String,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// A TLS configuration could not be built.
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::Pem { origin, message } => write!(f, "{origin}: bad PEM: {message}"),
            TlsError::NoCertificate { origin } => {
                write!(
                    f,
                    "{origin}: no certificate (-----BEGIN CERTIFICATE-----) found"
                )
            }
            TlsError::NoKey { origin } => write!(f, "{origin}: no private key found"),
            TlsError::Key { origin, source } => write!(f, "{origin}: unusable key: {source}"),
            TlsError::Config(e) => write!(f, "TLS configuration: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Key { source, .. } | TlsError::Config(source) => Some(source),
            _ => None,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(origin: &str, e: rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        origin: origin.to_string(),
        message: e.to_string(),
    }
}

fn certs_from_pem(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(origin, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            origin: origin.to_string(),
        });
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8], origin: &str) -> Result<Option<PrivateKeyDer<'static>>, TlsError> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(Some(key)),
        Err(rustls_pki_types::pem::Error::NoItemsFound) => Ok(None),
        Err(e) => Err(pem_error(origin, e)),
    }
}

/// One certificate a listener can present, with the host names it is valid for.
#[derive(Debug)]
struct SniCert {
    /// DNS names from the subject alternative names, lower case (`*.example.com` kept as is).
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

impl SniCert {
    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: &str,
    ) -> Result<SniCert, TlsError> {
        let names = match webpki::EndEntityCert::try_from(&chain[0]) {
            Ok(cert) => cert
                .valid_dns_names()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            Err(e) => {
                return Err(TlsError::Pem {
                    origin: origin.to_string(),
                    message: format!("the first certificate does not parse: {e}"),
                });
            }
        };
        let key =
            CertifiedKey::from_der(chain, key, provider()).map_err(|source| TlsError::Key {
                origin: origin.to_string(),
                source,
            })?;
        Ok(SniCert {
            names,
            key: Arc::new(key),
        })
    }

    /// Whether the certificate covers `host` (already lower case): exactly, or through a
    /// `*.` wildcard for one leftmost label.
    fn covers(&self, host: &str) -> bool {
        self.names.iter().any(|name| match name.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => name == host,
        })
    }
}

/// Certificates and options of a TLS listener (HAProxy's `bind ... ssl crt FILE [crt FILE]
/// [strict-sni]`): TLS 1.2 and 1.3, ALPN `http/1.1`, the certificate picked by the client's
/// SNI among those given, the first one being the default.
///
/// ```
/// # fn demo() -> Result<(), gangway::TlsError> {
/// use gangway::{Listener, TlsListener};
/// let tls = TlsListener::new()
///     .cert_file("/etc/gangway/example.com.pem")?        // chain + key in one file
///     .cert_files("/etc/gangway/api.crt", "/etc/gangway/api.key")?
///     .strict_sni();                                       // unknown names: handshake failure
/// let listener = Listener::new(":443").tls(tls);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TlsListener {
    certs: Vec<Arc<SniCert>>,
    strict_sni: bool,
}

impl PartialEq for TlsListener {
    fn eq(&self, other: &Self) -> bool {
        self.strict_sni == other.strict_sni
            && self.certs.len() == other.certs.len()
            && self
                .certs
                .iter()
                .zip(&other.certs)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl Eq for TlsListener {}

impl TlsListener {
    /// No certificate yet; add at least one.
    pub fn new() -> Self {
        TlsListener::default()
    }

    /// Adds a certificate from a PEM file holding the chain (leaf first) and the private key,
    /// as HAProxy's `crt FILE`; when the file has no key, `FILE.key` is read for it (HAProxy's
    /// default `ssl-load-extra-files`).
    pub fn cert_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let pem = read(path)?;
        let chain = certs_from_pem(&pem, &origin)?;
        let key = match key_from_pem(&pem, &origin)? {
            Some(key) => key,
            None => {
                let mut key_path = path.as_os_str().to_owned();
                key_path.push(".key");
                let key_path = PathBuf::from(key_path);
                if !key_path.exists() {
                    return Err(TlsError::NoKey { origin });
                }
                let key_origin = key_path.display().to_string();
                key_from_pem(&read(&key_path)?, &key_origin)?
                    .ok_or(TlsError::NoKey { origin: key_origin })?
            }
        };
        self.push(chain, key, &origin)
    }

    /// Adds a certificate from a chain file and a separate key file (both PEM).
    pub fn cert_files(
        self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let origin = chain.display().to_string();
        let chain = certs_from_pem(&read(chain)?, &origin)?;
        let key_origin = key.display().to_string();
        let key = key_from_pem(&read(key)?, &key_origin)?
            .ok_or(TlsError::NoKey { origin: key_origin })?;
        self.push(chain, key, &origin)
    }

    /// Adds a certificate from PEM text: the chain (leaf first) and the key (which may also be
    /// in `chain_pem`, then `key_pem` can be empty).
    pub fn cert_pem(self, chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let origin = "<memory>";
        let chain = certs_from_pem(chain_pem, origin)?;
        let key = match key_from_pem(key_pem, origin)? {
            Some(key) => key,
            None => key_from_pem(chain_pem, origin)?.ok_or(TlsError::NoKey {
                origin: origin.into(),
            })?,
        };
        self.push(chain, key, origin)
    }

    fn push(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: &str,
    ) -> Result<Self, TlsError> {
        self.certs.push(Arc::new(SniCert::new(chain, key, origin)?));
        Ok(self)
    }

    /// Refuses clients whose SNI names no certificate (or who send none) with a handshake
    /// failure (HAProxy's `strict-sni`); by default they get the first certificate.
    #[must_use]
    pub fn strict_sni(mut self) -> Self {
        self.strict_sni = true;
        self
    }

    /// How many certificates were added.
    pub fn cert_count(&self) -> usize {
        self.certs.len()
    }

    /// The rustls server configuration for this listener.
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        if self.certs.is_empty() {
            return Err(TlsError::NoCertificate {
                origin: "TLS listener".into(),
            });
        }
        let resolver = SniResolver {
            certs: self.certs.clone(),
            strict: self.strict_sni,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider().clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(Arc::new(config))
    }
}

/// Picks a listener's certificate by SNI.
#[derive(Debug)]
struct SniResolver {
    certs: Vec<Arc<SniCert>>,
    strict: bool,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // rustls hands SNI over validated and in lower case.
        let found = hello
            .server_name()
            .and_then(|name| self.certs.iter().find(|c| c.covers(name)));
        match found {
            Some(cert) => Some(cert.key.clone()),
            None if self.strict => None,
            None => self.certs.first().map(|c| c.key.clone()),
        }
    }
}

/// TLS from the gateway to a server (HAProxy's `server ... ssl [verify none|required]
/// [ca-file FILE] [sni NAME]`): TLS 1.2 and 1.3, ALPN `http/1.1`.
///
/// Verification is required by default, against the CA certificates given with
/// [`ca_file`](Self::ca_file) or [`ca_pem`](Self::ca_pem), for the name given with
/// [`sni`](Self::sni), else the server's host name or IP address.
///
/// ```
/// # fn demo() -> Result<(), gangway::TlsError> {
/// use gangway::{Server, TlsServer};
/// let verified = Server::new("10.0.0.5:8443").tls(TlsServer::new().ca_file("/etc/ssl/internal-ca.pem")?.sni("app.internal"));
/// let unverified = Server::new("10.0.0.6:8443").tls(TlsServer::new().verify_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServer {
    roots: Vec<CertificateDer<'static>>,
    verify: bool,
    sni: Option<String>,
}

impl Default for TlsServer {
    fn default() -> Self {
        TlsServer::new()
    }
}

impl TlsServer {
    /// TLS with verification required (give the CA with [`ca_file`](Self::ca_file)).
    pub fn new() -> Self {
        TlsServer {
            roots: Vec::new(),
            verify: true,
            sni: None,
        }
    }

    /// Accepts any server certificate (`verify none`): the connection is encrypted but the
    /// server is not authenticated.
    #[must_use]
    pub fn verify_none(mut self) -> Self {
        self.verify = false;
        self
    }

    /// Trusts the CA certificates in a PEM file (`ca-file FILE`).
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        let pem = read(path)?;
        self.ca_pem_from(&pem, &path.display().to_string())
    }

    /// Trusts the CA certificates in PEM text.
    pub fn ca_pem(self, pem: &[u8]) -> Result<Self, TlsError> {
        self.ca_pem_from(pem, "<memory>")
    }

    fn ca_pem_from(mut self, pem: &[u8], origin: &str) -> Result<Self, TlsError> {
        self.roots.extend(certs_from_pem(pem, origin)?);
        Ok(self)
    }

    /// The server name sent (SNI) and verified (`sni NAME`; default: the server's host name,
    /// or its IP address, which sends no SNI).
    #[must_use]
    pub fn sni(mut self, name: impl Into<String>) -> Self {
        self.sni = Some(name.into());
        self
    }

    /// Whether the server's certificate is verified.
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// The rustls client configuration and the name to connect as, for a server known as
    /// `host` (a host name or IP address text).
    pub(crate) fn connector(&self, host: &str) -> Result<TlsConnector, String> {
        let builder = rustls::ClientConfig::builder_with_provider(provider().clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?;
        let builder = if self.verify {
            if self.roots.is_empty() {
                return Err(
                    "TLS verification is required but no CA was given (ca-file, or verify none)"
                        .into(),
                );
            }
            let mut roots = RootCertStore::empty();
            for cert in &self.roots {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("a CA certificate is not usable: {e}"))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification))
        };
        let mut config = builder.with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        let name = self.sni.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| format!("{name:?} is not a valid TLS server name"))?;
        Ok(TlsConnector {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            name,
        })
    }
}

/// What a server connection needs to start TLS.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    pub(crate) connector: tokio_rustls::TlsConnector,
    pub(crate) name: ServerName<'static>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `verify none`: any certificate is accepted, handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts TLS on a client connection: the PROXY header first when the listener expects one,
/// then the handshake, all within `timeout client-hs`. `None` drops the connection; the
/// addresses are the PROXY header's, if it gave any.
pub(crate) async fn accept(
    shared: &crate::gateway::Shared,
    listener: usize,
    mut tcp: tokio::net::TcpStream,
    config: &Arc<rustls::ServerConfig>,
) -> Option<(crate::stream::Stream, crate::pp::Proxied)> {
    let limit = shared.timeouts.client_hs;
    // Whether the handshake itself began (a bad or late PROXY header is not a TLS failure).
    let handshaking = std::sync::atomic::AtomicBool::new(false);
    let work = async {
        let src = if shared.listeners[listener].accept_proxy {
            // Exactly the header's bytes are consumed: what follows is the TLS handshake.
            match gangway_proxy_protocol::HeaderReader::new()
                .timeout(limit)
                .read_tcp(&mut tcp)
                .await
            {
                Ok(received) => crate::pp::Proxied {
                    source: received.header().source(),
                    destination: received.header().destination(),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "invalid PROXY protocol header before TLS: closing");
                    return None;
                }
            }
        } else {
            crate::pp::Proxied::default()
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
        handshaking.store(true, std::sync::atomic::Ordering::Relaxed);
        match acceptor.accept(tcp).await {
            Ok(tls) => Some((tls, src)),
            Err(e) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
        }
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Some((tls, src))) => {
            let tls = tokio_rustls::TlsStream::Server(tls);
            Some((
                crate::stream::Stream::Tls(Box::new(std::sync::Mutex::new(tls))),
                src,
            ))
        }
        Ok(None) => {
            if handshaking.load(std::sync::atomic::Ordering::Relaxed) {
                shared.metrics.listener_tls_failure(listener);
            }
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out (timeout client-hs)");
            if handshaking.load(std::sync::atomic::Ordering::Relaxed) {
                shared.metrics.listener_tls_failure(listener);
            }
            None
        }
    }
}

/// Starts TLS on a fresh server connection, by `deadline` (what is left of `timeout connect`).
pub(crate) async fn connect(
    tls: &TlsConnector,
    tcp: tokio::net::TcpStream,
    deadline: tokio::time::Instant,
) -> Result<crate::stream::Stream, gangway_health::TrafficOutcome> {
    match tokio::time::timeout_at(deadline, tls.connector.connect(tls.name.clone(), tcp)).await {
        Ok(Ok(s)) => {
            let tls = tokio_rustls::TlsStream::Client(s);
            Ok(crate::stream::Stream::Tls(Box::new(std::sync::Mutex::new(
                tls,
            ))))
        }
        Ok(Err(_)) => Err(gangway_health::TrafficOutcome::ConnectRefused),
        Err(_) => Err(gangway_health::TrafficOutcome::ConnectTimeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str]) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(
            names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn sni_names_cover_exact_and_wildcard() {
        let (c, k) = cert(&["a.example", "*.wild.example"]);
        let l = TlsListener::new()
            .cert_pem(c.as_bytes(), k.as_bytes())
            .unwrap();
        let sni = &l.certs[0];
        for (host, covered) in [
            ("a.example", true),
            ("b.example", false),
            ("x.wild.example", true),
            ("wild.example", false),
            ("x.y.wild.example", false),
        ] {
            assert_eq!(sni.covers(host), covered, "{host}");
        }
    }

    #[test]
    fn bad_inputs_are_errors_naming_the_origin() {
        let (c, k) = cert(&["a.example"]);
        let e = TlsListener::new().cert_pem(b"", k.as_bytes()).unwrap_err();
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        let e = TlsListener::new().cert_pem(c.as_bytes(), b"").unwrap_err();
        assert!(matches!(e, TlsError::NoKey { .. }), "{e}");
        let (_, other_key) = cert(&["b.example"]);
        let e = TlsListener::new()
            .cert_pem(c.as_bytes(), other_key.as_bytes())
            .unwrap_err();
        assert!(matches!(e, TlsError::Key { .. }), "{e}");
        let e = TlsListener::new()
            .cert_file("/nonexistent/gangway.pem")
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/gangway.pem"), "{e}");
        let e = TlsServer::new().connector("127.0.0.1").unwrap_err();
        assert!(e.contains("no CA"), "{e}");
    }
}
