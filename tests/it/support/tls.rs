//! A TLS front for a plain-HTTP double, with a certificate for 127.0.0.1 from an authority of
//! its own: a Keycloak behind a private CA, as the operator meets it with `caBundle`. Each
//! connection is decrypted and its bytes passed to the double as they come.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// The front: its `https://` URL and its authority's certificate (PEM), the one a `caBundle`
/// must hold.
pub struct TlsFront {
    pub url: String,
    pub ca: String,
    serve: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.serve.abort();
    }
}

/// A certificate authority of its own, and a certificate it signed for 127.0.0.1.
fn certificates() -> (String, ServerConfig) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "omkc test authority");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), config)
}

/// Serves TLS on a port of its own and passes every connection to `backend` (`host:port`).
pub async fn front(backend: &str) -> TlsFront {
    omkc::tls::install_crypto_provider();
    let (ca, config) = certificates();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let backend = backend.to_string();
    let serve = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                // A handshake the client refuses (an unknown authority) ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront { url, ca, serve }
}
