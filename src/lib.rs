//! openmetadata-keycloak-operator: OpenMetadata single sign-on through Keycloak, as a
//! Kubernetes custom resource.
//!
//! The reconcile is one loop (`docs/contributors/architecture.md` draws it): [`crd`] (the API) →
//! [`validate`] (spec to checked value) → [`reconcile`] (observe, a pure plan of every write,
//! execute, again while the plan says so) with [`keycloak`] (a client of the Admin API and
//! nothing more) at its edge.
//! [`controller`] wires watches and the runtime; [`cli`] is the command line.

pub mod cache;
pub mod cli;
pub mod context;
pub mod controller;
pub mod crd;
pub mod duration;
pub mod events;
pub mod keycloak;
pub mod leader;
pub mod names;
pub mod reason;
pub mod reconcile;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod urls;
pub mod validate;
pub mod yaml;

pub use context::{Context, Settings};
pub use reconcile::Error;

use kube::CustomResourceExt;

/// Each CRD as YAML, with the file name it is committed under in `crds/`, in file-name order.
pub fn crds() -> Vec<(String, String)> {
    let yaml = |crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        let crd = plain_descriptions(crd);
        let file = format!("{}.yaml", crd.metadata.name.clone().unwrap_or_default());
        (file, serde_saphyr::to_string(&crd).expect("a CRD serializes to YAML"))
    };
    let mut all = vec![
        yaml(crd::OpenMetadataKeycloakClient::crd()),
        yaml(crd::ClusterKeycloakConnection::crd()),
    ];
    all.sort();
    all
}

/// The CRD with every schema description as `kubectl explain` shows it best: one paragraph of
/// plain text (the doc comments' line breaks joined, Markdown backticks dropped).
fn plain_descriptions<T: serde::Serialize + serde::de::DeserializeOwned>(crd: T) -> T {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match v {
                        serde_json::Value::String(text) if key == "description" => {
                            *text = text
                                .replace('`', "")
                                .split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" ");
                        }
                        other => walk(other),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(crd).expect("a CRD serializes");
    walk(&mut value);
    serde_json::from_value(value).expect("the same CRD deserializes")
}

/// Every CRD as one YAML stream (what `openmetadata-keycloak-operator crd` prints), in the
/// order of the files under `crds/`.
///
/// ```
/// let yaml = omkc::crd_yaml();
/// assert!(yaml.contains("name: openmetadatakeycloakclients.omkc.dev"));
/// assert!(yaml.contains("name: clusterkeycloakconnections.omkc.dev"));
/// assert!(yaml.contains("- omkc"));
/// ```
pub fn crd_yaml() -> String {
    crds()
        .into_iter()
        .map(|(_, yaml)| yaml)
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn only_descriptions_are_made_plain() {
        let crd = json!({"description": "The `url`,\n  joined.", "properties": {"rules": [
            {"rule": "self.a  ==  `b`", "description": "A  rule."}
        ]}});
        let plain = super::plain_descriptions(crd);
        assert_eq!(plain["description"], "The url, joined.");
        let rule = &plain["properties"]["rules"][0];
        assert_eq!(rule["description"], "A rule.");
        assert_eq!(
            rule["rule"], "self.a  ==  `b`",
            "a CEL rule is left as written"
        );
    }
}
