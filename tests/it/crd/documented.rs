//! What the docs show: the README's examples and reason table, the Argo CD health check, bounds.

use super::{cel::cel, *};

#[test]
fn the_readme_examples_are_valid_resources_and_values() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut obj: OpenMetadataKeycloakClient = serde_saphyr::from_str(
        &std::fs::read_to_string(format!("{dir}/openmetadatakeycloakclient.yaml")).unwrap(),
    )
    .unwrap();
    cel(&obj, None).unwrap();
    obj.metadata.uid = Some("u".into());
    let v = validate(&obj, INSTALLATION).unwrap();
    // The example Helm values agree with what the operator reports in status.
    let values: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(format!("{dir}/openmetadata-values.yaml")).unwrap(),
    )
    .unwrap();
    let connection: omkc::crd::ClusterKeycloakConnection = serde_saphyr::from_str(
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
    let creds: k8s_openapi::api::core::v1::Secret = serde_saphyr::from_str(
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
    let mut unbounded = Vec::new();
    for crd in [
        serde_json::to_value(omkc::crd::OpenMetadataKeycloakClient::crd()).unwrap(),
        serde_json::to_value(omkc::crd::ClusterKeycloakConnection::crd()).unwrap(),
    ] {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        super::each(spec, &format!("{kind}.spec"), &mut |at, schema| {
            let has = |bound: &str| schema.get(bound).is_some();
            match schema["type"].as_str() {
                Some("string") if !has("enum") && !has("maxLength") => {
                    unbounded.push(format!("{at}: string without maxLength"))
                }
                Some("array") if !has("maxItems") => {
                    unbounded.push(format!("{at}: list without maxItems"))
                }
                Some("object")
                    if schema["additionalProperties"].is_object() && !has("maxProperties") =>
                {
                    unbounded.push(format!("{at}: map without maxProperties"))
                }
                _ => {}
            }
        });
    }
    // Kubernetes' own LabelSelector, as every API that embeds it has it; only the platform team
    // writes a connection (cluster-scoped).
    unbounded
        .retain(|p| !p.starts_with("ClusterKeycloakConnection.spec.properties.namespaceSelector."));
    assert_eq!(unbounded, Vec::<String>::new());
}
