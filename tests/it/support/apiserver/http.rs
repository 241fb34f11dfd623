//! The HTTP side of the fake API server: routes, status answers, selectors, and the handler
//! that records every request and dispatches it.

use super::route::Route;
use super::verbs::{Patching, patch, watch};
use super::*;

pub(super) fn status(code: u16, reason: &str, message: String) -> Response {
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

pub(super) fn ok_json(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub(super) fn meta_only(object: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": object["metadata"].clone(),
    })
}

/// The `key=value` (or `key==value`) terms of a selector; none for an empty one.
pub(super) fn equality_terms(selector: Option<&str>) -> Vec<(&str, &str)> {
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
pub(super) fn fields_match(object: &Value, selector: Option<&str>) -> bool {
    equality_terms(selector).into_iter().all(|(k, v)| {
        let field = match k {
            "metadata.name" => &object["metadata"]["name"],
            "metadata.namespace" => &object["metadata"]["namespace"],
            other => panic!("field selector on {other} is not emulated"),
        };
        field.as_str() == Some(v)
    })
}

pub(super) fn labels_match(object: &Value, selector: Option<&str>) -> bool {
    equality_terms(selector)
        .into_iter()
        .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v))
}

pub(super) fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(super) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query_map(&uri);
    let is_watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let text_of = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let metadata_only =
        text_of(header::ACCEPT).is_some_and(|v| v.contains("as=PartialObjectMetadata"));
    let content_type = text_of(header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_string();
    let user = text_of(header::AUTHORIZATION)
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
        Some(server) if !is_watch => Some(server.serve(method == Method::GET).await),
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
            metadata_only,
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
    interleave(&shared, &format!("{method} {}", route.collection()));
    if shared
        .0
        .lock()
        .unwrap()
        .forbidden
        .iter()
        .any(|f| *f == route.collection() || *f == format!("{method} {}", route.collection()))
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
    let failing = {
        let failing = &shared.0.lock().unwrap().failing;
        (method != Method::GET && failing.contains(&route.collection()))
            || failing.contains(&format!("{method} {}", route.collection()))
    };
    if failing {
        record(vec![]);
        return status(500, "InternalError", "etcdserver: request timed out".into());
    }
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
    let key = |name: &str| route.key(name);
    let not_found = |name: &str| route.not_found(name);

    match (method.clone(), route.name.clone()) {
        (Method::GET, None) if is_watch => {
            record(vec![route.access("watch")]);
            watch(&shared, &route, &query, metadata_only, cut_off)
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
            // Admission (NamespaceLifecycle) comes before validation.
            let namespace = route.namespace.as_deref().unwrap_or_default();
            if lock.lock().unwrap().terminating(namespace) {
                return route.namespace_terminating(&name);
            }
            let warnings = validation::pruning_warnings(&object, kind);
            let invalid = match kind {
                "Event" => invalid_event(&object, None, &name),
                _ => invalid_labels(&object, kind, &name)
                    .or_else(|| invalid_custom(&mut object, None, kind, &name)),
            };
            if let Some(invalid) = invalid {
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
            let created = (
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                stored.to_string(),
            );
            validation::warned(created.into_response(), &warnings)
        }
        (Method::PATCH, Some(name)) => {
            let request = Patching {
                route: &route,
                kind,
                name: &name,
                query: &query,
                content_type: &content_type,
            };
            patch(&shared, request, &body, record)
        }
        (Method::DELETE, Some(name)) => {
            record(vec![route.access("delete")]);
            let mut inner = lock.lock().unwrap();
            if kind == "Namespace" && inner.terminating(&name) {
                return status(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on namespaces {name:?}: The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
                    ),
                );
            }
            match inner.delete(tx, &key(&name)) {
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

/// Makes the edits due before this request (see [`ApiServer::edit_before`]).
fn interleave(shared: &Shared, request: &str) {
    let (lock, tx) = &**shared;
    let mut inner = lock.lock().unwrap();
    for pending in inner
        .interleaved
        .iter_mut()
        .filter(|i| i.request == request)
    {
        pending.left -= 1;
    }
    let (due, waiting) = std::mem::take(&mut inner.interleaved)
        .into_iter()
        .partition(|i| i.left == 0);
    inner.interleaved = waiting;
    for Interleaved { key, edit, .. } in due {
        let mut object = inner.objects.get(&key).expect("object to edit").clone();
        edit(&mut object);
        inner.write(tx, &key, object);
    }
}
