//! The CEL rules of the CRDs, evaluated by a real CEL engine.

use super::*;

fn schema() -> Value {
    let crd = serde_json::to_value(OpenMetadataKeycloakClient::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn as_json(obj: &OpenMetadataKeycloakClient) -> Value {
    serde_json::to_value(obj).unwrap()
}

pub(super) fn cel(
    new: &OpenMetadataKeycloakClient,
    old: Option<&OpenMetadataKeycloakClient>,
) -> Result<(), String> {
    let old = old.map(as_json);
    Validator::new()
        .validate(&schema(), &as_json(new), old.as_ref())
        .map_err(|e| e.to_string())
}

/// A resource that uses a ClusterKeycloakConnection.
fn through_connection() -> OpenMetadataKeycloakClient {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak = serde_json::from_value(json!({
        "connectionRef": {"name": "platform"}, "realm": "data-sec"
    }))
    .unwrap();
    obj
}

#[test]
fn cel_wants_either_a_connection_or_a_url_with_credentials() {
    cel(&through_connection(), None).unwrap();
    let mut both = through_connection();
    both.spec.keycloak.url = Some("https://kc.example.com".into());
    assert!(
        cel(&both, None)
            .unwrap_err()
            .contains("set either keycloak.connectionRef")
    );
    let mut neither = fixture("basic.yaml");
    neither.spec.keycloak.url = None;
    assert!(
        cel(&neither, None)
            .unwrap_err()
            .contains("set either keycloak.connectionRef")
    );
    let mut url_alone = fixture("basic.yaml");
    url_alone.spec.keycloak.credentials_secret_ref = None;
    assert!(
        cel(&url_alone, None)
            .unwrap_err()
            .contains("needs keycloak.credentialsSecretRef")
    );
    let mut mixed = through_connection();
    mixed.spec.keycloak.ca_bundle = Some("x".into());
    assert!(
        cel(&mixed, None)
            .unwrap_err()
            .contains("the connection holds the URL")
    );
}

#[test]
fn cel_makes_the_keycloak_of_a_resource_immutable() {
    let old = fixture("basic.yaml");
    let mut moved = old.clone();
    moved.spec.keycloak.url = Some("https://elsewhere.example.com".into());
    assert!(
        cel(&moved, Some(&old))
            .unwrap_err()
            .contains("are immutable")
    );
    assert!(
        cel(&through_connection(), Some(&old))
            .unwrap_err()
            .contains("are immutable")
    );
    let mut other = through_connection();
    other.spec.keycloak.connection_ref.as_mut().unwrap().name = "other".into();
    assert!(
        cel(&other, Some(&through_connection()))
            .unwrap_err()
            .contains("are immutable")
    );
    let mut rotated = old.clone();
    rotated
        .spec
        .keycloak
        .credentials_secret_ref
        .as_mut()
        .unwrap()
        .name = "new-admin".into();
    cel(&rotated, Some(&old)).expect("new credentials for the same Keycloak are fine");
}

#[test]
fn cel_makes_a_connections_url_immutable() {
    let crd = serde_json::to_value(omkc::crd::ClusterKeycloakConnection::crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let connection = |url: &str| {
        json!({"apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
               "metadata": {"name": "platform"},
               "spec": {"url": url, "credentialsSecretRef": {"name": "admin"},
                        "namespaceSelector": {}, "allowedRealms": ["*"]}})
    };
    let old = connection("https://kc.example.com");
    Validator::new().validate(schema, &old, None).unwrap();
    let err = Validator::new()
        .validate(schema, &connection("https://evil.example.com"), Some(&old))
        .unwrap_err()
        .to_string();
    assert!(err.contains("url is immutable"), "{err}");
    let err = Validator::new()
        .validate(schema, &connection("ftp://x"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("absolute http(s) URL"), "{err}");
}

#[test]
fn cel_accepts_the_fixtures() {
    cel(&fixture("basic.yaml"), None).unwrap();
    cel(&fixture("full.yaml"), None).unwrap();
    cel(&fixture("full.yaml"), Some(&fixture("full.yaml"))).unwrap();
}

#[test]
fn cel_rejects_the_master_realm() {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.realm = "master".into();
    let err = cel(&obj, None).unwrap_err();
    assert!(err.contains("must not be master"), "{err}");
}

#[test]
fn cel_rejects_urls_that_are_not_http() {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some("keycloak.example.com".into());
    assert!(cel(&obj, None).unwrap_err().contains("keycloak.url"));
    let mut obj = fixture("basic.yaml");
    obj.spec.openmetadata.url = "ftp://om.example.com".into();
    assert!(cel(&obj, None).unwrap_err().contains("openmetadata.url"));
}

#[test]
fn cel_makes_realm_and_client_id_immutable() {
    let old = fixture("full.yaml");
    let mut moved = old.clone();
    moved.spec.keycloak.realm = "other".into();
    assert!(
        cel(&moved, Some(&old))
            .unwrap_err()
            .contains("realm is immutable")
    );

    let mut renamed = old.clone();
    renamed.spec.client.as_mut().unwrap().client_id = Some("another".into());
    assert!(
        cel(&renamed, Some(&old))
            .unwrap_err()
            .contains("clientId is immutable")
    );

    let mut dropped = old.clone();
    dropped.spec.client.as_mut().unwrap().client_id = None;
    assert!(
        cel(&dropped, Some(&old))
            .unwrap_err()
            .contains("clientId is immutable")
    );

    let mut harmless = old.clone();
    harmless.spec.client.as_mut().unwrap().name = Some("New name".into());
    cel(&harmless, Some(&old)).unwrap();
}
