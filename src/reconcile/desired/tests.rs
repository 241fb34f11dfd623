//! The desired state of a whole resource, from the YAML fixtures: the client, its drift, the
//! values for OpenMetadata's chart, the output Secret.

use super::*;
use crate::{crd::OpenMetadataKeycloakClient, validate::validate};

/// A resource from `tests/fixtures/<name>`.
fn fixture(name: &str) -> OpenMetadataKeycloakClient {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The installation id of the tests.
const INSTALLATION: &str = "cluster-1";

#[test]
fn desired_client_derives_urls_and_flows_from_openmetadata() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let (root, alt) = (
        "https://catalog.example.com:8443",
        "https://catalog-alt.example.com",
    );
    // The whole body: redirect URIs with the callback first and duplicates dropped; no scopes
    // (they go through their own endpoints), no secret (Keycloak's, or a source's).
    assert_eq!(
        serde_json::to_value(desired_client(&v)).unwrap(),
        serde_json::json!({
            "clientId": "open-metadata", "name": "Data catalog", "description": "OpenMetadata SSO",
            "protocol": "openid-connect", "enabled": true, "rootUrl": root,
            "redirectUris": [format!("{root}/callback"), format!("{alt}/callback")],
            "webOrigins": [root, alt],
            "publicClient": false, "bearerOnly": false, "clientAuthenticatorType": "client-secret",
            "standardFlowEnabled": true, "implicitFlowEnabled": true,
            "directAccessGrantsEnabled": false, "serviceAccountsEnabled": true,
            "authorizationServicesEnabled": true,
            "attributes": {
                "omkc.dev/owner": "cluster-1/data/om-sso",
                "omkc.dev/owner-uid": "7d3c9a52-0000-4000-8000-000000000002",
                "post.logout.redirect.uris": format!("{root}/logout"),
                "pkce.code.challenge.method": ""
            }
        })
    );
}

#[test]
fn every_managed_field_is_wanted_named_as_keycloak_names_it_and_copied_alone() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let wanted = desired_client(&v);
    let json = serde_json::to_value(&wanted).unwrap();
    for field in ClientField::ALL {
        assert!(!json[field.as_str()].is_null(), "{field} is wanted");
        let mut body = ClientRepresentation::default();
        field.copy(&wanted, &mut body);
        let body = serde_json::to_value(&body).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, [field.as_str()]);
        assert_eq!(body[field.as_str()], json[field.as_str()]);
    }
}

#[test]
fn drift_ignores_order_and_unmanaged_fields_but_sees_managed_changes() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let wanted = desired_client(&v);
    let mut observed = wanted.clone();
    observed.redirect_uris.as_mut().unwrap().reverse();
    observed.consent_required = Some(true);
    observed
        .attributes
        .as_mut()
        .unwrap()
        .insert("other".into(), "x".into());
    assert!(client_drift(&observed, &wanted).is_empty());

    observed.web_origins = Some(vec!["*".into()]);
    observed.implicit_flow_enabled = Some(false);
    observed
        .attributes
        .as_mut()
        .unwrap()
        .insert("post.logout.redirect.uris".into(), "+".into());
    assert_eq!(
        client_drift(&observed, &wanted),
        [
            ClientField::ImplicitFlowEnabled,
            ClientField::WebOrigins,
            ClientField::Attributes
        ]
    );
}

#[test]
fn openmetadata_values_match_the_helm_chart_keys() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let om = openmetadata_values(&v, "https://sso.example.com/auth/realms/data-sec");
    assert_eq!(om.authority, "https://sso.example.com/auth/realms/data-sec");
    assert_eq!(
        om.discovery_uri,
        "https://sso.example.com/auth/realms/data-sec/.well-known/openid-configuration"
    );
    assert_eq!(
        om.public_keys,
        [
            "https://catalog.example.com:8443/api/v1/system/config/jwks",
            "https://sso.example.com/auth/realms/data-sec/protocol/openid-connect/certs"
        ]
    );
    assert_eq!(om.callback_url, "https://catalog.example.com:8443/callback");
    assert_eq!(om.server_url, "https://catalog.example.com:8443");
}

#[test]
fn output_secret_carries_only_the_operators_and_the_users_metadata() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let mut s = serde_json::to_value(output_secret(&v, "s3cr3t", &Default::default())).unwrap();
    let data = s.as_object_mut().unwrap().remove("data").unwrap();
    assert_eq!(
        s,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {
                "name": "om-oidc", "namespace": "data",
                "labels": {"app.kubernetes.io/managed-by": "openmetadata-keycloak-operator", "team": "data"},
                "annotations": {"reloader.stakater.com/match": "true"},
                "ownerReferences": [{
                    "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
                    "name": "om-sso", "uid": "7d3c9a52-0000-4000-8000-000000000002",
                    "controller": true, "blockOwnerDeletion": true
                }]
            }
        })
    );
    // base64 of "open-metadata" and "s3cr3t".
    assert_eq!(
        data,
        serde_json::json!({"id": "b3Blbi1tZXRhZGF0YQ==", "secret": "czNjcjN0"})
    );
}

