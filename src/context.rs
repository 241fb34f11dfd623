//! What every reconcile shares: the Kubernetes client, the Event publisher, the Keycloak
//! sessions, the caches fed by the watches, the settings, the metrics and the per-resource
//! backoff.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{ConfigMap, Namespace, Secret},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::{ApiResource, DeserializeGuard, DynamicObject, PartialObjectMeta},
    runtime::reflector::Store,
};

use crate::{
    cache::ObjectCache,
    crd::{ClusterKeycloakConnection, OpenMetadataKeycloakClient, WorkloadKind},
    events::Publisher,
    keycloak::Pool,
    sync::Locked,
    telemetry::Metrics,
};

/// Settings of the controller.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Period in which every resource is resynced once (drift made in Keycloak by hand is
    /// corrected within it); resyncs are spread evenly over it.
    pub resync: Duration,
    /// First delay after a transient error (doubles per consecutive failure).
    pub backoff_base: Duration,
    /// Longest delay after transient errors.
    pub backoff_max: Duration,
    /// Requests in flight to any one Keycloak host.
    pub keycloak_per_host: usize,
    /// This installation's id, part of every owner marker (default: the `kube-system`
    /// namespace's UID), so clusters sharing a Keycloak realm never take each other's clients.
    pub installation: String,
    /// The operator's namespace: where a connection's credentials are by default.
    pub operator_namespace: String,
    /// Whether resources may bring their own Keycloak URL and credentials Secret.
    pub allow_inline_connections: bool,
    /// Whether resources with their own URL and credentials may take over a client no resource
    /// owns (`adoptExisting`); a ClusterKeycloakConnection says it with `allowAdoption`.
    pub allow_inline_adoption: bool,
    /// Only resources with these labels (a label selector): one shard of a large cluster.
    pub resource_selector: Option<String>,
    /// The longest one reconcile may take, every request included.
    pub reconcile_timeout: Duration,
    /// Workers each namespace is always granted, however busy others are: a namespace holds
    /// at most `concurrency - namespace_share` while others wait.
    pub namespace_share: usize,
    /// The shortest time between two rotations of one client's secret: a new `omkc.dev/rotate`
    /// value that arrives sooner waits (and says so).
    pub min_rotation_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            keycloak_per_host: 8,
            installation: "local".into(),
            operator_namespace: "omkc-system".into(),
            allow_inline_connections: true,
            allow_inline_adoption: false,
            resource_selector: None,
            reconcile_timeout: Duration::from_secs(120),
            namespace_share: 4,
            min_rotation_interval: Duration::from_secs(300),
        }
    }
}

/// Shared state of all reconciles.
pub struct Context {
    pub client: Client,
    pub events: Publisher,
    pub keycloak: Pool,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// The output Secrets (labelled by this operator), as the watches see them.
    pub output_secrets: ObjectCache<Secret>,
    /// The metadata of the Secrets labelled as Keycloak credentials (and only those).
    pub credentials: ObjectCache<PartialObjectMeta<Secret>>,
    pub connections: ObjectCache<ClusterKeycloakConnection>,
    /// The namespaces' metadata (labels, for the connections' namespace selectors).
    pub namespaces: ObjectCache<PartialObjectMeta<Namespace>>,
    /// The metadata of the Secrets labelled as sources of client secrets (and only those).
    pub sources: ObjectCache<PartialObjectMeta<Secret>>,
    /// The credentials and source Secrets resources use, read whole on demand.
    pub secret_data: crate::cache::SecretData,
    /// The values ConfigMaps (labelled by this operator).
    pub config_maps: ObjectCache<ConfigMap>,
    /// The content of this operator's last write of each output Secret and ConfigMap (by kind,
    /// namespace and name): the watch event of its own write does not trigger a reconcile.
    written: Mutex<HashMap<(&'static str, String, String), u64>>,
    /// The checksum each workload named in a resource's rollout (the resource's `namespace/name`,
    /// the workload's kind and name) is known to carry, so a converged pass does not read it
    /// again. Another resource naming the same workload keeps its own.
    rolled: Mutex<HashMap<(String, WorkloadKind, String), String>>,
    /// Consecutive transient failures per resource (`namespace/name`), for backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The resource caches of the watched scopes (for the connections' `maxClients`).
    resources: Mutex<Vec<Store<DeserializeGuard<OpenMetadataKeycloakClient>>>>,
    /// When a change to (or the resync of) each resource (`namespace/name`) was seen, until its
    /// reconcile starts: the queue wait.
    waiting: Mutex<HashMap<String, std::time::Instant>>,
}

impl Context {
    /// A context for `client`.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self::with_metrics(client, settings, Arc::default())
    }

