//! The Kubernetes side of the plan (the Secret, the status) and deletion.

use super::*;
use crate::crd::DeletionPolicy;

#[test]
fn the_secret_write_for_each_observation() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let run = |secret: Option<&Secret>, previous: &[Secret]| {
        Given {
            issuer: ISSUER,
            client: Some(&client),
            secret,
            previous_secrets: previous,
            ..Default::default()
        }
        .pass(&obj, &v)
        .map(|p| (p.secret().cloned(), p.writes.clone(), p.changes))
    };
    let name = || "oidc-secrets".to_string();
    let holding = output(&v, "s3cr3t");

    let (out, _, changes) = run(None, &[]).unwrap();
    assert_eq!(out, Some(Put::Create(holding.clone())));
    assert_eq!(changes, [Change::SecretCreated { name: name() }]);

    let (out, _, changes) = run(Some(&holding), &[]).unwrap();
    assert_eq!((out, changes), (None, vec![]));

    let stale = output(&v, "rotated-by-hand-elsewhere");
    let (out, _, changes) = run(Some(&stale), &[]).unwrap();
    assert_eq!(out, Some(Put::Apply(holding.clone())));
    assert_eq!(changes, [Change::SecretUpdated { name: name() }]);

    let mut extra = holding.clone();
    extra
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("added-by".into(), "someone".into());
    extra
        .data
        .as_mut()
        .unwrap()
        .insert("other-key".into(), Default::default());
    let (out, _, _) = run(Some(&extra), &[]).unwrap();
    assert_eq!(out, None, "others' labels and keys are not ours to judge");

    let mut unlabelled = holding.clone();
    unlabelled.metadata.labels = None;
    let (out, _, changes) = run(Some(&unlabelled), &[]).unwrap();
    assert_eq!(
        out,
        Some(Put::Apply(holding.clone())),
        "the label is restored"
    );
    assert_eq!(
        changes,
        [],
        "restoring a label is not a change of the credentials"
    );

    let mut foreign = holding.clone();
    foreign.metadata.owner_references = None;
    assert_eq!(
        run(Some(&foreign), &[]).unwrap_err().reason(),
        Reason::SecretConflict
    );

    let mut old = holding.clone();
    old.metadata.name = Some("old-secrets".into());
    let (_, writes, changes) = run(Some(&holding), &[old]).unwrap();
    assert_eq!(writes[0], Write::DeleteSecret("old-secrets".into()));
    assert_eq!(
        changes,
        [Change::SecretRemoved {
            name: "old-secrets".into()
        }]
    );
}

#[test]
fn an_unchanged_status_is_not_written_again() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let observed = Given {
        issuer: ISSUER,
        client: Some(&client),
        secret: Some(&secret),
        ..Default::default()
    };
    let first = observed.pass(&obj, &v).unwrap();
    assert!(first.status().is_some(), "a first status is written");
    let seen = converged(&obj, "u-1");
    assert_eq!(observed.pass(&seen, &v).unwrap().writes, []);
    let moved = converged(&obj, "u-2");
    assert!(
        observed.pass(&moved, &v).unwrap().status().is_some(),
        "a new uuid is news"
    );
}

#[test]
fn deletion_only_deletes_a_client_this_resource_owns_and_may_delete() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let ours = as_keycloak_reports(&v, "u-1").rep;
    let adopted = patched(
        as_keycloak_reports(&v, "u-1"),
        serde_json::json!({
        "attributes": {ADOPTED_ATTRIBUTE: "true"}}),
    )
    .rep;
    let policy = |p: Option<DeletionPolicy>| {
        let mut obj = basic.clone();
        obj.spec.deletion_policy = p;
        validate(&obj, INSTALLATION).unwrap()
    };
    // Whatever is decided, the finalizer is released last.
    let released = |client: Option<Write>, change: Change| Plan {
        writes: client.into_iter().chain([Write::RemoveFinalizer]).collect(),
        changes: vec![change],
        then: Then::Done(None),
    };
    let (client_id, realm) = (|| "openmetadata".to_string(), || "data-sec".to_string());
    let deleted = released(
        Some(Write::DeleteClient { uuid: "u-1".into() }),
        Change::ClientDeleted {
            client_id: client_id(),
            realm: realm(),
        },
    );
    let retained = released(
        None,
        Change::ClientRetained {
            client_id: client_id(),
            realm: realm(),
        },
    );
    let not_ours = released(
        None,
        Change::ClientNotOurs {
            client_id: client_id(),
        },
    );
    let by_hand = with_owner(as_keycloak_reports(&v, "u-1"), None).rep;
    let others = with_owner(as_keycloak_reports(&v, "u-1"), Some("x/y")).rep;
    let gone = Change::ClientGone {
        client_id: client_id(),
    };
    let cases = [
        ("gone", policy(None), None, released(None, gone)),
        (
            "created, default policy",
            policy(None),
            Some(&ours),
            deleted.clone(),
        ),
        (
            "created, Retain",
            policy(Some(DeletionPolicy::Retain)),
            Some(&ours),
            retained.clone(),
        ),
        (
            "adopted, default policy: retained",
            policy(None),
            Some(&adopted),
            retained.clone(),
        ),
        (
            "adopted, explicit Delete",
            policy(Some(DeletionPolicy::Delete)),
            Some(&adopted),
            deleted,
        ),
        (
            "made by hand",
            policy(None),
            Some(&by_hand),
            not_ours.clone(),
        ),
        ("another resource's", policy(None), Some(&others), not_ours),
    ];
    for (name, v, found, want) in cases {
        assert_eq!(deletion(&v, found, None).unwrap(), want, "{name}");
    }
    assert_eq!(
        crate::reconcile::plan::retained(&v),
        retained,
        "Retain without asking Keycloak"
    );
}

#[test]
fn a_deletion_that_cannot_be_done_releases_with_what_is_left_or_retries() {
    let mut obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let refused = || Error::credentials_not_found("team-a/kc");
    let released = |changes| Plan {
        writes: vec![Write::RemoveFinalizer],
        changes,
        then: Then::Done(None),
    };
    // Never had a client: released, nothing to say.
    assert_eq!(
        orphaned(&obj, Some(&v), refused()).unwrap(),
        released(vec![])
    );
    obj.status = converged(&obj, "u-1").status;
    let left = orphaned(&obj, Some(&v), refused()).unwrap();
    assert_eq!(left.changes.len(), 1);
    assert_eq!(left.changes[0].reason(), Reason::ClientOrphaned);
    assert_eq!(left.writes, [Write::RemoveFinalizer]);
    assert!(
        left.changes[0].to_string().starts_with(
            "client \"openmetadata\" (id u-1) in realm \"data-sec\" of http://keycloak.example:8080 is left in Keycloak: cleanup is impossible (credentials Secret team-a/kc not found)"
        ),
        "{}",
        left.changes[0]
    );
    let invalid = orphaned(&obj, None, refused()).unwrap();
    assert!(
        invalid.changes[0]
            .to_string()
            .starts_with("client \"openmetadata\" (id u-1) is left in Keycloak"),
        "no place without a valid spec: {}",
        invalid.changes[0]
    );
    // Transient: the finalizer stays, the deletion is retried.
    let down = Error::from(KeycloakError::Unreachable("connection refused".into()));
    assert_eq!(
        orphaned(&obj, Some(&v), down).unwrap_err().reason(),
        Reason::KeycloakUnavailable
    );
}

#[test]
fn the_secret_value_never_shows_in_debug_output() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    assert_eq!(client.secret, Some(SecretValue::new("s3cr3t")));
    let text = format!("{client:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
}
