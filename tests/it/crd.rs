//! The CRD (committed copy, no schema defaults, CEL rules evaluated by a real CEL engine) and the
//! pure validate/build steps, from YAML fixtures.

use kube::{CustomResourceExt, core::cel::Validator};
use omkc::{
    crd::{DeletionPolicy, OpenMetadataKeycloakClient},
    reason::{Class, Reason},
    reconcile::desired::{self, ClientField},
    validate::{ConnectionSource, validate},
};
use serde_json::{Value, json};

use crate::support::{INSTALLATION, fixture};

#[test]
fn committed_crds_are_regenerated_from_the_rust_types() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let generated = omkc::crds();
    assert_eq!(
        files,
        generated.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>()
    );
    for (file, yaml) in generated {
        let committed = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        assert!(
            committed == yaml,
            "crds/{file} is stale: run `cargo run -- crd --dir crds` (and --dir deploy/helm/openmetadata-keycloak-operator/crds)"
        );
    }
}

fn find_key(value: &Value, key: &str, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{at}.{k}");
                // A property *named* "default" would be fine; a schema keyword is not.
                if k == key && at.ends_with("properties") {
                    find_key(v, key, &path, found);
                    continue;
                }
                if k == key {
                    found.push(path.clone());
                }
                find_key(v, key, &path, found);
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| find_key(v, key, &format!("{at}[{i}]"), found)),
        _ => {}
    }
}

#[test]
fn the_crd_schema_has_no_defaults_argo_cd_would_fight() {
    let crd = serde_json::to_value(OpenMetadataKeycloakClient::crd()).unwrap();
    let mut found = Vec::new();
    find_key(&crd, "default", "$", &mut found);
    assert!(
        found.is_empty(),
        "schema defaults cause OutOfSync in Argo CD: {found:?}"
    );
    // The check itself finds a default where there is one.
    let mut probe = Vec::new();
    find_key(
        &json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}),
        "default",
        "$",
        &mut probe,
    );
    assert_eq!(probe.len(), 1);
}

#[test]
fn the_crd_names_printer_columns_and_status_subresource_are_right() {
    let crd = OpenMetadataKeycloakClient::crd();
    assert_eq!(crd.spec.group, "omkc.dev");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.short_names, Some(vec!["omkc".to_string()]));
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<String> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    for wanted in ["Ready", "Client ID", "Realm", "Secret", "Age"] {
        assert!(columns.contains(&wanted.to_string()), "{columns:?}");
    }
}

#[test]
fn every_spec_field_has_a_description_for_kubectl_explain() {
    let crd = serde_json::to_value(OpenMetadataKeycloakClient::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut missing = Vec::new();
    fn walk(schema: &Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let path = format!("{at}.{name}");
                if p.get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    missing.push(path.clone());
                }
                walk(p, &path, missing);
            }
        }
    }
    walk(spec, "spec", &mut missing);
    assert!(
        missing.is_empty(),
        "fields without description: {missing:?}"
    );
}

