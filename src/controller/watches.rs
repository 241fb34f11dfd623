//! The watches besides the resources themselves: each feeds a cache of [`Context`] and tells
//! the controller which resources to reconcile. Only labelled Secrets are ever watched: the
//! output Secrets (`app.kubernetes.io/managed-by`, like the values ConfigMaps), the
//! credentials Secrets (`omkc.dev/keycloak-credentials=true`) and the sources of client secrets
//! (`omkc.dev/client-secret-source=true`).

use std::{collections::HashMap, sync::Arc};

use futures::{Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::{NamespaceResourceScope, PartialObjectMeta},
    runtime::{
        WatchStreamExt,
        reflector::{ObjectRef, Store},
        watcher::{self, Event, watcher},
    },
};

use super::Guarded;

use crate::{
    cache::{ObjectCache, Touched},
    context::{Context, Fingerprint},
    crd::ClusterKeycloakConnection,
    names::{CREDENTIALS_LABEL, MANAGED_BY_LABEL, OPERATOR_NAME, SOURCE_LABEL},
};

/// Held by each watch until its first list is complete (or has failed: a watch the operator may
/// not list must not stop it). The resources are listed once every watch has let go (see
/// [`first_lists`]): their reconciles then read complete caches, and the first lists' objects,
/// arriving before any resource is in the store, bring no resource back a second time.
pub(super) struct Listing(Option<tokio::sync::mpsc::Sender<()>>);

impl Listing {
    /// One more holder, for one more watch.
    pub(super) fn another(&self) -> Self {
        Self(self.0.clone())
    }

    fn event<K>(&mut self, event: &Result<Event<K>, watcher::Error>) {
        if matches!(event, Ok(Event::InitDone) | Err(_)) {
            self.0 = None;
        }
    }
}

/// A [`Listing`] to hand out ([`Listing::another`] for each watch, then drop it), and a future
/// that resolves once every one handed out has seen its first list through (or been dropped).
pub(super) fn first_lists() -> (Listing, impl std::future::Future<Output = ()> + Send) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    // No one ever sends: the channel closes when the last holder lets go.
    (Listing(Some(tx)), async move {
        while rx.recv().await.is_some() {}
    })
}

/// The API of a namespaced kind in one namespace, or in all.
pub(super) fn api<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A watch that keeps `cache` current and yields what `pass` keeps of each change in it, each
/// object once: a re-list (after a watch was lost) yields only the objects it finds changed or
/// gone.
fn changes<K>(
    api: Api<K>,
    config: watcher::Config,
    scope: Option<String>,
    cache: impl Fn(&Context) -> &ObjectCache<K> + Send + 'static,
    (ctx, mut listing): (Arc<Context>, Listing),
    mut pass: impl FnMut(&Context, Touched<K>) -> Option<K> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let watch = cache(&ctx).new_watch();
    let kind = K::kind(&Default::default()).to_string();
    let selector = config.label_selector.clone();
    watcher(api, config)
        .default_backoff()
        .map(move |event| {
            listing.event(&event);
            let passed: Vec<_> = match event {
                Ok(event) => (cache(&ctx).apply_from(watch, scope.as_deref(), &event))
                    .into_iter()
                    .filter_map(|touched| pass(&ctx, touched).map(Ok))
                    .collect(),
                Err(e) => {
                    failed(&kind, selector.as_deref(), &e);
                    vec![]
                }
            };
            stream::iter(passed)
        })
        .flatten()
}

/// A `pass` that keeps every change.
fn every<K: Clone>(_: &Context, touched: Touched<K>) -> Option<K> {
    Some(touched.object())
}

/// A `pass` for labelled Secrets read whole on demand: every change, and a Secret that is gone
/// (or no longer labelled) is let go of.
fn letting_go(
    ctx: &Context,
    touched: Touched<PartialObjectMeta<Secret>>,
) -> Option<PartialObjectMeta<Secret>> {
    if let Touched::Deleted(secret) = &touched {
        (ctx.secret_data).forget(&secret.namespace().unwrap_or_default(), &secret.name_any());
    }
    Some(touched.object())
}

