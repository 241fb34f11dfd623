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

/// Longest response body read from Keycloak. The largest answers the operator reads are one
/// client's representation and a realm's client-scope list (a few KiB each; a realm with
/// hundreds of scopes stays well under this): anything longer is refused before it is read,
/// when its length is announced, or as soon as it passes the limit.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// Longest wait for a free slot to the host (`--keycloak-concurrency`): the slots are held at
/// most one request timeout each, so a longer wait means the host is overwhelmed.
const PERMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
        let _permit = tokio::time::timeout(PERMIT_WAIT, self.limit.acquire())
            .await
            .map_err(|_| {
                KeycloakError::Unreachable(
                    "no free slot to this Keycloak host for 30 s (--keycloak-concurrency)".into(),
                )
            })?
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
        let too_long = || KeycloakError::Protocol("a response body is larger than 1 MiB".into());
        let announced = response.content_length().unwrap_or(0);
        if announced > MAX_BODY as u64 {
            return Err(too_long());
        }
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| from_reqwest(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_long());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok(Answer {
            status,
            retry_after,
            location,
            body,
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
