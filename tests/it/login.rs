//! The mission's acceptance test, on a real Keycloak: OpenMetadata can log in with nothing but
//! what the operator produced. The whole operator runs (its controller loop against the fake
//! Kubernetes API server); this test then does what a browser and OpenMetadata's server do in
//! the authorization-code flow, step by step, over plain HTTP:
//!
//! 1. OpenMetadata reads the realm's discovery document at `<authority>/.well-known/...`;
//! 2. the browser is sent to the authorization endpoint with `scope=openid email profile`, the
//!    client id from the output Secret and the callback URL from status;
//! 3. the user posts Keycloak's login form; Keycloak redirects to the callback with a code;
//! 4. OpenMetadata exchanges the code at the token endpoint with the client secret from the
//!    output Secret (`client_secret_post`, OpenMetadata's default);
//! 5. the ID token's issuer is the published authority, its audience the client id, and it
//!    carries the email and profile claims.
//!
//! Then an on-demand rotation: the old secret is refused, the new one works; then deletion
//! (policy Delete): the client is gone and the login fails. And in a realm whose client policies
//! enforce PKCE: with `requirePkce`, OpenMetadata told by the values ConfigMap to send it logs in,
//! and a login without it is refused.

use std::time::Duration;

use base64::Engine;
use omkc::Settings;
use serde_json::{Value, json};

use crate::shows;
use crate::support::{
    apiserver::ApiServer,
    b64, decode, eventually, operator,
    target::{Kc, REALM},
};

const NS: &str = "openmetadata";
const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";
const SECRETS: &str = "v1/secrets";
const CONFIG_MAPS: &str = "v1/configmaps";
const USER: &str = "alice";
const PASSWORD: &str = "alice-password";

