//! The plan, table by table: for each observed/desired pair, exactly which actions come out.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::{ByteString, api::core::v1::Secret};
use keycloak::types::ClientRepresentation;
use kube::Resource;

use super::*;
use crate::{crd::OpenMetadataKeycloakClient, names::OWNER_ATTRIBUTE, validate::validate};

fn resource() -> OpenMetadataKeycloakClient {
    serde_yaml::from_str(include_str!("../../../tests/fixtures/basic.yaml")).unwrap()
}

fn validated(edit: impl FnOnce(&mut OpenMetadataKeycloakClient)) -> Validated {
    let mut obj = resource();
    edit(&mut obj);
    validate(&obj).unwrap()
}

/// The client as Keycloak would hold it after a create from the desired state.
fn in_keycloak(v: &Validated, uuid: &str) -> ClientRepresentation {
    let mut c = desired::desired_client(v);
    c.id = Some(uuid.into());
    c
}

fn with_owner(mut c: ClientRepresentation, owner: Option<&str>) -> ClientRepresentation {
    let attributes = c.attributes.get_or_insert_with(HashMap::new);
    match owner {
        Some(o) => attributes.insert(OWNER_ATTRIBUTE.into(), o.into()),
        None => attributes.remove(OWNER_ATTRIBUTE),
    };
    c
}

#[test]
fn the_client_action_for_each_observation() {
    let v = validated(|_| {});
    let adopting = validated(|o| {
        o.spec.client = Some(crate::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        })
    });
    let ours = in_keycloak(&v, "u-1");
    let reordered = {
        let mut c = ours.clone();
        c.redirect_uris = Some(vec!["https://openmetadata.example.com/callback".into()]);
        c.web_origins.as_mut().unwrap().reverse();
        c.consent_required = Some(true);
        c.attributes
            .as_mut()
            .unwrap()
            .insert("unmanaged".into(), "x".into());
        c
    };
    let drifted = {
        let mut c = ours.clone();
        c.public_client = Some(true);
        c.redirect_uris = Some(vec!["https://evil.example/*".into()]);
        c
    };
    let by_hand = with_owner(ours.clone(), None);

    struct Case<'a> {
        name: &'a str,
        v: &'a Validated,
        found: Option<&'a ClientRepresentation>,
        action: &'a str,
        fields: Vec<ClientField>,
        changes: usize,
    }
    let cases = [
        Case {
            name: "absent: create",
            v: &v,
            found: None,
            action: "create",
            fields: vec![],
            changes: 1,
        },
        Case {
            name: "ours and equal: nothing",
            v: &v,
            found: Some(&ours),
            action: "keep",
            fields: vec![],
            changes: 0,
        },
        Case {
            name: "ours, reordered sets, unmanaged fields and attributes: nothing",
            v: &v,
            found: Some(&reordered),
            action: "keep",
            fields: vec![],
            changes: 0,
        },
        Case {
            name: "ours and drifted: update exactly the drifted fields",
            v: &v,
            found: Some(&drifted),
            action: "update",
            fields: vec![ClientField::PublicClient, ClientField::RedirectUris],
            changes: 1,
        },
        Case {
            name: "made by hand, adoption asked: adopt and mark",
            v: &adopting,
            found: Some(&by_hand),
            action: "update",
            fields: vec![ClientField::Attributes],
            changes: 2,
        },
    ];
    for case in cases {
        let plan = client(case.v, case.found).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let (action, fields) = match &plan.action {
            ClientAction::Create(body) => {
                assert_eq!(*body, desired::desired_client(case.v), "{}", case.name);
                ("create", vec![])
            }
            ClientAction::Update { uuid, body, fields } => {
                assert_eq!(uuid, "u-1", "{}", case.name);
                assert_eq!(*body, desired::desired_client(case.v), "{}", case.name);
                ("update", fields.clone())
            }
            ClientAction::Keep { uuid } => {
                assert_eq!(uuid, "u-1", "{}", case.name);
                ("keep", vec![])
            }
        };
        assert_eq!(action, case.action, "{}", case.name);
        assert_eq!(fields, case.fields, "{}", case.name);
        assert_eq!(plan.changes.len(), case.changes, "{}", case.name);
    }
}

#[test]
fn clients_this_resource_may_not_take_are_refused_with_nothing_planned() {
    let v = validated(|_| {});
    let adopting = validated(|o| {
        o.spec.client = Some(crate::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        })
    });
    let by_hand = with_owner(in_keycloak(&v, "u-1"), None);
    let others = with_owner(in_keycloak(&v, "u-1"), Some("team-b/openmetadata"));

    let err = client(&v, Some(&by_hand)).unwrap_err();
    assert_eq!(err.reason(), crate::reason::Reason::ClientConflict);
    assert!(err.to_string().contains("adoptExisting: true"), "{err}");
    for v in [&v, &adopting] {
        let err = client(v, Some(&others)).unwrap_err();
        assert_eq!(err.reason(), crate::reason::Reason::ClientConflict);
        assert!(err.to_string().contains("team-b/openmetadata"), "{err}");
    }
    let mut no_id = in_keycloak(&v, "");
    no_id.id = None;
    assert!(client(&v, Some(&no_id)).unwrap_err().is_transient());
}

