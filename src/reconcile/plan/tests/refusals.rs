//! What the plan refuses, and a client that has no secret to hand over yet.

use super::*;
use crate::names::OWNER_UID_ATTRIBUTE;

#[test]
fn adoption_needs_the_connections_consent_and_never_takes_a_powerful_client() {
    let adopting = with_spec(serde_json::json!({"client": {"adoptExisting": true}}));
    let v = validate(&adopting, INSTALLATION).unwrap();
    let by_hand = with_owner(as_keycloak_reports(&v, "u-1"), None);
    let attempt = |client: &ObservedClient, allowed: bool| {
        // The spec asks for the client id the client has (a built-in one, say).
        let id = client.rep.client_id.clone();
        let adopting =
            with_spec(serde_json::json!({"client": {"adoptExisting": true, "clientId": id}}));
        let v = validate(&adopting, INSTALLATION).unwrap();
        Given {
            issuer: ISSUER,
            client: Some(client),
            adoption_allowed: allowed,
            ..Default::default()
        }
        .pass(&adopting, &v)
    };
    let err = attempt(&by_hand, false).unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    assert!(err.to_string().contains("spec.allowAdoption"), "{err}");
    let adopted = attempt(&by_hand, true).unwrap();
    assert!(adopted.changes.contains(&Change::ClientAdopted {
        client_id: "openmetadata".into()
    }));

    // [fields of the hand-made client, why it is never adopted]
    let refused = serde_json::json!([
        [{"clientId": "admin-cli"}, "built-in"],
        [{"attributes": {"realm_client": "true"}}, "built-in"],
        [{"serviceAccountsEnabled": true}, "service account"],
        [{"serviceAccountsEnabled": true, "authorizationServicesEnabled": true}, "service account"],
        [{"authorizationServicesEnabled": true}, "authorization settings"],
        [{"protocol": "saml"}, "saml protocol"]
    ]);
    for case in refused.as_array().unwrap() {
        let client = patched(by_hand.clone(), case[0].clone());
        let why = case[1].as_str().unwrap();
        for allowed in [true, false] {
            let err = attempt(&client, allowed).unwrap_err();
            assert_eq!(err.reason(), Reason::ClientConflict);
            assert!(err.to_string().contains(why), "{why}: {err}");
            assert!(err.to_string().contains("never adopted"), "{err}");
        }
    }
}

#[test]
fn a_client_of_an_earlier_resource_of_the_same_name_is_not_this_ones() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    // Made by a resource of this namespace and name that was deleted with Retain.
    let earlier = patched(
        as_keycloak_reports(&v, "u-1"),
        serde_json::json!({
        "attributes": {OWNER_UID_ATTRIBUTE: "uid-of-the-earlier-one"}}),
    );
    let observe = |allowed| Given {
        issuer: ISSUER,
        client: Some(&earlier),
        adoption_allowed: allowed,
        ..Default::default()
    };
    let err = observe(true).pass(&basic, &v).unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    assert!(err.to_string().contains("earlier"), "{err}");
    assert!(err.to_string().contains("uid-of-the-earlier-one"), "{err}");
    assert_eq!(
        deletion(&v, Some(&earlier.rep), None).unwrap().writes,
        [Write::RemoveFinalizer],
        "never deleted by the new resource"
    );

    // Taken over explicitly: adoption, where the connection allows it; the uid becomes ours.
    let adopting = with_spec(serde_json::json!({"client": {"adoptExisting": true}}));
    let va = validate(&adopting, INSTALLATION).unwrap();
    assert!(observe(false).pass(&adopting, &va).is_err());
    let taken = observe(true).pass(&adopting, &va).unwrap();
    let [Write::UpdateClient { body, .. }, ..] = taken.writes.as_slice() else {
        panic!("{:?}", taken.writes)
    };
    assert_eq!(
        body.attributes.as_ref().unwrap()[OWNER_UID_ATTRIBUTE],
        va.uid
    );
}

#[test]
fn clients_this_resource_may_not_take_are_refused_with_nothing_planned() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let adopting = with_spec(serde_json::json!({"client": {"adoptExisting": true}}));
    let by_hand = with_owner(as_keycloak_reports(&v, "u-1"), None);
    let others = with_owner(as_keycloak_reports(&v, "u-1"), Some("team-b/openmetadata"));
    let observe = |c| Given {
        issuer: ISSUER,
        client: Some(c),
        ..Default::default()
    };

    let err = observe(&by_hand).pass(&basic, &v).unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    assert!(err.to_string().contains("adoptExisting: true"), "{err}");
    for obj in [&basic, &adopting] {
        let v = validate(obj, INSTALLATION).unwrap();
        let err = observe(&others).pass(obj, &v).unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        assert!(
            err.to_string()
                .contains("another OpenMetadataKeycloakClient"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("team-b"),
            "another tenant's resource is not named: {err}"
        );
    }
    // Keycloak strips the secret for an account that may view but not manage the client.
    let viewed = edited(
        ObservedClient {
            secret: None,
            ..as_keycloak_reports(&v, "u-1")
        },
        |c| c.access = Some([("manage".to_string(), false)].into()),
    );
    let err = observe(&viewed).pass(&basic, &v).unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakForbidden);
    // Said as what Keycloak showed, not as an HTTP status nobody sent.
    assert!(err.to_string().contains("may view but not manage"), "{err}");
    assert!(!err.to_string().contains("HTTP"), "{err}");
}

