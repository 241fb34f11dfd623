//! A recording proxy in front of a real Keycloak: every exchange logged, faults injected.

use super::*;

/// A recording (and, on request, fault-injecting) proxy in front of a real Keycloak.
pub struct Proxy {
    /// Base URL the operator is given.
    pub base_url: String,
    state: Arc<ProxyState>,
    server: JoinHandle<()>,
}

struct ProxyState {
    upstream: String,
    prefix: String,
    http: reqwest::Client,
    log: Mutex<Vec<Exchange>>,
    faults: Mutex<VecDeque<Fault>>,
}

impl Proxy {
    /// Serves `upstream` at `http://127.0.0.1:<port><prefix>`.
    pub async fn start(upstream: &str, prefix: &str) -> Self {
        omkc::tls::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}{prefix}", listener.local_addr().expect("address"));
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            prefix: prefix.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            log: Mutex::default(),
            faults: Mutex::default(),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy serves");
        });
        Self {
            base_url,
            state,
            server,
        }
    }

    /// Every exchange so far.
    pub fn log(&self) -> Vec<Exchange> {
        self.state.log.lock().unwrap().clone()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.state.log.lock().unwrap().clear();
    }

    /// Queues a fault, answered by the proxy instead of Keycloak.
    pub fn inject_fault(&self, fault: Fault) {
        self.state.faults.lock().unwrap().push_back(fault);
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.abort();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let Some(path) = uri
        .path()
        .strip_prefix(state.prefix.as_str())
        .map(str::to_string)
    else {
        return (StatusCode::NOT_FOUND, "not under the base path").into_response();
    };
    let query = uri.query().unwrap_or_default().to_string();
    let body: Option<Value> = serde_json::from_slice(&raw).ok();
    let fault = take_fault(&mut state.faults.lock().unwrap(), method.as_str(), &path);
    let (status, out_headers, bytes) = match fault {
        Some(f) => {
            let mut h = HeaderMap::new();
            for (name, value) in &f.headers {
                h.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).expect("header"),
                );
            }
            if !f.body.is_empty() {
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            (f.status, h, Bytes::from(f.body.clone()))
        }
        None => {
            let target = if query.is_empty() {
                format!("{}{path}", state.upstream)
            } else {
                format!("{}{path}?{query}", state.upstream)
            };
            let mut request = state.http.request(method.clone(), target).body(raw.clone());
            for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
                if let Some(v) = headers.get(&name) {
                    request = request.header(name, v.clone());
                }
            }
            let answer = match request.send().await {
                Ok(a) => a,
                Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
            };
            let status = answer.status().as_u16();
            let mut h = HeaderMap::new();
            for name in [header::CONTENT_TYPE, header::LOCATION, header::RETRY_AFTER] {
                if let Some(v) = answer.headers().get(&name) {
                    h.insert(name, v.clone());
                }
            }
            (status, h, answer.bytes().await.unwrap_or_default())
        }
    };
    state.log.lock().unwrap().push(Exchange {
        method: method.to_string(),
        path,
        query,
        body,
        status,
        response: serde_json::from_slice(&bytes).ok(),
        at: std::time::Instant::now(),
    });
    let mut response = (StatusCode::from_u16(status).expect("status"), bytes).into_response();
    response.headers_mut().extend(out_headers);
    response
}
