//! Whose client it is: made by hand, another resource's, Keycloak's own, an earlier resource's; deletion.

use super::*;

both!(
    a_client_made_by_hand_is_left_alone_unless_adoption_is_asked,
    |kc| {
        kc.seed_client(
        REALM,
        json!({"clientId": "openmetadata", "publicClient": true, "redirectUris": ["http://x/*"]}),
    )
    .await;
        let session = kc.admin_session();
        kc.clear_log().await;

        let err = sync_keycloak(&session, &resource_for(&kc, |_| {}))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        assert!(err.to_string().contains("adoptExisting"), "{err}");
        assert!(kc.writes().is_empty(), "nothing written: {:?}", kc.writes());
        assert_eq!(
            kc.client(REALM, "openmetadata").await.unwrap()["publicClient"],
            true
        );

        let synced = sync_keycloak(&session, &adopting(&kc)).await.unwrap();
        assert_eq!(
            synced.changes[0],
            Change::ClientAdopted {
                client_id: "openmetadata".into()
            }
        );
        assert_eq!(
            Some(synced.client_secret.clone()),
            kc.secret_of(REALM, "openmetadata").await
        );
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        let owner = "cluster-1/openmetadata/openmetadata";
        shows!(client, {"publicClient": false, "attributes": {OWNER_ATTRIBUTE: owner}});
    }
);

both!(
    /// On MySQL and MariaDB, Keycloak takes `OpenMetadata` for an existing `openmetadata`
    /// (their collation compares without case): the resource is refused, naming the client in
    /// the way, with nothing written, and its deletion leaves that client. On H2 and
    /// PostgreSQL it is another client, and made.
    a_client_id_the_database_takes_for_an_existing_one_is_refused,
    also on mariadb,
    |kc| {
        kc.seed_client(REALM, json!({"clientId": "openmetadata", "publicClient": true}))
            .await;
        let v = resource_for(&kc, |o| {
            merge_spec(o, json!({"client": {"clientId": "OpenMetadata", "adoptExisting": true}}))
        });
        let session = kc.admin_session();
        kc.clear_log().await;
        let synced = sync_keycloak(&session, &v).await;
        if kc.database() == "mariadb" {
            let err = synced.unwrap_err();
            assert_eq!(err.reason(), Reason::ClientConflict, "{err}");
            let said = "existing client \"openmetadata\"";
            assert!(err.to_string().contains(said), "{err}");
            assert!(kc.writes().is_empty(), "nothing written: {:?}", kc.writes());
            assert_eq!(delete(&session, &v).await.unwrap(), Change::ClientNotOurs { client_id: "OpenMetadata".into() });
        } else {
            synced.unwrap();
            assert!(kc.client(REALM, "OpenMetadata").await.is_some(), "{}", kc.describe());
        }
        let by_hand = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(by_hand["publicClient"], true, "{}", kc.describe());
    }
);

both!(
    a_client_of_another_resource_is_never_taken_even_with_adoption,
    |kc| {
        kc.seed_client(
            REALM,
            json!({"clientId": "openmetadata", "attributes": {OWNER_ATTRIBUTE: "other-ns/other"}}),
        )
        .await;
        let v = adopting(&kc);
        let session = kc.admin_session();
        kc.clear_log().await;
        let err = sync_keycloak(&session, &v).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict);
        assert!(
            err.to_string()
                .contains("another OpenMetadataKeycloakClient"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("other-ns"),
            "not named to this tenant: {err}"
        );
        assert!(kc.writes().is_empty());
        // Deleting this resource leaves the other's client too.
        delete(&session, &v).await.unwrap();
        assert!(kc.client(REALM, "openmetadata").await.is_some());
    }
);

both!(
    delete_removes_an_owned_client_and_treats_gone_as_done,
    |kc| {
        let v = resource_for(&kc, |_| {});
        let session = kc.admin_session();
        sync_keycloak(&session, &v).await.unwrap();

        let decided = delete(&session, &v).await.unwrap();
        assert!(
            matches!(decided, Change::ClientDeleted { .. }),
            "{decided:?}"
        );
        assert!(kc.client(REALM, "openmetadata").await.is_none());

        let again = delete(&session, &v).await.unwrap();
        assert!(matches!(again, Change::ClientGone { .. }), "{again:?}");

        // A 404 from DELETE (deleted by someone else in between) is success too.
        sync_keycloak(&session, &v).await.unwrap();
        kc.inject(
            Some("DELETE"),
            "/clients/",
            404,
            r#"{"error":"Could not find client"}"#,
        );
        delete(&session, &v).await.unwrap();
    }
);