    /// A context for `client` that records into `metrics` (shared with the client's own layer).
    pub fn with_metrics(client: Client, settings: Settings, metrics: Arc<Metrics>) -> Self {
        Self {
            events: Publisher::new(client.clone()),
            keycloak: Pool::new(settings.keycloak_per_host, metrics.clone()),
            client,
            settings,
            metrics,
            output_secrets: ObjectCache::default(),
            credentials: ObjectCache::default(),
            connections: ObjectCache::default(),
            namespaces: ObjectCache::default(),
            sources: ObjectCache::default(),
            secret_data: Default::default(),
            config_maps: ObjectCache::default(),
            written: Mutex::default(),
            rolled: Mutex::default(),
            failures: Mutex::default(),
            resources: Mutex::default(),
            waiting: Mutex::default(),
        }
    }

    /// Notes that `key` (`namespace/name`) waits for a worker from now, unless it already did.
    pub fn queued(&self, key: String) {
        self.waiting
            .locked()
            .entry(key)
            .or_insert_with(std::time::Instant::now);
    }

    /// How long `key` waited for the reconcile that starts now, if its wait was seen.
    pub fn dequeued(&self, key: &str) -> Option<Duration> {
        self.waiting
            .locked()
            .remove(key)
            .map(|since| since.elapsed())
    }

    /// Whether the namespace watch shows `namespace` being deleted.
    pub fn namespace_deleting(&self, namespace: &str) -> bool {
        self.namespaces
            .get("", namespace)
            .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
    }

    /// Adds a watched scope's resource cache.
    pub fn add_resources(&self, store: Store<DeserializeGuard<OpenMetadataKeycloakClient>>) {
        self.resources.locked().push(store);
    }

    /// Every resource the watches show, across scopes (the well-formed ones).
    pub fn all_resources(&self) -> Vec<Arc<DeserializeGuard<OpenMetadataKeycloakClient>>> {
        self.resources
            .locked()
            .iter()
            .flat_map(Store::state)
            .filter(|g| g.0.is_ok())
            .collect()
    }

    /// Records, before writing it, what this operator writes into an output object.
    pub fn writing<K: Fingerprint>(&self, obj: &K) {
        self.written
            .locked()
            .insert(written_key(obj), obj.fingerprint());
    }

    /// Whether a watched output object holds exactly what this operator wrote last: its own
    /// write coming back through the watch, nothing to react to.
    pub fn is_own_write<K: Fingerprint>(&self, obj: &K) -> bool {
        self.written
            .locked()
            .get(&written_key(obj))
            .is_some_and(|written| *written == obj.fingerprint())
    }

    /// Forgets this operator's last write of an output object that is gone.
    pub fn forget_written<K: Fingerprint>(&self, obj: &K) {
        self.written.locked().remove(&written_key(obj));
    }

    /// The API of a kind of workload in a namespace, untyped: reads and writes of a workload
    /// touch only its metadata and pod template annotations, the same for every kind.
    pub fn workload_api(&self, namespace: &str, kind: WorkloadKind) -> Api<DynamicObject> {
        let resource = match kind {
            WorkloadKind::Deployment => ApiResource::erase::<Deployment>(&()),
            WorkloadKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        };
        Api::namespaced_with(self.client.clone(), namespace, &resource)
    }

