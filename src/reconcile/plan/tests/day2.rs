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

pub(super) fn observe<'a>(client: &'a ObservedClient, secret: Option<&'a Secret>) -> Given<'a> {
    Given {
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
    // The rotation itself comes in the next round; no status between the two rounds; the
    // Secret still holds Keycloak's current secret.
    let marking = marked(&v, "s3cr3t", None, token().as_deref());
    assert_eq!(
        observe(&client, Some(&plain)).pass(&obj, &v).unwrap(),
        Plan {
            writes: vec![Write::Secret(Put::Apply(marking.clone()))],
            changes: vec![],
            then: Then::ObserveAgain,
        }
    );

    // 2. Marked, the Secret still holds what Keycloak holds: regenerate, read back.
    assert_eq!(
        observe(&client, Some(&marking)).pass(&obj, &v).unwrap(),
        Plan {
            writes: vec![Write::RegenerateSecret { uuid: "u-1".into() }],
            changes: vec![Change::SecretRotated {
                client_id: "openmetadata".into(),
                trigger: Rotation::OnDemand("2026-11-30".into()),
            }],
            then: Then::ObserveAgain,
        }
    );

    // 3. Read back (or after a restart): Keycloak holds a new secret; hand it over, record.
    let mut regenerated = client.clone();
    regenerated.secret = Some(SecretValue::new("n3w"));
    let p = observe(&regenerated, Some(&marking))
        .pass(&obj, &v)
        .unwrap();
    assert_eq!(p.keycloak(), [], "never a second regeneration");
    assert_eq!(p.then, Then::Done(None));
    let done = marked(&v, "n3w", token().as_deref(), None);
    assert_eq!(p.writes[0], Write::Secret(Put::Apply(done.clone())));
    assert_eq!(
        p.status().unwrap().secret.as_ref().unwrap().rotation_token,
        token(),
        "status names the token carried out"
    );
    assert_eq!(p.writes.len(), 2, "the Secret, the status: {:?}", p.writes);

    // 4. Recorded: nothing more, whatever happens to the token's Secret marks later.
    let mut recorded = obj.clone();
    recorded.status = p.status().cloned();
    let p = observe(&regenerated, Some(&done)).pass(&recorded, &v);
    assert_eq!(
        p.unwrap(),
        Plan {
            writes: vec![],
            changes: vec![],
            then: Then::Done(None),
        }
    );
}

#[test]
fn a_token_present_when_the_secret_is_first_written_counts_as_done() {
    let obj = with_token("t1");
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let p = observe(&client, None).pass(&obj, &v).unwrap();
    assert_eq!(p.keycloak(), []);
    assert_eq!(
        p.secret(),
        Some(&Put::Create(marked(&v, "s3cr3t", Some("t1"), None)))
    );
}

#[test]
fn a_scheduled_rotation_is_due_from_keycloaks_own_creation_time() {
    let obj = with_spec(serde_json::json!({"secret": {"rotationInterval": "1h"}}));
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let secret = output(&v, "s3cr3t");
    let at = |now| Given {
        now,
        ..observe(&client, Some(&secret))
    };

    let early = at(SECRET_CREATED + 3599).pass(&obj, &v).unwrap();
    assert_eq!(early.keycloak(), []);
    assert_eq!(
        early.then,
        Then::Done(Some(Duration::from_secs(1))),
        "back when due"
    );
    let status = early.status().unwrap().secret.clone().unwrap();
    assert_eq!(status.last_changed.as_deref(), Some(SECRET_CREATED_RFC3339));
    assert_eq!(
        status.next_rotation.as_deref(),
        Some("2025-12-01T01:00:00Z")
    );

    assert_eq!(
        at(SECRET_CREATED + 3600).pass(&obj, &v).unwrap(),
        Plan {
            writes: vec![Write::RegenerateSecret { uuid: "u-1".into() }],
            changes: vec![Change::SecretRotated {
                client_id: "openmetadata".into(),
                trigger: Rotation::Scheduled("1h".into()),
            }],
            then: Then::ObserveAgain,
        }
    );
}

#[test]
fn a_secret_of_unknown_age_is_rotated_once_then_on_schedule() {
    let obj = with_spec(serde_json::json!({"secret": {"rotationInterval": "1h"}}));
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
    let unknown = observe(&client, Some(&secret)).pass(&obj, &v).unwrap();
    assert_eq!(
        unknown,
        Plan {
            writes: vec![Write::RegenerateSecret { uuid: "u-1".into() }],
            changes: vec![Change::SecretRotated {
                client_id: "openmetadata".into(),
                trigger: Rotation::AgeUnknown("1h".into()),
            }],
            then: Then::ObserveAgain,
        }
    );
    assert!(
        unknown.changes[0]
            .to_string()
            .contains("Keycloak did not say when the secret was made")
    );

    // Without rotationInterval, an unknown age is no reason to rotate.
    let plain = resource();
    let v_plain = validate(&plain, INSTALLATION).unwrap();
    let quiet = observe(&client, Some(&output(&v_plain, "s3cr3t")))
        .pass(&plain, &v_plain)
        .unwrap();
    assert_eq!(quiet.keycloak(), []);
}

#[test]
fn the_transition_time_is_the_given_now_and_moves_only_when_ready_flips() {
    use crate::reconcile::status;
    use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
    let at = |s: i64| Time(Timestamp::from_second(s).unwrap());
    let mut obj = resource();
    obj.metadata.generation = Some(7);
    let failed = status::failed(
        &obj,
        crate::reason::Reason::KeycloakUnavailable,
        "down",
        1_000,
    );
    assert_eq!(failed.conditions[0].last_transition_time, at(1_000));
    assert_eq!(
        failed.observed_generation,
        Some(7),
        "a failure is about this spec"
    );
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

#[test]
fn a_rotation_asked_too_soon_waits_until_the_gap_has_passed_unless_already_marked() {
    let obj = with_token("t2");
    let v = validate(&obj, INSTALLATION).unwrap();
    let client = as_keycloak_reports(&v, "u-1");
    let plain = output(&v, "s3cr3t");
    let given = |secret, now| Given {
        now,
        rotation_gap: 300,
        ..observe(&client, Some(secret))
    };
    let until = SECRET_CREATED + 300;

    let soon = given(&plain, until - 240).pass(&obj, &v).unwrap();
    assert_eq!(soon.keycloak(), []);
    assert_eq!(
        soon.changes,
        [Change::RotationDeferred {
            client_id: "openmetadata".into(),
            token: "t2".into(),
            until,
            gap: "5m".into(),
        }]
    );
    assert_eq!(soon.then, Then::Done(Some(Duration::from_secs(240))));

    // Due: marked on the Secret, the first step of a rotation.
    let marking = marked(&v, "s3cr3t", None, Some("t2"));
    let due = given(&plain, until).pass(&obj, &v).unwrap();
    assert_eq!(due.writes, [Write::Secret(Put::Apply(marking.clone()))]);
    // Marked already (by a pass that was in time): carried out, never deferred half-way.
    let marked_already = given(&marking, until - 240).pass(&obj, &v).unwrap();
    assert_eq!(
        marked_already.keycloak(),
        [Write::RegenerateSecret { uuid: "u-1".into() }]
    );
}
