//! A small stateful Kubernetes API server on 127.0.0.1 for running the real controller loop:
//! get, list (full or metadata-only), watch (history replayed from the requested
//! resourceVersion, then live), create, delete with finalizers and deletionTimestamp,
//! JSON/merge patches (and strategic merge patches of Leases), server-side apply (the applied
//! fields merged; the fields the same field manager applied before and omits now removed, unless
//! another write took them over; without `force`, 409 Conflict when another apply manager owns a
//! field with another value; authorised as `create` when it creates the object), the status subresource and
//! `metadata.generation` bumps on spec changes, and the NamespaceLifecycle admission (a deleted
//! namespace stays terminating, as with no namespace controller, and refuses every create in it).
//!
//! Every HTTP request is recorded and can be turned into the RBAC attributes the apiserver
//! would authorise ([`Access`]), which is how the chart's RBAC rules are derived from what the
//! code really does. The test itself changes objects through methods that bypass HTTP, so only
//! the operator's requests are recorded; [`ApiServer::edit_before`] times such a change to land
//! between two of the operator's requests.

use std::{
    collections::{BTreeMap, BTreeSet},
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::broadcast, task::JoinHandle};

/// What the apiserver's authorizer sees of a request: verb, API group and resource
/// (`resource/subresource` for subresources).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    /// API group (`""` for the core group).
    pub group: String,
    /// Resource, with `/subresource` when one is addressed.
    pub resource: String,
    /// Authorisation verb.
    pub verb: String,
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// The RBAC attributes this request needed.
    pub access: Vec<Access>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// Who sent it: the bearer token of its kubeconfig (see [`write_kubeconfig_as`]), or empty.
    pub user: String,
    /// Whether it asked for metadata only (`as=PartialObjectMetadata`).
    pub metadata_only: bool,
}

/// Key of a stored object: (collection, namespace, name).
type Key = (String, String, String);

#[derive(Clone, Debug)]
struct WatchEvent {
    collection: String,
    namespace: String,
    rv: u64,
    kind: &'static str,
    object: Value,
    /// The object before a MODIFIED: a selector's watch sees an object that stops matching as
    /// DELETED, and one that starts matching as ADDED (the apiserver's watch cache does so).
    previous: Option<Value>,
}

