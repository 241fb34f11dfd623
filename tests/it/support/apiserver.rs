//! A small stateful Kubernetes API server on 127.0.0.1 for running the real controller loop:
//! get, list (full or metadata-only), watch (history replayed from the requested
//! resourceVersion, then live), create, delete with finalizers and deletionTimestamp,
//! JSON/merge patches (and strategic merge patches of Leases), server-side apply (the applied
//! fields merged; the fields the same field manager applied before and omits now removed, unless
//! another write took them over; without `force`, 409 Conflict when another apply manager owns a
//! field with another value; authorised as `create` when it creates the object), the status subresource and
//! `metadata.generation` bumps on spec changes.
//!
//! Every HTTP request is recorded and can be turned into the RBAC attributes the apiserver
//! would authorise ([`Access`]), which is how the chart's RBAC rules are derived from what the
//! code really does. The test itself changes objects through methods that bypass HTTP, so only
//! the operator's requests are recorded.

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

/// A parsed resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    group: String,
    version: String,
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

impl Route {
    fn parse(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
            ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
            _ => (None, rest),
        };
        let (resource, name, subresource) = match rest {
            [r] => (r.to_string(), None, None),
            [r, n] => (r.to_string(), Some(n.to_string()), None),
            [r, n, s] => (r.to_string(), Some(n.to_string()), Some(s.to_string())),
            _ => return None,
        };
        Some(Self {
            group,
            version,
            resource,
            namespace,
            name,
            subresource,
        })
    }

    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn collection(&self) -> String {
        format!("{}/{}", self.api_version(), self.resource)
    }

    fn kind(&self) -> Option<&'static str> {
        Some(match (self.group.as_str(), self.resource.as_str()) {
            ("", "secrets") => "Secret",
            ("", "configmaps") => "ConfigMap",
            ("", "namespaces") => "Namespace",
            ("apps", "deployments") => "Deployment",
            ("apps", "statefulsets") => "StatefulSet",
            ("coordination.k8s.io", "leases") => "Lease",
            ("omkc.dev", "clusterkeycloakconnections") => "ClusterKeycloakConnection",
            ("events.k8s.io", "events") => "Event",
            ("omkc.dev", "openmetadatakeycloakclients") => "OpenMetadataKeycloakClient",
            _ => return None,
        })
    }

    fn access(&self, verb: &str) -> Access {
        Access {
            group: self.group.clone(),
            resource: match &self.subresource {
                Some(s) => format!("{}/{s}", self.resource),
                None => self.resource.clone(),
            },
            verb: verb.to_string(),
        }
    }
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
    /// Users cut off from the server: their requests get no answer, their watches go silent.
    partitioned: BTreeSet<String>,
    /// What each request costs, when modelled (the benchmark): see [`super::load`].
    load: Option<Arc<super::load::Server>>,
}

/// A field: the keys down to a leaf (lists are atomic, as for `x-kubernetes-list-type: atomic`).
type Path = Vec<String>;

