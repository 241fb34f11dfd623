//! An in-memory mirror of watched objects, fed by the watch streams of every watched scope,
//! read by the reconciles: what the watches already answer is never asked of the API server.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use kube::{Resource, ResourceExt, runtime::watcher};

use crate::sync::{Locked, Shared};

type Key = (String, String);

/// Objects by namespace and name.
pub struct ObjectCache<K> {
    objects: RwLock<HashMap<Key, Arc<K>>>,
    /// Objects of a re-list in progress, per watch: several watches may feed one scope (one
    /// per watched namespace, each listing every connection), and each list is complete on its
    /// own, so their re-lists never mix.
    relisting: Mutex<HashMap<u64, Vec<Arc<K>>>>,
    /// The id the next watch gets.
    watches: AtomicU64,
    /// Scopes whose first list is complete.
    listed: Mutex<HashSet<Option<String>>>,
}

impl<K> Default for ObjectCache<K> {
    fn default() -> Self {
        Self {
            objects: RwLock::default(),
            relisting: Mutex::default(),
            listed: Mutex::default(),
            watches: AtomicU64::new(1),
        }
    }
}

/// The object as kept: without `managedFields`, which the reconciles never read and which a
/// real API server adds to every object (often half its size).
fn lean<K: Resource>(mut obj: K) -> K {
    obj.meta_mut().managed_fields = None;
    obj
}

fn key_of<K: Resource>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

impl<K: Resource + Clone> ObjectCache<K> {
    /// The object, if the watches have seen it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.objects
            .reading()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Whether a watch over `namespace` (or over all namespaces) has listed it completely:
    /// before that, an object missing from the cache may exist.
    pub fn has_listed(&self, namespace: &str) -> bool {
        let listed = self.listed.locked();
        listed.contains(&None) || listed.contains(&Some(namespace.to_string()))
    }

    /// Every object of a namespace.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.objects
            .reading()
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Adds or replaces an object.
    pub fn insert(&self, obj: K) {
        self.objects
            .writing()
            .insert(key_of(&obj), Arc::new(lean(obj)));
    }

    /// An id for a new watch feeding this cache (see [`Self::apply_from`]).
    pub fn new_watch(&self) -> u64 {
        self.watches.fetch_add(1, Ordering::Relaxed)
    }

    /// Applies one event of the only watch over `scope` (a namespace, or all when `None`).
    pub fn apply(&self, scope: Option<&str>, event: &watcher::Event<K>) -> Vec<Touched<K>> {
        self.apply_from(0, scope, event)
    }

    /// Applies one event of watch `watch` over `scope` (a namespace, or all when `None`), and
    /// returns what it changed. A re-list replaces exactly the objects of its scope once it is
    /// complete: what changed is then the objects new or at another `resourceVersion`, and those
    /// gone from the list (deleted while no watch was open), never the ones listed again as
    /// they were.
    pub fn apply_from(
        &self,
        watch: u64,
        scope: Option<&str>,
        event: &watcher::Event<K>,
    ) -> Vec<Touched<K>> {
        match event {
            watcher::Event::Apply(obj) => {
                let obj = Arc::new(lean(obj.clone()));
                self.objects.writing().insert(key_of(&*obj), obj.clone());
                vec![Touched::Applied(obj)]
            }
            watcher::Event::Delete(obj) => {
                let gone = self.objects.writing().remove(&key_of(obj));
                vec![Touched::Deleted(
                    gone.unwrap_or_else(|| Arc::new(obj.clone())),
                )]
            }
            watcher::Event::Init => {
                self.relisting.locked().insert(watch, Vec::new());
                vec![]
            }
            watcher::Event::InitApply(obj) => {
                self.relisting
                    .locked()
                    .entry(watch)
                    .or_default()
                    .push(Arc::new(lean(obj.clone())));
                vec![]
            }
            watcher::Event::InitDone => {
                let listed = self.relisting.locked().remove(&watch).unwrap_or_default();
                let mut objects = self.objects.writing();
                let mut before: HashMap<Key, Arc<K>> = objects
                    .extract_if(|(ns, _), _| scope.is_none_or(|s| s == ns))
                    .collect();
                let mut touched = Vec::new();
                for obj in listed {
                    let key = key_of(obj.as_ref());
                    let was = before.remove(&key).or_else(|| objects.get(&key).cloned());
                    if was.is_none_or(|was| was.resource_version() != obj.resource_version()) {
                        touched.push(Touched::Applied(obj.clone()));
                    }
                    objects.insert(key, obj);
                }
                touched.extend(before.into_values().map(Touched::Deleted));
                self.listed.locked().insert(scope.map(str::to_string));
                touched
            }
        }
    }
}

