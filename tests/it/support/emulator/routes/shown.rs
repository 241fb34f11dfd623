//! What a caller is shown: a client as its level of access sees it, as the version modelled
//! builds it, and the refusal of one without the right.

use serde_json::{Value, json};

use super::super::{CHANGED_IN_26_7, SINCE_25, SINCE_26, Version};
use super::{ClientModel, Level, Reply, Scope, reply};

/// Keycloak's answer to a caller without the right: from 25.0 on its error is `HTTP 403
/// Forbidden`, no code the operator reads; 22.0.5 to 24.0.5 said `unknown_error` (all seen by
/// the differential test).
pub(super) fn forbidden(version: Version) -> Reply {
    match version < SINCE_25 {
        true => reply(403, json!({"error": "unknown_error"})),
        false => reply(403, json!({"error": "HTTP 403 Forbidden"})),
    }
}

/// The mask a caller who may view but not manage clients gets instead of a secret (26.8 on).
const SECRET_MASK: &str = "**********";

/// What the caller may see of a client (a query-only caller sees none: see the list route).
pub(super) fn shown(
    client: &ClientModel,
    scopes: &[Scope],
    level: Level,
    version: Version,
) -> Value {
    let mut rep = by_level(client, scopes, level, version);
    // ModelToRepresentation reports the realm-client flag as the attribute `realm_client`
    // from 26.0 on: 24.0.5 and 25.0.6 have no such attribute, even on `realm-management`.
    if version < SINCE_26
        && let Some(attributes) = rep["attributes"].as_object_mut()
    {
        attributes.remove("realm_client");
    }
    rep
}

fn by_level(client: &ClientModel, scopes: &[Scope], level: Level, version: Version) -> Value {
    match level {
        // No one may manage or configure `realm-management`, not even the realm's admin: seen on
        // 26.7.0 and 26.7.3, not on 26.0.8, 26.4.7, 26.5.6 or 26.6.4.
        Level::Manage if client.client_id == "realm-management" && version >= CHANGED_IN_26_7 => {
            let mut rep = client.representation(scopes, None);
            rep["access"] = json!({"view": true, "configure": false, "manage": false});
            rep
        }
        Level::Manage => client.representation(scopes, None),
        _ => {
            // Up to 26.7 a viewer gets the real secret (seen on 26.0 and 26.7); from 26.8 on,
            // ClientResource masks it.
            let mask = (version >= (26, 8, 0)).then_some(SECRET_MASK);
            let mut rep = client.representation(scopes, mask);
            rep["access"] = json!({"view": true, "configure": false, "manage": false});
            rep
        }
    }
}
