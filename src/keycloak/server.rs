//! What a connection's account can see of the server as a whole: the realms it may administer
//! and, when it is a server admin, Keycloak's version, and whether the operator is tested with
//! that version. For the status of a ClusterKeycloakConnection and for `check`.

use reqwest::Method;
use serde::Deserialize;

use super::{KeycloakError, Session};

/// The oldest Keycloak line the operator is tested with, and the newest major: the ends of
/// `tests/keycloak/versions` (a unit test holds them to it).
pub const OLDEST_TESTED: (u32, u32) = (22, 0);
pub const NEWEST_TESTED_MAJOR: u32 = 26;

/// What to say of a Keycloak `version` outside the lines the operator is tested with (older
/// than `OLDEST_TESTED`, or of a newer major), on a connection's status and in `check`.
/// Nothing for one inside them or one whose major and minor it cannot read.
pub fn untested(version: &str) -> Option<String> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else {
        return None;
    };
    let (oldest_major, oldest_minor) = OLDEST_TESTED;
    if (major, minor) < OLDEST_TESTED {
        Some(format!(
            "Keycloak {version} is older than {oldest_major}.{oldest_minor}, the oldest line this operator is tested with"
        ))
    } else if major > NEWEST_TESTED_MAJOR {
        Some(format!(
            "Keycloak {version} is of a newer major version than this operator is tested with ({NEWEST_TESTED_MAJOR})"
        ))
    } else {
        None
    }
}

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

    /// Keycloak's version, when the account may see it: from 26.7 the server info carries
    /// `systemInfo` only for an admin of the whole server (master realm); others get `None`.
    pub async fn server_version(&self) -> Result<Option<String>, KeycloakError> {
        let answer = self
            .call(Method::GET, "/admin/serverinfo", &[], &[], None)
            .await?;
        let info: ServerInfo = Self::parse(&answer, "the server info")?;
        Ok(info
            .system_info
            .and_then(|s| s.version)
            .filter(|v| plausible(v)))
    }
}

/// A version fit to repeat in a status and on a terminal: short, printable ASCII, no spaces
/// (`26.7.4`, `24.0.10.redhat-00001`); anything else is taken as not shown.
fn plausible(version: &str) -> bool {
    (1..=64).contains(&version.len()) && version.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plausible_version_is_repeated() {
        for shown in ["26.7.4", "24.0.10.redhat-00001", "999.0.0-SNAPSHOT"] {
            assert!(plausible(shown), "{shown}");
        }
        let long = "1".repeat(65);
        for hidden in [
            "",
            "26.7.4\n",
            "26.7.4 \u{1b}[2J",
            "26.7 beta",
            "26.7.4\u{e9}",
            &long,
        ] {
            assert!(!plausible(hidden), "{hidden:?}");
        }
    }

    #[test]
    fn a_version_outside_the_tested_lines_is_said() {
        for inside in [
            "22.0.0",
            "22.0.13.redhat-00001",
            "24.0.5",
            "26.7.4",
            "26.8.2",
            "26.99.0",
        ] {
            assert_eq!(untested(inside), None, "{inside}");
        }
        for unreadable in ["", "26", "main", "x.1.0", "21.x"] {
            assert_eq!(untested(unreadable), None, "{unreadable}");
        }
        assert_eq!(
            untested("21.1.2").as_deref(),
            Some(
                "Keycloak 21.1.2 is older than 22.0, the oldest line this operator is tested with"
            )
        );
        assert!(
            untested("17.0.1")
                .unwrap()
                .starts_with("Keycloak 17.0.1 is older")
        );
        assert_eq!(
            untested("27.0.0").as_deref(),
            Some(
                "Keycloak 27.0.0 is of a newer major version than this operator is tested with (26)"
            )
        );
        assert!(
            untested("999.0.0-SNAPSHOT")
                .unwrap()
                .contains("newer major")
        );
    }

    /// The ends of the versions file CI and the weekly workflow run: its first line's major and
    /// minor, its last line's major.
    #[test]
    fn the_tested_lines_are_those_of_the_versions_file() {
        let listed: Vec<(u32, u32)> = include_str!("../../tests/keycloak/versions")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut v = l.split(['.', ' ']).map(|p| p.parse().unwrap());
                (v.next().unwrap(), v.next().unwrap())
            })
            .collect();
        assert_eq!(listed.first(), Some(&OLDEST_TESTED));
        assert_eq!(listed.last().map(|v| v.0), Some(NEWEST_TESTED_MAJOR));
    }
}
