//! What a client's protocol changes: the OIDC defaults a creation naming it gets, the scopes a
//! client sees and is given, and what a change of protocol brings back (found by the random
//! hand-edit differential, `differential/edits.rs`).

use super::*;

use reqwest::Method;

both!(
    /// A creation that names `openid-connect` gets the protocol's defaults (the operator's
    /// does); one that names no protocol does not.
    a_creation_naming_the_protocol_gets_its_defaults,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let root = "https://a.example/x/";
        let backchannel = json!({"backchannel.logout.session.required": "false"});
        for (client_id, protocol) in [("named", Some("openid-connect")), ("unnamed", None)] {
            let mut body = json!({"clientId": client_id, "rootUrl": root, "redirectUris": [],
                                  "attributes": backchannel});
            if let Some(p) = protocol {
                body["protocol"] = json!(p);
            }
            let (status, _) = raw.send(Method::POST, "/clients", Some(body)).await;
            assert_eq!(status, StatusCode::CREATED);
            let got = &raw.get(&format!("/clients?clientId={client_id}")).await[0];
            let named = protocol.is_some();
            let (redirects, origins) = match named {
                true => (json!(["https://a.example/x/*"]), json!(["https://a.example"])),
                false => (json!([]), json!([])),
            };
            let attributes = &got["attributes"];
            let seen = json!({
                "adminUrl": got.get("adminUrl"), "redirectUris": got["redirectUris"],
                "webOrigins": got["webOrigins"], "publicClient": got["publicClient"],
                "directAccessGrantsEnabled": got["directAccessGrantsEnabled"],
                "session": attributes["backchannel.logout.session.required"],
                "offline": attributes["backchannel.logout.revoke.offline.tokens"],
            });
            let wanted = json!({
                "adminUrl": named.then_some(root), "redirectUris": redirects,
                "webOrigins": origins, "publicClient": named, "directAccessGrantsEnabled": named,
                "session": if named { "true" } else { "false" },
                "offline": if named { json!("false") } else { Value::Null },
            });
            assert_eq!(seen, wanted, "{client_id} on {}", kc.describe());
        }
    }
);

/// The realm's default scopes of SAML, by version.
fn saml_defaults(kc: &Kc) -> Vec<&'static str> {
    let mut names = vec!["role_list"];
    if kc.version >= SINCE_26 {
        names.push("saml_organization");
    }
    if kc.version >= (26, 7, 0) {
        names.push("AuthnContextClassRef");
    }
    names.sort_unstable();
    names
}

both!(
    /// A client sees, and is given, only the scopes of its own protocol; a change of protocol
    /// gives it the realm's default scopes of the new one again (a default scope removed by hand
    /// comes back), whichever scopes it was given or lost meanwhile.
    a_client_sees_its_protocols_scopes_and_a_change_brings_back_the_realms,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let body = json!({"clientId": "om", "protocol": "openid-connect", "publicClient": false,
                          "redirectUris": ["https://a.example/cb"]});
        raw.send(Method::POST, "/clients", Some(body)).await;
        let listed = raw.get("/clients?clientId=om").await;
        let path = format!("/clients/{}", listed[0]["id"].as_str().unwrap());
        let scopes = raw.get("/client-scopes").await;
        let scope = |name: &str| {
            let found = scopes.as_array().unwrap().iter().find(|s| s["name"] == name);
            found.unwrap().clone()
        };
        assert_eq!(scope("role_list")["protocol"], "saml");
        assert_eq!(scope("email")["protocol"], "openid-connect");
        let email = format!("default-client-scopes/{}", scope("email")["id"].as_str().unwrap());
        let role_list = scope("role_list")["id"].as_str().unwrap().to_string();
        let role_list = format!("optional-client-scopes/{role_list}");
        let switch = |to: &'static str| {
            let (raw, path) = (&raw, &path);
            async move {
                let mut rep = raw.get(path).await;
                rep["protocol"] = json!(to);
                let (status, _) = raw.send(Method::PUT, path, Some(rep)).await;
                assert_eq!(status, StatusCode::NO_CONTENT, "to {to}");
                raw.get(path).await
            }
        };
        let (status, _) = raw.send(Method::DELETE, &format!("{path}/{email}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // Another protocol's scope is not given (still 204).
        let (status, _) = raw.send(Method::PUT, &format!("{path}/{role_list}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let got = raw.get(&path).await;
        assert!(!sorted(&got["defaultClientScopes"]).contains(&"email".to_string()));
        assert!(!sorted(&got["optionalClientScopes"]).contains(&"role_list".to_string()));

        let saml = switch("saml").await;
        assert_eq!(sorted(&saml["defaultClientScopes"]), saml_defaults(&kc), "{}", kc.describe());
        assert_eq!(saml["optionalClientScopes"], json!([]), "{}", kc.describe());
        let listed = raw.get(&format!("{path}/default-client-scopes")).await;
        let names: Vec<&str> = (listed.as_array().unwrap().iter())
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(!names.contains(&"email") && names.contains(&"role_list"), "{names:?}");
        // Neither is email given while the client speaks SAML.
        raw.send(Method::PUT, &format!("{path}/{email}"), None).await;

        let back = switch("openid-connect").await;
        let defaults = sorted(&back["defaultClientScopes"]);
        assert!(defaults.contains(&"email".to_string()), "{defaults:?} on {}", kc.describe());
        assert!(!defaults.contains(&"role_list".to_string()), "{defaults:?}");
    }
);

both!(
    /// From 26.5 a PUT turning the service account off leaves a client's authorization in
    /// place (and no service account); before, it fails (500) and changes nothing.
    authorization_outlives_the_service_account_from_26_5,
    |kc| {
        let raw = Raw::admin(&kc).await;
        let body = json!({"clientId": "om", "publicClient": false, "serviceAccountsEnabled": true,
                          "authorizationServicesEnabled": true});
        let (status, _) = raw.send(Method::POST, "/clients", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED);
        let listed = raw.get("/clients?clientId=om").await;
        let path = format!("/clients/{}", listed[0]["id"].as_str().unwrap());
        let mut rep = raw.get(&path).await;
        rep["serviceAccountsEnabled"] = json!(false);
        let (status, _) = raw.send(Method::PUT, &path, Some(rep)).await;
        let got = raw.get(&path).await;
        let flags = |name: &str| got[name].clone();
        let seen = (
            status.as_u16(),
            flags("serviceAccountsEnabled"),
            flags("authorizationServicesEnabled"),
        );
        let wanted = match kc.version >= (26, 5, 0) {
            true => (204, json!(false), json!(true)),
            false => (500, json!(true), json!(true)),
        };
        assert_eq!(seen, wanted, "{}", kc.describe());
    }
);
