//! A real Keycloak as a test target: started by `tests/keycloak/keycloak.sh`, reached through a
//! recording proxy on 127.0.0.1 so that the tests see every exchange the operator makes (as the
//! emulator's log shows them), and inspected and arranged through Keycloak's own Admin API as
//! the bootstrap admin (never through the proxy, so none of that is in the log).
//!
//! The proxy forwards everything unchanged. It can also answer a request itself instead of
//! forwarding it ([`Fault`]): Keycloak cannot be made to answer 409 or 503 on cue, but whatever
//! stands between the operator and Keycloak can, and the operator must cope either way.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

use super::emulator::{Exchange, Fault, take_fault};

/// The real Keycloak the environment names, if any.
pub struct Endpoint {
    /// Base URL of the real Keycloak.
    pub url: String,
    /// Its version, as `tests/keycloak/versions` names it.
    pub version: String,
    /// Bootstrap admin of `master`.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Its HTTPS URL, with a certificate of an authority of `keycloak.sh`'s own.
    pub https_url: Option<String>,
    /// The file holding that authority's certificate (PEM).
    pub ca_file: Option<String>,
}

/// `OMKC_TEST_KEYCLOAK_URL` and friends, set by `tests/keycloak/keycloak.sh`.
pub fn endpoint() -> Option<Endpoint> {
    let url = std::env::var("OMKC_TEST_KEYCLOAK_URL").ok()?;
    Some(Endpoint {
        url: url.trim_end_matches('/').to_string(),
        version: std::env::var("OMKC_TEST_KEYCLOAK_VERSION").unwrap_or_else(|_| "unknown".into()),
        user: std::env::var("OMKC_TEST_KEYCLOAK_USER").unwrap_or_else(|_| "admin".into()),
        password: std::env::var("OMKC_TEST_KEYCLOAK_PASSWORD")
            .unwrap_or_else(|_| "admin-password-for-tests".into()),
        https_url: std::env::var("OMKC_TEST_KEYCLOAK_HTTPS_URL").ok(),
        ca_file: std::env::var("OMKC_TEST_KEYCLOAK_CA").ok(),
    })
}

/// The Admin API as the bootstrap admin: arranging and inspecting a real Keycloak.
#[derive(Clone)]
pub struct Admin {
    /// Base URL of the real Keycloak.
    pub url: String,
    user: String,
    password: String,
    http: reqwest::Client,
    /// The token in use, shared by clones; renewed when Keycloak answers 401.
    token: Arc<Mutex<Option<String>>>,
}

impl Admin {
    /// The bootstrap admin of `endpoint`.
    pub fn new(endpoint: &Endpoint) -> Self {
        omkc::tls::install_crypto_provider();
        Self {
            url: endpoint.url.clone(),
            user: endpoint.user.clone(),
            password: endpoint.password.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            token: Arc::default(),
        }
    }

    /// `request` with the admin's token. A password grant costs Keycloak a password hash (60–70
    /// ms on 26.7.4, most of what an arranging call costs), so the token is kept until Keycloak
    /// refuses it (401: a test shortened token lifetimes or ended every session), then renewed
    /// once, as the operator renews its own.
    async fn send(&self, request: impl Fn() -> reqwest::RequestBuilder) -> reqwest::Response {
        let kept = self.token.lock().unwrap().clone();
        if let Some(token) = kept {
            let answer = request()
                .bearer_auth(token)
                .send()
                .await
                .expect("admin call");
            if answer.status() != StatusCode::UNAUTHORIZED {
                return answer;
            }
        }
        let grant = super::password_grant(&self.http, &self.url, &self.user, &self.password).await;
        let token = grant["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("the bootstrap admin may sign in: {grant}"))
            .to_string();
        *self.token.lock().unwrap() = Some(token.clone());
        request()
            .bearer_auth(token)
            .send()
            .await
            .expect("admin call")
    }

    /// One Admin API call (`path` under `/admin/realms`); status and JSON body (`Null` if none).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/admin/realms{path}", self.url);
        let answer = self
            .send(|| {
                let request = self.http.request(method.clone(), &url);
                match &body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await;
        let status = answer.status().as_u16();
        let location = answer
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let text = answer.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(match location {
            Some(l) => json!({"location": l}),
            None => Value::Null,
        });
        (status, body)
    }

    /// Whether the server has its feature `name` (e.g. `AUTHORIZATION`) enabled, as its
    /// `serverinfo` lists them.
    pub async fn feature_enabled(&self, name: &str) -> bool {
        let url = format!("{}/admin/serverinfo", self.url);
        let info: Value = (self.send(|| self.http.get(&url)).await)
            .json()
            .await
            .expect("serverinfo is JSON");
        let features = info["features"]
            .as_array()
            .expect("serverinfo lists features");
        let feature = features.iter().find(|f| f["name"] == name);
        feature.expect("the feature is listed")["enabled"] == true
    }

    /// `GET` that must succeed; the body.
    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None).await
    }

