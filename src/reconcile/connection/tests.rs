//! Who may use which connection, with which credentials: table by table.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::*;
use crate::{
    crd::{ClusterKeycloakConnection, OpenMetadataKeycloakClient},
    reason::Reason,
    validate::validate,
};

fn resource(keycloak: serde_json::Value) -> Validated {
    let obj: OpenMetadataKeycloakClient = serde_json::from_value(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "om", "namespace": "team-a", "uid": "u-1"},
        "spec": {"keycloak": keycloak, "openmetadata": {"url": "https://om.example.com"}}
    }))
    .unwrap();
    validate(&obj, "cluster-1").unwrap()
}

fn by_connection(realm: &str) -> Validated {
    resource(json!({"connectionRef": {"name": "platform"}, "realm": realm}))
}

fn connection(selector: serde_json::Value, realms: &[&str]) -> ClusterKeycloakConnection {
    serde_json::from_value(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "ClusterKeycloakConnection",
        "metadata": {"name": "platform"},
        "spec": {
            "url": "http://keycloak.keycloak.svc:8080/",
            "publicUrl": "https://sso.example.com",
            "credentialsSecretRef": {"name": "keycloak-admin"},
            "namespaceSelector": selector,
            "allowedRealms": realms
        }
    }))
    .unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env<'a>(
    cluster: Option<&'a ClusterKeycloakConnection>,
    namespace_labels: &'a BTreeMap<String, String>,
) -> Environment<'a> {
    Environment {
        cluster,
        namespace_labels,
        operator_namespace: "omkc-system",
        allow_inline: true,
        allow_inline_adoption: false,
    }
}

#[test]
fn a_connection_is_used_only_by_the_namespaces_and_realms_it_allows() {
    let data_only = connection(json!({"matchLabels": {"team": "data"}}), &["data-sec"]);
    let everyone = connection(json!({}), &["*"]);
    let mut ops_admin = connection(json!({}), &["*"]);
    ops_admin.spec.admin_realm = Some("ops".into());
    let mut bad_admin = connection(json!({}), &["*"]);
    bad_admin.spec.admin_realm = Some("..".into());
    let connections = BTreeMap::from([
        ("data-only", &data_only),
        ("everyone", &everyone),
        ("ops-admin", &ops_admin),
        ("bad-admin", &bad_admin),
    ]);
    // [what, the realm, the connection (null: none), the namespace's labels, the refusal]
    let cases = json!([
        ["allowed namespace and realm", "data-sec", "data-only", {"team": "data"}, null],
        ["namespace outside the selector", "data-sec", "data-only", {"team": "web"}, "ConnectionNotAllowed"],
        ["realm not allowed", "payroll", "data-only", {"team": "data"}, "RealmNotAllowed"],
        ["empty selector and *: any namespace, any realm", "payroll", "everyone", {"team": "web"}, null],
        ["* never allows master", "master", "everyone", {"team": "web"}, "RealmNotAllowed"],
        ["* never allows master, in any case", "MASTER", "everyone", {"team": "web"}, "RealmNotAllowed"],
        ["* never allows the realm the credentials administer", "OPS", "ops-admin", {"team": "web"}, "RealmNotAllowed"],
        ["* allows the other realms of that connection", "payroll", "ops-admin", {"team": "web"}, null],
        ["an admin realm that walks up a path", "payroll", "bad-admin", {"team": "web"}, "ConnectionInvalid"],
        ["no such connection", "data-sec", null, {"team": "data"}, "ConnectionNotFound"],
        ["no labels at all", "data-sec", "data-only", {}, "ConnectionNotAllowed"]
    ]);
    for case in cases.as_array().unwrap() {
        let mut v = by_connection("data-sec");
        v.realm = case[1].as_str().unwrap().into();
        let cluster = case[2].as_str().map(|name| connections[name]);
        let namespace_labels = serde_json::from_value(case[3].clone()).unwrap();
        let got = resolve(&v, env(cluster, &namespace_labels)).err();
        assert_eq!(
            got.map(|e| e.reason().as_str()),
            case[4].as_str(),
            "{}",
            case[0]
        );
    }
}