    /// The checksum a workload named in the rollout of `resource` (its `namespace/name`) is
    /// known to carry.
    pub fn rolled(&self, resource: &str, kind: WorkloadKind, name: &str) -> Option<String> {
        let key = (resource.into(), kind, name.into());
        self.rolled.locked().get(&key).cloned()
    }

    /// Remembers the checksum a workload named in the rollout of `resource` carries.
    pub fn remember_rolled(&self, resource: &str, kind: WorkloadKind, name: &str, checksum: &str) {
        let key = (resource.into(), kind, name.into());
        self.rolled.locked().insert(key, checksum.into());
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.locked()
    }

    /// The delay before the next attempt after a transient failure of `key`: exponential
    /// backoff with jitter, and at least what the failing service asked for.
    pub fn backoff(&self, key: &str, asked: Option<Duration>) -> Duration {
        let attempt = {
            let mut failures = self.failures();
            let n = failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        backoff_delay(&self.settings, attempt, fastrand::f64()).max(asked.unwrap_or_default())
    }

    /// Whether `key` is waiting out a backoff (its periodic resync is skipped meanwhile).
    pub fn in_backoff(&self, key: &str) -> bool {
        self.failures().contains_key(key)
    }

    /// Forgets the failures of `key` after a success, or after a permanent failure.
    pub fn reset_backoff(&self, key: &str) {
        self.failures().remove(key);
    }
}

fn written_key<K: Fingerprint>(obj: &K) -> (&'static str, String, String) {
    (K::KIND, obj.namespace().unwrap_or_default(), obj.name_any())
}

/// An output object whose content the operator sets: data, labels, annotations.
pub trait Fingerprint: Resource<DynamicType = ()> {
    /// The kind, as a key.
    const KIND: &'static str;
    /// A hash of what the operator sets.
    fn fingerprint(&self) -> u64;
}

fn hash_of(value: &impl serde::Serialize) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(value)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

impl Fingerprint for Secret {
    const KIND: &'static str = "Secret";
    fn fingerprint(&self) -> u64 {
        hash_of(&(
            &self.data,
            &self.metadata.labels,
            &self.metadata.annotations,
        ))
    }
}

impl Fingerprint for ConfigMap {
    const KIND: &'static str = "ConfigMap";
    fn fingerprint(&self) -> u64 {
        hash_of(&(
            &self.data,
            &self.metadata.labels,
            &self.metadata.annotations,
        ))
    }
}

/// Delay for the `attempt`-th consecutive failure; `jitter` in [0, 1) spreads it by ±20%.
pub fn backoff_delay(settings: &Settings, attempt: u32, jitter: f64) -> Duration {
    let exp = settings
        .backoff_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let capped = exp.min(settings.backoff_max);
    capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// A context whose Kubernetes client is never called, for the unit tests that need one.
#[cfg(test)]
pub(crate) fn offline_context() -> Arc<Context> {
    crate::tls::install_crypto_provider();
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let client = Client::try_from(config).unwrap();
    Arc::new(Context::new(client, Settings::default()))
}

/// Opens a session for a Keycloak that is never called, with credentials from `source`.
#[cfg(test)]
pub(crate) fn open_session(ctx: &Context, source: &str) -> crate::keycloak::ConnectionKey {
    use crate::keycloak::{ConnectionKey, ConnectionSpec, Credentials};
    let key = ConnectionKey {
        base_url: "http://127.0.0.1:1".into(),
        admin_realm: "master".into(),
        credentials_source: source.into(),
    };
    let (username, password) = ("admin".into(), "pw".into());
    let credentials = Credentials::Password { username, password };
    let spec = ConnectionSpec {
        key,
        credentials,
        ca_bundle: None,
    };
    ctx.keycloak.session(&spec).unwrap();
    spec.key
}

mod memory;
#[cfg(test)]
mod tests;
