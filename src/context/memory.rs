//! What the context lets go of, so that it holds what belongs to the resources and Secrets
//! there are, not to every one there was.

use std::collections::HashSet;

use kube::ResourceExt;

use super::Context;
use crate::{
    crd::{OpenMetadataKeycloakClient, object_key},
    keycloak::ConnectionKey,
    sync::Locked,
};

impl Context {
    /// Lets go of what is remembered of resources that are gone (their workloads' checksums,
    /// backoff, wait for a worker, Ready state), of the Secrets held whole that no resource and
    /// no ClusterKeycloakConnection names any more, and closes the Keycloak sessions (the
    /// credentials in them with them) nothing uses (see `close_sessions`). A session
    /// outlives its credentials Secret until then: a namespace being deleted takes the Secret
    /// before its resources, whose cleanup needs the session.
    pub fn forget_gone(&self) {
        let resources = self.all_resources();
        let resources: Vec<_> = resources.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let keys: HashSet<String> = resources.iter().map(|obj| object_key(*obj)).collect();
        (self.rolled.locked()).retain(|(key, _, _), _| keys.contains(key));
        self.failures().retain(|key, _| keys.contains(key));
        // A resource deleted while it waited for a worker never starts its reconcile.
        self.waiting.locked().retain(|key, _| keys.contains(key));
        self.metrics.forget_resources_but(|key| keys.contains(key));
        let used: HashSet<String> = resources.iter().filter_map(|o| credentials_of(o)).collect();
        self.close_sessions(|source| !used.contains(source));
        let named: HashSet<(String, String)> =
            (resources.iter())
                .flat_map(|obj| secrets_of(obj))
                .chain(self.connections.in_namespace("").iter().map(|c| {
                    (c.spec.credentials_secret_ref).in_or(&self.settings.operator_namespace)
                }))
                .collect();
        (self.secret_data)
            .retain(|namespace, name| named.contains(&(namespace.to_string(), name.to_string())));
    }

    /// [`Context::forget_gone`] for one resource the watch saw deleted: what is remembered of
    /// it, and its session unless another resource uses it (a deletion costs no sweep).
    pub fn forget_deleted(&self, obj: &OpenMetadataKeycloakClient) {
        self.forget_resource(&object_key(obj));
        let Some(gone) = credentials_of(obj) else {
            return;
        };
        let resources = self.all_resources();
        let mut others = resources.iter().filter_map(|g| g.0.as_ref().ok());
        if !others.any(|o| credentials_of(o).as_ref() == Some(&gone)) {
            self.close_sessions(|source| source == gone);
        }
    }

    /// Lets go of what is remembered of one resource (`namespace/name`): its Ready state,
    /// backoff, wait for a worker and workloads' checksums. Not its session: see
    /// [`Context::forget_deleted`].
    pub fn forget_resource(&self, key: &str) {
        self.metrics.forget_resource(key);
        self.failures().remove(key);
        self.waiting.locked().remove(key);
        (self.rolled.locked()).retain(|(resource, _, _), _| resource != key);
    }

    /// Closes the sessions whose credentials source `unused` says no resource uses. A
    /// ClusterKeycloakConnection's session goes with the connection instead: its checks use it
    /// while it exists, and nothing once it is gone (a resource naming it is refused before it
    /// asks for one). Until the connections are listed, their sessions go as the others do.
    fn close_sessions(&self, unused: impl Fn(&str) -> bool) {
        let listed = self.connections.has_listed("");
        self.keycloak
            .close_unused(|source| match ConnectionKey::connection_of(source) {
                Some(name) if listed => self.connections.get("", name).is_some(),
                _ => !unused(source),
            });
    }

    /// How many entries the context holds of objects and resources, besides the watch caches:
    /// its own writes, workloads' checksums, backoffs, queue waits, Secrets held whole, Keycloak
    /// sessions. Each goes with its object, so that a cluster's churn leaves nothing behind.
    pub fn remembered(&self) -> usize {
        self.written.locked().len()
            + self.rolled.locked().len()
            + self.failures().len()
            + self.waiting.locked().len()
            + self.secret_data.len()
            + self.keycloak.len()
    }
}

/// Where a resource's Keycloak credentials come from, as its session is keyed.
fn credentials_of(obj: &OpenMetadataKeycloakClient) -> Option<String> {
    let keycloak = &obj.spec.keycloak;
    match (&keycloak.connection_ref, &keycloak.credentials_secret_ref) {
        (Some(c), _) => Some(ConnectionKey::connection_source(&c.name)),
        (None, Some(s)) => {
            let namespace = obj.namespace().unwrap_or_default();
            Some(ConnectionKey::secret_source(&namespace, &s.name))
        }
        (None, None) => None,
    }
}

/// The Secrets of its own namespace a resource names: its credentials and its secret's source.
fn secrets_of(obj: &OpenMetadataKeycloakClient) -> impl Iterator<Item = (String, String)> {
    let namespace = obj.namespace().unwrap_or_default();
    let credentials = obj.spec.keycloak.credentials_secret_ref.as_ref();
    let source = obj.spec.secret.as_ref().and_then(|s| s.source.as_ref());
    let names = [
        credentials.map(|r| r.name.clone()),
        source.map(|r| r.name.clone()),
    ];
    names
        .into_iter()
        .flatten()
        .map(move |name| (namespace.clone(), name))
}