/// The leaf fields of a JSON value, with their values.
fn leaves(value: &Value) -> BTreeMap<Path, Value> {
    fn walk(v: &Value, prefix: &mut Path, out: &mut BTreeMap<Path, Value>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    prefix.push(k.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            other => {
                out.insert(prefix.clone(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// Removes a field, and the maps it leaves empty.
fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(Value::Object(map)) = parents.iter().try_fold(&mut *value, |v, k| v.get_mut(k)) else {
        return;
    };
    map.remove(last);
    if map.is_empty() && !parents.is_empty() {
        remove_path(value, parents);
    }
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

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    (
        StatusCode::from_u16(code).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn meta_only(object: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": object["metadata"].clone(),
    })
}

/// The `key=value` (or `key==value`) terms of a selector; none for an empty one.
fn equality_terms(selector: Option<&str>) -> Vec<(&str, &str)> {
    selector
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split(',')
                .map(|term| {
                    term.split_once("==")
                        .or_else(|| term.split_once('='))
                        .expect("only equality selectors are emulated")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.name=x` and `metadata.namespace=x` field selectors, as watchers use them.
fn fields_match(object: &Value, selector: Option<&str>) -> bool {
    equality_terms(selector).into_iter().all(|(k, v)| {
        let field = match k {
            "metadata.name" => &object["metadata"]["name"],
            "metadata.namespace" => &object["metadata"]["namespace"],
            other => panic!("field selector on {other} is not emulated"),
        };
        field.as_str() == Some(v)
    })
}

fn labels_match(object: &Value, selector: Option<&str>) -> bool {
    equality_terms(selector)
        .into_iter()
        .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v))
}

impl Inner {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: &Key,
        kind: &'static str,
        object: Value,
    ) {
        let previous = (kind == "MODIFIED")
            .then(|| self.objects.get(key).cloned())
            .flatten();
        let event = WatchEvent {
            collection: key.0.clone(),
            namespace: key.1.clone(),
            rv: self.rv,
            kind,
            object,
            previous,
        };
        self.history.push(event.clone());
        let _ = tx.send(event);
    }

    /// Stores `object` under `key` as a write: new resourceVersion, generation bump on a spec
    /// change, removal when deleting and no finalizer is left. A write other than an apply takes
    /// the fields it changes away from the apply managers (a later apply that omits them leaves
    /// them alone, as the apiserver's field ownership does).
    fn write(&mut self, tx: &broadcast::Sender<WatchEvent>, key: &Key, object: Value) -> Value {
        if let Some(old) = self.objects.get(key) {
            let (before, after) = (leaves(old), leaves(&object));
            let changed: BTreeSet<Path> = before
                .keys()
                .chain(after.keys())
                .filter(|p| before.get(*p) != after.get(*p))
                .cloned()
                .collect();
            for ((k, _), owned) in self.applied.iter_mut() {
                if k == key {
                    owned.retain(|p| !changed.contains(p));
                }
            }
        }
        self.store(tx, key, object)
    }

    /// A field of `patch` that another apply manager owns with a different value, and that
    /// manager: what makes an apply without `force` fail with 409 Conflict.
    fn conflict(
        &self,
        key: &Key,
        manager: &str,
        base: &Value,
        patch: &Value,
    ) -> Option<(String, String)> {
        let current = leaves(base);
        for (field, value) in leaves(patch) {
            if field
                .first()
                .is_some_and(|f| f == "apiVersion" || f == "kind")
                || field.get(..2) == Some(&["metadata".to_string(), "name".to_string()])
            {
                continue;
            }
            for ((k, owner), owned) in &self.applied {
                if k == key
                    && owner != manager
                    && owned.contains(&field)
                    && current.get(&field) != Some(&value)
                {
                    return Some((field.join("."), owner.clone()));
                }
            }
        }
        None
    }

    /// A server-side apply by `manager` of `patch` onto `base`: the fields the manager applied
    /// last time and omits now are removed, the rest is merged; the manager owns what it applied.
    fn apply(&mut self, key: &Key, manager: &str, base: &Value, patch: &Value) -> Value {
        let fields: BTreeSet<Path> = leaves(patch).into_keys().collect();
        let mut object = base.clone();
        let entry = (key.clone(), manager.to_string());
        for dropped in self.applied.get(&entry).into_iter().flatten() {
            if !fields.contains(dropped) {
                remove_path(&mut object, dropped);
            }
        }
        json_patch::merge(&mut object, patch);
        for ((k, m), owned) in self.applied.iter_mut() {
            if k == key && m != manager {
                owned.retain(|p| !fields.contains(p));
            }
        }
        self.applied.insert(entry, fields);
        object
    }

    fn store(&mut self, tx: &broadcast::Sender<WatchEvent>, key: &Key, mut object: Value) -> Value {
        let previous = self.objects.get(key).cloned();
        let rv = self.next_rv();
        let meta = object["metadata"].as_object_mut().expect("metadata");
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        match &previous {
            None => {
                meta.insert("uid".into(), json!(format!("uid-{rv}")));
                meta.insert("creationTimestamp".into(), json!("2026-11-23T00:00:00Z"));
                meta.insert("generation".into(), json!(1));
            }
            Some(old) => {
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
                // As the apiserver does for custom resources: a spec change, and the first
                // setting of deletionTimestamp, bump the generation.
                let marked_for_deletion = !old["metadata"]["deletionTimestamp"].is_string()
                    && object["metadata"]["deletionTimestamp"].is_string();
                let bumped = if old.get("spec") != object.get("spec") || marked_for_deletion {
                    generation + 1
                } else {
                    generation
                };
                object["metadata"]["generation"] = json!(bumped);
            }
        }
        let deleting = object["metadata"]["deletionTimestamp"].is_string();
        let finalizers_left = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left {
            // The update that drops the last finalizer is seen, then the deletion.
            self.emit(tx, key, "MODIFIED", object.clone());
            self.objects.remove(key);
            self.applied.retain(|(k, _), _| k != key);
            self.emit(tx, key, "DELETED", object.clone());
        } else {
            let kind = if previous.is_some() {
                "MODIFIED"
            } else {
                "ADDED"
            };
            self.emit(tx, key, kind, object.clone());
            self.objects.insert(key.clone(), object.clone());
        }
        object
    }

    fn delete(&mut self, tx: &broadcast::Sender<WatchEvent>, key: &Key) -> Option<Value> {
        let mut object = self.objects.get(key)?.clone();
        let has_finalizers = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if !object["metadata"]["deletionTimestamp"].is_string() {
                object["metadata"]["deletionTimestamp"] = json!("2026-11-23T00:00:01Z");
                return Some(self.write(tx, key, object));
            }
            return Some(object);
        }
        self.next_rv();
        self.objects.remove(key);
        self.applied.retain(|(k, _), _| k != key);
        self.emit(tx, key, "DELETED", object.clone());
        Some(object)
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

    /// Refuses every request on `collection` (e.g. `apps/v1/deployments`) with 403, as RBAC does
    /// for what the operator's role does not grant.
    pub fn forbid(&self, collection: &str) {
        self.shared
            .0
            .lock()
            .unwrap()
            .forbidden
            .insert(collection.to_string());
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

/// What the apiserver's metadata validation says of the first label it refuses
/// (apimachinery's `ValidateLabels`: a value of at most 63 characters, alphanumerics with `-`,
/// `_` and `.` inside; a key likewise, with an optional DNS-subdomain prefix and `/`).
fn invalid_labels(object: &Value, kind: &str, name: &str) -> Option<String> {
    fn is_name(s: &str) -> bool {
        s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
    }
    let labels = object["metadata"]["labels"].as_object()?;
    for (key, value) in labels {
        let key_name = key.rsplit_once('/').map_or(key.as_str(), |(_, n)| n);
        let prefix_ok = key.rsplit_once('/').is_none_or(|(p, _)| {
            !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| !l.is_empty() && is_name(l))
        });
        if key_name.is_empty() || !is_name(key_name) || !prefix_ok {
            return Some(format!(
                "{kind} {name:?} is invalid: metadata.labels: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            ));
        }
        let value = value.as_str().unwrap_or_default();
        if !is_name(value) {
            return Some(format!(
                "{kind} {name:?} is invalid: metadata.labels: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ));
        }
    }
    None
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query_map(&uri);
    let user = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let cut_off = {
        let shared = shared.clone();
        let user = user.clone();
        move || shared.0.lock().unwrap().partitioned.contains(&user)
    };
    if cut_off() {
        return std::future::pending().await;
    }
    let server = shared.0.lock().unwrap().load.clone();
    let _in_flight = match server {
        Some(server) if !query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            Some(server.serve(method == Method::GET).await)
        }
        _ => None,
    };
    let route = Route::parse(uri.path());
    let record = |access: Vec<Access>| {
        shared.0.lock().unwrap().requests.push(Request {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            access,
            body: serde_json::from_slice(&body).ok(),
            user: user.clone(),
            metadata_only: headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("as=PartialObjectMetadata")),
        });
    };
    // Discovery of this project's API group: what `kubectl api-resources` reads, present only
    // while the CRDs are installed.
    if uri.path() == "/apis/omkc.dev/v1alpha1" && method == Method::GET {
        record(vec![]);
        if shared.0.lock().unwrap().without_crd {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            );
        }
        let resource = |name: &str, kind: &str, namespaced: bool| {
            json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                   "kind": kind, "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]})
        };
        return ok_json(&json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "omkc.dev/v1alpha1",
            "resources": [
                resource("openmetadatakeycloakclients", "OpenMetadataKeycloakClient", true),
                resource("clusterkeycloakconnections", "ClusterKeycloakConnection", false),
            ]
        }));
    }
    let Some(route) = route else {
        record(vec![]);
        return status(404, "NotFound", format!("no route {}", uri.path()));
    };
    let crd_missing = route.group == "omkc.dev" && shared.0.lock().unwrap().without_crd;
    let Some(kind) = route.kind().filter(|_| !crd_missing) else {
        record(vec![route.access("unknown")]);
        return status(
            404,
            "NotFound",
            format!("resource {} is not emulated", route.resource),
        );
    };
    if shared
        .0
        .lock()
        .unwrap()
        .forbidden
        .contains(&route.collection())
    {
        record(vec![]);
        return status(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User cannot {} resource {:?}",
                route.resource,
                method.as_str().to_lowercase(),
                route.resource
            ),
        );
    }
    let metadata_only = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("as=PartialObjectMetadata"));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let is_watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    if method == Method::GET && route.name.is_none() && !is_watch {
        let delay = shared
            .0
            .lock()
            .unwrap()
            .list_delays
            .get(&route.collection())
            .copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
    let (lock, tx) = &*shared;
    let key = |name: &str| -> Key {
        (
            route.collection(),
            route.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    };
    let not_found = |name: &str| {
        status(
            404,
            "NotFound",
            format!("{} {name:?} not found", route.resource),
        )
    };

    match (method.clone(), route.name.clone()) {
        (Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            record(vec![route.access("watch")]);
            let since: u64 = query
                .get("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let rx = tx.subscribe();
            let replay: Vec<WatchEvent> = lock
                .lock()
                .unwrap()
                .history
                .iter()
                .filter(|e| e.rv > since)
                .cloned()
                .collect();
            let filter = {
                let route = route.clone();
                let selector = query.get("labelSelector").cloned();
                let fields = query.get("fieldSelector").cloned();
                move |e: &WatchEvent| -> Option<&'static str> {
                    if e.collection != route.collection()
                        || route
                            .namespace
                            .as_ref()
                            .is_some_and(|ns| *ns != e.namespace)
                    {
                        return None;
                    }
                    e.seen_as(selector.as_deref(), fields.as_deref())
                }
            };
            let line = move |kind: &str, e: &WatchEvent| {
                let object = if metadata_only {
                    meta_only(&e.object)
                } else {
                    e.object.clone()
                };
                Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
            };
            let last = replay.last().map(|e| e.rv).unwrap_or(since);
            let initial: Vec<Bytes> = replay
                .iter()
                .filter_map(|e| filter(e).map(|kind| line(kind, e)))
                .collect();
            let server = lock.lock().unwrap().load.clone();
            let live = futures::stream::unfold((rx, last), move |(mut rx, mut last)| {
                let filter = filter.clone();
                let line = line;
                let cut_off = cut_off.clone();
                let server = server.clone();
                async move {
                    loop {
                        match rx.recv().await {
                            Ok(_) if cut_off() => std::future::pending::<()>().await,
                            Ok(e) if e.rv > last && filter(&e).is_some() => {
                                last = e.rv;
                                if let Some(server) = &server {
                                    server.deliver_event();
                                }
                                let kind = filter(&e).expect("seen");
                                return Some((line(kind, &e), (rx, last)));
                            }
                            Ok(_) => continue,
                            // A watcher too slow to keep up loses its watch, as with a real
                            // apiserver: the client watches again from the last version it
                            // saw, and the history replays what it missed.
                            Err(
                                broadcast::error::RecvError::Lagged(_)
                                | broadcast::error::RecvError::Closed,
                            ) => return None,
                        }
                    }
                }
            });
            let stream = futures::stream::iter(initial)
                .chain(live)
                .map(Ok::<_, Infallible>);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        (Method::GET, None) => {
            record(vec![route.access("list")]);
            let inner = lock.lock().unwrap();
            let selector = query.get("labelSelector").map(String::as_str);
            let fields = query.get("fieldSelector").map(String::as_str);
            let items: Vec<Value> = inner
                .objects
                .iter()
                .filter(|((c, ns, _), v)| {
                    *c == route.collection()
                        && route.namespace.as_ref().is_none_or(|want| want == ns)
                        && labels_match(v, selector)
                        && fields_match(v, fields)
                })
                .map(|(_, v)| {
                    if metadata_only {
                        meta_only(v)
                    } else {
                        v.clone()
                    }
                })
                .collect();
            let (api_version, list_kind) = if metadata_only {
                (
                    "meta.k8s.io/v1".to_string(),
                    "PartialObjectMetadataList".to_string(),
                )
            } else {
                (route.api_version(), format!("{kind}List"))
            };
            ok_json(&json!({
                "apiVersion": api_version, "kind": list_kind,
                "metadata": {"resourceVersion": inner.rv.to_string()},
                "items": items,
            }))
        }
        (Method::GET, Some(name)) => {
            record(vec![route.access("get")]);
            match lock.lock().unwrap().objects.get(&key(&name)) {
                Some(v) if metadata_only => ok_json(&meta_only(v)),
                Some(v) => ok_json(v),
                None => not_found(&name),
            }
        }
        (Method::POST, None) => {
            record(vec![route.access("create")]);
            let mut object: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return status(400, "BadRequest", e.to_string()),
            };
            let Some(name) = object["metadata"]["name"].as_str().map(str::to_string) else {
                return status(422, "Invalid", "metadata.name is required".into());
            };
            if let Some(ns) = &route.namespace {
                object["metadata"]["namespace"] = json!(ns);
            }
            if let Some(invalid) = invalid_labels(&object, kind, &name) {
                return status(422, "Invalid", invalid);
            }
            let mut inner = lock.lock().unwrap();
            if inner.objects.contains_key(&key(&name)) {
                return status(
                    409,
                    "AlreadyExists",
                    format!("{} {name:?} already exists", route.resource),
                );
            }
            let stored = inner.write(tx, &key(&name), object);
            (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                stored.to_string(),
            )
                .into_response()
        }
        (Method::PATCH, Some(name)) => {
            let patch: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    record(vec![route.access("patch")]);
                    return status(400, "BadRequest", e.to_string());
                }
            };
            let existing = lock.lock().unwrap().objects.get(&key(&name)).cloned();
            let is_apply = content_type.starts_with("application/apply-patch");
            let mut access = vec![route.access("patch")];
            let base = match (existing, is_apply) {
                (Some(v), _) => v,
                (None, true) if route.subresource.is_none() => {
                    // Server-side apply that creates the object is authorised as create too.
                    access.push(route.access("create"));
                    json!({
                        "apiVersion": route.api_version(), "kind": kind,
                        "metadata": {"name": name, "namespace": route.namespace.clone().unwrap_or_default()}
                    })
                }
                (None, _) => {
                    record(access);
                    return not_found(&name);
                }
            };
            record(access);
            let mut patched = base.clone();
            if content_type.starts_with("application/json-patch+json") {
                let mut ops: json_patch::Patch = match serde_json::from_value(patch) {
                    Ok(p) => p,
                    Err(e) => return status(400, "BadRequest", e.to_string()),
                };
                // As in the apiserver's JSON patch library, `test` of a missing path against
                // null succeeds (kube's finalizer helper relies on it).
                ops.0.retain(|op| match op {
                    json_patch::PatchOperation::Test(t) if t.value.is_null() => patched
                        .pointer(t.path.as_str())
                        .is_some_and(|v| !v.is_null()),
                    _ => true,
                });
                if let Err(e) = json_patch::patch(&mut patched, &ops) {
                    return status(422, "Invalid", format!("json patch: {e}"));
                }
            } else if is_apply {
                let manager = query.get("fieldManager").cloned().unwrap_or_default();
                let force = query.get("force").is_some_and(|f| f == "true");
                let mut inner = lock.lock().unwrap();
                if !force
                    && let Some((field, owner)) =
                        inner.conflict(&key(&name), &manager, &base, &patch)
                {
                    return status(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with 1 conflict: conflict with \"{owner}\": .{field}"
                        ),
                    );
                }
                patched = inner.apply(&key(&name), &manager, &base, &patch);
            } else if content_type.starts_with("application/merge-patch+json")
                // Strategic merge patch equals a merge patch for objects without merge keys
                // (a Lease's spec is scalars only).
                || (content_type.starts_with("application/strategic-merge-patch+json")
                    && kind == "Lease")
            {
                json_patch::merge(&mut patched, &patch);
            } else {
                return status(415, "UnsupportedMediaType", content_type);
            }
            let is_custom = route.group == "omkc.dev";
            let object = match route.subresource.as_deref() {
                Some("status") => {
                    let mut object = base.clone();
                    object["status"] = patched["status"].clone();
                    object
                }
                Some(other) => return status(404, "NotFound", format!("subresource {other}")),
                None if is_custom => {
                    // With the status subresource, writes to the main resource ignore status.
                    let mut object = patched;
                    match base.get("status") {
                        Some(s) => object["status"] = s.clone(),
                        None => {
                            object.as_object_mut().unwrap().remove("status");
                        }
                    }
                    object
                }
                None => patched,
            };
            if let Some(invalid) = invalid_labels(&object, kind, &name) {
                return status(422, "Invalid", invalid);
            }
            let mut inner = lock.lock().unwrap();
            let stored = if is_apply {
                inner.store(tx, &key(&name), object)
            } else {
                inner.write(tx, &key(&name), object)
            };
            ok_json(&stored)
        }
        (Method::DELETE, Some(name)) => {
            record(vec![route.access("delete")]);
            match lock.lock().unwrap().delete(tx, &key(&name)) {
                Some(v) => ok_json(&v),
                None => not_found(&name),
            }
        }
        (m, name) => {
            let verb = match (m.as_str(), name.is_some()) {
                ("PUT", true) => "update",
                ("DELETE", false) => "deletecollection",
                ("POST", true) => "create",
                ("PATCH", false) => "patch",
                _ => "unknown",
            };
            record(vec![route.access(verb)]);
            status(405, "MethodNotAllowed", format!("{m} is not emulated"))
        }
    }
}
