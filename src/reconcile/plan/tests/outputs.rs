//! The Kubernetes side of the plan (the Secret, the status) and deletion.

use super::*;
use crate::crd::DeletionPolicy;

#[test]
fn the_secret_write_for_each_observation() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let run = |secret: Option<&Secret>, previous: &[Secret]| {
        plan(
            &obj,
            &v,
            Observed {
                issuer: ISSUER,
                known_uuid: None,
                client: Some(&client),
                secret,
                previous_secrets: previous,
                ..Default::default()
            },
        )
        .map(|p| (p.outputs.unwrap(), p.changes))
    };
    let name = || "oidc-secrets".to_string();
    let holding = output(&v, "s3cr3t");

    let (out, changes) = run(None, &[]).unwrap();
    assert_eq!(out.secret, Some(SecretWrite::Create(holding.clone())));
    assert_eq!(changes, [Change::SecretCreated { name: name() }]);

    let (out, changes) = run(Some(&holding), &[]).unwrap();
    assert_eq!((out.secret, changes), (None, vec![]));

    let stale = output(&v, "rotated-by-hand-elsewhere");
    let (out, changes) = run(Some(&stale), &[]).unwrap();
    assert_eq!(out.secret, Some(SecretWrite::Apply(holding.clone())));
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
    let (out, _) = run(Some(&extra), &[]).unwrap();
    assert_eq!(
        out.secret, None,
        "others' labels and keys are not ours to judge"
    );

    let mut unlabelled = holding.clone();
    unlabelled.metadata.labels = None;
    let (out, changes) = run(Some(&unlabelled), &[]).unwrap();
    assert_eq!(
        out.secret,
        Some(SecretWrite::Apply(holding.clone())),
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
    let (out, changes) = run(Some(&holding), &[old]).unwrap();
    assert_eq!(out.remove, ["old-secrets"]);
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
    let observed = Observed {
        issuer: ISSUER,
        known_uuid: None,
        client: Some(&client),
        secret: Some(&secret),
        previous_secrets: &[],
        ..Default::default()
    };
    let first = plan(&obj, &v, observed).unwrap().outputs.unwrap().status;
    assert!(first.is_some(), "a first status is written");
    let seen = converged(&obj, "u-1");
    assert_eq!(
        plan(&seen, &v, observed).unwrap().outputs.unwrap().status,
        None
    );
    let moved = converged(&obj, "u-2");
    assert!(
        plan(&moved, &v, observed)
            .unwrap()
            .outputs
            .unwrap()
            .status
            .is_some(),
        "a new uuid is news"
    );
}

#[test]
fn deletion_only_deletes_a_client_this_resource_owns_and_may_delete() {
    let basic = resource();
    let v = validate(&basic, INSTALLATION).unwrap();
    let ours = as_keycloak_reports(&v, "u-1").rep;
    let adopted = edited(as_keycloak_reports(&v, "u-1"), |c| {
        c.attributes
            .as_mut()
            .unwrap()
            .insert(ADOPTED_ATTRIBUTE.into(), "true".into());
    })
    .rep;
    let policy = |p: Option<DeletionPolicy>| {
        let mut obj = basic.clone();
        obj.spec.deletion_policy = p;
        validate(&obj, INSTALLATION).unwrap()
    };
    let delete = Deletion::Delete { uuid: "u-1".into() };
    let cases = [
        ("gone", policy(None), None, Deletion::AlreadyGone),
        (
            "created, default policy",
            policy(None),
            Some(&ours),
            delete.clone(),
        ),
        (
            "created, Retain",
            policy(Some(DeletionPolicy::Retain)),
            Some(&ours),
            Deletion::Retain,
        ),
        (
            "adopted, default policy: retained",
            policy(None),
            Some(&adopted),
            Deletion::Retain,
        ),
        (
            "adopted, explicit Delete",
            policy(Some(DeletionPolicy::Delete)),
            Some(&adopted),
            delete.clone(),
        ),
    ];
    for (name, v, found, want) in cases {
        assert_eq!(deletion(&v, found, None).unwrap(), want, "{name}");
    }
    let by_hand = with_owner(as_keycloak_reports(&v, "u-1"), None).rep;
    let others = with_owner(as_keycloak_reports(&v, "u-1"), Some("x/y")).rep;
    assert_eq!(
        deletion(&v, Some(&by_hand), None).unwrap(),
        Deletion::NotOurs
    );
    assert_eq!(
        deletion(&v, Some(&others), None).unwrap(),
        Deletion::NotOurs
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