#[test]
fn a_resolved_connection_names_its_keycloak_credentials_and_public_url() {
    let v = by_connection("data-sec");
    let c = connection(json!({}), &["data-sec"]);
    let got = resolve(&v, env(Some(&c), &BTreeMap::new())).unwrap();
    assert_eq!(got.url, "http://keycloak.keycloak.svc:8080");
    assert_eq!(got.public_url.as_deref(), Some("https://sso.example.com"));
    assert_eq!(got.admin_realm, "master");
    assert_eq!(
        got.credentials,
        ("omkc-system".to_string(), "keycloak-admin".to_string()),
        "in the operator's namespace by default"
    );
    assert_eq!(
        got.key.credentials_source, "connection/platform",
        "one session per connection"
    );
}

#[test]
fn inline_connections_can_be_turned_off() {
    let v = resource(json!({"url": "https://kc.example.com", "realm": "data-sec",
                            "credentialsSecretRef": {"name": "admin"}}));
    let none = BTreeMap::new();
    let allowed = resolve(&v, env(None, &none)).unwrap();
    assert_eq!(
        allowed.credentials,
        ("team-a".to_string(), "admin".to_string())
    );
    assert_eq!(
        allowed.public_url, None,
        "the issuer then comes from the discovery document"
    );
    let off = Environment {
        allow_inline: false,
        ..env(None, &none)
    };
    assert_eq!(
        resolve(&v, off).unwrap_err().reason(),
        Reason::ConnectionNotAllowed
    );
}

#[test]
fn a_secret_is_credentials_only_when_labelled_and_only_for_the_url_it_names() {
    let v = resource(json!({"url": "https://kc.example.com", "realm": "data-sec",
                            "credentialsSecretRef": {"name": "admin"}}));
    let connection = resolve(&v, env(None, &BTreeMap::new())).unwrap();
    let meta = |labels: Option<&str>, bound: Option<&str>| ObjectMeta {
        labels: labels.map(|v| [(CREDENTIALS_LABEL.to_string(), v.to_string())].into()),
        annotations: bound
            .map(|u| [(CREDENTIALS_URL_ANNOTATION.to_string(), u.to_string())].into()),
        ..Default::default()
    };
    assert!(credentials_allowed(&meta(Some("true"), None), &connection).is_ok());
    assert!(
        credentials_allowed(
            &meta(Some("true"), Some("https://kc.example.com/")),
            &connection
        )
        .is_ok()
    );
    for (name, m) in [
        ("no label", meta(None, None)),
        ("label false", meta(Some("false"), None)),
        (
            "bound elsewhere",
            meta(Some("true"), Some("https://other.example.com")),
        ),
    ] {
        let err = credentials_allowed(&m, &connection).unwrap_err();
        assert_eq!(err.reason(), Reason::CredentialsNotAllowed, "{name}");
        assert!(err.to_string().contains("team-a/admin"), "{name}: {err}");
    }

    // Bound to the URL, the Secret is not trusted to a CA bundle the resource brings: another
    // authority could vouch for the host. Unbound, the bundle is the Secret owner's business.
    let with_ca = Connection {
        ca_bundle: Some("-----BEGIN CERTIFICATE-----".into()),
        ..connection.clone()
    };
    let bound = meta(Some("true"), Some("https://kc.example.com"));
    let err = credentials_allowed(&bound, &with_ca).unwrap_err();
    assert_eq!(err.reason(), Reason::CredentialsNotAllowed);
    assert!(err.to_string().contains("caBundle"), "{err}");
    assert!(credentials_allowed(&meta(Some("true"), None), &with_ca).is_ok());
    let platform = Connection {
        inline: false,
        ..with_ca
    };
    assert!(
        credentials_allowed(&bound, &platform).is_ok(),
        "a connection's bundle is the platform team's"
    );
}

