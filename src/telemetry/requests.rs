//! Timing of every request to the Kubernetes API, as a layer of the Kubernetes client: the
//! `omkc_kubernetes_request_duration_seconds{verb, resource}` histogram. Labels are bounded: a
//! verb and a resource kind from a fixed list, never a name or a namespace. Watches are
//! long-lived and not timed.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use super::Metrics;

/// The verb and resource of a request, when it is timed (`None` for a watch).
pub fn labels(method: &http::Method, uri: &http::Uri) -> Option<(&'static str, &'static str)> {
    let path = uri.path();
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| {
            // `/apis/<group>/<version>/...`
            let after = path.strip_prefix("/apis/")?;
            let mut parts = after.splitn(3, '/');
            parts.next()?;
            parts.next()?;
            parts.next()
        })
        .unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    // `namespaces/<ns>/<resource>/...` is namespaced; `namespaces[/<name>]` is the namespaces.
    let in_namespace = match segments.as_slice() {
        ["namespaces", _, resource, ..] => Some((*resource, segments.get(3), segments.get(4))),
        _ => None,
    };
    let (resource, name, subresource) = in_namespace.unwrap_or_else(|| match segments.as_slice() {
        [resource, rest @ ..] => (*resource, rest.first(), rest.get(1)),
        [] => ("", None, None),
    });
    let watch = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        http::Method::GET if watch => return None,
        http::Method::GET if name.is_some() => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PATCH => "patch",
        http::Method::PUT => "update",
        http::Method::DELETE => "delete",
        _ => "other",
    };
    let resource = match (resource, subresource.copied()) {
        ("openmetadatakeycloakclients", Some("status")) => "openmetadatakeycloakclients/status",
        ("openmetadatakeycloakclients", _) => "openmetadatakeycloakclients",
        ("clusterkeycloakconnections", Some("status")) => "clusterkeycloakconnections/status",
        ("clusterkeycloakconnections", _) => "clusterkeycloakconnections",
        ("secrets", _) => "secrets",
        ("configmaps", _) => "configmaps",
        ("events", _) => "events",
        ("leases", _) => "leases",
        ("namespaces", _) => "namespaces",
        ("deployments", _) => "deployments",
        ("statefulsets", _) => "statefulsets",
        _ => "other",
    };
    Some((verb, resource))
}

/// The layer: `ClientBuilder::with_layer(&Timed::layer(metrics))`.
#[derive(Clone, Debug)]
pub struct Timed<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl Timed<()> {
    /// A layer that times every request of the client it wraps into `metrics`.
    pub fn layer<S>(metrics: Arc<Metrics>) -> impl tower::Layer<S, Service = Timed<S>> {
        tower::layer::layer_fn(move |inner| Timed {
            inner,
            metrics: metrics.clone(),
        })
    }
}

impl<S, B> tower::Service<http::Request<B>> for Timed<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let labels = labels(request.method(), request.uri());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            if let Some((verb, resource)) = labels {
                metrics.kubernetes_request(verb, resource, started.elapsed());
            }
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_by_verb_and_resource_never_by_name() {
        let cases = [
            (
                "GET",
                "/api/v1/namespaces/team-a/secrets/om-oidc",
                Some(("get", "secrets")),
            ),
            (
                "GET",
                "/api/v1/namespaces/team-a/secrets?labelSelector=x",
                Some(("list", "secrets")),
            ),
            ("GET", "/api/v1/secrets?watch=true&resourceVersion=1", None),
            (
                "POST",
                "/apis/events.k8s.io/v1/namespaces/team-a/events",
                Some(("create", "events")),
            ),
            (
                "PATCH",
                "/apis/omkc.dev/v1alpha1/namespaces/team-a/openmetadatakeycloakclients/om/status",
                Some(("patch", "openmetadatakeycloakclients/status")),
            ),
            (
                "PATCH",
                "/apis/omkc.dev/v1alpha1/namespaces/team-a/openmetadatakeycloakclients/om",
                Some(("patch", "openmetadatakeycloakclients")),
            ),
            (
                "GET",
                "/apis/omkc.dev/v1alpha1/clusterkeycloakconnections/shared",
                Some(("get", "clusterkeycloakconnections")),
            ),
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                Some(("get", "namespaces")),
            ),
            ("GET", "/api/v1/namespaces", Some(("list", "namespaces"))),
            (
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/omkc/leases/omkc",
                Some(("update", "leases")),
            ),
            (
                "GET",
                "/apis/example.com/v1/namespaces/a/widgets/w",
                Some(("get", "other")),
            ),
            (
                "DELETE",
                "/api/v1/namespaces/a/configmaps/c",
                Some(("delete", "configmaps")),
            ),
        ];
        for (method, uri, expected) in cases {
            let method: http::Method = method.parse().unwrap();
            let uri: http::Uri = uri.parse().unwrap();
            assert_eq!(labels(&method, &uri), expected, "{method} {uri}");
        }
    }
}
