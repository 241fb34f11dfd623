//! Day 2 in the plan: rotation on demand and on schedule, a secret from a source Secret, the
//! values ConfigMap and the checksum that restarts workloads.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;

use super::*;
use crate::{
    crd::{SecretKeyReference, ValuesConfigMapSpec, WorkloadKind, WorkloadReference},
    reconcile::{change::Rotation, desired::RotationMarks},
};

fn with_token(token: &str) -> OpenMetadataKeycloakClient {
    let mut obj = resource();
    obj.metadata.annotations = Some([("omkc.dev/rotate".to_string(), token.to_string())].into());
    obj
}

fn marked(v: &Validated, value: &str, rotated: Option<&str>, rotating: Option<&str>) -> Secret {
    let marks = RotationMarks {
        rotated_for: rotated.map(String::from),
        rotating_for: rotating.map(String::from),
    };
    desired::output_secret(v, value, &marks)
}

fn observe<'a>(client: &'a ObservedClient, secret: Option<&'a Secret>) -> Observed<'a> {
    Observed {
        issuer: ISSUER,
        client: Some(client),
        secret,
        now: SECRET_CREATED + 60,
        ..Default::default()
    }
}

#[test]
fn a_rotation_token_is_marked_then_carried_out_then_recorded() {
    let obj = with_token("2026-11-30");
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let token = || Some("2026-11-30".to_string());

    // 1. New token: mark it on the Secret first; nothing in Keycloak yet.
    let plain = output(&v, "s3cr3t");
    let p = plan(&obj, &v, observe(&client, Some(&plain))).unwrap();
    assert!(p.keycloak.is_empty(), "{:?}", p.keycloak);
    let out = p.outputs.unwrap();
    assert!(out.again, "the rotation itself comes in the next round");
    assert_eq!(out.status, None, "no status between the two rounds");
    let Some(SecretWrite::Apply(marking)) = out.secret else {
        panic!("the mark is written: {:?}", out.secret)
    };
    assert_eq!(RotationMarks::of(&marking).rotating_for, token());
    assert_eq!(marking.data, plain.data, "still Keycloak's current secret");

    // 2. Marked, the Secret still holds what Keycloak holds: regenerate, read back.
    let p = plan(&obj, &v, observe(&client, Some(&marking))).unwrap();
    assert_eq!(
        p.keycloak,
        [KeycloakAction::RegenerateSecret { uuid: "u-1".into() }]
    );
    assert_eq!(p.outputs, None);
    assert_eq!(
        p.changes,
        [Change::SecretRotated {
            client_id: "openmetadata".into(),
            trigger: Rotation::OnDemand("2026-11-30".into()),
        }]
    );

    // 3. Read back (or after a restart): Keycloak holds a new secret; hand it over, record.
    let mut regenerated = client.clone();
    regenerated.secret = Some(SecretValue::new("n3w"));
    let p = plan(&obj, &v, observe(&regenerated, Some(&marking))).unwrap();
    assert!(p.keycloak.is_empty(), "never a second regeneration");
    let out = p.outputs.unwrap();
    assert!(!out.again);
    let done = marked(&v, "n3w", token().as_deref(), None);
    assert_eq!(out.secret, Some(SecretWrite::Apply(done.clone())));
    assert_eq!(
        out.status.unwrap().secret.unwrap().rotation_token,
        token(),
        "status names the token carried out"
    );

    // 4. Recorded: nothing more, whatever happens to the token's Secret marks later.
    let p = plan(
        &converged_with(&obj, &regenerated),
        &v,
        observe(&regenerated, Some(&done)),
    );
    let p = p.unwrap();
    assert!(p.keycloak.is_empty());
    assert_eq!(p.outputs.unwrap().secret, None);
}

/// `obj` with the status a pass over `client` computes.
fn converged_with(
    obj: &OpenMetadataKeycloakClient,
    client: &ObservedClient,
) -> OpenMetadataKeycloakClient {
    let v = validate(obj, INSTALLATION).unwrap();
    let secret = output(&v, client.secret.as_ref().unwrap().expose());
    let mut seen = obj.clone();
    let out = plan(obj, &v, observe(client, Some(&secret)))
        .unwrap()
        .outputs
        .unwrap();
    seen.status = out.status;
    seen
}

#[test]
fn a_token_present_when_the_secret_is_first_written_counts_as_done() {
    let obj = with_token("t1");
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let p = plan(&obj, &v, observe(&client, None)).unwrap();
    assert!(p.keycloak.is_empty());
    assert_eq!(
        p.outputs.unwrap().secret,
        Some(SecretWrite::Create(marked(&v, "s3cr3t", Some("t1"), None)))
    );
}

