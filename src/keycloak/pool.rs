//! One [`Session`] per Keycloak connection, shared by every resource that uses it, and one
//! limit of requests in flight per Keycloak host, shared by every connection to that host.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::Semaphore;

use super::{ConnectionKey, ConnectionSpec, KeycloakError, Session, http::Transport, http_client};
use crate::telemetry::Metrics;

use crate::sync::Locked;

/// Sessions by connection, and the per-host limits.
pub struct Pool {
    per_host: usize,
    metrics: Arc<Metrics>,
    sessions: Mutex<HashMap<ConnectionKey, (u64, Arc<Session>)>>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Pool {
    /// A pool allowing `per_host` requests in flight to any one Keycloak host.
    pub fn new(per_host: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            per_host: per_host.max(1),
            metrics,
            sessions: Mutex::default(),
            hosts: Mutex::default(),
        }
    }

    /// The session for `spec`, opened on first use or when its credentials or CA changed.
    pub fn session(&self, spec: &ConnectionSpec) -> Result<Arc<Session>, KeycloakError> {
        let fingerprint = spec.fingerprint();
        let mut sessions = self.sessions.locked();
        if let Some((known, session)) = sessions.get(&spec.key)
            && *known == fingerprint
        {
            return Ok(session.clone());
        }
        let limit = self
            .hosts
            .locked()
            .entry(spec.host())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone();
        let transport = Transport {
            client: http_client(spec.ca_bundle.as_deref())?,
            limit,
            metrics: self.metrics.clone(),
        };
        let session = Arc::new(Session::open(spec, transport));
        sessions.insert(spec.key.clone(), (fingerprint, session.clone()));
        Ok(session)
    }

    /// Closes the sessions (their credentials with them) whose credentials source `used` no
    /// longer names.
    pub fn close_unused(&self, used: impl Fn(&str) -> bool) {
        (self.sessions.locked()).retain(|key, _| used(&key.credentials_source));
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.sessions.locked().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session last opened for `key`, whatever its credentials: cleanup uses it when the
    /// credentials are gone (a namespace being deleted takes its Secrets first).
    pub fn last_session(&self, key: &ConnectionKey) -> Option<Arc<Session>> {
        self.sessions.locked().get(key).map(|(_, s)| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::Credentials;

    fn spec(url: &str, password: &str) -> ConnectionSpec {
        ConnectionSpec {
            key: ConnectionKey {
                base_url: url.into(),
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
        let pool = Pool::new(4, Arc::default());
        let first = pool.session(&spec("http://127.0.0.1:1", "one")).unwrap();
        let again = pool.session(&spec("http://127.0.0.1:1", "one")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let rotated = pool.session(&spec("http://127.0.0.1:1", "two")).unwrap();
        assert!(!Arc::ptr_eq(&first, &rotated));
        let key = spec("http://127.0.0.1:1", "x").key;
        assert!(Arc::ptr_eq(&pool.last_session(&key).unwrap(), &rotated));
    }

    #[test]
    fn connections_to_one_host_share_its_limit() {
        let pool = Pool::new(3, Arc::default());
        pool.session(&spec("http://kc.example:8080", "a")).unwrap();
        pool.session(&spec("http://kc.example:8080/auth", "b"))
            .unwrap();
        pool.session(&spec("http://other.example", "c")).unwrap();
        let hosts = pool.hosts.lock().unwrap();
        assert_eq!(hosts.len(), 2, "{:?}", hosts.keys());
        assert_eq!(hosts["kc.example:8080"].available_permits(), 3);
    }
}
