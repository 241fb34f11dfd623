//! The HTTP server of the probes and metrics: `/livez`, `/readyz`, `/metrics` on one port.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::{Health, Metrics};

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The HTTP routes: `/livez`, `/readyz`, `/metrics`.
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics })
}

fn probe(result: Result<(), String>) -> Response {
    match result {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn livez(State(s): State<AppState>) -> Response {
    probe(s.health.live())
}

async fn readyz(State(s): State<AppState>) -> Response {
    probe(s.health.ready())
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// Serves [`router`] on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(health, metrics))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_probes_answer_with_the_health_and_say_why_not() {
        crate::tls::install_crypto_provider();
        let health = Arc::new(Health::new(1));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let metrics = Arc::new(Metrics::default());
        tokio::spawn(serve(
            listener,
            health.clone(),
            metrics,
            std::future::pending(),
        ));
        let get = |path: &str| {
            let url = format!("{base}{path}");
            async move {
                let response = reqwest::get(url).await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let ok = (200, "ok\n".to_string());
        assert_eq!(get("/livez").await, ok);
        let unsynced = "1 of 1 resource caches not synced yet\n".to_string();
        assert_eq!(get("/readyz").await, (503, unsynced));
        health.mark_synced(0);
        assert_eq!(get("/readyz").await, ok);
        health.mark_ended(0);
        let stopped = "controller loop 0 has stopped\n".to_string();
        assert_eq!(get("/livez").await, (503, stopped));
        let (code, text) = get("/metrics").await;
        assert!(code == 200 && text.ends_with("# EOF\n"), "{code} {text}");
    }
}