#[test]
fn a_scheduled_rotation_is_due_from_keycloaks_own_creation_time() {
    let mut obj = resource();
    obj.spec.secret = Some(crate::crd::OutputSecretSpec {
        rotation_interval: Some("1h".into()),
        ..Default::default()
    });
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let at = |now| Observed {
        now,
        ..observe(&client, Some(&secret))
    };

    let early = plan(&obj, &v, at(SECRET_CREATED + 3599)).unwrap();
    assert!(early.keycloak.is_empty());
    let out = early.outputs.unwrap();
    assert_eq!(out.requeue, Some(Duration::from_secs(1)), "back when due");
    let status = out.status.unwrap().secret.unwrap();
    assert_eq!(status.last_changed.as_deref(), Some(SECRET_CREATED_RFC3339));
    assert_eq!(
        status.next_rotation.as_deref(),
        Some("2025-12-01T01:00:00Z")
    );

    let due = plan(&obj, &v, at(SECRET_CREATED + 3600)).unwrap();
    assert_eq!(
        due.keycloak,
        [KeycloakAction::RegenerateSecret { uuid: "u-1".into() }]
    );
    assert_eq!(
        due.changes,
        [Change::SecretRotated {
            client_id: "openmetadata".into(),
            trigger: Rotation::Scheduled("1h".into()),
        }]
    );
}

#[test]
fn a_secret_of_unknown_age_is_rotated_once_then_on_schedule() {
    let mut obj = resource();
    obj.spec.secret = Some(crate::crd::OutputSecretSpec {
        rotation_interval: Some("1h".into()),
        ..Default::default()
    });
    let v = validate(&obj, INSTALLATION).unwrap();
    let mut client = as_keycloak_reports(&v, "u-1");
    // A secret given rather than generated: Keycloak keeps no creation time.
    client
        .rep
        .attributes
        .as_mut()
        .unwrap()
        .remove("client.secret.creation.time");
    let secret = output(&v, "s3cr3t");
    let unknown = plan(&obj, &v, observe(&client, Some(&secret))).unwrap();
    assert_eq!(
        unknown.keycloak,
        [KeycloakAction::RegenerateSecret { uuid: "u-1".into() }]
    );
    assert_eq!(
        unknown.changes,
        [Change::SecretRotated {
            client_id: "openmetadata".into(),
            trigger: Rotation::AgeUnknown("1h".into()),
        }]
    );
    assert!(
        unknown.changes[0]
            .to_string()
            .contains("Keycloak did not say when the secret was made")
    );

    // Without rotationInterval, an unknown age is no reason to rotate.
    let plain = resource();
    let v_plain = validate(&plain, INSTALLATION).unwrap();
    let quiet = plan(
        &plain,
        &v_plain,
        observe(&client, Some(&output(&v_plain, "s3cr3t"))),
    )
    .unwrap();
    assert!(quiet.keycloak.is_empty());
}

fn with_source(name: &str) -> OpenMetadataKeycloakClient {
    let mut obj = resource();
    obj.spec.secret = Some(crate::crd::OutputSecretSpec {
        source: Some(SecretKeyReference {
            name: name.into(),
            key: "client-secret".into(),
        }),
        ..Default::default()
    });
    obj
}

#[test]
fn a_source_secret_is_set_in_keycloak_and_handed_over() {
    let obj = with_source("sealed");
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let source = SecretValue::new("from-sealed-secrets");
    let secret = output(&v, "s3cr3t");
    let p = plan(
        &obj,
        &v,
        Observed {
            source: Some(&source),
            ..observe(&client, Some(&secret))
        },
    )
    .unwrap();
    let [KeycloakAction::Update { body, .. }] = p.keycloak.as_slice() else {
        panic!("one update: {:?}", p.keycloak)
    };
    assert_eq!(body.secret.as_deref(), Some("from-sealed-secrets"));
    assert!(p.changes.contains(&Change::SecretSetFromSource {
        client_id: "openmetadata".into(),
        source: "sealed".into(),
    }));
    assert_eq!(
        p.outputs.unwrap().secret,
        Some(SecretWrite::Apply(output(&v, "from-sealed-secrets")))
    );

    // Keycloak already holds it: nothing to send.
    let mut holding = client.clone();
    holding.secret = Some(source.clone());
    let held = output(&v, "from-sealed-secrets");
    let p = plan(
        &obj,
        &v,
        Observed {
            source: Some(&source),
            ..observe(&holding, Some(&held))
        },
    )
    .unwrap();
    assert!(p.keycloak.is_empty());
    assert_eq!(p.outputs.unwrap().secret, None);

    // A new client gets it in the creation body (never generated by Keycloak first).
    let p = plan(
        &obj,
        &v,
        Observed {
            source: Some(&source),
            ..Default::default()
        },
    )
    .unwrap();
    let [KeycloakAction::Create(body)] = p.keycloak.as_slice() else {
        panic!("{:?}", p.keycloak)
    };
    assert_eq!(body.secret.as_deref(), Some("from-sealed-secrets"));
}