#[test]
fn a_namesake_the_database_takes_for_the_client_id_is_refused_unless_it_is_ours() {
    // MySQL and MariaDB answer `openmetadata` with `OpenMetadata` (their collation ignores case).
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let adopting = with_spec(serde_json::json!({"client": {"adoptExisting": true}}));
    let cased = |owner| {
        let c = with_owner(as_keycloak_reports(&v, "u-1"), owner);
        patched(c, serde_json::json!({"clientId": "OpenMetadata"}))
    };
    let (unowned, others, own) = (cased(None), cased(Some("team-b/x")), cased(Some(&v.owner)));
    let observe = |c| Given {
        issuer: ISSUER,
        client: Some(c),
        adoption_allowed: true,
        ..Default::default()
    };
    for (client, obj) in [(&unowned, &adopting), (&others, &basic)] {
        let v = validate(obj, INSTALLATION).unwrap();
        let err = observe(client).pass(obj, &v).unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        let message = err.to_string();
        assert!(
            message.contains("existing client \"OpenMetadata\""),
            "{message}"
        );
        assert!(
            message.contains("differs in more than case and accents"),
            "{message}"
        );
    }
    // Its own client under another case (a rename, its status lost): the id is set back.
    let p = observe(&own).pass(&basic, &v).unwrap();
    let [Write::UpdateClient { body, .. }, ..] = p.writes.as_slice() else {
        panic!("{:?}", p.writes)
    };
    assert_eq!(body.client_id.as_deref(), Some("openmetadata"));
    // Deleting the resource leaves a namesake alone.
    assert_eq!(
        deletion(&v, Some(&unowned.rep), None).unwrap().writes,
        [Write::RemoveFinalizer]
    );
}

#[test]
fn a_client_without_a_secret_gets_one_then_is_read_again() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let never_had_one = ObservedClient {
        secret: None,
        ..as_keycloak_reports(&v, "u-1")
    };
    let planned = Given {
        issuer: ISSUER,
        client: Some(&never_had_one),
        ..Default::default()
    }
    .pass(&obj, &v)
    .unwrap();
    assert_eq!(
        planned,
        Plan {
            writes: vec![Write::RegenerateSecret { uuid: "u-1".into() }],
            changes: vec![Change::SecretRegenerated {
                client_id: "openmetadata".into()
            }],
            then: Then::ObserveAgain,
        }
    );
    // A public client made confidential: first the update, then a fresh read.
    let public = edited(never_had_one, |c| c.public_client = Some(true));
    let planned = Given {
        issuer: ISSUER,
        client: Some(&public),
        ..Default::default()
    }
    .pass(&obj, &v)
    .unwrap();
    assert!(matches!(planned.writes[..], [Write::UpdateClient { .. }]));
    assert_eq!(planned.then, Then::ObserveAgain);
}

#[test]
fn an_older_owner_marker_is_ours_only_for_the_client_our_status_recorded() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let legacy = with_owner(
        as_keycloak_reports(&v, "u-1"),
        Some("openmetadata/openmetadata"),
    );
    let observe = |known: Option<&'static str>| Given {
        client: Some(&legacy),
        known_uuid: known,
        issuer: ISSUER,
        ..Default::default()
    };
    // Another cluster's resource of the same namespace and name: not ours.
    let err = observe(None).pass(&obj, &v).unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    let err = observe(Some("u-2")).pass(&obj, &v).unwrap_err();
    assert_eq!(err.reason(), Reason::ClientConflict);
    // The very client this resource recorded: ours, and the marker is rewritten.
    let planned = observe(Some("u-1")).pass(&obj, &v).unwrap();
    let Some(Write::UpdateClient { body, .. }) = planned.writes.first() else {
        panic!("an update: {planned:?}")
    };
    assert_eq!(
        body.attributes.as_ref().unwrap()[OWNER_ATTRIBUTE],
        "cluster-1/openmetadata/openmetadata"
    );
}

