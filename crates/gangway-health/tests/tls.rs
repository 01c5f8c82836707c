//! Checks over TLS against a real rustls server on loopback.
#![cfg(feature = "tls")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gangway_health::{Check, CheckFailure, Probe};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// A server certificate for `localhost` and a connector trusting it.
fn tls_pair() -> (tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

/// A TLS server that reads a request head, writes `answer`, then closes the TCP connection
/// without a close_notify when `bare_close` (as many servers end a response), or with one.
async fn tls_server(
    acceptor: tokio_rustls::TlsAcceptor,
    answer: &'static [u8],
    bare_close: bool,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(n) if n > 0 => request.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let _ = tls.write_all(answer).await;
                let _ = tls.flush().await;
                if bare_close {
                    drop(tls.into_inner().0);
                } else {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

type Verdict = Result<Option<u16>, CheckFailure>;

#[tokio::test]
async fn a_server_closing_without_close_notify_ends_the_answer() {
    let (acceptor, connector) = tls_pair();
    let name = ServerName::try_from("localhost").unwrap();
    // Name, answer, verdict.
    let cases: &[(&str, &'static [u8], Verdict)] = &[
        (
            "close-delimited body",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall is ready",
            Ok(Some(200)),
        ),
        (
            "body with its length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nall is ready",
            Ok(Some(200)),
        ),
        (
            "body shorter than its length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nall is ready",
            Err(CheckFailure::ClosedEarly { received: 51 }),
        ),
        (
            "cut head",
            b"HTTP/1.1 200 OK\r\nConte",
            Err(CheckFailure::ClosedEarly { received: 22 }),
        ),
    ];
    for &(name_of_case, answer, ref expected) in cases {
        for bare_close in [false, true] {
            let addr = tls_server(acceptor.clone(), answer, bare_close).await;
            let check = Check::http("/health")
                .expect_body_contains("ready")
                .tls(connector.clone(), name.clone());
            let report = Probe::new(check.shared(), addr)
                .run(Duration::from_secs(10))
                .await;
            assert_eq!(
                &report.result, expected,
                "{name_of_case}, bare close: {bare_close}"
            );
        }
    }
}