#[test]
fn a_source_that_is_the_output_secret_is_never_written() {
    let obj = with_source("oidc-secrets");
    let v = validate(&obj, INSTALLATION).unwrap();
    let mut client = as_keycloak_reports(&v, "u-1");
    let source = SecretValue::new("managed-elsewhere");
    client.secret = Some(source.clone());
    let p = plan(
        &obj,
        &v,
        Observed {
            source: Some(&source),
            ..observe(&client, None)
        },
    )
    .unwrap();
    assert_eq!(p.outputs.unwrap().secret, None);
}

fn with_values(edit: impl FnOnce(&mut crate::crd::OpenMetadataSpec)) -> OpenMetadataKeycloakClient {
    let mut obj = resource();
    obj.spec.openmetadata.values_config_map = Some(ValuesConfigMapSpec {
        name: "openmetadata-sso-values".into(),
        key: None,
    });
    edit(&mut obj.spec.openmetadata);
    obj
}

#[test]
fn the_values_config_map_is_written_owned_and_refused_when_foreign() {
    let obj = with_values(|_| {});
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let p = plan(&obj, &v, observe(&client, Some(&secret))).unwrap();
    assert_eq!(
        p.changes,
        [Change::ValuesWritten {
            name: "openmetadata-sso-values".into()
        }]
    );
    let Some(Write::Create(cm)) = p.outputs.unwrap().config_map else {
        panic!("created")
    };
    let yaml = &cm.data.as_ref().unwrap()["values.yaml"];
    assert!(!yaml.contains("s3cr3t"), "no secret in the values");
    assert!(owned_by(&cm, &v.uid));

    // Written: nothing more. Someone else's ConfigMap of that name: refused.
    let p = plan(
        &obj,
        &v,
        Observed {
            config_map: Some(&cm),
            ..observe(&client, Some(&secret))
        },
    )
    .unwrap();
    assert_eq!(p.outputs.unwrap().config_map, None);
    let mut foreign = cm.clone();
    foreign.metadata.owner_references = None;
    let err = plan(
        &obj,
        &v,
        Observed {
            config_map: Some(&foreign),
            ..observe(&client, Some(&secret))
        },
    )
    .unwrap_err();
    assert_eq!(err.reason(), Reason::ConfigMapConflict);

    // No longer asked for: the resource's ConfigMap goes.
    let plain = resource();
    let previous: [ConfigMap; 1] = [cm];
    let p = plan(
        &plain,
        &validate(&plain, INSTALLATION).unwrap(),
        Observed {
            previous_config_maps: &previous,
            ..observe(&client, Some(&secret))
        },
    )
    .unwrap();
    assert_eq!(
        p.outputs.unwrap().remove_config_maps,
        ["openmetadata-sso-values"]
    );
}

#[test]
fn the_checksum_follows_the_secret_and_only_when_workloads_are_named() {
    let mut obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let p = plan(&obj, &v, observe(&client, Some(&secret))).unwrap();
    assert_eq!(p.outputs.unwrap().checksum, None);

    obj.spec.secret = Some(crate::crd::OutputSecretSpec {
        rollout: vec![WorkloadReference {
            kind: WorkloadKind::Deployment,
            name: "openmetadata".into(),
        }],
        ..Default::default()
    });
    let v = validate(&obj, INSTALLATION).unwrap();
    let before = plan(&obj, &v, observe(&client, Some(&secret)))
        .unwrap()
        .outputs
        .unwrap()
        .checksum
        .unwrap();
    assert_eq!(before.len(), 16);
    assert!(!before.contains("s3cr3t"));
    let mut rotated = client.clone();
    rotated.secret = Some(SecretValue::new("other"));
    let after = plan(&obj, &v, observe(&rotated, Some(&secret)))
        .unwrap()
        .outputs
        .unwrap()
        .checksum
        .unwrap();
    assert_ne!(before, after);
}