both!(
    /// Adoption never takes Keycloak's own clients, even through a connection that allows it:
    /// their secrets and roles belong to Keycloak's administration.
    keycloaks_built_in_clients_are_never_adopted,
    |kc| {
        let session = kc.admin_session();
        for builtin in ["admin-cli", "realm-management", "security-admin-console", "broker"] {
            let before = kc.client(REALM, builtin).await.expect("every realm has it");
            let client = json!({"client": {"clientId": builtin, "adoptExisting": true}});
            let obj = resource_for(&kc, |o| merge_spec(o, client));
            kc.clear_log().await;
            let err = sync_keycloak(&session, &obj).await.unwrap_err();
            assert_eq!(err.reason(), Reason::ClientConflict, "{builtin}: {err}");
            assert!(err.to_string().contains("built-in"), "{builtin}: {err}");
            assert_eq!(kc.writes(), Vec::<String>::new(), "{builtin}");
            assert_eq!(kc.client(REALM, builtin).await.unwrap(), before, "{builtin}");
        }
    }
);

both!(
    /// A resource recreated with the same namespace and name (a namespace deleted and made
    /// again, another team) has another uid: the client the first one retained is not its own,
    /// and its secret is not handed over unless the new resource adopts the client.
    a_recreated_resource_does_not_inherit_the_retained_client,
    |kc| {
        let session = kc.admin_session();
        let first = resource_for(&kc, |o| {
            o.spec.deletion_policy = Some(omkc::crd::DeletionPolicy::Retain)
        });
        let made = sync_keycloak(&session, &first).await.unwrap();
        let retained = delete(&session, &first).await.unwrap();
        assert!(matches!(retained, Change::ClientRetained { .. }), "{retained:?}");

        let mut second = first.clone();
        second.metadata.uid = Some("7d3c9a52-0000-4000-8000-0000000000ff".into());
        kc.clear_log().await;
        let err = sync_keycloak(&session, &second).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ClientConflict, "{err}");
        assert!(err.to_string().contains("earlier"), "{err}");
        assert_eq!(kc.writes(), Vec::<String>::new(), "nothing written");
        let left = delete(&session, &second).await.unwrap();
        assert!(matches!(left, Change::ClientNotOurs { .. }), "{left:?}");
        assert!(kc.client(REALM, "openmetadata").await.is_some());

        // Taken over explicitly.
        merge_spec(&mut second, json!({"client": {"adoptExisting": true}}));
        let taken = sync_keycloak(&session, &second).await.unwrap();
        assert_eq!(taken.client_uuid, made.client_uuid);
        let client = kc.client(REALM, "openmetadata").await.unwrap();
        assert_eq!(
            client["attributes"][OWNER_UID_ATTRIBUTE],
            "7d3c9a52-0000-4000-8000-0000000000ff"
        );
    }
);

/// The resource's status, recording the client `uuid` as the operator does.
fn recording(obj: &OpenMetadataKeycloakClient, uuid: &str) -> OpenMetadataKeycloakClient {
    let mut obj = obj.clone();
    let status = obj.status.get_or_insert_with(Default::default);
    status.client_uuid = Some(uuid.to_string());
    obj
}

both!(
    /// The console lets anyone change a Client ID: the client the status recorded, renamed, is
    /// renamed back (same id, same secret), or deleted with the resource; someone else's client
    /// is never taken for it, whatever id the status names.
    a_client_renamed_by_hand_is_renamed_back_and_only_ours,
    |kc| {
        let session = kc.admin_session();
        let made = sync_keycloak(&session, &resource_for(&kc, |_| {})).await.unwrap();
        let obj = recording(&resource_for(&kc, |_| {}), &made.client_uuid);
        kc.edit_client(REALM, "openmetadata", json!({"clientId": "renamed"})).await;

        let synced = sync_keycloak(&session, &obj).await.unwrap();
        let fields = vec![ClientField::ClientId];
        let client_id = "openmetadata".to_string();
        assert_eq!(synced.changes, [Change::ClientUpdated { client_id, fields }]);
        assert_eq!(
            (&synced.client_uuid, &synced.client_secret),
            (&made.client_uuid, &made.client_secret)
        );
        assert!(kc.client(REALM, "renamed").await.is_none(), "{}", kc.describe());

        kc.edit_client(REALM, "openmetadata", json!({"clientId": "renamed"})).await;
        let decided = delete(&session, &obj).await.unwrap();
        assert!(matches!(decided, Change::ClientDeleted { .. }), "{decided:?}");
        assert!(kc.client(REALM, "renamed").await.is_none(), "{}", kc.describe());

        let theirs = kc.seed_client(REALM, json!({"clientId": "theirs"})).await;
        let synced = sync_keycloak(&session, &recording(&obj, &theirs)).await.unwrap();
        assert_ne!(synced.client_uuid, theirs);
        let left = kc.client(REALM, "theirs").await.expect("theirs is kept");
        assert_eq!(left["id"], theirs.as_str());
    }
);
