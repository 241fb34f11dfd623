//! Whether the client found is this resource's to manage (pure): its own, one it takes over
//! (adopts) because no resource owns it, or one it is refused.
//!
//! Adoption rewrites the client's URLs and flows and hands its secret to the tenant, so it is
//! off unless the connection allows it, and never applies to a client whose secret is worth
//! more than a login: Keycloak's built-in clients, a client with a service account (its token
//! may carry admin roles), one with authorization settings, or one of another protocol.

use crate::reason::Reason;
use keycloak::types::ClientRepresentation;

use crate::{
    reconcile::{
        Error,
        desired::{self, Ownership},
    },
    validate::Validated,
};

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

/// Whether the client found may be managed by this resource: `Ok(true)` when it adopts it,
/// `Ok(false)` when it is its own, else the `ClientConflict` that says why not (adoption only
/// where the connection allows it and the client is harmless: [`refusal`]).
pub(super) fn claim(
    client: &ClientRepresentation,
    v: &Validated,
    known_uuid: Option<&str>,
    allowed: bool,
) -> Result<bool, Error> {
    let conflict = |message: String| Err(Error::new(Reason::ClientConflict, message));
    let ownership = desired::ownership(client, v, known_uuid);
    if let Some(other) = (client.client_id.as_ref()).filter(|id| **id != v.client_id)
        && ownership != Ownership::Ours
    {
        // A namesake the database takes for this client id (MySQL, MariaDB: without case or
        // accents), that this resource does not own.
        return conflict(format!(
            "client {:?} cannot be made in realm {:?}: Keycloak's database takes it for the existing client {other:?} (on MySQL and MariaDB client ids compare without case or accents); nothing was changed (choose a spec.client.clientId that differs in more than case and accents; adoptExisting takes only a client of the very same id)",
            v.client_id, v.realm
        ));
    }
    match ownership {
        Ownership::Ours => Ok(false),
        Ownership::Unowned | Ownership::EarlierResource(_) if v.adopt_existing => {
            match refusal(client, v, allowed) {
                Some(message) => conflict(message),
                None => Ok(true),
            }
        }
        Ownership::Unowned => conflict(format!(
            "client {:?} already exists in realm {:?} and was not created by an OpenMetadataKeycloakClient; nothing was changed (set spec.client.adoptExisting: true to take it over)",
            v.client_id, v.realm
        )),
        Ownership::EarlierResource(uid) => conflict(format!(
            "client {:?} in realm {:?} was made by an earlier OpenMetadataKeycloakClient of this namespace and name (uid {uid}), not by this one; nothing was changed (set spec.client.adoptExisting: true to take it over, where the connection allows adoption)",
            v.client_id, v.realm
        )),
        // Which one is not this tenant's to know: the operator's log names it.
        Ownership::OtherResource(_) => conflict(format!(
            "client {:?} in realm {:?} belongs to another OpenMetadataKeycloakClient; nothing was changed (choose another spec.client.clientId)",
            v.client_id, v.realm
        )),
    }
}
