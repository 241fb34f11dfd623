//! One [`Session`] per Keycloak connection, shared by every resource that uses it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::{ConnectionKey, ConnectionSpec, KeycloakError, Session};

/// One [`Session`] per Keycloak connection, shared by all resources that use it.
#[derive(Default)]
pub struct Pool {
    sessions: Mutex<HashMap<ConnectionKey, (u64, Arc<Session>)>>,
}

impl Pool {
    /// The session for `spec`, opened on first use or when its credentials or CA changed.
    pub fn session(&self, spec: &ConnectionSpec) -> Result<Arc<Session>, KeycloakError> {
        let fingerprint = spec.fingerprint();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((known, session)) = sessions.get(&spec.key)
            && *known == fingerprint
        {
            return Ok(session.clone());
        }
        let session = Arc::new(Session::open(spec)?);
        sessions.insert(spec.key.clone(), (fingerprint, session.clone()));
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::Credentials;

    fn spec(password: &str) -> ConnectionSpec {
        ConnectionSpec {
            key: ConnectionKey {
                base_url: "http://127.0.0.1:1".into(),
                admin_realm: "master".into(),
                credentials_source: "ns/admin".into(),
            },
            credentials: Credentials::Password {
                username: "admin".into(),
                password: password.into(),
            },
            ca_bundle: None,
        }
    }

    #[test]
    fn pool_reuses_a_session_until_credentials_change() {
        let pool = Pool::default();
        let first = pool.session(&spec("one")).unwrap();
        let again = pool.session(&spec("one")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let rotated = pool.session(&spec("two")).unwrap();
        assert!(!Arc::ptr_eq(&first, &rotated));
    }
}
