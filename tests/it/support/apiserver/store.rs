//! What the fake API server holds and how a write changes it: resource versions, watch
//! events, server-side apply's field ownership, finalizers, the labels it refuses.

use super::*;

/// A field: the keys down to a leaf (lists are atomic, as for `x-kubernetes-list-type: atomic`).
pub(super) type Path = Vec<String>;

/// The leaf fields of a JSON value, with their values.
pub(super) fn leaves(value: &Value) -> BTreeMap<Path, Value> {
    pub(super) fn walk(v: &Value, prefix: &mut Path, out: &mut BTreeMap<Path, Value>) {
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
pub(super) fn remove_path(value: &mut Value, path: &[String]) {
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

impl Inner {
    pub(super) fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub(super) fn emit(
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
    pub(super) fn write(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: &Key,
        object: Value,
    ) -> Value {
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
    pub(super) fn conflict(
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
    pub(super) fn apply(&mut self, key: &Key, manager: &str, base: &Value, patch: &Value) -> Value {
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

    pub(super) fn store(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: &Key,
        mut object: Value,
    ) -> Value {
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
        if key.0 == "v1/namespaces" && previous.is_none() {
            // The API server's defaulting: the namespace controller's finalizer, and Active.
            object["spec"]["finalizers"] = json!(["kubernetes"]);
            object["status"]["phase"] = json!("Active");
        }
        let deleting = object["metadata"]["deletionTimestamp"].is_string();
        let finalizers_left = held(&object);
        if let Some(mut last) = previous.clone().filter(|_| deleting && !finalizers_left) {
            // The update that drops the last finalizer is made a deletion (the registry's
            // `deleteWithoutFinalizers`): watches see one DELETED, of the object as it was
            // stored, at the deletion's resourceVersion; the writer gets its update back.
            last["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.objects.remove(key);
            self.applied.retain(|(k, _), _| k != key);
            self.emit(tx, key, "DELETED", last);
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

    /// Whether `namespace` is being deleted: the NamespaceLifecycle admission then refuses
    /// every create in it.
    pub(super) fn terminating(&self, namespace: &str) -> bool {
        let key = (
            "v1/namespaces".to_string(),
            String::new(),
            namespace.to_string(),
        );
        (self.objects.get(&key)).is_some_and(|n| n["metadata"]["deletionTimestamp"].is_string())
    }

    pub(super) fn delete(
        &mut self,
        tx: &broadcast::Sender<WatchEvent>,
        key: &Key,
    ) -> Option<Value> {
        let mut object = self.objects.get(key)?.clone();
        if held(&object) {
            if !object["metadata"]["deletionTimestamp"].is_string() {
                object["metadata"]["deletionTimestamp"] = json!("2026-11-23T00:00:01Z");
                if key.0 == "v1/namespaces" {
                    object["status"]["phase"] = json!("Terminating");
                }
                return Some(self.write(tx, key, object));
            }
            return Some(object);
        }
        // A DELETED event carries the deletion's resourceVersion.
        object["metadata"]["resourceVersion"] = json!(self.next_rv().to_string());
        self.objects.remove(key);
        self.applied.retain(|(k, _), _| k != key);
        self.emit(tx, key, "DELETED", object.clone());
        Some(object)
    }
}

/// Whether a deletion of `object` waits: for its finalizers, or a namespace's `spec.finalizers`
/// (`kubernetes`, until the namespace controller has emptied it; none runs here, so a deleted
/// namespace stays terminating).
fn held(object: &Value) -> bool {
    let some = |finalizers: &Value| finalizers.as_array().is_some_and(|f| !f.is_empty());
    some(&object["metadata"]["finalizers"]) || some(&object["spec"]["finalizers"])
}

/// What the apiserver's metadata validation says of the first label or annotation it refuses
/// (apimachinery's `ValidateLabels`: a value of at most 63 characters, alphanumerics with `-`,
/// `_` and `.` inside; a key likewise, with an optional DNS-subdomain prefix and `/`; an
/// annotation's key as a label's, `ValidateAnnotations`).
pub(super) fn invalid_labels(object: &Value, kind: &str, name: &str) -> Option<String> {
    let metadata = &object["metadata"];
    let keys = ["labels", "annotations"].into_iter().flat_map(|field| {
        let keys = metadata[field]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys());
        keys.map(move |key| (field, key))
    });
    for (field, key) in keys {
        let key_name = key.rsplit_once('/').map_or(key.as_str(), |(_, n)| n);
        // The prefix: a DNS-1123 subdomain (lower case, no `_`).
        let prefix_ok = key.rsplit_once('/').is_none_or(|(p, _)| {
            !p.is_empty()
                && p.len() <= 253
                && p.split('.').all(|l| {
                    !l.is_empty() && is_name(l) && !l.contains('_') && l == l.to_lowercase()
                })
        });
        let part = if !prefix_ok {
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
        } else if key_name.is_empty() || !is_name(key_name) {
            "name part must consist of alphanumeric characters, '-', '_' or '.'"
        } else {
            continue;
        };
        return Some(format!(
            "{kind} {name:?} is invalid: metadata.{field}: Invalid value: {key:?}: {part}, and must start and end with an alphanumeric character"
        ));
    }
    let labels = metadata["labels"].as_object()?;
    for value in labels.values() {
        let value = value.as_str().unwrap_or_default();
        if !is_name(value) {
            return Some(format!(
                "{kind} {name:?} is invalid: metadata.labels: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ));
        }
    }
    None
}

/// A label value, or the name part of a label key or qualified name (apimachinery's
/// `IsQualifiedName`): at most 63 characters, alphanumerics with `-`, `_` and `.` inside.
pub(super) fn is_name(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}
