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
        let omkc = "/apis/omkc.dev/v1alpha1/namespaces/team-a/openmetadatakeycloakclients";
        let cases = [
            "GET /api/v1/namespaces/team-a/secrets/om-oidc -> get secrets",
            "GET /api/v1/namespaces/team-a/secrets?labelSelector=x -> list secrets",
            "GET /api/v1/secrets?watch=true&resourceVersion=1 -> (a watch: not timed)",
            "POST /apis/events.k8s.io/v1/namespaces/team-a/events -> create events",
            &format!("PATCH {omkc}/om/status -> patch openmetadatakeycloakclients/status"),
            &format!("PATCH {omkc}/om -> patch openmetadatakeycloakclients"),
            "GET /apis/omkc.dev/v1alpha1/clusterkeycloakconnections/a -> get clusterkeycloakconnections",
            "PATCH /apis/omkc.dev/v1alpha1/clusterkeycloakconnections/a/status -> patch clusterkeycloakconnections/status",
            "GET /apis/apps/v1/namespaces/a/deployments/om -> get deployments",
            "PATCH /apis/apps/v1/namespaces/a/statefulsets/om -> patch statefulsets",
            "GET /api/v1/namespaces/kube-system -> get namespaces",
            "GET /api/v1/namespaces -> list namespaces",
            "PUT /apis/coordination.k8s.io/v1/namespaces/omkc/leases/omkc -> update leases",
            "GET /apis/example.com/v1/namespaces/a/widgets/w -> get other",
            "DELETE /api/v1/namespaces/a/configmaps/c -> delete configmaps",
        ];
        for case in cases {
            let (request, expected) = case.split_once(" -> ").unwrap();
            let (method, uri) = request.split_once(' ').unwrap();
            let labelled = labels(&method.parse().unwrap(), &uri.parse().unwrap());
            let said = labelled.map_or("(a watch: not timed)".into(), |(v, r)| format!("{v} {r}"));
            assert_eq!(said, expected, "{request}");
        }
    }

    /// An inner service that must be polled ready before each call, as a buffer must.
    struct Gated {
        ready: bool,
    }

    impl tower::Service<http::Request<()>> for Gated {
        type Response = ();
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<(), Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            assert!(
                std::mem::take(&mut self.ready),
                "called before it was ready"
            );
            std::future::ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_layer_asks_the_inner_service_for_readiness_then_times_the_request() {
        use tower::{Layer, Service};
        let metrics = Arc::new(Metrics::default());
        let mut timed = Timed::layer(metrics.clone()).layer(Gated { ready: false });
        std::future::poll_fn(|cx| timed.poll_ready(cx))
            .await
            .unwrap();
        let get = http::Request::get("/api/v1/namespaces/a/secrets/s")
            .body(())
            .unwrap();
        timed.call(get).await.unwrap();
        let text = metrics.render();
        let timed_get =
            r#"omkc_kubernetes_request_duration_seconds_count{verb="get",resource="secrets"} 1"#;
        assert!(text.contains(timed_get), "{text}");
    }
}
