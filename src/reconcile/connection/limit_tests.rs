//! A connection's `maxClients`: who is served, in which order.

use serde_json::json;

use super::*;
use crate::reason::Reason;

fn made(namespace: &str, name: &str, at: &str, connection: &str) -> OpenMetadataKeycloakClient {
    serde_json::from_value(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": at},
        "spec": {"keycloak": {"connectionRef": {"name": connection}, "realm": "data-sec"},
                 "openmetadata": {"url": "https://om.example.com"}}
    }))
    .unwrap()
}

#[test]
fn a_connection_serves_at_most_max_clients_the_earliest_first() {
    let first = made("team-b", "om", "2026-01-01T00:00:00Z", "platform");
    let second = made("team-a", "om", "2026-02-01T00:00:00Z", "platform");
    // Same time: namespace, then name, decide (every replica agrees).
    let third = made("team-a", "other", "2026-02-01T00:00:00Z", "platform");
    let elsewhere = made("team-c", "om", "2025-01-01T00:00:00Z", "another");
    let all = [&first, &second, &third, &elsewhere];
    let allowed = |me: &OpenMetadataKeycloakClient, max: Option<u32>| {
        within_limit("platform", max, me, all.iter().copied())
    };
    assert!(allowed(&third, None).is_ok(), "no limit by default");
    assert!(allowed(&first, Some(1)).is_ok());
    let refused = allowed(&second, Some(1)).unwrap_err();
    assert_eq!(refused.reason(), Reason::ConnectionClientLimit);
    let message = refused.to_string();
    assert!(message.contains("allows 1 clients"), "{message}");
    assert!(
        !message.contains("team-b"),
        "names no other tenant: {message}"
    );
    assert!(allowed(&second, Some(2)).is_ok());
    assert!(allowed(&third, Some(2)).is_err());
    assert!(allowed(&first, Some(0)).is_err(), "0 closes the connection");
    // A resource being deleted makes room.
    let mut leaving = first.clone();
    leaving.metadata.deletion_timestamp = leaving.metadata.creation_timestamp.clone();
    let all = [&leaving, &second, &third];
    assert!(within_limit("platform", Some(1), &second, all.iter().copied()).is_ok());
}
