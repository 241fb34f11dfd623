//! What a connection's account can see of the server as a whole: the realms it may administer
//! and, when it is a server admin, Keycloak's version. For the status of a
//! ClusterKeycloakConnection.

use reqwest::Method;
use serde::Deserialize;

use super::{KeycloakError, Session};

#[derive(Deserialize)]
struct RealmName {
    realm: String,
}

#[derive(Deserialize)]
struct ServerInfo {
    #[serde(rename = "systemInfo")]
    system_info: Option<SystemInfo>,
}

#[derive(Deserialize)]
struct SystemInfo {
    version: Option<String>,
}

impl Session {
    /// The realms the signed-in account may see. Keycloak lists only the realms where the
    /// account holds an admin role (a realm's `realm-management` roles: that realm alone), and
    /// the brief form of a realm to a non-server admin is its name alone.
    pub async fn visible_realms(&self) -> Result<Vec<String>, KeycloakError> {
        let brief = &[("briefRepresentation", "true")];
        let answer = self
            .call(Method::GET, "/admin/realms", &[], brief, None)
            .await?;
        let realms: Vec<RealmName> = Self::parse(&answer, "the list of realms")?;
        let mut names: Vec<String> = realms.into_iter().map(|r| r.realm).collect();
        names.sort();
        Ok(names)
    }

    /// Keycloak's version, when the account may see it: the server info carries `systemInfo`
    /// only for an admin of the whole server (master realm); others get `None`.
    pub async fn server_version(&self) -> Result<Option<String>, KeycloakError> {
        let answer = self
            .call(Method::GET, "/admin/serverinfo", &[], &[], None)
            .await?;
        let info: ServerInfo = Self::parse(&answer, "the server info")?;
        Ok(info
            .system_info
            .and_then(|s| s.version)
            .filter(|v| !v.is_empty() && v.len() <= 64))
    }
}
