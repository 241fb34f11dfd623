//! One suite, two targets: [`Kc`] is either the Admin API emulator or a real Keycloak behind a
//! recording proxy, with the same verbs to arrange a scenario (a client made by hand, drift, a
//! viewer account), to inspect Keycloak afterwards, and to read the exchanges the operator made.
//!
//! [`both!`](crate::both) declares a scenario once and makes two tests of it:
//! `<scenario>::emulator` (always runs) and `<scenario>::real_keycloak` (ignored unless asked
//! for: `tests/keycloak/keycloak.sh test` runs them against every supported Keycloak version).
//! `both!(…, also on mariadb, …)` adds `<scenario>::on_mariadb`, the emulator with its realms on
//! MariaDB, for what the database decides (`keycloak.sh mariadb` runs the real one there).

use std::{sync::Arc, time::Duration};

use axum::http::Method;
use omkc::keycloak::{Credentials, Session};
use serde_json::{Value, json};

use super::{
    emulator::{self, AdminEvent, Emulator, Exchange, Fault, Level, Version},
    real::{self, Admin, Proxy},
    session_at,
};

/// The realm every scenario works in.
pub const REALM: &str = "data-sec";

/// Declares a scenario that runs against the emulator and against a real Keycloak.
#[macro_export]
macro_rules! both {
    ($(#[$doc:meta])* $name:ident, |$kc:ident| $body:block) => {
        $crate::both!($(#[$doc])* $name, as $crate::support::emulator::NEWEST, |$kc| $body);
    };
    ($(#[$doc:meta])* $name:ident, also on mariadb, |$kc:ident| $body:block) => {
        $crate::both!($(#[$doc])* $name, as $crate::support::emulator::NEWEST, |$kc| $body, on_mariadb);
    };
    ($(#[$doc:meta])* $name:ident, as $version:expr, |$kc:ident| $body:block $(, $mariadb:ident)?) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn scenario($kc: $crate::support::target::Kc) $body
            #[tokio::test]
            async fn emulator() {
                scenario($crate::support::target::Kc::emulator_as($version).await).await
            }
            $(
            /// The emulator with its realms on MariaDB.
            #[tokio::test]
            async fn $mariadb() {
                scenario($crate::support::target::Kc::emulator_on_mariadb().await).await
            }
            )?
            #[tokio::test]
            #[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
            async fn real_keycloak() {
                scenario($crate::support::target::Kc::real().await).await
            }
        }
    };
}

enum Backend {
    Emulator(Emulator),
    Real { admin: Admin, proxy: Proxy },
}

/// A Keycloak to test against.
pub struct Kc {
    /// Base URL the operator is given.
    pub base_url: String,
    /// The Keycloak version it is (or emulates).
    pub version: Version,
    backend: Backend,
}

/// A version string such as `26.0.8`, as numbers.
pub fn parse_version(v: &str) -> Version {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

impl Kc {
    /// The emulator, as the newest Keycloak it models.
    pub async fn emulator() -> Self {
        Self::from_emulator(Emulator::start().await)
    }

    /// The emulator with its API under `/auth` (Keycloak ≤ 16).
    pub async fn emulator_legacy() -> Self {
        Self::from_emulator(Emulator::start_legacy().await)
    }

    /// The emulator, modelling Keycloak `version`.
    pub async fn emulator_as(version: Version) -> Self {
        Self::from_emulator(Emulator::start_as(version, "").await)
    }

    /// The emulator, its realms kept on MariaDB.
    pub async fn emulator_on_mariadb() -> Self {
        let emu = Emulator::start().await;
        emu.on_mariadb();
        Self::from_emulator(emu)
    }

    /// The emulator as a real Keycloak: its version, and its database where the emulator models
    /// it (MariaDB), for a differential test.
    pub async fn emulator_like(real: &Kc) -> Self {
        let emu = Emulator::start_as(real.version, "").await;
        if real.database() == "mariadb" {
            emu.on_mariadb();
        }
        Self::from_emulator(emu)
    }

    fn from_emulator(emu: Emulator) -> Self {
        Self {
            base_url: emu.base_url.clone(),
            version: emu.version(),
            backend: Backend::Emulator(emu),
        }
    }

    /// The real Keycloak `tests/keycloak/keycloak.sh` started, with a fresh realm `data-sec`.
    pub async fn real() -> Self {
        Self::real_at("").await
    }

    /// The same, with the API under `prefix` (as behind a reverse proxy mapping `/auth`).
    pub async fn real_at(prefix: &str) -> Self {
        let endpoint = real::endpoint().expect(
            "OMKC_TEST_KEYCLOAK_URL names a real Keycloak (tests/keycloak/keycloak.sh start VERSION)",
        );
        let admin = Admin::new(&endpoint);
        admin.set_master_token_lifespan(60).await;
        admin.fresh_realm(REALM).await;
        let proxy = Proxy::start(&endpoint.url, prefix).await;
        Self {
            base_url: proxy.base_url.clone(),
            version: parse_version(&endpoint.version),
            backend: Backend::Real { admin, proxy },
        }
    }

    /// The emulator, when that is the target (for what only it can do).
    pub fn emulator_only(&self) -> Option<&Emulator> {
        match &self.backend {
            Backend::Emulator(e) => Some(e),
            Backend::Real { .. } => None,
        }
    }

    /// The database the target keeps its realms in: `dev-file`, `postgres` or `mariadb` (a
    /// real one's as `tests/keycloak/keycloak.sh` started it, `OMKC_TEST_KEYCLOAK_DB`).
    pub fn database(&self) -> String {
        match &self.backend {
            Backend::Emulator(e) if e.database() == emulator::model::Database::MariaDb => {
                "mariadb".into()
            }
            Backend::Emulator(_) => "dev-file".into(),
            Backend::Real { .. } => {
                std::env::var("OMKC_TEST_KEYCLOAK_DB").unwrap_or_else(|_| "dev-file".into())
            }
        }
    }

    /// Whether this is a real Keycloak.
    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real { .. })
    }

    /// The admin API as the bootstrap admin (real Keycloak only).
    pub fn admin(&self) -> Option<&Admin> {
        match &self.backend {
            Backend::Real { admin, .. } => Some(admin),
            Backend::Emulator(_) => None,
        }
    }

    /// What the target is, for failure messages.
    pub fn describe(&self) -> String {
        let (major, minor, patch) = self.version;
        match self.backend {
            Backend::Emulator(_) => format!("the emulator (as Keycloak {major}.{minor}.{patch})"),
            Backend::Real { .. } => format!("real Keycloak {major}.{minor}.{patch}"),
        }
    }

    /// The admin credentials of `master`.
    pub fn admin_credentials(&self) -> Credentials {
        let (username, password) = match &self.backend {
            Backend::Emulator(_) => (
                emulator::ADMIN_USER.to_string(),
                emulator::ADMIN_PASSWORD.to_string(),
            ),
            Backend::Real { .. } => {
                let e = real::endpoint().expect("endpoint");
                (e.user, e.password)
            }
        };
        Credentials::Password { username, password }
    }

    /// A session as the admin of `master`.
    pub fn admin_session(&self) -> Arc<Session> {
        self.session(self.admin_credentials())
    }

    /// A session with these credentials (admin realm `master`).
    pub fn session(&self, credentials: Credentials) -> Arc<Session> {
        session_at(&self.base_url, credentials)
    }

    /// [`Self::session`], its requests counted in `metrics`.
    pub fn session_counted_in(
        &self,
        credentials: Credentials,
        metrics: Arc<omkc::telemetry::Metrics>,
    ) -> Arc<Session> {
        crate::support::session_of(&self.base_url, credentials, None, metrics)
    }

    /// Answers the first request matching `method` and `path_contains` with this status and
    /// body instead of Keycloak (the emulator, or the proxy in front of a real Keycloak).
    pub fn inject(
        &self,
        method: Option<&'static str>,
        path_contains: &str,
        status: u16,
        body: &str,
    ) {
        self.inject_fault(Fault::once(method, path_contains, status, body));
    }

    /// Queues a fault.
    pub fn inject_fault(&self, fault: Fault) {
        match &self.backend {
            Backend::Emulator(e) => e.inject_fault(fault),
            Backend::Real { proxy, .. } => proxy.inject_fault(fault),
        }
    }

    /// Stops answering: further connections are refused.
    pub fn stop(&self) {
        match &self.backend {
            Backend::Emulator(e) => e.stop(),
            Backend::Real { proxy, .. } => proxy.stop(),
        }
    }
}

/// Where a client scope sits on a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// A default scope (always in the token).
    Default,
    /// An optional scope (in the token when the `scope` parameter asks for it).
    Optional,
    /// Not on the client.
    None,
}

mod seed;

mod read;