#[test]
fn label_selectors_match_as_kubernetes_does() {
    let ns = labels(&[("team", "data"), ("tier", "prod")]);
    // [the selector, whether it selects the namespace]
    let cases = json!([
        [{}, true],
        [{"matchLabels": {"team": "data"}}, true],
        [{"matchLabels": {"team": "web"}}, false],
        [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod", "staging"]}]}, true],
        [{"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}, false],
        [{"matchExpressions": [{"key": "owner", "operator": "NotIn", "values": ["x"]}]}, true],
        [{"matchExpressions": [{"key": "team", "operator": "Exists"}]}, true],
        [{"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, false]
    ]);
    for case in cases.as_array().unwrap() {
        let selector: LabelSelector = serde_json::from_value(case[0].clone()).unwrap();
        assert_eq!(
            selector_matches(&selector, &ns).unwrap(),
            case[1],
            "{selector:?}"
        );
    }
    // [an expression Kubernetes refuses, what is said]
    let refused = json!([
        [{"key": "team", "operator": "Like"}, "unknown operator \"Like\""],
        [{"key": "team", "operator": "in", "values": ["data"]}, "unknown operator \"in\""],
        [{"key": "team", "operator": "In"}, "values must be given with In and NotIn"],
        [{"key": "team", "operator": "NotIn", "values": []}, "values must be given"],
        [{"key": "team", "operator": "Exists", "values": ["data"]}, "values must not be given"]
    ]);
    for case in refused.as_array().unwrap() {
        let bad = json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}, case[0]]});
        let bad: LabelSelector = serde_json::from_value(bad).unwrap();
        let err = selector_matches(&bad, &ns).unwrap_err();
        assert_eq!(err.reason(), Reason::ConnectionInvalid);
        let said = format!(
            "namespaceSelector.matchExpressions[1]: {}",
            case[1].as_str().unwrap()
        );
        assert!(err.to_string().starts_with(&said), "{err}");
        // The connection itself says so, where the platform team looks.
        let c = connection(json!({"matchExpressions": [case[0]]}), &["data-sec"]);
        let err = of_cluster(&c, "omkc-system").unwrap_err().to_string();
        assert!(err.starts_with("ClusterKeycloakConnection \"platform\": spec.namespaceSelector.matchExpressions[0]: "), "{err}");
    }
}

#[test]
fn a_tenant_is_never_told_the_platform_teams_secret() {
    let everyone = connection(json!({}), &["*"]);
    let v = by_connection("data-sec");
    let none = BTreeMap::new();
    let resolved = resolve(&v, env(Some(&everyone), &none)).unwrap();
    let unlabelled = ObjectMeta::default();
    let err = credentials_allowed(&unlabelled, &resolved)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ClusterKeycloakConnection \"platform\""),
        "{err}"
    );
    assert!(!err.contains("keycloak-admin"), "{err}");
    assert_eq!(
        resolved.credentials_shown(),
        "of ClusterKeycloakConnection \"platform\""
    );
}

#[test]
fn a_tenants_own_credentials_never_share_a_session_with_a_connection() {
    // A namespace called `connection` with a Secret called `platform`, on the same Keycloak.
    let everyone = connection(json!({}), &["*"]);
    let none = BTreeMap::new();
    let platform = resolve(&by_connection("data-sec"), env(Some(&everyone), &none)).unwrap();
    let obj: crate::crd::OpenMetadataKeycloakClient = serde_json::from_value(json!({
        "apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient",
        "metadata": {"name": "om", "namespace": "connection", "uid": "u"},
        "spec": {"keycloak": {"url": "http://keycloak.keycloak.svc:8080/", "realm": "data-sec",
                              "credentialsSecretRef": {"name": "platform"}},
                 "openmetadata": {"url": "https://om.example.com"}}
    }))
    .unwrap();
    let v = validate(&obj, "cluster-1").unwrap();
    let tenant = resolve(&v, env(None, &none)).unwrap();
    assert_eq!(tenant.key.base_url, platform.key.base_url);
    assert_ne!(tenant.key, platform.key, "{:?}", tenant.key);
}
