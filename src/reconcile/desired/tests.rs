//! The desired state of a whole resource, from the YAML fixtures: the client, its drift, the
//! values for OpenMetadata's chart, the output Secret.

use super::*;
use crate::{crd::OpenMetadataKeycloakClient, validate::validate};

/// A resource from `tests/fixtures/<name>`.
fn fixture(name: &str) -> OpenMetadataKeycloakClient {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The installation id of the tests.
const INSTALLATION: &str = "cluster-1";

#[test]
fn desired_client_derives_urls_and_flows_from_openmetadata() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let c = desired_client(&v);
    assert_eq!(c.client_id.as_deref(), Some("open-metadata"));
    assert_eq!(
        c.root_url.as_deref(),
        Some("https://catalog.example.com:8443")
    );
    assert_eq!(
        c.redirect_uris.unwrap(),
        [
            "https://catalog.example.com:8443/callback",
            "https://catalog-alt.example.com/callback"
        ],
        "callback first, duplicates dropped"
    );
    assert_eq!(
        c.web_origins.unwrap(),
        [
            "https://catalog.example.com:8443",
            "https://catalog-alt.example.com"
        ]
    );
    assert_eq!(c.public_client, Some(false));
    assert_eq!(c.standard_flow_enabled, Some(true));
    assert_eq!(c.implicit_flow_enabled, Some(true));
    assert_eq!(c.service_accounts_enabled, Some(true));
    assert!(
        c.default_client_scopes.is_none(),
        "scopes go through their own endpoints"
    );
    assert!(c.secret.is_none());
    let attrs = c.attributes.unwrap();
    assert_eq!(attrs["omkc.dev/owner"], "cluster-1/data/om-sso");
    assert_eq!(
        attrs["omkc.dev/owner-uid"],
        "7d3c9a52-0000-4000-8000-000000000002"
    );
    assert_eq!(
        attrs["post.logout.redirect.uris"],
        "https://catalog.example.com:8443/logout"
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
    let s = output_secret(&v, "s3cr3t", &Default::default());
    assert_eq!(
        (s.metadata.name.as_deref(), s.metadata.namespace.as_deref()),
        (Some("om-oidc"), Some("data"))
    );
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        (
            "OpenMetadataKeycloakClient",
            "om-sso",
            "7d3c9a52-0000-4000-8000-000000000002"
        )
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let labels = s.metadata.labels.unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(
        labels["app.kubernetes.io/managed-by"],
        "openmetadata-keycloak-operator"
    );
    assert_eq!(labels["team"], "data");
    assert_eq!(
        s.metadata.annotations.unwrap()["reloader.stakater.com/match"],
        "true"
    );
    let data = s.data.unwrap();
    assert_eq!(data["id"].0, b"open-metadata");
    assert_eq!(data["secret"].0, b"s3cr3t");
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
    let values: serde_json::Value = serde_yaml::from_str(text).unwrap();
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

    obj.spec.openmetadata.initial_admins.clear();
    let v = validate(&obj, INSTALLATION).unwrap();
    assert!(
        helm_values(&v, issuer)["openmetadata"]["config"]["authorizer"]
            .get("initialAdmins")
            .is_none()
    );
}
