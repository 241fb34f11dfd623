//! openmetadata-keycloak-operator: OpenMetadata single sign-on through Keycloak, as a
//! Kubernetes custom resource.
//!
//! Modules follow the reconcile pipeline: [`crd`] (the API), [`validate`] (spec to checked
//! value), [`desired`] (pure desired state and comparisons), [`keycloak`] (the external system,
//! idempotent verbs) and [`controller`] (the only place that writes to Kubernetes).

pub mod controller;
pub mod crd;
pub mod desired;
pub mod keycloak;
pub mod telemetry;
pub mod tls;
pub mod validate;

pub use controller::{Context, Error, Settings};

use kube::CustomResourceExt;

/// The CRD as YAML, exactly as committed under `crds/`.
///
/// ```
/// let yaml = omkc::crd_yaml();
/// assert!(yaml.contains("name: openmetadatakeycloakclients.omkc.dev"));
/// assert!(yaml.contains("- omkc"));
/// ```
pub fn crd_yaml() -> String {
    let crd = crd::OpenMetadataKeycloakClient::crd();
    serde_yaml::to_string(&crd).expect("the CRD serializes to YAML")
}