/// What a watch event changed in an [`ObjectCache`].
#[derive(Debug)]
pub enum Touched<K> {
    /// An object added or changed.
    Applied(Arc<K>),
    /// An object gone.
    Deleted(Arc<K>),
}

impl<K: Clone> Touched<K> {
    /// The object, added, changed or gone.
    pub fn object(self) -> K {
        match self {
            Self::Applied(obj) | Self::Deleted(obj) => Arc::unwrap_or_clone(obj),
        }
    }
}

/// Whole Secrets read on demand (credentials and sources a resource names), each kept only while
/// its `resourceVersion` holds. The watches of labelled Secrets cache metadata only, so whatever
/// a tenant labels costs the operator its metadata, and only the Secrets resources use are ever
/// held whole.
#[derive(Default)]
pub struct SecretData {
    entries: Mutex<HashMap<Key, (String, Arc<k8s_openapi::api::core::v1::Secret>)>>,
}

impl SecretData {
    /// The Secret as last read, if it is still at `version`.
    pub fn get(
        &self,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Option<Arc<k8s_openapi::api::core::v1::Secret>> {
        self.entries
            .locked()
            .get(&(namespace.to_string(), name.to_string()))
            .filter(|(v, _)| v == version)
            .map(|(_, s)| s.clone())
    }

    /// Keeps a Secret just read.
    pub fn insert(&self, secret: Arc<k8s_openapi::api::core::v1::Secret>) {
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        self.entries
            .locked()
            .insert(key_of(secret.as_ref()), (version, secret));
    }

    /// Lets go of a Secret that is gone (or no longer labelled for the operator).
    pub fn forget(&self, namespace: &str, name: &str) {
        (self.entries.locked()).remove(&(namespace.to_string(), name.to_string()));
    }

    /// Keeps only the Secrets `named` says are still named by something.
    pub fn retain(&self, named: impl Fn(&str, &str) -> bool) {
        (self.entries.locked()).retain(|(namespace, name), _| named(namespace, name));
    }

    /// How many Secrets are held whole.
    pub fn len(&self) -> usize {
        self.entries.locked().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    fn secret(ns: &str, name: &str) -> Secret {
        let mut s = Secret::default();
        s.metadata.namespace = Some(ns.into());
        s.metadata.name = Some(name.into());
        s
    }

    #[test]
    fn objects_are_kept_without_their_managed_fields() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let with_fields = |ns, name| {
            let mut s = secret(ns, name);
            s.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
                manager: Some("kubectl".into()),
                ..Default::default()
            }]);
            s
        };
        let cache = ObjectCache::default();
        cache.apply(None, &watcher::Event::Apply(with_fields("a", "live")));
        cache.apply(Some("b"), &watcher::Event::Init);
        cache.apply(
            Some("b"),
            &watcher::Event::InitApply(with_fields("b", "listed")),
        );
        cache.apply(Some("b"), &watcher::Event::InitDone);
        for (ns, name) in [("a", "live"), ("b", "listed")] {
            let kept = cache.get(ns, name).unwrap();
            assert_eq!(kept.metadata.managed_fields, None, "{ns}/{name}");
        }
    }

    #[test]
    fn a_relist_replaces_the_objects_of_its_scope_only() {
        let cache = ObjectCache::default();
        cache.insert(secret("a", "old"));
        cache.insert(secret("b", "kept"));
        assert!(!cache.has_listed("a"));
        cache.apply(Some("a"), &watcher::Event::Init);
        cache.apply(Some("a"), &watcher::Event::InitApply(secret("a", "new")));
        assert!(
            cache.get("a", "old").is_some(),
            "until the re-list is complete"
        );
        assert!(!cache.has_listed("a"), "listed only when complete");
        cache.apply(Some("a"), &watcher::Event::InitDone);
        assert!(cache.has_listed("a") && !cache.has_listed("b"));
        assert!(cache.get("a", "old").is_none());
        assert!(cache.get("a", "new").is_some());
        assert!(cache.get("b", "kept").is_some());
        cache.apply(None, &watcher::Event::Init);
        cache.apply(None, &watcher::Event::InitDone);
        assert!(
            cache.has_listed("b"),
            "an all-namespaces list covers every namespace"
        );
        assert!(
            cache.get("b", "kept").is_none(),
            "an all-namespaces re-list"
        );
        cache.apply(None, &watcher::Event::Apply(secret("c", "x")));
        assert_eq!(cache.in_namespace("c").len(), 1);
        cache.apply(None, &watcher::Event::Delete(secret("c", "x")));
        assert!(cache.get("c", "x").is_none());
    }

    #[test]
    fn a_relist_yields_what_changed_and_what_is_gone_never_what_it_finds_as_it_was() {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        let at = |name: &str, version: &str| {
            let mut s = secret("a", name);
            s.metadata.resource_version = Some(version.into());
            s
        };
        let said = |touched: Vec<Touched<Secret>>| {
            let mut said: Vec<String> = (touched.into_iter())
                .map(|t| match t {
                    Touched::Applied(o) => format!("applied {}", o.name_any()),
                    Touched::Deleted(o) => format!("deleted {}", o.name_any()),
                })
                .collect();
            said.sort();
            said
        };
        let cache = ObjectCache::default();
        let list = |objects: Vec<Secret>| {
            let mut touched = cache.apply(Some("a"), &Init);
            for obj in objects {
                touched.extend(cache.apply(Some("a"), &InitApply(obj)));
            }
            touched.extend(cache.apply(Some("a"), &InitDone));
            said(touched)
        };
        let first = list(vec![at("same", "1"), at("changed", "1"), at("gone", "1")]);
        assert_eq!(first, ["applied changed", "applied gone", "applied same"]);
        cache.insert(secret("b", "elsewhere"));
        let again = list(vec![at("same", "1"), at("changed", "2"), at("new", "3")]);
        assert_eq!(again, ["applied changed", "applied new", "deleted gone"]);
        assert!(cache.get("b", "elsewhere").is_some(), "another scope's");
        let applied = said(cache.apply(Some("a"), &Apply(at("same", "4"))));
        assert_eq!(applied, ["applied same"], "a watch event always counts");
        let deleted = said(cache.apply(Some("a"), &Delete(at("same", "4"))));
        assert_eq!(deleted, ["deleted same"]);
    }

    #[test]
    fn overlapping_relists_of_two_watches_of_one_scope_never_empty_the_cache() {
        // Two watched namespaces, two watches of every connection, re-listing at the same time.
        let cache = ObjectCache::default();
        let (a, b) = (cache.new_watch(), cache.new_watch());
        cache.apply_from(a, None, &watcher::Event::Init);
        cache.apply_from(a, None, &watcher::Event::InitApply(secret("", "platform")));
        cache.apply_from(b, None, &watcher::Event::Init);
        cache.apply_from(a, None, &watcher::Event::InitDone);
        assert!(cache.get("", "platform").is_some());
        cache.apply_from(b, None, &watcher::Event::InitApply(secret("", "platform")));
        cache.apply_from(b, None, &watcher::Event::InitDone);
        assert!(cache.get("", "platform").is_some(), "each list is complete");
    }
}
