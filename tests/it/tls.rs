//! TLS to a server whose certificate comes from an internal authority: refused as a
//! configuration error (no retries, a message naming `ca_file`), accepted with `ca_file`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::harness::Env;
use ticket_sync_clients::http::ApiError;

/// An internal CA and a `localhost` certificate it signed.
struct Pki {
    ca_pem: String,
    leaf_der: rustls::pki_types::CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "ticket-sync test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Pki { ca_pem: ca.pem(), leaf_der: leaf.der().clone(), leaf_key: leaf_key.serialize_der() }
}

/// A TLS server on 127.0.0.1 answering every request with a GitHub user; counts connections.
async fn tls_server(pki: &Pki) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.leaf_der.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.leaf_key.clone().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = r#"{"login":"octo","id":1,"type":"User"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, connections)
}

/// The sandbox's rules with GitHub pointed at the TLS server, and `ca_line` in `[github]`.
fn point_github_at(env: &Env, port: u16, ca_line: &str) {
    let text = std::fs::read_to_string(&env.rules_path).unwrap();
    let url_line = text.lines().skip_while(|l| *l != "[github]").find(|l| l.starts_with("url = ")).unwrap();
    let text = text.replace(url_line, &format!("url = \"https://localhost:{port}\"\n{ca_line}"));
    std::fs::write(&env.rules_path, text).unwrap();
}

#[tokio::test]
async fn an_unknown_authority_is_a_config_error_and_ca_file_fixes_it() {
    let pki = pki();
    let (port, connections) = tls_server(&pki).await;
    let env = Env::new().await;

    point_github_at(&env, port, "");
    let err = env.engine().github.whoami().await.unwrap_err();
    assert!(matches!(err, ApiError::Certificate { service: ticket_sync_core::domain::Service::Github, .. }), "{err:?}");
    assert!(!err.is_retryable() && !err.is_transient());
    let text = err.to_string();
    // Found as a `rustls::Error` in the chain (the plain words), not only by its text.
    assert!(text.contains("authority this host does not trust") && text.contains("ca_file in [github]"), "{text}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "a certificate error is not retried");

    // A pass stops at it, as at refused credentials, instead of failing item after item.
    env.ticket("Cannot log in", &["escalated"]);
    let pass = env.engine().escalate(&tokio_util::sync::CancellationToken::new()).await;
    let err = pass.expect_err("the pass stops").to_string();
    assert!(err.contains("ca_file"), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 2, "one attempt, then the pass stopped");
    assert_eq!(env.zendesk_writes(), 0);

    // `check --online` fails with the same message.
    let out = env.bin(&["check", "--online"], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("FAIL  github: github: the server's TLS certificate was not accepted"), "{stdout}");
    assert!(stdout.contains("set ca_file in [github]"), "{stdout}");

    // With the authority's certificate (a path relative to the rules file) it works.
    std::fs::write(env.dir.path().join("internal-ca.pem"), &pki.ca_pem).unwrap();
    point_github_at(&env, port, "ca_file = \"internal-ca.pem\"");
    assert_eq!(env.engine().github.whoami().await.unwrap(), "octo");
}

#[tokio::test]
async fn ssl_cert_file_is_trusted() {
    let pki = pki();
    let (port, _) = tls_server(&pki).await;
    let env = Env::new().await;
    point_github_at(&env, port, "");
    let ca = env.dir.path().join("env-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    // The binary reads SSL_CERT_FILE (the test process must not set it for its neighbours).
    let out = env.bin(&["check", "--online"], &[("SSL_CERT_FILE", ca.to_str().unwrap())]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok    github: authenticated as octo"), "{stdout}");
}
