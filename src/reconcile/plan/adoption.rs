//! Whether a resource may take over (adopt) an existing client that no resource owns (pure).
//!
//! Adoption rewrites the client's URLs and flows and hands its secret to the tenant, so it is
//! off unless the connection allows it, and never applies to a client whose secret is worth
//! more than a login: Keycloak's built-in clients, a client with a service account (its token
//! may carry admin roles), one with authorization settings, or one of another protocol.

use crate::reason::Reason;
use keycloak::types::ClientRepresentation;

use crate::{reconcile::Error, validate::Validated};

/// Clients every realm has (RealmManager.setupRealmDefaults), and the master realm's
/// `<realm>-realm` clients (marked `realm_client` from Keycloak 26.0 on; unmarked before, but
/// they live in the master realm, which is refused as a target).
pub const BUILT_IN_CLIENTS: [&str; 6] = [
    "account",
    "account-console",
    "admin-cli",
    "broker",
    "realm-management",
    "security-admin-console",
];

fn built_in(client: &ClientRepresentation) -> bool {
    let id = client.client_id.as_deref().unwrap_or_default();
    let realm_client = client
        .attributes
        .as_ref()
        .and_then(|a| a.get("realm_client"))
        .is_some_and(|v| v == "true");
    BUILT_IN_CLIENTS.contains(&id) || realm_client
}

/// Why `client` may not be adopted by `v`, if it may not.
pub(super) fn refusal(
    client: &ClientRepresentation,
    v: &Validated,
    allowed: bool,
) -> Option<String> {
    let id = &v.client_id;
    let never = |why: &str| {
        Some(format!(
            "client {id:?} {why} and is never adopted; nothing was changed (choose another spec.client.clientId)"
        ))
    };
    if built_in(client) {
        return never("is one of Keycloak's built-in clients");
    }
    if client.service_accounts_enabled == Some(true) {
        return never("has a service account (its tokens may carry roles beyond a login)");
    }
    if client.authorization_services_enabled == Some(true) {
        return never("has authorization settings");
    }
    let protocol = client.protocol.as_deref().unwrap_or("openid-connect");
    if protocol != "openid-connect" {
        return never(&format!("uses the {protocol} protocol"));
    }
    if !allowed {
        return Some(format!(
            "client {id:?} already exists in realm {:?} and no resource owns it; this connection does not allow adoptExisting (a ClusterKeycloakConnection allows it with spec.allowAdoption: true, inline connections with the operator's --allow-inline-adoption); nothing was changed",
            v.realm
        ));
    }
    None
}

/// Refuses the adoption of `client` by `v` unless it is allowed and harmless.
pub(super) fn check(
    client: &ClientRepresentation,
    v: &Validated,
    allowed: bool,
) -> Result<(), Error> {
    match refusal(client, v, allowed) {
        Some(message) => Err(Error::new(Reason::ClientConflict, message)),
        None => Ok(()),
    }
}