#[test]
fn post_logout_redirect_uris_are_a_list_in_keycloaks_one_attribute() {
    let uris = [
        "https://openmetadata.example.com/logout",
        "https://om.internal.example.com/logout",
    ];
    let mut obj = with_spec(serde_json::json!({"openmetadata": {"postLogoutRedirectUris": uris}}));
    let v = validate(&obj, INSTALLATION).unwrap();
    let wanted = desired::desired_client(&v);
    assert_eq!(
        wanted.attributes.as_ref().unwrap()["post.logout.redirect.uris"],
        "https://openmetadata.example.com/logout##https://om.internal.example.com/logout"
    );
    // Keycloak reporting the same list: no drift.
    let client = as_keycloak_reports(&v, "u-1");
    assert!(desired::client_drift(&client.rep, &wanted).is_empty());
    // Reported with one URI only: the attribute is corrected.
    let one = patched(
        client,
        serde_json::json!({
        "attributes": {"post.logout.redirect.uris": "https://openmetadata.example.com/logout"}}),
    );
    assert_eq!(
        desired::client_drift(&one.rep, &wanted),
        [ClientField::Attributes]
    );
    // Default: OpenMetadata's own logout page.
    let v = validate(&resource(), INSTALLATION).unwrap();
    assert_eq!(
        v.post_logout_redirect_uris,
        ["https://openmetadata.example.com/logout"]
    );
    // Keycloak's separator inside a URI is refused.
    obj.spec.openmetadata.post_logout_redirect_uris = vec!["https://a.example.com/x##y".into()];
    let err = validate(&obj, INSTALLATION).unwrap_err();
    assert_eq!(err.field, "spec.openmetadata.postLogoutRedirectUris[0]");
}

/// Keycloak ignores `authorizationServicesEnabled` with its `authorization` feature disabled:
/// an update that turns it on is read back before anything else is written (here, a missing
/// scope), and once the loop has seen it ignored, the spec is refused.
#[test]
fn authorization_turned_on_is_read_back_before_anything_else() {
    let obj = with_spec(serde_json::json!({"client": {"authorizationServicesEnabled": true}}));
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = patched(
        as_keycloak_reports(&v, "u-1"),
        serde_json::json!({
        "authorizationServicesEnabled": null, "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic"]}),
    );
    let secret = output(&v, "s3cr3t");
    let scopes = [realm_scope("email")];
    let given = |authorization_ignored| Given {
        issuer: ISSUER,
        client: Some(&client),
        secret: Some(&secret),
        adoption_allowed: true,
        realm_scopes: &scopes,
        authorization_ignored,
        ..Default::default()
    };
    let turned_on = Plan {
        writes: vec![Write::UpdateClient {
            uuid: "u-1".into(),
            body: Body(ClientRepresentation {
                service_accounts_enabled: Some(true),
                authorization_services_enabled: Some(true),
                implicit_flow_enabled: Some(false),
                client_authenticator_type: Some("client-secret".into()),
                attributes: Some(desired::managed_attributes(&v)),
                ..Default::default()
            }),
        }],
        changes: vec![updated(vec![ClientField::AuthorizationServicesEnabled])],
        then: Then::ObserveAgain,
    };
    assert!(
        turned_on.writes[0].sends_authorization(),
        "the loop checks it"
    );
    let plain = Write::UpdateClient {
        uuid: "u-1".into(),
        body: Body(ClientRepresentation::default()),
    };
    assert!(!plain.sends_authorization());
    assert_eq!(
        given(false).pass(&converged(&obj, "u-1"), &v),
        Ok(turned_on)
    );
    let refused = given(true).pass(&converged(&obj, "u-1"), &v).unwrap_err();
    assert_eq!(refused.reason(), Reason::InvalidSpec, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("authorization feature is disabled")
    );
}

#[test]
fn a_field_keycloak_changes_back_right_after_the_update_is_refused_not_sent_again() {
    let implicit = with_spec(serde_json::json!({"client": {"implicitFlowEnabled": true}}));
    let v = validate(&implicit, INSTALLATION).unwrap();
    let secret = output(&v, "s3cr3t");
    // As Keycloak shows it with a realm policy whose reject-implicit-grant auto-configures.
    let changed_back = patched(
        as_keycloak_reports(&v, "u-1"),
        serde_json::json!({"implicitFlowEnabled": false, "description": "by hand"}),
    );
    let pass = |sent: &[ClientField]| {
        Given {
            issuer: ISSUER,
            client: Some(&changed_back),
            secret: Some(&secret),
            sent,
            ..Default::default()
        }
        .pass(&implicit, &v)
    };
    // Not sent just before: an update like any other, read back before the Secret.
    let first = pass(&[]).unwrap();
    assert_eq!(first.keycloak().len(), 1, "{:?}", first.writes);
    assert_eq!(first.then, Then::ObserveAgain);
    // Sent by the pass before, and changed back: said, with the field, and not sent again.
    for sent in [
        &[ClientField::ImplicitFlowEnabled][..],
        &[ClientField::Description, ClientField::ImplicitFlowEnabled],
    ] {
        let err = pass(sent).unwrap_err();
        assert_eq!(err.reason(), Reason::ClientPolicyConflict);
        let said = err.to_string();
        assert!(
            said.starts_with(
                "Keycloak changes implicitFlowEnabled of client \"openmetadata\" back"
            ),
            "{said}"
        );
        assert!(
            said.contains("client policy of realm \"data-sec\""),
            "{said}"
        );
    }
    // Another field sent before does not make this one a policy's.
    assert!(pass(&[ClientField::RedirectUris]).is_ok());
}
