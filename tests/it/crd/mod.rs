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

/// Calls `f` with every node of `value` and its path (`$.a.b[0]`), parents first.
fn each(value: &Value, at: &str, f: &mut dyn FnMut(&str, &Value)) {
    f(at, value);
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| each(v, &format!("{at}.{k}"), f)),
        Value::Array(items) => {
            (items.iter().enumerate()).for_each(|(i, v)| each(v, &format!("{at}[{i}]"), f))
        }
        _ => {}
    }
}

/// The schema defaults in `value` (a property *named* "default" is not one).
fn defaults(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    each(value, "$", &mut |at, _| {
        if at.ends_with(".default") && !at.ends_with(".properties.default") {
            found.push(at.to_string());
        }
    });
    found
}

#[test]
fn the_crd_schema_has_no_defaults_argo_cd_would_fight() {
    let crd = serde_json::to_value(OpenMetadataKeycloakClient::crd()).unwrap();
    let found = defaults(&crd);
    assert!(
        found.is_empty(),
        "schema defaults cause OutOfSync in Argo CD: {found:?}"
    );
    // The check itself finds a default where there is one.
    let probe = json!({"properties": {"default": {"type": "string", "default": "x"}}});
    assert_eq!(defaults(&probe), ["$.properties.default.default"]);
}

/// The API server refuses a `null` its enum does not list, and a `nullable` enum cannot list one
/// (`enum: [.., null]` is read as the text "null"): such a field left empty (`deletionPolicy:`)
/// was refused. Not nullable, a `null` is dropped, as if absent (the random admission scenario
/// of `crd/random.rs` found it, on kubectl 1.37).
#[test]
fn no_enum_of_the_crds_is_nullable() {
    for (file, _) in omkc::crds() {
        let path = format!("{}/crds/{file}", env!("CARGO_MANIFEST_DIR"));
        let crd = omkc::yaml::documents(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut nullable = Vec::new();
        each(&crd[0], "$", &mut |at, node| {
            if node.get("enum").is_some() && node["nullable"] == true {
                nullable.push(at.to_string());
            }
        });
        assert!(nullable.is_empty(), "{file}: {nullable:?}");
    }
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
    each(spec, "spec", &mut |at, p| {
        let property = at
            .rsplit_once('.')
            .is_some_and(|(up, _)| up.ends_with(".properties"));
        if property && p["description"].as_str().is_none_or(str::is_empty) {
            missing.push(at.to_string());
        }
    });
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
    for (_, yaml) in omkc::crds() {
        let crd: Value = serde_saphyr::from_str(&yaml).unwrap();
        each(&crd, "", &mut |at, d| match d.as_str() {
            Some(d) if at.ends_with(".description") => descriptions.push(d.to_string()),
            _ => {}
        });
    }
    assert!(descriptions.len() > 50);
    for d in &descriptions {
        assert!(
            !d.contains('\n') && !d.contains('`') && !d.contains("  "),
            "{d:?}"
        );
    }
    let yaml = omkc::crd_yaml();
    let crd: Value = serde_saphyr::from_str(yaml.split("---\n").nth(1).unwrap()).unwrap();
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
mod random;

mod documented;
