//! Rotation on schedule, and rotations asked too often.

use super::*;
use crate::support::has;

#[tokio::test]
async fn a_scheduled_rotation_is_due_from_keycloaks_clock_and_status_says_when() {
    let (api, emu) = world().await;
    let _operator = start(&api, Duration::from_secs(300));
    api.put(resource(
        &emu,
        json!({"secret": {"rotationInterval": "1h"}}),
    ));
    let obj = ready(&api).await;
    let first = in_step(&api, &emu).await;
    let status = &obj["status"]["secret"];
    let last: k8s_openapi::jiff::Timestamp =
        status["lastChanged"].as_str().unwrap().parse().unwrap();
    let next: k8s_openapi::jiff::Timestamp =
        status["nextRotation"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.as_second() - last.as_second(), 3600);
    assert_eq!(quiet(&api, &emu).await, (0, 0), "not due: nothing written");

    // Keycloak made the secret more than an hour ago.
    let old = last.as_second() - 3601;
    emu.edit_client("data-sec", CLIENT_ID, |c| {
        c.attributes
            .insert("client.secret.creation.time".into(), old.to_string());
    });
    annotate(&api, "touched", "1");
    until(&api, "the scheduled rotation", || regenerations(&emu) == 1).await;
    assert_ne!(in_step(&api, &emu).await, first);
    let note = events_seen(&api, "SecretRotated").await[0]["note"].clone();
    assert!(
        note.as_str()
            .unwrap()
            .contains("rotationInterval 1h elapsed"),
        "{note}"
    );
    eventually(&api, "status to follow the new secret", || async {
        let obj = api.get(CRS, NS, "openmetadata")?;
        let status = &obj["status"]["secret"];
        let changed: k8s_openapi::jiff::Timestamp = status["lastChanged"].as_str()?.parse().ok()?;
        let next: k8s_openapi::jiff::Timestamp = status["nextRotation"].as_str()?.parse().ok()?;
        // Not the backdated time any more: the new secret's, and the next one an hour later.
        (changed.as_second() >= last.as_second() && next.as_second() - changed.as_second() == 3600)
            .then_some(())
    })
    .await;
    annotate(&api, "touched", "2");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(regenerations(&emu), 1, "once per interval");
}

#[tokio::test]
async fn a_secret_regenerated_by_hand_is_copied_on_the_next_resync() {
    let (api, emu) = world().await;
    let _operator = start(&api, Duration::from_secs(1));
    api.put(resource(&emu, json!({})));
    ready(&api).await;
    let first = in_step(&api, &emu).await;
    let by_hand = emu.regenerate_secret_directly("data-sec", CLIENT_ID);
    assert_ne!(by_hand, first);
    // Nothing in Kubernetes changed: only the resync can notice.
    assert_eq!(in_step(&api, &emu).await, by_hand);
    assert_eq!(regenerations(&emu), 0, "copied, not regenerated again");
}

#[tokio::test]
async fn rotations_asked_too_often_wait_for_the_shortest_interval() {
    let (api, emu) = world().await;
    let _operator = start_with(&api, Duration::from_secs(300), Duration::from_secs(3600));
    api.put(resource(&emu, json!({})));
    ready(&api).await;
    let first = in_step(&api, &emu).await;

    // The secret is seconds old: the rotation waits, says until when, and nothing is written.
    annotate(&api, "omkc.dev/rotate", "t1");
    let note = events_seen(&api, "RotationDeferred").await[0]["note"].clone();
    let note = note.as_str().unwrap();
    has(note, "omkc.dev/rotate \"t1\" waits until");
    has(note, "less than 1h old");
    assert_eq!(regenerations(&emu), 0);
    assert_eq!(in_step(&api, &emu).await, first);
    let secret = api.get(SECRETS, NS, "oidc-secrets").unwrap();
    assert!(
        secret["metadata"]["annotations"]
            .get("omkc.dev/rotating-for")
            .is_none(),
        "not even marked"
    );

    // Once the secret is older than the interval (Keycloak's record says so), it is done once.
    let created: i64 =
        emu.model("data-sec", CLIENT_ID).unwrap().attributes["client.secret.creation.time"]
            .parse()
            .unwrap();
    emu.edit_client("data-sec", CLIENT_ID, |c| {
        c.attributes.insert(
            "client.secret.creation.time".into(),
            (created - 3601).to_string(),
        );
    });
    annotate(&api, "touched", "1");
    until(&api, "the rotation", || regenerations(&emu) == 1).await;
    assert_ne!(in_step(&api, &emu).await, first);
    events_seen(&api, "SecretRotated").await;
    // And the next one right after waits again.
    annotate(&api, "omkc.dev/rotate", "t2");
    eventually(&api, "the second deferral", || async {
        let events = api.list("events.k8s.io/v1/events", NS);
        events
            .iter()
            .any(|e| {
                e["reason"] == "RotationDeferred"
                    && e["note"].as_str().is_some_and(|n| n.contains("\"t2\""))
            })
            .then_some(())
    })
    .await;
    assert_eq!(regenerations(&emu), 1);
}