/// What `kubectl explain` shows reads as plain text: every description of the committed CRDs is
/// one line, with no Markdown; and the fields users ask about say what they need to know.
#[test]
fn kubectl_explain_reads_as_plain_text() {
    let mut descriptions = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if k == "description" => out.push(s.clone()),
                        other => walk(other, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    for (_, yaml) in omkc::crds() {
        let crd: Value = serde_yaml::from_str(&yaml).unwrap();
        walk(&crd, &mut descriptions);
    }
    assert!(descriptions.len() > 50);
    for d in &descriptions {
        assert!(
            !d.contains('\n') && !d.contains('`') && !d.contains("  "),
            "{d:?}"
        );
    }
    let yaml = omkc::crd_yaml();
    let crd: Value = serde_yaml::from_str(yaml.split("---\n").nth(1).unwrap()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let policy = spec["deletionPolicy"]["description"].as_str().unwrap();
    for words in ["Delete removes it", "Retain leaves it", "Default: Delete"] {
        assert!(policy.contains(words), "{policy}");
    }
    let labels = spec["secret"]["properties"]["labels"]["description"]
        .as_str()
        .unwrap();
    assert!(
        labels.contains("Refused: app.kubernetes.io/managed-by"),
        "{labels}"
    );
}

fn schema() -> Value {
    let crd = serde_json::to_value(OpenMetadataKeycloakClient::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn as_json(obj: &OpenMetadataKeycloakClient) -> Value {
    serde_json::to_value(obj).unwrap()
}

fn cel(
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

#[test]
fn validate_applies_defaults() {
    let v = validate(&fixture("basic.yaml"), INSTALLATION).unwrap();
    assert_eq!(v.client_id, "openmetadata", "defaults to the resource name");
    let ConnectionSource::Inline(inline) = &v.connection else {
        panic!("an inline connection")
    };
    assert_eq!(inline.admin_realm, "master");
    assert_eq!(inline.public_url, None);
    assert_eq!(
        v.owner, "cluster-1/openmetadata/openmetadata",
        "installation/namespace/name"
    );
    assert_eq!(v.client_name, "OpenMetadata");
    assert_eq!(v.secret.name, "oidc-secrets");
    assert_eq!(v.secret.client_id_key, "openmetadata-oidc-client-id");
    assert_eq!(
        v.secret.client_secret_key,
        "openmetadata-oidc-client-secret"
    );
    assert_eq!(
        v.deletion_policy, None,
        "decided at delete time: Delete unless adopted"
    );
    assert!(
        !v.implicit_flow
            && v.service_accounts.is_none()
            && v.authorization_services.is_none()
            && !v.adopt_existing,
        "unset flags are left to Keycloak"
    );
}

#[test]
fn validate_reads_every_field_of_the_full_fixture() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let ConnectionSource::Inline(inline) = &v.connection else {
        panic!("an inline connection")
    };
    assert_eq!(
        inline.url, "https://sso.example.com/auth",
        "legacy /auth kept, slash trimmed"
    );
    assert_eq!(v.openmetadata_url, "https://catalog.example.com:8443");
    assert_eq!(inline.admin_realm, "ops");
    assert_eq!(v.client_id, "open-metadata");
    assert_eq!(v.client_name, "Data catalog");
    assert!(v.implicit_flow && v.authorization_services == Some(true) && v.adopt_existing);
    assert_eq!(
        v.service_accounts,
        Some(true),
        "authorization implies a service account"
    );
    assert_eq!(v.secret.name, "om-oidc");
    assert_eq!(
        (
            v.secret.client_id_key.as_str(),
            v.secret.client_secret_key.as_str()
        ),
        ("id", "secret")
    );
    assert_eq!(v.deletion_policy, Some(DeletionPolicy::Retain));
}

fn rejected(edit: impl FnOnce(&mut OpenMetadataKeycloakClient)) -> String {
    let mut obj = fixture("basic.yaml");
    edit(&mut obj);
    validate(&obj, INSTALLATION).unwrap_err().to_string()
}

#[test]
fn validate_explains_each_bad_input() {
    assert!(
        rejected(|o| o.spec.keycloak.realm = "master".into())
            .starts_with("spec.keycloak.realm: must not be master")
    );
    assert!(
        rejected(|o| o.spec.keycloak.realm = "Master".into())
            .starts_with("spec.keycloak.realm: must not be master"),
        "master in any case"
    );
    for walk in [".", ".."] {
        assert_eq!(
            rejected(|o| o.spec.keycloak.realm = walk.into()),
            "spec.keycloak.realm: must not be . or .."
        );
    }
    for odd in ["data/sec", "data sec", "data%2Fsec", "dätä"] {
        assert!(
            rejected(|o| o.spec.keycloak.realm = odd.into())
                .starts_with("spec.keycloak.realm: may only hold letters, digits"),
            "{odd}"
        );
    }
    assert!(
        rejected(|o| o.spec.keycloak.admin_realm = Some("..".into()))
            .starts_with("spec.keycloak.adminRealm: must not be . or ..")
    );
    assert!(
        rejected(|o| o.spec.keycloak.url = Some("not a url".into()))
            .starts_with("spec.keycloak.url: is not a valid URL")
    );
    assert!(
        rejected(|o| o.spec.keycloak.url = Some("https://admin:pw@kc.example.com".into()))
            .contains("must not embed credentials")
    );
    assert!(
        rejected(|o| o.spec.openmetadata.url = "ftp://om".into())
            .starts_with("spec.openmetadata.url: must use http or https")
    );
    assert!(
        rejected(|o| o
            .spec
            .keycloak
            .credentials_secret_ref
            .as_mut()
            .unwrap()
            .name = "Bad_Name".into())
        .starts_with("spec.keycloak.credentialsSecretRef.name")
    );
    assert!(
        rejected(|o| o.spec.keycloak.ca_bundle = Some("garbage".into()))
            .starts_with("spec.keycloak.caBundle")
    );
    assert!(
        rejected(|o| o.spec.openmetadata.extra_web_origins = vec!["https://x.example/path".into()])
            .starts_with("spec.openmetadata.extraWebOrigins[0]")
    );
    assert!(
        rejected(|o| o.spec.openmetadata.extra_redirect_uris = vec!["::".into()])
            .starts_with("spec.openmetadata.extraRedirectUris[0]")
    );
    assert!(
        rejected(|o| {
            o.spec.secret = Some(omkc::crd::OutputSecretSpec {
                client_id_key: Some("same".into()),
                client_secret_key: Some("same".into()),
                ..Default::default()
            })
        })
        .starts_with("spec.secret.clientSecretKey: must differ")
    );
    assert!(
        rejected(|o| {
            o.spec.secret = Some(omkc::crd::OutputSecretSpec {
                client_secret_key: Some("has space".into()),
                ..Default::default()
            })
        })
        .starts_with("spec.secret.clientSecretKey")
    );
    assert!(
        rejected(|o| {
            o.spec.secret = Some(omkc::crd::OutputSecretSpec {
                labels: [("argocd.argoproj.io/instance".to_string(), "x".to_string())].into(),
                ..Default::default()
            })
        })
        .contains("reserved")
    );
}

#[test]
fn desired_client_derives_urls_and_flows_from_openmetadata() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let c = desired::desired_client(&v);
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
fn drift_ignores_order_and_unmanaged_fields_but_sees_managed_changes() {
    let v = validate(&fixture("full.yaml"), INSTALLATION).unwrap();
    let wanted = desired::desired_client(&v);
    let mut observed = wanted.clone();
    observed.redirect_uris.as_mut().unwrap().reverse();
    observed.consent_required = Some(true);
    observed
        .attributes
        .as_mut()
        .unwrap()
        .insert("other".into(), "x".into());
    assert!(desired::client_drift(&observed, &wanted).is_empty());

    observed.web_origins = Some(vec!["*".into()]);
    observed.implicit_flow_enabled = Some(false);
    observed
        .attributes
        .as_mut()
        .unwrap()
        .insert("post.logout.redirect.uris".into(), "+".into());
    assert_eq!(
        desired::client_drift(&observed, &wanted),
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
    let om = desired::openmetadata_values(&v, "https://sso.example.com/auth/realms/data-sec");
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
    let s = desired::output_secret(&v, "s3cr3t", &Default::default());
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
fn credentials_come_from_either_key_pair_and_errors_name_keys_only() {
    use k8s_openapi::{ByteString, api::core::v1::Secret};
    use omkc::reconcile::observe::credentials_from;
    let secret = |pairs: &[(&str, &str)]| Secret {
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    assert!(matches!(
        credentials_from("a", &secret(&[("username", "admin"), ("password", "pw\n")])).unwrap(),
        omkc::keycloak::Credentials::Password { ref password, .. } if password == "pw"
    ));
    assert!(matches!(
        credentials_from("a", &secret(&[("clientId", "ops"), ("clientSecret", "cs")])).unwrap(),
        omkc::keycloak::Credentials::ClientCredentials { .. }
    ));
    let err =
        credentials_from("a", &secret(&[("username", "admin"), ("password", "")])).unwrap_err();
    assert_eq!(err.reason(), Reason::CredentialsInvalid);
    assert!(err.to_string().contains("`password`"));
    let err = credentials_from("a", &secret(&[("clientSecret", "topsecret")])).unwrap_err();
    assert!(!err.to_string().contains("topsecret"), "{err}");
}

#[test]
fn the_readme_examples_are_valid_resources_and_values() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut obj: OpenMetadataKeycloakClient = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{dir}/openmetadatakeycloakclient.yaml")).unwrap(),
    )
    .unwrap();
    cel(&obj, None).unwrap();
    obj.metadata.uid = Some("u".into());
    let v = validate(&obj, INSTALLATION).unwrap();
    // The example Helm values agree with what the operator reports in status.
    let values: Value = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{dir}/openmetadata-values.yaml")).unwrap(),
    )
    .unwrap();
    let connection: omkc::crd::ClusterKeycloakConnection = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{dir}/clusterkeycloakconnection.yaml")).unwrap(),
    )
    .unwrap();
    let ConnectionSource::Cluster(name) = &v.connection else {
        panic!("the example names a connection")
    };
    assert_eq!(connection.metadata.name.as_ref(), Some(name));
    assert!(connection.spec.allowed_realms.contains(&v.realm));
    let issuer = omkc::urls::realm_url(&connection.spec.url, &v.realm);
    assert_eq!(
        values,
        desired::helm_values(&v, &issuer),
        "the README's values are what the operator writes into the values ConfigMap"
    );
    let creds: k8s_openapi::api::core::v1::Secret = serde_yaml::from_str(
        &std::fs::read_to_string(format!("{dir}/keycloak-admin-secret.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        creds.metadata.name.as_ref(),
        Some(&connection.spec.credentials_secret_ref.name)
    );
    assert_eq!(
        creds.metadata.namespace,
        connection.spec.credentials_secret_ref.namespace
    );
    assert_eq!(
        creds.metadata.labels.unwrap()["omkc.dev/keycloak-credentials"],
        "true",
        "the example's credentials carry the opt-in label"
    );
}

/// The Argo CD health check marks exactly the permanent failure reasons as Degraded.
#[test]
fn the_argocd_health_check_knows_every_permanent_reason() {
    let lua = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/argocd/health.lua"
    ))
    .unwrap();
    let table = lua
        .split_once("local permanent = {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .expect("the `permanent` table")
        .0;
    let mut listed: Vec<&str> = table
        .lines()
        .filter_map(|l| l.trim().strip_suffix(" = true,"))
        .collect();
    listed.sort();
    let mut permanent: Vec<&str> = Reason::of_class(Class::Permanent)
        .map(Reason::as_str)
        .collect();
    permanent.sort();
    assert_eq!(
        listed, permanent,
        "deploy/argocd/health.lua is out of line with src/reason.rs"
    );
    for reason in Reason::of_class(Class::Transient) {
        assert!(!lua.contains(reason.as_str()), "{reason} is transient");
    }
}

/// The rows of the troubleshooting guide's table that follows `heading` (first column, without
/// backticks).
fn readme_table(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/users/troubleshooting.md"
    ))
    .unwrap();
    let section = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("docs/users/troubleshooting.md has no {heading:?}"))
        .1;
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('/')
                .map(|r| r.trim().trim_matches('`').to_string())
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Every reason is documented: the condition reasons in the troubleshooting table, the Event
/// reasons in the Events table; and nothing documented that the code does not produce.
#[test]
fn the_readme_documents_every_reason_and_no_other() {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let conditions: Vec<String> = Reason::ALL
        .iter()
        .filter(|r| {
            matches!(
                r.class(),
                Class::Ready | Class::Permanent | Class::Transient
            )
        })
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(
        sorted(readme_table("## Troubleshooting by condition reason")),
        sorted(conditions)
    );
    let events: Vec<String> = Reason::ALL
        .iter()
        .filter(|r| matches!(r.class(), Class::Change | Class::Warning))
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(sorted(readme_table("## Events")), sorted(events));
}

/// Every string, list and map a tenant (or a platform team) writes is bounded: the API server
/// refuses an oversized resource before the operator ever caches it, and CEL rules get a cost
/// the API server can estimate.
#[test]
fn every_list_string_and_map_of_both_specs_is_bounded() {
    fn walk(schema: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match schema["type"].as_str() {
            Some("string") if schema.get("enum").is_none() && schema.get("maxLength").is_none() => {
                out.push(format!("{path}: string without maxLength"))
            }
            Some("array") => {
                if schema.get("maxItems").is_none() {
                    out.push(format!("{path}: list without maxItems"));
                }
                walk(&schema["items"], &format!("{path}[]"), out);
            }
            Some("object") => {
                if let Some(props) = schema["properties"].as_object() {
                    for (k, v) in props {
                        walk(v, &format!("{path}.{k}"), out);
                    }
                }
                if schema["additionalProperties"].is_object()
                    && schema.get("maxProperties").is_none()
                {
                    out.push(format!("{path}: map without maxProperties"));
                }
            }
            _ => {}
        }
    }
    let mut unbounded = Vec::new();
    for crd in [
        serde_json::to_value(omkc::crd::OpenMetadataKeycloakClient::crd()).unwrap(),
        serde_json::to_value(omkc::crd::ClusterKeycloakConnection::crd()).unwrap(),
    ] {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        walk(spec, &format!("{kind}.spec"), &mut unbounded);
    }
    // Kubernetes' own LabelSelector, as every API that embeds it has it; only the platform team
    // writes a connection (cluster-scoped).
    unbounded.retain(|p| !p.starts_with("ClusterKeycloakConnection.spec.namespaceSelector."));
    assert_eq!(unbounded, Vec::<String>::new());
}