    /// `DELETE` that must succeed.
    pub async fn delete(&self, path: &str) -> Value {
        self.ok(Method::DELETE, path, None).await
    }

    /// `POST` that must succeed; the body (or the `Location` it answered).
    pub async fn post(&self, path: &str, body: Option<Value>) -> Value {
        self.ok(Method::POST, path, body).await
    }

    /// `PUT` that must succeed.
    pub async fn put(&self, path: &str, body: Option<Value>) -> Value {
        self.ok(Method::PUT, path, body).await
    }

    /// A call that must succeed; its body.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }

    /// Creates (or re-creates, empty) a realm with admin events recorded.
    pub async fn fresh_realm(&self, realm: &str) {
        self.call(Method::DELETE, &format!("/{realm}"), None).await;
        self.post(
            "",
            Some(json!({
                "realm": realm, "enabled": true,
                "adminEventsEnabled": true, "adminEventsDetailsEnabled": true
            })),
        )
        .await;
    }

    /// The internal id of a client, by clientId.
    pub async fn client_uuid(&self, realm: &str, client_id: &str) -> Option<String> {
        let list = self
            .get(&format!("/{realm}/clients?clientId={client_id}"))
            .await;
        list.as_array()?
            .iter()
            .find(|c| c["clientId"] == client_id)
            .and_then(|c| c["id"].as_str())
            .map(str::to_string)
    }

    /// The id of a realm's client scope, by name.
    pub async fn scope_id(&self, realm: &str, name: &str) -> String {
        let scopes = self.get(&format!("/{realm}/client-scopes")).await;
        scopes
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .and_then(|s| s["id"].as_str())
            .unwrap_or_else(|| panic!("scope {name} in {realm}"))
            .to_string()
    }

    /// The id of user `username` of `realm`, which must exist.
    pub async fn user_id(&self, realm: &str, username: &str) -> String {
        let found = self
            .get(&format!("/{realm}/users?username={username}&exact=true"))
            .await;
        found[0]["id"]
            .as_str()
            .expect("the user exists")
            .to_string()
    }

    /// Creates a user (with a password, a verified email and names), replacing one of that name.
    pub async fn user(&self, realm: &str, username: &str, password: &str) -> String {
        let found = self
            .get(&format!("/{realm}/users?username={username}&exact=true"))
            .await;
        for old in found.as_array().into_iter().flatten() {
            let id = old["id"].as_str().unwrap_or_default();
            self.delete(&format!("/{realm}/users/{id}")).await;
        }
        let created = self
            .post(
                &format!("/{realm}/users"),
                Some(json!({
                    "username": username, "enabled": true,
                    "email": format!("{username}@example.com"), "emailVerified": true,
                    "firstName": "Test", "lastName": username,
                    "credentials": [{"type": "password", "value": password, "temporary": false}]
                })),
            )
            .await;
        last_segment(&created)
    }

    /// Maps roles of client `role_client` (e.g. `data-sec-realm` in master) to a user.
    pub async fn grant_client_roles(
        &self,
        realm: &str,
        user_id: &str,
        role_client: &str,
        roles: &[&str],
    ) {
        let holder = self
            .client_uuid(realm, role_client)
            .await
            .unwrap_or_else(|| panic!("client {role_client} in {realm}"));
        let mut reps = Vec::new();
        for role in roles {
            reps.push(
                self.get(&format!("/{realm}/clients/{holder}/roles/{role}"))
                    .await,
            );
        }
        self.post(
            &format!("/{realm}/users/{user_id}/role-mappings/clients/{holder}"),
            Some(Value::Array(reps)),
        )
        .await;
    }

    /// Maps realm roles to a user.
    pub async fn grant_realm_roles(&self, realm: &str, user_id: &str, roles: &[&str]) {
        let mut reps = Vec::new();
        for role in roles {
            reps.push(self.get(&format!("/{realm}/roles/{role}")).await);
        }
        self.post(
            &format!("/{realm}/users/{user_id}/role-mappings/realm"),
            Some(Value::Array(reps)),
        )
        .await;
    }

    /// The master realm's access-token lifespan, in seconds.
    pub async fn set_master_token_lifespan(&self, seconds: u64) {
        self.put("/master", Some(json!({"accessTokenLifespan": seconds})))
            .await;
    }
}

/// The id at the end of a `Location` (as [`Admin::call`] reports it for an empty 201).
pub fn last_segment(created: &Value) -> String {
    created["location"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .expect("Location of the created object")
        .to_string()
}

mod proxy;
pub use proxy::Proxy;
