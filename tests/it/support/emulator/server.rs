//! The Admin API's routes outside a realm, as Keycloak 26 answers them (seen on 26.7.3 with an
//! admin of the master realm and with a service account holding `realm-management` roles of one
//! realm; the differential test compares both against every version tested):
//! - `GET /admin/realms?briefRepresentation=true`: a server admin gets every realm, each with
//!   its id, name and `enabled`; a realm's admin gets that realm alone, as its name alone;
//! - `GET /admin/serverinfo`: `systemInfo` (the version among it) for every admin on 26.0.8,
//!   only for a server admin on 26.7.3 (the change lies in between; the emulator takes 26.1,
//!   as for the other changes seen between the two).
//!
//! `issuer` below is what a token may administer: [`SERVER`], or one realm.

use serde_json::{Value, json};

use super::{Inner, routes::Reply};

/// The scope of a server admin's token (any other scope is the one realm it administers).
pub const SERVER: &str = "*server*";

fn server_admin(issuer: &str) -> bool {
    issuer == SERVER
}

/// `GET /admin/realms?briefRepresentation=true`.
pub fn realms(inner: &Inner, issuer: &str) -> Reply {
    let listed: Vec<Value> = inner
        .realms
        .keys()
        .filter(|name| server_admin(issuer) || name.as_str() == issuer)
        .map(|name| {
            if server_admin(issuer) {
                json!({"id": format!("realm-{name}"), "realm": name, "enabled": true})
            } else {
                json!({"realm": name})
            }
        })
        .collect();
    (200, None, Value::Array(listed))
}

/// `GET /admin/serverinfo`, reduced to what the operator reads and its shape.
pub fn info(inner: &Inner, issuer: &str) -> Reply {
    let (major, minor, patch) = inner.version;
    let mut body = json!({"profileInfo": {}, "features": []});
    // A realm's own admins see the version up to 26.6 (seen on 26.0.8, 26.4.7, 26.5.6 and
    // 26.6.4), not on 26.7.0 and 26.7.3.
    if server_admin(issuer) || inner.version < super::CHANGED_IN_26_7 {
        body["systemInfo"] = json!({"version": format!("{major}.{minor}.{patch}")});
    }
    (200, None, body)
}