/// A watch's error, logged and kept from the controller. The watch backs off on its own
/// (`default_backoff`) and lists again when it must; passed on, the error would make the
/// controller pause every trigger (the other watches', the resources' own, the resyncs') for a
/// backoff of 0.8 s that doubles, up to 30 s, with each error of any watch until a trigger gets
/// through (kube's `trigger_backoff`): one watch RBAC does not grant, or a `410 Gone`, held a new
/// resource back for a second or more.
pub(super) fn failed(kind: &str, selector: Option<&str>, error: &watcher::Error) {
    if expired(error) {
        tracing::info!(kind, selector, "watch expired, listing again: {error}");
    } else {
        tracing::warn!(kind, selector, "watch failed, retrying: {error}");
    }
}

/// A `410` (Expired, Gone): the API server no longer has the history a watch asked for (its
/// watch cache was rebuilt, as after a CRD is applied, or the watch fell behind), and the watcher
/// lists again. Part of the watch protocol, not a fault: client-go's reflector does not warn
/// either.
fn expired(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::WatchError(status) => status.code == 410,
        watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 410,
        _ => false,
    }
}

/// A stream filter that keeps a watch's errors from the controller, [`failed`].
pub(super) fn without_errors<T>(
    kind: String,
    selector: Option<String>,
) -> impl FnMut(&Result<T, watcher::Error>) -> std::future::Ready<bool> {
    move |event| {
        if let Err(e) = event {
            failed(&kind, selector.as_deref(), e);
        }
        std::future::ready(event.is_ok())
    }
}

/// Output objects (Secrets, values ConfigMaps): only the ones this operator labelled, cached
/// whole (they are its own). A deletion always counts; a change only when it is not the
/// operator's own write coming back.
pub(super) fn outputs<K>(
    client: &Client,
    namespace: &Option<String>,
    cache: fn(&Context) -> &ObjectCache<K>,
    ctx: (Arc<Context>, Listing),
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + use<K>
where
    K: Fingerprint + Resource<Scope = NamespaceResourceScope> + Clone + std::fmt::Debug,
    K: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    changes(
        api::<K>(client, namespace),
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={OPERATOR_NAME}")),
        namespace.clone(),
        cache,
        ctx,
        |ctx, touched| match touched {
            Touched::Applied(obj) if ctx.is_own_write(obj.as_ref()) => None,
            Touched::Applied(obj) => Some(Arc::unwrap_or_clone(obj)),
            Touched::Deleted(obj) => {
                ctx.forget_written(obj.as_ref());
                Some(Arc::unwrap_or_clone(obj))
            }
        },
    )
}

/// Secrets labelled as sources of client secrets, their metadata only.
pub(super) fn sources(
    client: &Client,
    namespace: &Option<String>,
    ctx: (Arc<Context>, Listing),
) -> impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + use<> {
    // `Api<PartialObjectMeta<_>>` lists and watches metadata only: the data never comes.
    changes(
        api::<PartialObjectMeta<Secret>>(client, namespace),
        watcher::Config::default().labels(&format!("{SOURCE_LABEL}=true")),
        namespace.clone(),
        |ctx| &ctx.sources,
        ctx,
        letting_go,
    )
}

