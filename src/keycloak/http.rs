//! The HTTP transport to one Keycloak host: a client that never follows redirects, a limit of
//! requests in flight per host, bounded response bodies, and a metric per request labelled by
//! route template.
//!
//! Why not the `keycloak` crate's generated calls: they drop response headers on errors (so
//! `Retry-After` is lost), carry the remote body into their error text, request a token per
//! call, and offer no hook to count requests by route. Its typed representations
//! (`ClientRepresentation`, ...) are used for every body.

use std::{sync::Arc, time::Instant};

use reqwest::{Method, RequestBuilder, header::RETRY_AFTER};
use tokio::sync::Semaphore;

use super::error::{KeycloakError, from_reqwest, parse_retry_after};
use crate::telemetry::Metrics;

/// Longest response body read from Keycloak.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A response, read completely.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<std::time::Duration>,
    pub location: Option<String>,
    pub body: String,
}

/// HTTP to one Keycloak host, shared by every connection to it.
#[derive(Clone)]
pub(crate) struct Transport {
    pub client: reqwest::Client,
    pub limit: Arc<Semaphore>,
    pub metrics: Arc<Metrics>,
}

impl Transport {
    /// Sends a request built by `build` under the host's limit and records it as `route`.
    pub async fn send(
        &self,
        method: Method,
        route: &'static str,
        url: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, KeycloakError> {
        let _permit = self
            .limit
            .acquire()
            .await
            .map_err(|_| KeycloakError::Unreachable("shutting down".into()))?;
        let method_label = method_label(&method);
        let started = Instant::now();
        let result = self.exchange(build(self.client.request(method, url))).await;
        let status = result.as_ref().ok().map(|a| a.status);
        self.metrics
            .keycloak_request(route, method_label, status, started.elapsed());
        result
    }

    async fn exchange(&self, request: RequestBuilder) -> Result<Answer, KeycloakError> {
        let mut response = request.send().await.map_err(|e| from_reqwest(&e))?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = parse_retry_after(header(RETRY_AFTER).as_deref());
        let location = header(reqwest::header::LOCATION);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| from_reqwest(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(KeycloakError::Protocol(
                    "a response body is larger than 8 MiB".into(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            retry_after,
            location,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}
