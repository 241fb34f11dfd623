//! The emulator's HTTP side (latency, faults, the exchange log, what it refuses of a request
//! body), and the few things its state does by itself: ids, the clock, a realm's defaults.

use super::*;

// A new realm's client scopes in Keycloak 22 to 24 (RealmManager / DefaultClientScopes); the
// SAML ones (`model/scopes.rs`) are realm defaults too, given to SAML clients only.
const REALM_SCOPES: [&str; 10] = [
    "acr",
    "email",
    "profile",
    "roles",
    "web-origins",
    "address",
    "phone",
    "offline_access",
    "microprofile-jwt",
    "role_list",
];
// Scopes newer realms have as well: `basic` (a realm default from 25.0), `organization` and its
// SAML twin (from 26.0), `service_account` (OpenID Connect, given to a client while its service
// account is enabled; from 26.1), `AuthnContextClassRef` (SAML; from 26.7). The differential
// test sees 22.0.5 to 24.0.5 (none), 25.0.6 (the first), 26.0.8 (three), 26.6.4 (four) and
// 26.7.3 (all).
const REALM_SCOPES_SINCE: [(Version, &str); 6] = [
    (SINCE_25, "basic"),
    (SINCE_26, "organization"),
    (SINCE_26, "saml_organization"),
    (CHANGED_IN_26_1, "service_account"),
    (CHANGED_IN_26_7, "AuthnContextClassRef"),
    (ADMIN_AUDIENCE_SINCE, ADMIN_API_SCOPE),
];
const REALM_DEFAULTS: [&str; 9] = [
    "acr",
    "basic",
    "email",
    "profile",
    "roles",
    "web-origins",
    "role_list",
    "saml_organization",
    "AuthnContextClassRef",
];
const REALM_OPTIONALS: [&str; 5] = [
    "address",
    "phone",
    "offline_access",
    "organization",
    "microprofile-jwt",
];

impl Inner {
    pub(super) fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!(
            "{kind}-{:08x}-0000-4000-8000-{:012x}",
            self.counter, self.counter
        )
    }

    /// Keycloak's clock, in epoch seconds.
    pub(super) fn now(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.clock_offset
    }

    pub(super) fn add_realm(&mut self, name: &str) {
        let mut realm = Realm {
            database: self.database,
            ..Realm::default()
        };
        let version = self.version;
        let newer = REALM_SCOPES_SINCE
            .iter()
            .filter(|(since, _)| version >= *since)
            .map(|(_, scope)| scope);
        for &scope in REALM_SCOPES.iter().chain(newer) {
            let id = self.next_id("scope");
            realm.scopes.push(Scope::new(id.clone(), scope));
            if REALM_DEFAULTS.contains(&scope) {
                realm.default_scopes.push(id);
            } else if REALM_OPTIONALS.contains(&scope) {
                realm.optional_scopes.push(id);
            }
        }
        // RealmManager.setupRealmDefaults: every realm has its built-in clients, as 26.0.8 and
        // 26.7.3 show them (the differential test compares them); the clients that administer
        // the realm are marked `realm_client`.
        let account = format!("/realms/{name}/account/");
        let console = format!("/admin/{name}/console/");
        let logout = json!({"post.logout.redirect.uris": "+"});
        let built_in = json!({
            "account": {"publicClient": true, "rootUrl": "${authBaseUrl}", "baseUrl": account,
                        "redirectUris": [format!("{account}*")], "attributes": logout},
            "account-console": {"publicClient": true, "rootUrl": "${authBaseUrl}",
                                "baseUrl": account, "redirectUris": [format!("{account}*")],
                                "attributes": logout},
            "admin-cli": {"publicClient": true, "standardFlowEnabled": false,
                          "directAccessGrantsEnabled": true},
            "broker": {"bearerOnly": true, "attributes": {"realm_client": "true"}},
            "realm-management": {"bearerOnly": true, "attributes": {"realm_client": "true"}},
            "security-admin-console": {"publicClient": true, "rootUrl": "${authAdminUrl}",
                                       "baseUrl": console, "redirectUris": [format!("{console}*")],
                                       "webOrigins": ["+"], "attributes": logout}
        });
        // By name, each with the next id.
        for (client_id, rep) in built_in.as_object().expect("object") {
            let id = self.next_id("client");
            let mut rep = rep.clone();
            rep["clientId"] = json!(client_id);
            rep["name"] = json!(format!("${{client_{client_id}}}"));
            let client = ClientModel::create(
                id.clone(),
                rep.as_object().expect("object"),
                String::new(),
                self.now(),
                &realm,
                self.version,
            )
            .expect("a built-in client");
            realm.clients.insert(id, client);
        }
        if let Some(scope) = realm.scopes.iter().find(|s| s.name == ADMIN_API_SCOPE) {
            for client in realm.clients.values_mut() {
                if ["admin-cli", "security-admin-console"].contains(&client.client_id.as_str()) {
                    client.default_scopes.push(scope.id.clone());
                }
            }
        }
        self.realms.insert(name.to_string(), realm);
    }
}

