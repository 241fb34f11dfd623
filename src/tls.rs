//! One TLS crypto provider for the whole process.
//!
//! kube uses rustls with `ring`; reqwest is built with `rustls-no-provider` and picks up the
//! process default installed here. Two providers in one binary make rustls panic at runtime
//! ("Could not automatically determine the process-level CryptoProvider").

use std::sync::Once;

/// Installs `ring` as the process-wide rustls provider (idempotent).
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider was installed first; ours is then not needed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