impl WatchEvent {
    /// How a watch with these selectors sees this event, if at all.
    fn seen_as(&self, labels: Option<&str>, fields: Option<&str>) -> Option<&'static str> {
        let matches = |o: &Value| labels_match(o, labels) && fields_match(o, fields);
        let now = matches(&self.object);
        match (self.kind, self.previous.as_ref().map(matches)) {
            ("MODIFIED", Some(true)) if !now => Some("DELETED"),
            ("MODIFIED", Some(false)) if now => Some("ADDED"),
            (kind, _) if now => Some(kind),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: Vec<WatchEvent>,
    requests: Vec<Request>,
    /// When set, the custom resource's API is unknown (as before the CRD is applied).
    without_crd: bool,
    /// Server-side apply's field ownership: the fields each apply manager set last, per object.
    applied: BTreeMap<(Key, String), BTreeSet<Path>>,
    /// Lists of these collections are answered this late (a slow or large list at start-up).
    list_delays: BTreeMap<String, std::time::Duration>,
    /// Collections RBAC does not grant the operator (every verb answers 403 Forbidden).
    forbidden: BTreeSet<String>,
    /// Collections whose writes fail (500 Internal Server Error: an etcd timeout, a webhook
    /// down), reads still working; or `METHOD collection`, requests of that method only.
    failing: BTreeSet<String>,
    /// Users cut off from the server: their requests get no answer, their watches go silent.
    partitioned: BTreeSet<String>,
    /// Collections whose history before this resourceVersion is gone (see [`ApiServer::compact`]).
    compacted: BTreeMap<String, u64>,
    /// What each request costs, when modelled (the benchmark): see [`super::load`].
    load: Option<Arc<super::load::Server>>,
    /// Edits another client makes just before one of the operator's requests is served.
    interleaved: Vec<Interleaved>,
}

/// An edit of `key` by another client, made just before the `left`th next request `request`
/// (`METHOD collection`) is served: a race in the gap between two requests of one call.
struct Interleaved {
    request: String,
    left: usize,
    key: Key,
    edit: Box<dyn FnOnce(&mut Value) + Send>,
}

type Shared = Arc<(Mutex<Inner>, broadcast::Sender<WatchEvent>)>;

/// The running server.
pub struct ApiServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Shared,
    server: JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ApiServer {
    /// Starts an empty server.
    pub async fn start() -> Self {
        let (tx, _) = broadcast::channel(4096);
        let shared: Shared = Arc::new((Mutex::new(Inner::default()), tx));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let api = Self {
            url,
            shared,
            server,
        };
        // Every cluster has it; its UID is the default installation id.
        api.put(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "kube-system"}
        }));
        api
    }

    /// Answers every list of `collection` (e.g. `v1/secrets`) `by` late, as a large list or a
    /// busy API server would at start-up: the watch caches fill that much later.
    pub fn delay_lists(&self, collection: &str, by: std::time::Duration) {
        self.shared
            .0
            .lock()
            .unwrap()
            .list_delays
            .insert(collection.to_string(), by);
    }

    /// Refuses every request on `collection` (e.g. `apps/v1/deployments`), or only those of one
    /// method (`PATCH apps/v1/deployments`), with 403, as RBAC does for what the operator's role
    /// does not grant.
    pub fn forbid(&self, collection: &str) {
        self.shared
            .0
            .lock()
            .unwrap()
            .forbidden
            .insert(collection.to_string());
    }

    /// Makes every write to `collection` fail with 500, or (`false`) work again; with
    /// `METHOD collection` (`GET apps/v1/deployments`), the requests of that method, reads too.
    pub fn fail_writes(&self, collection: &str, failing: bool) {
        let mut inner = self.shared.0.lock().unwrap();
        if failing {
            inner.failing.insert(collection.to_string());
        } else {
            inner.failing.remove(collection);
        }
    }

    /// Cuts `user` off, as a network partition between one pod and the API server would: its
    /// requests are never answered and its open watches deliver nothing more.
    pub fn partition(&self, user: &str) {
        self.shared
            .0
            .lock()
            .unwrap()
            .partitioned
            .insert(user.to_string());
    }

    /// Makes every later request cost what it costs a real API server under `load` (its
    /// processor's queue, its latency, its in-flight limit); watches stay free.
    pub fn model(&self, load: super::load::Load) {
        self.shared.0.lock().unwrap().load = Some(Arc::new(super::load::Server::new(load)));
    }

    /// Makes the custom resource's API unknown, as on a cluster without the CRD.
    pub fn remove_crd(&self) {
        self.shared.0.lock().unwrap().without_crd = true;
    }

    /// A kubeconfig file for this server (no credentials), for running the real binary.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        write_kubeconfig(&self.url, dir)
    }

    /// A kube client for this server.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    fn key_of(object: &Value) -> Key {
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let kind = object["kind"].as_str().expect("kind");
        let resource = match kind {
            "Secret" => "secrets",
            "ConfigMap" => "configmaps",
            "Namespace" => "namespaces",
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            "Lease" => "leases",
            "OpenMetadataKeycloakClient" => "openmetadatakeycloakclients",
            "ClusterKeycloakConnection" => "clusterkeycloakconnections",
            other => panic!("kind {other} is not emulated"),
        };
        (
            format!("{api_version}/{resource}"),
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            object["metadata"]["name"]
                .as_str()
                .expect("name")
                .to_string(),
        )
    }

    /// Creates or replaces an object, as another client of the apiserver would (not recorded).
    pub fn put(&self, object: Value) {
        let (lock, tx) = &*self.shared;
        let key = Self::key_of(&object);
        lock.lock().unwrap().write(tx, &key, object);
    }

    /// Edits a stored object (not recorded); panics when it does not exist.
    pub fn edit(&self, collection: &str, namespace: &str, name: &str, f: impl FnOnce(&mut Value)) {
        let (lock, tx) = &*self.shared;
        let mut inner = lock.lock().unwrap();
        let key = (
            collection.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let mut object = inner.objects.get(&key).expect("object to edit").clone();
        f(&mut object);
        inner.write(tx, &key, object);
    }

    /// Edits an object as [`Self::edit`] does, just before the operator's `nth` next request
    /// `request` (`METHOD collection`, e.g. `GET v1/secrets`; 1 for the next) is served: another
    /// client's write in the gap between two requests of one call.
    pub fn edit_before(
        &self,
        request: &str,
        nth: usize,
        (collection, namespace, name): (&str, &str, &str),
        edit: impl FnOnce(&mut Value) + Send + 'static,
    ) {
        self.shared.0.lock().unwrap().interleaved.push(Interleaved {
            request: request.to_string(),
            left: nth,
            key: (collection.into(), namespace.into(), name.into()),
            edit: Box::new(edit),
        });
    }

    /// Deletes an object as a user would (not recorded).
    pub fn delete(&self, collection: &str, namespace: &str, name: &str) {
        let (lock, tx) = &*self.shared;
        let key = (
            collection.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        lock.lock()
            .unwrap()
            .delete(tx, &key)
            .expect("object to delete");
    }

    /// A stored object.
    pub fn get(&self, collection: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            collection.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.shared.0.lock().unwrap().objects.get(&key).cloned()
    }

    /// Every object of a collection in a namespace.
    pub fn list(&self, collection: &str, namespace: &str) -> Vec<Value> {
        self.shared
            .0
            .lock()
            .unwrap()
            .objects
            .iter()
            .filter(|((c, ns, _), _)| c == collection && ns == namespace)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every request the operator made.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.0.lock().unwrap().requests.clone()
    }

    /// The distinct RBAC attributes of every request so far.
    pub fn accesses(&self) -> BTreeSet<Access> {
        self.requests().into_iter().flat_map(|r| r.access).collect()
    }
}

/// Writes `dir/kubeconfig` for an unauthenticated server at `url`.
pub fn write_kubeconfig(url: &str, dir: &std::path::Path) -> std::path::PathBuf {
    write_kubeconfig_as(url, dir, "")
}

/// [`write_kubeconfig`] for a named user: its requests carry `user` as bearer token, and the
/// fake API server records who sent each ([`Request::user`]).
pub fn write_kubeconfig_as(url: &str, dir: &std::path::Path, user: &str) -> std::path::PathBuf {
    let path = dir.join(if user.is_empty() {
        "kubeconfig".to_string()
    } else {
        format!("kubeconfig-{user}")
    });
    let credentials = if user.is_empty() {
        "{}".to_string()
    } else {
        format!("{{token: {user}}}")
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
         clusters:\n- name: fake\n  cluster:\n    server: {url}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: nobody\n    namespace: default\n\
         users:\n- name: nobody\n  user: {credentials}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

mod http;
mod route;
mod store;
mod validation;
mod verbs;

use http::{fields_match, handle, labels_match, status};
use store::{Path, invalid_labels};
use validation::invalid_event;
pub use validation::{invalid_custom, pruning_warnings};
