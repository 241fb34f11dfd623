//! Names the operator writes into other systems' objects: its field manager and label value,
//! the labels and attributes that mark what it owns.

/// Name of this operator: field manager, `managed-by` label value, Event reporter.
pub const OPERATOR_NAME: &str = "openmetadata-keycloak-operator";
/// Label marking the Secrets this operator writes (its Secret watch selects on it).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Client attribute recording which resource created or adopted a Keycloak client.
pub const OWNER_ATTRIBUTE: &str = "omkc.dev/owner";
/// Client attribute with OpenMetadata's post-logout redirect.
pub const POST_LOGOUT_ATTRIBUTE: &str = "post.logout.redirect.uris";
/// The client attribute holding the PKCE method its logins must use (blank: none required).
pub const PKCE_ATTRIBUTE: &str = "pkce.code.challenge.method";
/// Client attribute marking a client this operator took over (`adoptExisting`) rather than
/// created: such a client is retained on delete unless the resource asks for deletion.
pub const ADOPTED_ATTRIBUTE: &str = "omkc.dev/adopted";
/// Label that makes a Secret usable as Keycloak admin credentials. Only someone allowed to write
/// Secrets can set it: creating an OpenMetadataKeycloakClient is not enough to borrow a Secret.
pub const CREDENTIALS_LABEL: &str = "omkc.dev/keycloak-credentials";
/// Optional annotation on a credentials Secret: the only Keycloak base URL it may be sent to.
pub const CREDENTIALS_URL_ANNOTATION: &str = "omkc.dev/keycloak-url";
/// Client attribute with the UID of the resource that owns the client.
pub const OWNER_UID_ATTRIBUTE: &str = "omkc.dev/owner-uid";
/// Label that makes a Secret usable as the source of a client secret (bring your own secret).
pub const SOURCE_LABEL: &str = "omkc.dev/client-secret-source";
/// Annotation on the output Secret: the last rotation token carried out.
pub const ROTATED_FOR_ANNOTATION: &str = "omkc.dev/rotated-for";
/// Annotation on the output Secret: a rotation under way for this token (written before the
/// new secret is generated, so that a restart neither repeats nor forgets it).
pub const ROTATING_FOR_ANNOTATION: &str = "omkc.dev/rotating-for";
/// Annotation with a hash of the output Secret's content, on workloads to restart.
pub const CHECKSUM_ANNOTATION: &str = "omkc.dev/secret-checksum";
/// Annotation naming the resource (of the workload's namespace) whose Secret restarts it: one
/// workload follows one resource, or two would restart it in turn for ever.
pub const RESTARTED_FOR_ANNOTATION: &str = "omkc.dev/restarted-for";
/// Keycloak's client attribute with the secret's creation time (epoch seconds).
pub const SECRET_CREATION_ATTRIBUTE: &str = "client.secret.creation.time";