#[test]
fn adoption_is_reported_before_the_update_that_marks_the_client() {
    let v = validated(|o| {
        o.spec.client = Some(crate::crd::ClientSpec {
            adopt_existing: Some(true),
            ..Default::default()
        })
    });
    let by_hand = with_owner(in_keycloak(&v, "u-1"), None);
    let plan = client(&v, Some(&by_hand)).unwrap();
    assert_eq!(
        plan.changes,
        [
            Change::ClientAdopted {
                client_id: "openmetadata".into()
            },
            Change::ClientUpdated {
                client_id: "openmetadata".into(),
                fields: vec![ClientField::Attributes]
            }
        ]
    );
}

#[test]
fn only_missing_default_scopes_are_added() {
    let cases: [(&[&str], &[&str]); 4] = [
        (&[], &["email", "profile"]),
        (&["acr", "email"], &["profile"]),
        (&["profile", "roles", "email"], &[]),
        (&["basic", "web-origins"], &["email", "profile"]),
    ];
    for (current, added) in cases {
        let current: Vec<String> = current.iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes_to_add(&current), added, "{current:?}");
    }
}

fn owned_secret(obj: &OpenMetadataKeycloakClient, v: &Validated, value: &str) -> Secret {
    desired::output_secret(v, obj.controller_owner_ref(&()).unwrap(), value)
}

#[test]
fn the_secret_action_for_each_observation() {
    let obj = resource();
    let v = validate(&obj).unwrap();
    let owner = || obj.controller_owner_ref(&()).unwrap();
    let name = || "oidc-secrets".to_string();

    let created = secret(&obj, &v, owner(), "s1", None).unwrap();
    assert_eq!(created.change, Some(Change::SecretCreated { name: name() }));
    assert_eq!(created.apply, owned_secret(&obj, &v, "s1"));
    assert_eq!(created.remove_previous, None);

    let same = owned_secret(&obj, &v, "s1");
    assert_eq!(
        secret(&obj, &v, owner(), "s1", Some(&same)).unwrap().change,
        None
    );

    let rotated = secret(&obj, &v, owner(), "s2", Some(&same)).unwrap();
    assert_eq!(rotated.change, Some(Change::SecretUpdated { name: name() }));

    let mut foreign = same.clone();
    foreign.metadata.owner_references = None;
    let err = secret(&obj, &v, owner(), "s1", Some(&foreign)).unwrap_err();
    assert_eq!(err.reason(), crate::reason::Reason::SecretConflict);

    let mut renamed = obj.clone();
    renamed.status = Some(crate::crd::OpenMetadataKeycloakClientStatus {
        secret_name: Some("old-secrets".into()),
        ..Default::default()
    });
    let plan = secret(&renamed, &v, owner(), "s1", Some(&same)).unwrap();
    assert_eq!(plan.remove_previous.as_deref(), Some("old-secrets"));
}

#[test]
fn the_output_secret_holds_exactly_the_two_keys() {
    let obj = resource();
    let v = validate(&obj).unwrap();
    let data = owned_secret(&obj, &v, "s3cr3t").data.unwrap();
    assert_eq!(
        data,
        BTreeMap::from([
            (
                "openmetadata-oidc-client-id".to_string(),
                ByteString(b"openmetadata".to_vec())
            ),
            (
                "openmetadata-oidc-client-secret".to_string(),
                ByteString(b"s3cr3t".to_vec())
            ),
        ])
    );
}

#[test]
fn deletion_only_deletes_our_own_client() {
    let v = validated(|_| {});
    let ours = in_keycloak(&v, "u-1");
    assert_eq!(deletion(&v, None).unwrap(), Deletion::AlreadyGone);
    assert_eq!(
        deletion(&v, Some(&ours)).unwrap(),
        Deletion::Delete { uuid: "u-1".into() }
    );
    assert_eq!(
        deletion(&v, Some(&with_owner(ours.clone(), None))).unwrap(),
        Deletion::NotOurs
    );
    assert_eq!(
        deletion(&v, Some(&with_owner(ours, Some("x/y")))).unwrap(),
        Deletion::NotOurs
    );
}

#[test]
fn an_unchanged_status_is_not_written_again() {
    let obj = resource();
    let v = validate(&obj).unwrap();
    let first = ready_status(&obj, &v, "u-1").expect("a first status is written");
    let mut seen = obj.clone();
    seen.status = Some(first);
    assert_eq!(ready_status(&seen, &v, "u-1"), None);
    assert!(
        ready_status(&seen, &v, "u-2").is_some(),
        "a new uuid is news"
    );
}