pub(super) async fn handle(
    State(shared): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let latency = shared.lock().unwrap_or_else(|e| e.into_inner()).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut inner = shared.lock().unwrap_or_else(|e| e.into_inner());
    let full_path = uri.path().to_string();
    let query = uri.query().unwrap_or_default().to_string();
    let Some(path) = full_path
        .strip_prefix(inner.prefix.as_str())
        .map(str::to_string)
    else {
        return (StatusCode::NOT_FOUND, "not under the base path").into_response();
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body: Option<Value> = if is_json && !raw.is_empty() {
        match serde_json::from_slice(&raw) {
            Ok(v) => Some(v),
            Err(_) => return (StatusCode::BAD_REQUEST, "malformed JSON").into_response(),
        }
    } else {
        None
    };

    let mut extra_headers = Vec::new();
    let fault = take_fault(&mut inner.faults, method.as_str(), &path);
    let (status, location, response) = if let Some(f) = fault {
        extra_headers = f.headers.clone();
        (
            f.status,
            None,
            serde_json::from_str(&f.body).unwrap_or(Value::Null),
        )
    } else if let Some(unknown) = body.as_ref().and_then(|b| unknown_field(&path, &method, b)) {
        // Jackson refuses fields the representation does not have.
        (
            400,
            None,
            json!({"error": "unknown_error", "error_description": format!("Unrecognized field \"{unknown}\"")}),
        )
    } else {
        routes::route(
            &mut inner,
            &method,
            &path,
            &query,
            &headers,
            &raw,
            body.as_ref(),
        )
    };

    inner.log.push(Exchange {
        method: method.to_string(),
        path: path.clone(),
        query,
        body,
        status,
        response: (!response.is_null()).then(|| response.clone()),
        at: std::time::Instant::now(),
    });
    drop(inner);

    let code = StatusCode::from_u16(status).expect("valid status");
    let mut resp = if response.is_null() {
        code.into_response()
    } else {
        (code, axum::Json(response)).into_response()
    };
    if let Some(loc) = location {
        // Location ends in the new client's id, as Keycloak's does.
        resp.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&loc).expect("header"),
        );
    }
    for (name, value) in extra_headers {
        resp.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header"),
        );
    }
    resp
}

/// The first top-level field of a client body that ClientRepresentation does not have.
pub(super) fn unknown_field(path: &str, method: &Method, body: &Value) -> Option<String> {
    let is_client_body = path.contains("/clients")
        && !path.contains("scopes")
        && !path.contains("secret")
        && matches!(*method, Method::POST | Method::PUT);
    if !is_client_body {
        return None;
    }
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| OpenApi::keycloak().property_names("ClientRepresentation"));
    body.as_object()?
        .keys()
        .find(|k| !known.contains(k))
        .cloned()
}