/// The resources that take their client secret from a Secret.
pub(super) fn using_source(
    store: &Store<Guarded>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<Guarded>> {
    let namespace = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    refs(store, |obj| {
        obj.metadata.namespace.as_deref() == Some(namespace.as_str())
            && obj
                .spec
                .secret
                .as_ref()
                .and_then(|s| s.source.as_ref())
                .is_some_and(|s| s.name == name)
    })
}

/// Credentials Secrets, in each of `scopes`: only those labelled as such, their metadata only.
pub(super) fn credentials(
    client: &Client,
    scopes: &[Option<String>],
    (ctx, listing): (Arc<Context>, Listing),
) -> impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + use<> {
    let watches = scopes.iter().map(|scope| {
        changes(
            api::<PartialObjectMeta<Secret>>(client, scope),
            watcher::Config::default().labels(&format!("{CREDENTIALS_LABEL}=true")),
            scope.clone(),
            |ctx| &ctx.credentials,
            (ctx.clone(), listing.another()),
            letting_go,
        )
        .boxed()
    });
    stream::select_all(watches)
}

/// The ClusterKeycloakConnections.
pub(super) fn connections(
    client: &Client,
    ctx: (Arc<Context>, Listing),
) -> impl Stream<Item = Result<ClusterKeycloakConnection, watcher::Error>> + Send + use<> {
    // The generation each connection was last passed on with: its status (written by the
    // connection checks at every resync) changes nothing for the resources using it.
    let mut seen: HashMap<String, Option<i64>> = HashMap::new();
    changes(
        Api::all(client.clone()),
        watcher::Config::default(),
        None,
        |ctx| &ctx.connections,
        ctx,
        move |ctx, touched| match touched {
            Touched::Applied(c) => {
                let generation = c.metadata.generation;
                (seen.insert(c.name_any(), generation) != Some(generation))
                    .then(|| Arc::unwrap_or_clone(c))
            }
            Touched::Deleted(c) => {
                seen.remove(&c.name_any());
                ctx.forget_gone();
                Some(Arc::unwrap_or_clone(c))
            }
        },
    )
}

/// The metadata of the watched namespace (or of all), for the connections' namespace selectors.
pub(super) fn namespaces(
    client: &Client,
    namespace: &Option<String>,
    ctx: (Arc<Context>, Listing),
) -> impl Stream<Item = Result<PartialObjectMeta<Namespace>, watcher::Error>> + Send + use<> {
    let config = match namespace {
        Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
        None => watcher::Config::default(),
    };
    changes(
        Api::all(client.clone()),
        config,
        namespace.clone(),
        |ctx| &ctx.namespaces,
        ctx,
        every,
    )
}

/// The resource that owns an output object.
pub(super) fn owner_of<K: Resource>(obj: &K) -> Option<ObjectRef<Guarded>> {
    let namespace = obj.namespace()?;
    let owner = crate::crd::owner::controller(obj)?;
    Some(ObjectRef::new_with(owner, ()).within(&namespace))
}

fn refs<'a>(
    store: &'a Store<Guarded>,
    keep: impl Fn(&crate::crd::OpenMetadataKeycloakClient) -> bool + 'a,
) -> Vec<ObjectRef<Guarded>> {
    store
        .state()
        .iter()
        .filter(|guard| guard.0.as_ref().is_ok_and(&keep))
        .map(|guard| ObjectRef::from_obj(guard.as_ref()))
        .collect()
}

/// The resources whose credentials a Secret holds: directly, or through their connection.
pub(super) fn using_credentials(
    store: &Store<Guarded>,
    ctx: &Context,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<Guarded>> {
    let namespace = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    refs(store, |obj| {
        let k = &obj.spec.keycloak;
        if let Some(reference) = &k.connection_ref {
            return ctx.connections.get("", &reference.name).is_some_and(|c| {
                (c.spec.credentials_secret_ref).in_or(&ctx.settings.operator_namespace)
                    == (namespace.clone(), name.clone())
            });
        }
        obj.metadata.namespace.as_deref() == Some(namespace.as_str())
            && k.credentials_secret_ref
                .as_ref()
                .is_some_and(|r| r.name == name)
    })
}

/// The resources that use a connection.
pub(super) fn using_connection(
    store: &Store<Guarded>,
    connection: &str,
) -> Vec<ObjectRef<Guarded>> {
    refs(store, |obj| {
        obj.spec
            .keycloak
            .connection_ref
            .as_ref()
            .is_some_and(|r| r.name == connection)
    })
}

/// The resources of a namespace that use a connection (its labels decide whether they may).
pub(super) fn in_namespace_with_connection(
    store: &Store<Guarded>,
    namespace: &str,
) -> Vec<ObjectRef<Guarded>> {
    refs(store, |obj| {
        obj.metadata.namespace.as_deref() == Some(namespace)
            && obj.spec.keycloak.connection_ref.is_some()
    })
}

#[cfg(test)]
mod tests;