/// What OpenMetadata is configured with, read from the operator's outputs only.
#[derive(Clone)]
struct Configured {
    client_id: String,
    client_secret: String,
    authority: String,
    callback: String,
    /// Whether OpenMetadata sends PKCE (its chart's `disablePkce: false`).
    pkce: bool,
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
fn pkce_pair() -> (String, String) {
    let verifier: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(64)
        .collect();
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

/// The browser and OpenMetadata's server, with the cookies of one login.
struct Browser {
    http: reqwest::Client,
    cookies: Vec<String>,
    nonce: Option<String>,
    /// The PKCE verifier of this login, when OpenMetadata sends PKCE.
    verifier: Option<String>,
}

impl Browser {
    fn new() -> Self {
        omkc::tls::install_crypto_provider();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
            nonce: None,
            verifier: None,
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for c in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    /// Steps 1 to 3: the code Keycloak hands the callback, or the page it showed instead.
    async fn authorize(&mut self, om: &Configured) -> Result<String, String> {
        let discovery: Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", om.authority))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], om.authority.as_str());
        let state = format!("state-{}", fastrand::u64(..));
        let nonce = format!("nonce-{}", fastrand::u64(..));
        let mut query = vec![
            ("client_id", om.client_id.clone()),
            ("response_type", "code".into()),
            ("scope", "openid email profile".into()),
            ("redirect_uri", om.callback.clone()),
            ("state", state.clone()),
            ("nonce", nonce.clone()),
        ];
        if om.pkce {
            let (verifier, challenge) = pkce_pair();
            query.push(("code_challenge", challenge));
            query.push(("code_challenge_method", "S256".into()));
            self.verifier = Some(verifier);
        }
        let page = self
            .http
            .get(discovery["authorization_endpoint"].as_str().unwrap())
            .query(&query)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&page);
        let status = page.status().as_u16();
        let html = page.text().await.unwrap();
        let Some(action) = form_action(&html) else {
            return Err(format!("no login form (HTTP {status})"));
        };
        let posted = self
            .http
            .post(action)
            .header(reqwest::header::COOKIE, self.cookies.join("; "))
            .form(&[
                ("username", USER),
                ("password", PASSWORD),
                ("credentialId", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 302, "the login form is accepted");
        let location = posted.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            location.starts_with(&format!("{}?", om.callback)),
            "back to OpenMetadata's callback: {location}"
        );
        let back = url::Url::parse(&location).unwrap();
        let param = |k: &str| {
            back.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()));
        let code = param("code").expect("a code in the redirect");
        self.nonce = Some(nonce);
        Ok(code)
    }
}

/// The `action` of Keycloak's login form.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("id=\"kc-form-login\"")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = form[start..].find('"')? + start;
    Some(form[start..end].replace("&amp;", "&"))
}

/// Step 4: the code exchanged with `secret` (and the login's PKCE verifier, if any); the token
/// endpoint's status and answer.
async fn exchange(om: &Configured, browser: &Browser, secret: &str, code: &str) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", om.callback.as_str()),
        ("client_id", om.client_id.as_str()),
        ("client_secret", secret),
    ];
    form.extend(browser.verifier.as_deref().map(|v| ("code_verifier", v)));
    let answer = http
        .post(format!("{}/protocol/openid-connect/token", om.authority))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The claims of a JWT (its signature is Keycloak's business; OpenMetadata checks it with the
/// realm's keys, which the published `publicKeys` name).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A whole login: the ID token's claims.
async fn log_in(om: &Configured) -> Value {
    let mut browser = Browser::new();
    let code = browser.authorize(om).await.expect("a login form");
    let (status, tokens) = exchange(om, &browser, &om.client_secret, &code).await;
    assert_eq!(
        status, 200,
        "the code is exchanged with the client secret: {tokens}"
    );
    let id = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(
        id["iss"],
        om.authority.as_str(),
        "issuer = the published authority"
    );
    let audience = match &id["aud"] {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    assert!(audience.contains(&json!(om.client_id)), "audience: {id}");
    // The email and profile scopes' claims.
    let nonce = browser.nonce.clone().unwrap();
    shows!(id, {"nonce": nonce, "email": format!("{USER}@example.com"),
                       "preferred_username": USER, "family_name": USER});
    id
}

fn start(api: &ApiServer) -> tokio::task::JoinHandle<()> {
    let settings = Settings {
        installation: "cluster-1".into(),
        operator_namespace: NS.into(),
        resync: Duration::from_secs(300),
        // The login test rotates right after the client is made.
        min_rotation_interval: Duration::ZERO,
        ..Settings::default()
    };
    operator(api, settings, 2).1
}

async fn configured(api: &ApiServer) -> Configured {
    let obj = eventually(api, "Ready=True", || async {
        let obj = api.get(CRS, NS, "openmetadata")?;
        (obj["status"]["conditions"][0]["status"] == "True").then_some(obj)
    })
    .await;
    let secret = api
        .get(SECRETS, NS, "oidc-secrets")
        .expect("the output Secret");
    let om = &obj["status"]["openmetadata"];
    // OpenMetadata's chart values, as the operator wrote them: whether to send PKCE.
    let values = api
        .get(CONFIG_MAPS, NS, VALUES)
        .expect("the values ConfigMap");
    let values: Value =
        serde_saphyr::from_str(values["data"]["values.yaml"].as_str().unwrap()).unwrap();
    let oidc = &values["openmetadata"]["config"]["authentication"]["oidcConfiguration"];
    assert_eq!(
        om["disablePkce"], oidc["disablePkce"],
        "status and values agree"
    );
    Configured {
        client_id: decode(&secret["data"]["openmetadata-oidc-client-id"]),
        client_secret: decode(&secret["data"]["openmetadata-oidc-client-secret"]),
        authority: om["authority"].as_str().unwrap().to_string(),
        callback: om["callbackUrl"].as_str().unwrap().to_string(),
        pkce: !oidc["disablePkce"].as_bool().expect("disablePkce"),
    }
}

const VALUES: &str = "openmetadata-sso-values";

/// A real Keycloak with the login's user, the operator running against the fake API server, and
/// a resource with `client` as its client settings.
async fn set_up(kc: &Kc, client: Value) -> (ApiServer, tokio::task::JoinHandle<()>) {
    let admin = kc.admin().unwrap();
    admin.user(REALM, USER, PASSWORD).await;
    let api = ApiServer::start().await;
    let endpoint = crate::support::real::endpoint().unwrap();
    api.put(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "keycloak-admin", "namespace": NS,
                     "labels": {"omkc.dev/keycloak-credentials": "true"}},
        "data": {"username": b64(&endpoint.user), "password": b64(&endpoint.password)}
    }));
    let operator = start(&api);
    api.put(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "openmetadata", "namespace": NS},
        "spec": {
            "keycloak": {"url": kc.base_url, "realm": REALM,
                         "credentialsSecretRef": {"name": "keycloak-admin"}},
            "openmetadata": {"url": "https://openmetadata.example.com",
                             "valuesConfigMap": {"name": VALUES}},
            "client": client,
            "deletionPolicy": "Delete"
        }
    }));
    (api, operator)
}

