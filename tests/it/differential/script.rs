//! The script both Keycloaks are put through: every call the operator makes, in order.

use super::*;

/// Runs the script on one target.
pub(super) async fn script(kc: &Kc) -> Transcript {
    let mut ids = Ids::default();
    let mut steps = Vec::new();
    let admin = kc.admin_session();
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let cid = v.client_id.clone();
    let wanted = desired::desired_client(&v);
    let fields = read_fields(&serde_json::to_value(&wanted).unwrap());
    kc.add_user("viewer", "viewer-password", Level::View).await;
    kc.add_user("querier", "querier-password", Level::Query)
        .await;
    kc.add_service_client("omkc-differential", "differential-secret")
        .await;
    kc.clear_log().await;

    let found = |s: &Result<Option<omkc::keycloak::ObservedClient>, KeycloakError>| {
        outcome(s, |c| match c {
            None => "none".into(),
            Some(c) => format!(
                "client, secret: {}, may manage: {}",
                c.secret.is_some(),
                c.may_manage
            ),
        })
    };

    steps.push(format!(
        "find before creation: {}",
        found(&admin.find_client(REALM, &cid).await)
    ));
    let uuid = admin
        .create_client(REALM, &wanted)
        .await
        .unwrap_or_else(|e| panic!("create on {}: {e}", kc.describe()));
    ids.name(&uuid, "client");
    steps.push(format!(
        "find: {}",
        found(&admin.find_client(REALM, &cid).await)
    ));
    steps.push(format!(
        "get: {}",
        found(&admin.get_client(REALM, &uuid).await)
    ));
    let drift = |c: &omkc::keycloak::ObservedClient| {
        format!("{:?}", desired::client_drift(&c.rep, &wanted))
    };
    let created = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
    steps.push(format!("drift after creation: {}", drift(&created)));

    // Scopes: the realm's, then email moved to optional by hand and back by the operator, and
    // profile added although it is already a default scope (a no-op).
    let scopes = admin.realm_scopes(REALM).await.unwrap();
    for s in &scopes {
        ids.name(&s.id, &format!("scope {}", s.name));
    }
    let scope_id = |name: &str| scopes.iter().find(|s| s.name == name).unwrap().id.clone();
    kc.set_client_scope(REALM, &cid, "email", ScopeKind::Optional)
        .await;
    let seen = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
    steps.push(format!(
        "scopes by hand: default {:?}, optional {:?}",
        seen.rep.default_client_scopes.as_ref().map(|s| s.len()),
        seen.rep.optional_client_scopes.as_ref().map(|s| s.len()),
    ));
    let email = scope_id("email");
    let r = admin.remove_optional_scope(REALM, &uuid, &email).await;
    steps.push(format!(
        "remove optional email: {}",
        outcome(&r, |_| "ok".into())
    ));
    let r = admin.add_default_scope(REALM, &uuid, &email).await;
    steps.push(format!(
        "add default email: {}",
        outcome(&r, |_| "ok".into())
    ));
    let r = admin
        .add_default_scope(REALM, &uuid, &scope_id("profile"))
        .await;
    steps.push(format!(
        "add default profile again: {}",
        outcome(&r, |_| "ok".into())
    ));
    admin.get_client(REALM, &uuid).await.unwrap();

    // Drift made by hand in the console, one field at a time, each repaired with the partial
    // PUT the operator sends.
    let edits = [
        json!({"name": "Renamed by hand"}),
        json!({"description": "changed by hand"}),
        json!({"enabled": false}),
        json!({"standardFlowEnabled": false}),
        json!({"implicitFlowEnabled": false}),
        json!({"directAccessGrantsEnabled": true}),
        json!({"clientAuthenticatorType": "client-jwt"}),
        json!({"rootUrl": "https://elsewhere.example"}),
        json!({"redirectUris": ["https://elsewhere.example/cb"]}),
        json!({"webOrigins": ["*"]}),
        json!({"attributes": {POST_LOGOUT_ATTRIBUTE: "https://elsewhere.example/logout"}}),
        json!({"attributes": {OWNER_ATTRIBUTE: ""}}),
        json!({"authorizationServicesEnabled": false}),
    ];
    for edit in edits {
        kc.edit_client(REALM, &cid, edit.clone()).await;
        let observed = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
        let fields_drifted = desired::client_drift(&observed.rep, &wanted);
        let body = desired::update_body(&observed.rep, &wanted, &fields_drifted);
        let r = admin.update_client(REALM, &uuid, &body).await;
        let after = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
        steps.push(format!(
            "edit {edit}: drift {fields_drifted:?}, update {}, drift after {}",
            outcome(&r, |_| "ok".into()),
            drift(&after)
        ));
    }

    // The secret: regenerated, then read back.
    let r = admin.regenerate_secret(REALM, &uuid).await;
    steps.push(format!(
        "regenerate: {}",
        outcome(&r, |_| "a secret".into())
    ));
    let regenerated = r.unwrap();
    let read = admin.get_client(REALM, &uuid).await.unwrap().unwrap();
    steps.push(format!(
        "the secret read back is the regenerated one: {}",
        read.secret.as_ref().map(|s| s.expose()) == Some(regenerated.expose())
    ));
    let r = admin.issuer(REALM).await;
    steps.push(format!(
        "issuer: {}",
        outcome(&r, |i| {
            let real = real::endpoint().map(|e| e.url).unwrap_or_default();
            i.replace(&kc.base_url, "<base>").replace(&real, "<base>")
        })
    ));
    let r = admin.may_manage_clients(REALM).await;
    steps.push(format!(
        "admin may manage: {}",
        outcome(&r, |m| m.to_string())
    ));
    let server = |realms: Result<Vec<String>, KeycloakError>,
                  version: Result<Option<String>, KeycloakError>| {
        let realms = outcome(&realms, |r| {
            format!(
                "sees master: {}, sees {REALM}: {}",
                r.iter().any(|n| n == "master"),
                r.iter().any(|n| n == REALM)
            )
        });
        let version = outcome(&version, |v| {
            v.as_deref().map_or("hidden".into(), |v| {
                let (major, minor, _) = crate::support::target::parse_version(v);
                format!("{major}.{minor}")
            })
        });
        format!("{realms}; version {version}")
    };
    steps.push(format!(
        "admin server: {}",
        server(admin.visible_realms().await, admin.server_version().await)
    ));

    // A service client's token (client-credentials grant) reads as an admin's.
    let service = kc.session(Credentials::ClientCredentials {
        client_id: "omkc-differential".into(),
        client_secret: "differential-secret".into(),
    });
    steps.push(format!(
        "service client find: {}",
        found(&service.find_client(REALM, &cid).await)
    ));

    // The same reads and writes as accounts that may only view, or only query, clients.
    for (who, password) in [
        ("viewer", "viewer-password"),
        ("querier", "querier-password"),
    ] {
        let s: Arc<Session> = kc.session(Credentials::Password {
            username: who.into(),
            password: password.into(),
        });
        steps.push(format!(
            "{who} find: {}",
            found(&s.find_client(REALM, &cid).await)
        ));
        steps.push(format!(
            "{who} get: {}",
            found(&s.get_client(REALM, &uuid).await)
        ));
        let r = s.may_manage_clients(REALM).await;
        steps.push(format!(
            "{who} may manage: {}",
            outcome(&r, |m| m.to_string())
        ));
        steps.push(format!(
            "{who} server: {}",
            server(s.visible_realms().await, s.server_version().await)
        ));
        let r = s.regenerate_secret(REALM, &uuid).await;
        steps.push(format!(
            "{who} regenerate: {}",
            outcome(&r, |_| "a secret".into())
        ));
        let r = s.update_client(REALM, &uuid, &wanted).await;
        steps.push(format!("{who} update: {}", outcome(&r, |_| "ok".into())));
        let r = s.delete_client(REALM, &uuid).await;
        steps.push(format!("{who} delete: {}", outcome(&r, |_| "ok".into())));
    }

    // A second client without a service account, given one later by the operator's PUT.
    let plain = validate(&fixture("basic.yaml"), INSTALLATION).unwrap();
    let mut plain_wanted = desired::desired_client(&plain);
    let plain_uuid = admin.create_client(REALM, &plain_wanted).await.unwrap();
    ids.name(&plain_uuid, "plain client");
    plain_wanted.service_accounts_enabled = Some(true);
    let observed = admin.get_client(REALM, &plain_uuid).await.unwrap().unwrap();
    let fields_drifted = desired::client_drift(&observed.rep, &plain_wanted);
    let body = desired::update_body(&observed.rep, &plain_wanted, &fields_drifted);
    let r = admin.update_client(REALM, &plain_uuid, &body).await;
    steps.push(format!(
        "service account added: drift {fields_drifted:?}, update {}",
        outcome(&r, |_| "ok".into())
    ));
    admin.get_client(REALM, &plain_uuid).await.unwrap();
    admin.delete_client(REALM, &plain_uuid).await.unwrap();

    // Deletion, twice (the second finds nothing and counts as done), then the lookups.
    let r = admin.delete_client(REALM, &uuid).await;
    steps.push(format!("delete: {}", outcome(&r, |_| "ok".into())));
    let r = admin.delete_client(REALM, &uuid).await;
    steps.push(format!("delete again: {}", outcome(&r, |_| "ok".into())));
    steps.push(format!(
        "get after deletion: {}",
        found(&admin.get_client(REALM, &uuid).await)
    ));
    steps.push(format!(
        "find after deletion: {}",
        found(&admin.find_client(REALM, &cid).await)
    ));
    let r = admin.find_client("no-such-realm", &cid).await;
    steps.push(format!("find in a missing realm: {}", found(&r)));

    // Keycloak's own clients, as a resource naming one of them would find them.
    for builtin in omkc::reconcile::plan::BUILT_IN_CLIENTS {
        let r = admin.find_client(REALM, builtin).await;
        steps.push(format!("find {builtin}: {}", found(&r)));
    }

    // Keycloak names itself by the URL it was reached at: the proxy's, or its own.
    let mut bases = vec![kc.base_url.clone()];
    bases.extend(real::endpoint().map(|e| e.url));
    let exchanges = kc
        .log()
        .iter()
        .map(|e| exchange(e, &fields, &ids, &bases))
        .collect();
    Transcript { steps, exchanges }
}
