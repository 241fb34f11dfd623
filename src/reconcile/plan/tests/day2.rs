//! Day 2 in the plan: rotation on demand and on schedule (sources, values and checksums are in
//! `sources.rs`).

use std::time::Duration;

use super::*;
use crate::reconcile::{change::Rotation, desired::RotationMarks};

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

pub(super) fn observe<'a>(client: &'a ObservedClient, secret: Option<&'a Secret>) -> Observed<'a> {
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

#[test]
fn the_transition_time_is_the_given_now_and_moves_only_when_ready_flips() {
    use crate::reconcile::status;
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
    let at = |s: i64| Time(Timestamp::from_second(s).unwrap());
    let mut obj = resource();
    let failed = status::failed(
        &obj,
        crate::reason::Reason::KeycloakUnavailable,
        "down",
        1_000,
    );
    assert_eq!(failed.conditions[0].last_transition_time, at(1_000));
    obj.status = Some(failed);
    let again = status::failed(
        &obj,
        crate::reason::Reason::KeycloakUnavailable,
        "down",
        2_000,
    );
    assert_eq!(
        again.conditions[0].last_transition_time,
        at(1_000),
        "still False"
    );
    let v = crate::validate::validate(&obj, INSTALLATION).unwrap();
    let ready = status::ready(&obj, &v, "u-1", ISSUER, 3_000);
    assert_eq!(
        ready.conditions[0].last_transition_time,
        at(3_000),
        "flipped"
    );
}
