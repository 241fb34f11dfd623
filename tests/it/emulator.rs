//! The test double tells the truth: the Keycloak emulator answers from its own model, the way
//! Keycloak's `ModelToRepresentation` builds a representation, and never echoes a request body;
//! PUT has Keycloak's semantics and side effects. Raw HTTP, so nothing of the operator is
//! involved in what is checked here.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator, Level},
    openapi::OpenApi,
};

struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    async fn login(emu: &Emulator, user: &str, password: &str) -> Self {
        omkc::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!(
                "{}/realms/master/protocol/openid-connect/token",
                emu.base_url
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            http,
            base: format!("{}/admin/realms/data-sec", emu.base_url),
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}");
        body
    }
}

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn a_representation_is_built_from_the_model_not_echoed() {
    let emu = Emulator::start().await;
    let kc = Raw::login(&emu, ADMIN_USER, ADMIN_PASSWORD).await;
    let sent = json!({
        "clientId": "om",
        "authorizationServicesEnabled": false,
        "redirectUris": ["https://c.example/cb", "https://a.example/cb", "https://b.example/cb"],
        "attributes": {"post.logout.redirect.uris": "https://a.example/logout"}
    });
    let (status, _) = kc
        .send(reqwest::Method::POST, "/clients", Some(sent.clone()))
        .await;
    assert_eq!(status, 201);
    let listed = kc.get("/clients?clientId=om").await;
    let got = &listed[0];
    assert_ne!(*got, sent, "never the request body");
    assert_eq!(got.get("description"), None, "null fields are omitted");
    assert_eq!(
        got.get("authorizationServicesEnabled"),
        None,
        "only present, as true, with a resource server"
    );
    assert_eq!(
        got["attributes"]["realm_client"], "false",
        "Keycloak's own attributes"
    );
    assert!(got["attributes"]["client.secret.creation.time"].is_string());
    assert_eq!(
        got["attributes"]["backchannel.logout.session.required"],
        "true"
    );
    assert_eq!(got["access"]["manage"], true, "an access object");
    assert!(
        got["secret"].as_str().is_some_and(|s| !s.is_empty()),
        "the secret, in the list too"
    );
    assert_eq!(
        sorted(&got["defaultClientScopes"]),
        ["acr", "basic", "email", "profile", "roles", "web-origins"],
        "the realm's defaults, by name"
    );
    assert_ne!(
        got["redirectUris"], sent["redirectUris"],
        "a set, not the order sent"
    );
    assert_eq!(sorted(&got["redirectUris"]), sorted(&sent["redirectUris"]));
    for flag in [
        "enabled",
        "publicClient",
        "bearerOnly",
        "standardFlowEnabled",
        "serviceAccountsEnabled",
    ] {
        assert!(got[flag].is_boolean(), "{flag} is always reported");
    }
    let by_id = kc
        .get(&format!("/clients/{}", got["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        by_id, *got,
        "the list by clientId carries the full representation"
    );

    let spec = OpenApi::keycloak();
    assert_eq!(emu.openapi_violations(&spec), Vec::<String>::new());
}

#[tokio::test]
async fn put_is_partial_merges_attributes_ignores_scopes_and_removes_authorization_unless_true() {
    let emu = Emulator::start().await;
    let kc = Raw::login(&emu, ADMIN_USER, ADMIN_PASSWORD).await;
    let id = emu.seed_client(
        "data-sec",
        json!({"clientId": "om", "name": "Catalog", "serviceAccountsEnabled": true,
               "authorizationServicesEnabled": true, "attributes": {"kept": "yes"}}),
    );
    emu.enable_authorization("data-sec", "om", &["policy-a"]);
    let path = format!("/clients/{id}");

    let (status, _) = kc
        .send(
            reqwest::Method::PUT,
            &path,
            Some(
                json!({"rootUrl": "https://x.example", "attributes": {"added": "1"},
                        "defaultClientScopes": [], "authorizationServicesEnabled": true}),
            ),
        )
        .await;
    assert_eq!(status, 204);
    let got = kc.get(&path).await;
    assert_eq!(got["name"], "Catalog", "absent scalars stay");
    assert_eq!(got["rootUrl"], "https://x.example");
    assert_eq!(
        got["attributes"]["kept"], "yes",
        "attributes merge key by key"
    );
    assert_eq!(got["attributes"]["added"], "1");
    assert_eq!(
        sorted(&got["defaultClientScopes"]).len(),
        6,
        "scopes in a PUT body are ignored"
    );
    assert_eq!(got["authorizationServicesEnabled"], true);
    assert_eq!(
        emu.model("data-sec", "om")
            .unwrap()
            .resource_server
            .unwrap()
            .policies,
        ["policy-a"]
    );

    // A PUT without `authorizationServicesEnabled: true` deletes the resource server.
    kc.send(
        reqwest::Method::PUT,
        &path,
        Some(json!({"rootUrl": "https://y.example"})),
    )
    .await;
    let got = kc.get(&path).await;
    assert_eq!(got.get("authorizationServicesEnabled"), None);
    assert_eq!(emu.model("data-sec", "om").unwrap().resource_server, None);
    assert!(
        emu.model("data-sec", "om")
            .unwrap()
            .service_account
            .is_some()
    );

    // `serviceAccountsEnabled: false` removes the service account.
    kc.send(
        reqwest::Method::PUT,
        &path,
        Some(json!({"serviceAccountsEnabled": false})),
    )
    .await;
    assert_eq!(emu.model("data-sec", "om").unwrap().service_account, None);

    // Authorization without a service account fails as Keycloak does.
    let (status, body) = kc
        .send(
            reqwest::Method::PUT,
            &path,
            Some(json!({"authorizationServicesEnabled": true})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (500, json!({"error": "unknown_error"}))
    );
}

#[tokio::test]
async fn post_scopes_replace_the_realm_defaults_and_unknown_fields_are_refused() {
    let emu = Emulator::start().await;
    let kc = Raw::login(&emu, ADMIN_USER, ADMIN_PASSWORD).await;
    kc.send(
        reqwest::Method::POST,
        "/clients",
        Some(json!({"clientId": "om", "defaultClientScopes": ["email", "profile"]})),
    )
    .await;
    assert_eq!(
        emu.default_scope_names("data-sec", "om"),
        ["email", "profile"]
    );
    let (status, body) = kc
        .send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({"clientId": "x", "notAField": 1})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("notAField")
    );
    let (status, _) = kc
        .send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({"clientId": "om"})),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_viewer_sees_no_secret_and_may_not_write() {
    let emu = Emulator::start().await;
    emu.seed_client("data-sec", json!({"clientId": "om"}));
    emu.add_user("viewer", "pw", Level::View);
    let kc = Raw::login(&emu, "viewer", "pw").await;
    let listed = kc.get("/clients?clientId=om").await;
    assert_eq!(listed[0].get("secret"), None);
    assert_eq!(listed[0]["access"]["manage"], false);
    let (status, _) = kc
        .send(
            reqwest::Method::PUT,
            &format!("/clients/{}", listed[0]["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
}

/// Keycloak stamps `client.secret.creation.time` only when it generates a secret
/// (`KeycloakModelUtils.generateSecret`): on creation without a secret and on
/// `POST client-secret`. A secret given in a POST or PUT body is set as is, the stamp untouched.
#[tokio::test]
async fn only_a_generated_secret_is_stamped_with_its_creation_time() {
    let emu = Emulator::start().await;
    let kc = Raw::login(&emu, ADMIN_USER, ADMIN_PASSWORD).await;
    let stamp = |c: &Value| c["attributes"]["client.secret.creation.time"].clone();

    let given = json!({"clientId": "given", "publicClient": false, "secret": "chosen-by-someone"});
    assert_eq!(
        kc.send(reqwest::Method::POST, "/clients", Some(given))
            .await
            .0,
        201
    );
    let got = &kc.get("/clients?clientId=given").await[0];
    assert_eq!(got["secret"], "chosen-by-someone");
    assert_eq!(stamp(got), Value::Null, "a given secret is not stamped");

    let generated = json!({"clientId": "generated", "publicClient": false});
    kc.send(reqwest::Method::POST, "/clients", Some(generated))
        .await;
    let got = kc.get("/clients?clientId=generated").await[0].clone();
    let id = got["id"].as_str().unwrap().to_string();
    let first = stamp(&got);
    assert!(first.is_string(), "a generated secret is stamped");

    emu.advance_clock(std::time::Duration::from_secs(100));
    let (status, _) = kc
        .send(
            reqwest::Method::PUT,
            &format!("/clients/{id}"),
            Some(json!({"secret": "set-by-put"})),
        )
        .await;
    assert_eq!(status, 204);
    let got = kc.get(&format!("/clients/{id}")).await;
    assert_eq!(got["secret"], "set-by-put");
    assert_eq!(stamp(&got), first, "a PUT keeps the stamp");

    let (status, regenerated) = kc
        .send(
            reqwest::Method::POST,
            &format!("/clients/{id}/client-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let got = kc.get(&format!("/clients/{id}")).await;
    assert_eq!(got["secret"], regenerated["value"]);
    let moved: i64 = stamp(&got).as_str().unwrap().parse().unwrap();
    let before: i64 = first.as_str().unwrap().parse().unwrap();
    assert!(moved >= before + 100, "regenerating stamps it anew");
}
