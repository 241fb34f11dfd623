//! The CRD (committed copy, no schema defaults, CEL rules evaluated by a real CEL engine) and the
//! pure validate/build steps, from YAML fixtures.

use kube::{CustomResourceExt, core::cel::Validator};
use omkc::{
    crd::OpenMetadataKeycloakClient,
    reason::{Class, Reason},
    reconcile::desired,
    validate::{ConnectionSource, validate},
};
use serde_json::{Value, json};

use crate::support::{INSTALLATION, fixture, has};

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
        has(policy, words);
    }
    let labels = spec["secret"]["properties"]["labels"]["description"]
        .as_str()
        .unwrap();
    has(labels, "Refused: app.kubernetes.io/managed-by");
}

mod cel;

mod documented;