/// Helm, Flux and Argo CD read values as YAML 1.1, where an unquoted `no`, `on` or `1_000` is no
/// text: every text is written so that it stays one (serde_yaml, used before, wrote `no` bare).
#[test]
fn the_values_stay_text_to_a_yaml_1_1_reader() {
    let mut obj = fixture("full.yaml");
    let admins = ["no", "On", "y", "1_000", "0x1F", "~", "2024-01-02"];
    obj.spec.openmetadata.initial_admins = admins.map(String::from).to_vec();
    let v = validate(&obj, INSTALLATION).unwrap();
    let issuer = "https://sso.example.com/realms/data-sec";
    let read = crate::yaml::documents(&helm_values_yaml(&v, issuer)).unwrap();
    assert_eq!(read, [helm_values(&v, issuer)]);
}

#[test]
fn the_values_config_map_holds_the_charts_keys_beside_the_secret() {
    let mut obj = fixture("full.yaml");
    obj.spec.openmetadata.initial_admins = vec!["alice".into()];
    let v = validate(&obj, INSTALLATION).unwrap();
    let issuer = "https://sso.example.com/realms/data-sec";
    let target = crate::validate::ValuesTarget {
        name: "sso-values".into(),
        key: "values.yaml".into(),
    };
    let cm = values_config_map(&v, &target, issuer);
    assert_eq!(
        (
            cm.metadata.name.as_deref(),
            cm.metadata.namespace.as_deref()
        ),
        (Some("sso-values"), Some("data"))
    );
    assert_eq!(cm.metadata.labels, Some(secret_labels(&v)));
    let text = &cm.data.as_ref().unwrap()["values.yaml"];
    assert!(text.starts_with("# OpenMetadata Helm values"), "{text}");
    // Read as Helm and Flux read it, YAML 1.1: each text stays text.
    let values = crate::yaml::documents(text).unwrap().remove(0);
    assert_eq!(values, helm_values(&v, issuer));
    let config = &values["openmetadata"]["config"];
    assert_eq!(
        config["authorizer"]["initialAdmins"],
        serde_json::json!(["alice"])
    );
    assert!(config["authorizer"].get("principalDomain").is_none());
    let oidc = &config["authentication"]["oidcConfiguration"];
    assert_eq!(oidc["clientSecret"]["secretRef"], "om-oidc");
    assert_eq!(oidc["clientSecret"]["secretKey"], "secret");
    assert_eq!(oidc["clientId"]["secretKey"], "id");
    assert_eq!(oidc["disablePkce"], true, "OpenMetadata's default: no PKCE");

    obj.spec.openmetadata.initial_admins.clear();
    let v = validate(&obj, INSTALLATION).unwrap();
    assert!(
        helm_values(&v, issuer)["openmetadata"]["config"]["authorizer"]
            .get("initialAdmins")
            .is_none()
    );
}

/// PKCE asked for: the client requires S256, and OpenMetadata is told to send it. Not asked for:
/// the blank Keycloak takes as absent, which is also what an absent attribute compares as.
#[test]
fn pkce_is_required_of_the_client_and_sent_by_openmetadata_together() {
    let mut obj = fixture("full.yaml");
    obj.spec.client.get_or_insert_default().require_pkce = Some(true);
    let v = validate(&obj, INSTALLATION).unwrap();
    let wanted = desired_client(&v);
    assert_eq!(wanted.attributes.as_ref().unwrap()[PKCE_ATTRIBUTE], "S256");
    let oidc = &helm_values(&v, "https://kc.example.com/realms/r")["openmetadata"]["config"]["authentication"]
        ["oidcConfiguration"];
    assert_eq!(oidc["disablePkce"], false);
    let without = |rep: &ClientRepresentation| {
        let mut rep = rep.clone();
        rep.attributes.as_mut().unwrap().remove(PKCE_ATTRIBUTE);
        rep
    };
    assert_eq!(
        drifted_attributes(&without(&wanted).attributes, &wanted.attributes),
        [PKCE_ATTRIBUTE]
    );

    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let wanted = desired_client(&v);
    assert_eq!(wanted.attributes.as_ref().unwrap()[PKCE_ATTRIBUTE], "");
    assert_eq!(client_drift(&without(&wanted), &wanted), []);
}
