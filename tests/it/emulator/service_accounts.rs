//! Service accounts: the user, its scope from 26.1 on, and what a PUT without the flag does.

use super::*;

/// Keycloak 26.1 and later give a client the realm's `service_account` scope as a default scope
/// exactly while its service account is enabled; older versions have no such scope.
async fn the_service_account_scope_follows_the_service_account(kc: Kc) {
    let raw = Raw::admin(&kc).await;
    let since_26_1 = kc.version >= (26, 1, 0);
    let realm_has_it = sorted(
        &raw.get("/client-scopes")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].clone())
            .collect(),
    )
    .contains(&"service_account".to_string());
    assert_eq!(realm_has_it, since_26_1, "{}", kc.describe());
    let has_scope = |names: Vec<String>| names.contains(&"service_account".to_string());
    let id = kc
        .seed_client(
            REALM,
            json!({"clientId": "sa", "publicClient": false, "serviceAccountsEnabled": true}),
        )
        .await;
    assert_eq!(
        has_scope(kc.default_scope_names(REALM, "sa").await),
        since_26_1
    );
    for (enabled, expected) in [(false, false), (true, since_26_1)] {
        let (status, _) = raw
            .send(
                reqwest::Method::PUT,
                &format!("/clients/{id}"),
                Some(json!({ "serviceAccountsEnabled": enabled })),
            )
            .await;
        assert_eq!(status, 204);
        assert_eq!(
            has_scope(kc.default_scope_names(REALM, "sa").await),
            expected,
            "service account {enabled} on {}",
            kc.describe()
        );
    }
}

both!(a_service_account_brings_its_scope, |kc| {
    the_service_account_scope_follows_the_service_account(kc).await
});

#[tokio::test]
async fn a_service_account_brings_no_scope_before_26_1() {
    the_service_account_scope_follows_the_service_account(Kc::emulator_as((26, 0, 8)).await).await
}

/// Up to 26.0 a PUT without `serviceAccountsEnabled` removed the service-account user and its
/// role mappings, the flag staying on (seen on 24.0.5, 25.0.6 and 26.0.8); 26.1 and later keep
/// it (26.1.4 to 26.7.4). Only the roles tell: reading the user (GET …/service-account-user)
/// makes a new one, without roles, where the flag is on and the user missing.
async fn a_put_without_the_flag_keeps_the_user_from_26_1(kc: Kc) {
    let raw = Raw::admin(&kc).await;
    let id = kc
        .seed_client(
            REALM,
            json!({"clientId": "sa", "publicClient": false, "serviceAccountsEnabled": true}),
        )
        .await;
    kc.grant_service_account_roles(REALM, "sa", &["offline_access"])
        .await;
    let path = format!("/clients/{id}");
    let body = json!({"rootUrl": "https://z.example"});
    let (status, _) = raw.send(reqwest::Method::PUT, &path, Some(body)).await;
    assert_eq!(status, 204);
    assert_eq!(
        raw.get(&path).await["serviceAccountsEnabled"],
        true,
        "the flag stays"
    );
    let kept = kc.version >= (26, 1, 0);
    assert_eq!(
        kc.service_account_roles(REALM, "sa").await,
        Some(
            kept.then(|| "offline_access".to_string())
                .into_iter()
                .collect()
        ),
        "the service-account user's roles after a PUT without the flag, on {}",
        kc.describe()
    );
}

both!(
    a_put_without_the_service_account_flag_keeps_its_user,
    |kc| { a_put_without_the_flag_keeps_the_user_from_26_1(kc).await }
);

#[tokio::test]
async fn a_put_without_the_service_account_flag_removed_its_user_up_to_26_0() {
    a_put_without_the_flag_keeps_the_user_from_26_1(Kc::emulator_as((26, 0, 8)).await).await
}