#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn openmetadata_logs_in_with_what_the_operator_produced_real_keycloak() {
    let kc = Kc::real().await;
    let (api, operator) = set_up(&kc, json!({})).await;
    let om = configured(&api).await;
    assert!(!om.pkce, "OpenMetadata's default: no PKCE");
    assert_eq!(om.callback, "https://openmetadata.example.com/callback");
    let first = log_in(&om).await;
    eprintln!("logged in on {}: sub {}", kc.describe(), first["sub"]);

    // On-demand rotation: the old secret is refused, the new one works.
    api.edit(CRS, NS, "openmetadata", |o| {
        o["metadata"]["annotations"]["omkc.dev/rotate"] = json!("login-test-1");
    });
    let rotated = eventually(&api, "the rotated secret in the Secret", || async {
        let s = api.get(SECRETS, NS, "oidc-secrets")?;
        let value = decode(&s["data"]["openmetadata-oidc-client-secret"]);
        (value != om.client_secret).then_some(value)
    })
    .await;
    let mut browser = Browser::new();
    let code = browser.authorize(&om).await.unwrap();
    let (status, refused) = exchange(&om, &browser, &om.client_secret, &code).await;
    assert_eq!(status, 401, "the old secret is refused: {refused}");
    assert_eq!(refused["error"], "unauthorized_client");
    let after = Configured {
        client_secret: rotated,
        ..configured(&api).await
    };
    log_in(&after).await;

    // Deletion with policy Delete: the client is gone and no login starts.
    api.delete(CRS, NS, "openmetadata");
    eventually(&api, "the resource gone", || async {
        api.get(CRS, NS, "openmetadata").is_none().then_some(())
    })
    .await;
    assert!(kc.client(REALM, &after.client_id).await.is_none());
    let failed = Browser::new().authorize(&after).await;
    assert!(failed.is_err(), "no login form for a deleted client");
    operator.abort();
}

#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn openmetadata_logs_in_with_pkce_where_the_realm_enforces_it_real_keycloak() {
    let kc = Kc::real().await;
    kc.set_client_policy(REALM, "pkce-enforcer", json!({"auto-configure": false}))
        .await;
    let (api, operator) = set_up(&kc, json!({"requirePkce": true})).await;
    let om = configured(&api).await;
    assert!(om.pkce, "the values tell OpenMetadata to send PKCE");
    log_in(&om).await;
    // OpenMetadata left at its default (no PKCE) gets no login form: the policy refuses the
    // authorization request.
    let without = Configured { pkce: false, ..om };
    let refused = Browser::new().authorize(&without).await;
    assert!(refused.is_err(), "a login without PKCE is refused");
    operator.abort();
}
