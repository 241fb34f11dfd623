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

/// The front: its `https://` URL, its root authority's certificate (PEM), the one a `caBundle`
/// must hold, and the intermediate authority's between them, when there is one.
pub struct TlsFront {
    pub url: String,
    pub ca: String,
    pub intermediate: Option<String>,
    serve: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.serve.abort();
    }
}

/// An authority's parameters, named `name`.
fn authority(name: &str) -> rcgen::CertificateParams {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, name);
    ca
}

/// A root authority of its own, optionally an intermediate one it signed, and a certificate
/// for 127.0.0.1 signed by the last: served with the intermediate's, as a server sends its chain.
fn certificates(intermediate: bool) -> (String, Option<String>, ServerConfig) {
    let generate = || rcgen::KeyPair::generate().unwrap();
    let root = rcgen::CertifiedIssuer::self_signed(authority("omkc test authority"), generate());
    let root = root.unwrap();
    let middle = intermediate.then(|| {
        let params = authority("omkc test intermediate");
        rcgen::CertifiedIssuer::signed_by(params, generate(), &root).unwrap()
    });
    let key = generate();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let leaf = match &middle {
        Some(m) => leaf.signed_by(&key, m),
        None => leaf.signed_by(&key, &root),
    };
    let mut chain = vec![leaf.unwrap().der().clone()];
    chain.extend(middle.iter().map(|m| m.der().clone()));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    (root.pem(), middle.map(|m| m.pem()), config)
}

/// Serves TLS on a port of its own and passes every connection to `backend` (`host:port`).
pub async fn front(backend: &str) -> TlsFront {
    front_of(backend, false).await
}

/// [`front`] with a certificate an intermediate authority signed, as private PKIs issue them.
pub async fn front_via_intermediate(backend: &str) -> TlsFront {
    front_of(backend, true).await
}

async fn front_of(backend: &str, intermediate: bool) -> TlsFront {
    omkc::tls::install_crypto_provider();
    let (ca, intermediate, config) = certificates(intermediate);
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
    TlsFront {
        url,
        ca,
        intermediate,
        serve,
    }
}
