//! The two verbs with most to them: WATCH (history, then live events) and PATCH (JSON,
//! merge, strategic for Leases, server-side apply).

use super::*;
use super::{
    http::{meta_only, ok_json},
    route::Route,
};

/// A watch: the history since the requested resourceVersion, then live events, each filtered by
/// the route's namespace and the selectors; none once the user is cut off.
pub(super) fn watch(
    shared: &Shared,
    route: &Route,
    query: &BTreeMap<String, String>,
    metadata_only: bool,
    cut_off: impl Fn() -> bool + Clone + Send + Sync + 'static,
) -> Response {
    let (lock, tx) = &**shared;
    let since: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let compacted = lock
        .lock()
        .unwrap()
        .compacted
        .get(&route.collection())
        .copied();
    if let Some(compacted) = compacted.filter(|c| since < *c) {
        // What the apiserver answers a watch from a resourceVersion it no longer has.
        let gone = json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {since} ({compacted})"),
            "reason": "Expired", "code": 410
        }});
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{gone}\n"),
        )
            .into_response();
    }
    let rx = tx.subscribe();
    let collection = route.collection();
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
        let collection = collection.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(_) if cut_off() => std::future::pending::<()>().await,
                    Ok(e) if e.kind == COMPACTED && e.collection == collection => return None,
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

/// The kind of the event that ends the watches of a compacted collection.
const COMPACTED: &str = "COMPACTED";

impl ApiServer {
    /// Forgets the history of `collection` (e.g. `v1/secrets`), as an API server restart or an
    /// etcd compaction would: its open watches end, and a watch from an older resourceVersion is
    /// answered 410 Gone, so watchers list it again.
    pub fn compact(&self, collection: &str) {
        let (lock, tx) = &*self.shared;
        let mut inner = lock.lock().unwrap();
        let rv = inner.next_rv();
        inner.compacted.insert(collection.to_string(), rv);
        let _ = tx.send(WatchEvent {
            collection: collection.to_string(),
            namespace: String::new(),
            rv,
            kind: COMPACTED,
            object: json!({"metadata": {}}),
            previous: None,
        });
    }
}

/// What a PATCH is about.
pub(super) struct Patching<'a> {
    pub(super) route: &'a Route,
    pub(super) kind: &'static str,
    pub(super) name: &'a str,
    pub(super) query: &'a BTreeMap<String, String>,
    pub(super) content_type: &'a str,
}

/// A PATCH: JSON patch, merge patch (strategic for Leases) or server-side apply, then the
/// status subresource's rules and the labels' validation.
pub(super) fn patch(
    shared: &Shared,
    request: Patching<'_>,
    body: &Bytes,
    record: impl FnOnce(Vec<Access>),
) -> Response {
    let Patching {
        route,
        kind,
        name,
        query,
        content_type,
    } = request;
    let (lock, tx) = &**shared;
    let patch: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            record(vec![route.access("patch")]);
            return status(400, "BadRequest", e.to_string());
        }
    };
    let existing = lock.lock().unwrap().objects.get(&route.key(name)).cloned();
    let updating = existing.is_some();
    let is_apply = content_type.starts_with("application/apply-patch");
    let mut access = vec![route.access("patch")];
    let base = match (existing, is_apply) {
        (Some(v), _) => v,
        (None, true) if route.subresource.is_none() => {
            // Server-side apply that creates the object is authorised as create too, and
            // admitted as one.
            access.push(route.access("create"));
            let namespace = route.namespace.as_deref().unwrap_or_default();
            if lock.lock().unwrap().terminating(namespace) {
                record(access);
                return route.namespace_terminating(name);
            }
            json!({
                "apiVersion": route.api_version(), "kind": kind,
                "metadata": {"name": name, "namespace": route.namespace.clone().unwrap_or_default()}
            })
        }
        (None, _) => {
            record(access);
            return route.not_found(name);
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
            && let Some((field, owner)) = inner.conflict(&route.key(name), &manager, &base, &patch)
        {
            return status(
                409,
                "Conflict",
                format!("Apply failed with 1 conflict: conflict with \"{owner}\": .{field}"),
            );
        }
        patched = inner.apply(&route.key(name), &manager, &base, &patch);
    } else if content_type.starts_with("application/merge-patch+json")
        // Strategic merge patch equals a merge patch for objects without merge keys
        // (a Lease's spec is scalars only).
        || (content_type.starts_with("application/strategic-merge-patch+json")
            && kind == "Lease")
    {
        json_patch::merge(&mut patched, &patch);
    } else {
        return status(415, "UnsupportedMediaType", content_type.to_string());
    }
    let is_custom = route.group == "omkc.dev";
    let mut object = match route.subresource.as_deref() {
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
    let warnings = validation::pruning_warnings(&object, kind);
    let invalid = match kind {
        "Event" => invalid_event(&object, Some(&base), name),
        _ => invalid_labels(&object, kind, name)
            .or_else(|| invalid_custom(&mut object, updating.then_some(&base), kind, name)),
    };
    if let Some(invalid) = invalid {
        return status(422, "Invalid", invalid);
    }
    let mut inner = lock.lock().unwrap();
    let stored = if is_apply {
        inner.store(tx, &route.key(name), object)
    } else {
        inner.write(tx, &route.key(name), object)
    };
    validation::warned(ok_json(&stored), &warnings)
}
