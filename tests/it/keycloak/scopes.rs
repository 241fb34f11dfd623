//! Default client scopes: added one by one, moved from optional, a missing one named.

use super::*;

/// Moves `email` on the client the operator made (dropped, or made optional) as the console
/// would; the next sync puts it back among the default scopes. The writes it took.
async fn email_scope_restored(
    kc: &Kc,
    v: &OpenMetadataKeycloakClient,
    to: ScopeKind,
) -> Vec<String> {
    let session = kc.admin_session();
    sync_keycloak(&session, v).await.unwrap();
    kc.set_client_scope(REALM, "openmetadata", "email", to)
        .await;
    kc.clear_log().await;

    let synced = sync_keycloak(&session, v).await.unwrap();
    assert_eq!(
        synced.changes,
        [Change::ScopesAdded {
            scopes: vec!["email".into()]
        }]
    );
    assert!(
        kc.default_scope_names(REALM, "openmetadata")
            .await
            .contains(&"email".to_string()),
        "email is a default scope on {}",
        kc.describe()
    );
    kc.writes()
}

both!(a_removed_default_scope_is_added_back_one_by_one, |kc| {
    let v = resource_for(&kc, |_| {});
    let w = email_scope_restored(&kc, &v, ScopeKind::None).await;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("PUT /admin/realms/data-sec/clients/")
            && w[0].contains("/default-client-scopes/"),
        "{w:?}"
    );
});

both!(
    /// Keycloak skips adding a default scope the client already has as an optional one (204,
    /// an admin event, nothing changed): the scope is moved, once, and then left alone.
    a_scope_made_optional_by_hand_becomes_a_default_scope_once,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let w = email_scope_restored(&kc, &v, ScopeKind::Optional).await;
        assert!(
            !kc.scope_names(REALM, "openmetadata", true)
                .await
                .contains(&"email".to_string())
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("DELETE ") && w[0].contains("/optional-client-scopes/"), "{w:?}");
        assert!(w[1].starts_with("PUT ") && w[1].contains("/default-client-scopes/"), "{w:?}");

        let session = kc.admin_session();
        kc.clear_log().await;
        for _ in 0..2 {
            let again = sync_keycloak(&session, &v).await.unwrap();
            assert!(again.changes.is_empty(), "{:?}", again.changes);
        }
        assert_eq!(kc.writes(), Vec::<String>::new());
        assert_eq!(kc.admin_events().await, []);
    }
);

both!(a_missing_realm_scope_is_a_clear_error, |kc| {
    kc.remove_realm_scope(REALM, "profile").await;
    let v = resource_for(&kc, |_| {});
    let err = sync_keycloak(&kc.admin_session(), &v).await.unwrap_err();
    assert_eq!(
        err,
        Error::from(KeycloakError::ScopeNotFound("profile".into()))
    );
    assert!(!err.is_transient());
});

/// Each line the emulator models, from Keycloak 22.0 (no `basic` scope, no `realm_client`
/// attribute) to the newest, gets the client with `email` and `profile` in one sync and then
/// costs one request a resync: the operator leans on nothing a line lacks.
#[tokio::test]
async fn every_modelled_line_converges_and_then_costs_one_request() {
    for version in [
        (22, 0, 5),
        (23, 0, 7),
        (24, 0, 5),
        (25, 0, 6),
        (26, 0, 8),
        crate::support::emulator::NEWEST,
    ] {
        let kc = Kc::emulator_as(version).await;
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        let synced = sync_keycloak(&session, &v).await.unwrap();
        assert!(
            matches!(synced.changes[..], [Change::ClientCreated { .. }]),
            "{version:?}: {:?}",
            synced.changes
        );
        let defaults = kc.default_scope_names(REALM, "openmetadata").await;
        assert!(
            ["email", "profile"]
                .iter()
                .all(|s| defaults.contains(&s.to_string())),
            "{version:?}: {defaults:?}"
        );
        kc.clear_log().await;
        let synced = sync_keycloak(&session, &v).await.unwrap();
        assert!(
            synced.changes.is_empty(),
            "{version:?}: {:?}",
            synced.changes
        );
        assert_eq!(
            kc.admin_calls(),
            ["GET /admin/realms/data-sec/clients"],
            "{version:?}"
        );
    }
}
