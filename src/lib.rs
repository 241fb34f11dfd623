//! openmetadata-keycloak-operator: OpenMetadata single sign-on through Keycloak, as a
//! Kubernetes custom resource.
//!
//! The reconcile is a pipeline (`docs/architecture.md` draws it): [`crd`] (the API) →
//! [`validate`] (spec to checked value) → [`reconcile`] (dereference, a pure plan, apply,
//! status, cleanup) with [`keycloak`] (a client of the Admin API and nothing more) at its edge.
//! [`controller`] wires watches and the runtime; [`cli`] is the command line.

pub mod cache;
pub mod cli;
pub mod context;
pub mod controller;
pub mod crd;
pub mod events;
pub mod keycloak;
pub mod names;
pub mod reason;
pub mod reconcile;
pub mod telemetry;
pub mod tls;
pub mod urls;
pub mod validate;

pub use context::{Context, Settings};
pub use reconcile::Error;

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
