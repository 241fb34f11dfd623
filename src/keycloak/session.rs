//! [`Session`]: one authenticated connection to Keycloak's Admin API and its verbs.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use keycloak::types::{ClientRepresentation, CredentialRepresentation};
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::{
    ConnectionSpec, KeycloakError, ObservedClient, SecretValue, TokenCache,
    error::from_status,
    http::{Answer, Transport},
};
use crate::urls::{checked_issuer, realm_url, route_path};

use crate::sync::Locked;

/// A realm's clients, and one client.
const CLIENTS: &str = "/admin/realms/{realm}/clients";
const CLIENT: &str = "/admin/realms/{realm}/clients/{id}";

/// How long a realm's issuer read from its discovery document is reused.
const ISSUER_TTL: Duration = Duration::from_secs(3600);

/// One authenticated connection to Keycloak's Admin API.
pub struct Session {
    transport: Transport,
    base_url: String,
    tokens: TokenCache,
    /// Issuers by realm, from the discovery documents, with when they were read.
    issuers: Mutex<HashMap<String, (String, Instant)>>,
    /// Whether this Keycloak ignored `authorizationServicesEnabled: true` (feature disabled).
    authorization_ignored: AtomicBool,
}

impl Session {
    /// Opens a session on `transport` (no request is made until the first call).
    pub(crate) fn open(spec: &ConnectionSpec, transport: Transport) -> Self {
        let base_url = spec.key.base_url.trim_end_matches('/').to_string();
        let tokens = TokenCache::new(
            transport.clone(),
            &base_url,
            &spec.key.admin_realm,
            spec.credentials.clone(),
        );
        Self {
            transport,
            base_url,
            tokens,
            issuers: Mutex::default(),
            authorization_ignored: AtomicBool::new(false),
        }
    }

    /// One Admin API call with a valid token; on 401 renews the token once and retries (a 401
    /// to the renewed token is [`KeycloakError::TokenRefused`]).
    /// `route` is the path under the base URL with `{…}` placeholders, filled in turn by
    /// `args` (percent-encoded); the first of a realm's route is the realm.
    pub(super) async fn call(
        &self,
        method: Method,
        route: &'static str,
        args: &[&str],
        query: &[(&str, &str)],
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<Answer, KeycloakError> {
        let url = format!("{}{}", self.base_url, route_path(route, args));
        let realm = match route.starts_with("/admin/realms/{realm}") {
            true => args[0],
            false => "",
        };
        let mut renewed = false;
        loop {
            let token = self.tokens.get().await?;
            let answer = self
                .transport
                .send(method.clone(), route, &url, |r| {
                    let r = r.bearer_auth(&token.value).query(query);
                    match body {
                        Some(b) => b.attach(r),
                        None => r,
                    }
                })
                .await?;
            match answer.status {
                200..=299 => return Ok(answer),
                401 if !renewed => {
                    self.tokens.invalidate().await;
                    renewed = true;
                }
                401 => return Err(self.tokens.refused(&token).await),
                status => return Err(from_status(status, &answer.body, answer.retry_after, realm)),
            }
        }
    }

    pub(super) fn parse<T: DeserializeOwned>(
        answer: &Answer,
        what: &str,
    ) -> Result<T, KeycloakError> {
        serde_json::from_str(&answer.body).map_err(|_| {
            KeycloakError::Protocol(format!("{what} is not what the Admin API promises"))
        })
    }

    /// A list of client representations.
    fn clients(answer: &Answer, what: &str) -> Result<Vec<ClientRepresentation>, KeycloakError> {
        let raw: Vec<serde_json::Value> = Self::parse(answer, what)?;
        raw.into_iter().map(|c| Self::client(c, what)).collect()
    }

    /// One client representation. An attribute stored without a value (older versions,
    /// imports) comes back as `null`: it carries nothing the operator manages and is dropped,
    /// so that one such client does not make the others unreadable.
    fn client(
        mut raw: serde_json::Value,
        what: &str,
    ) -> Result<ClientRepresentation, KeycloakError> {
        if let Some(attributes) = raw
            .get_mut("attributes")
            .and_then(serde_json::Value::as_object_mut)
        {
            attributes.retain(|_, value| !value.is_null());
        }
        serde_json::from_value(raw).map_err(|_| {
            KeycloakError::Protocol(format!("{what} is not what the Admin API promises"))
        })
    }

    /// The client with exactly this `clientId` (`GET /clients?clientId=`): the full
    /// representation with flags, attributes, URIs, default scope names and the secret.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<ObservedClient>, KeycloakError> {
        let answer = self
            .call(
                Method::GET,
                CLIENTS,
                &[realm],
                &[("clientId", client_id)],
                None,
            )
            .await?;
        let mut list = Self::clients(&answer, "the client list")?;
        // `clientId=` is the database's equality: exact on PostgreSQL and H2, without case or
        // accents on MySQL and MariaDB (Keycloak 26.7.4 on MariaDB 10.11 answers `OpenMetadata`
        // with the client `openmetadata`, `cafe` with `café`, and refuses to create the one
        // beside the other, 409). Such a namesake, the one client of the answer, is returned:
        // the plan refuses it unless it is this resource's own. A longer list is not an
        // equality's answer: only an exact match is taken from it.
        let exact = list
            .iter()
            .position(|c| c.client_id.as_deref() == Some(client_id));
        let namesake = (list.len() == 1).then_some(0);
        Ok(exact
            .or(namesake)
            .map(|i| ObservedClient::new(list.swap_remove(i))))
    }

    /// The client with this internal id, or `None` when it does not exist.
    pub async fn get_client(
        &self,
        realm: &str,
        uuid: &str,
    ) -> Result<Option<ObservedClient>, KeycloakError> {
        match self
            .call(Method::GET, CLIENT, &[realm, uuid], &[], None)
            .await
        {
            Ok(answer) => {
                let rep = Self::parse(&answer, "the client")?;
                Ok(Some(ObservedClient::new(Self::client(rep, "the client")?)))
            }
            Err(KeycloakError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a client and returns its internal id (from the `Location` header).
    pub async fn create_client(
        &self,
        realm: &str,
        client: &ClientRepresentation,
    ) -> Result<String, KeycloakError> {
        let answer = self
            .call(Method::POST, CLIENTS, &[realm], &[], Some(&client))
            .await?;
        answer
            .location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                KeycloakError::Protocol("client created without a Location header".into())
            })
    }

    /// Partially updates a client (Keycloak keeps scalar fields absent from `client`).
    pub async fn update_client(
        &self,
        realm: &str,
        uuid: &str,
        client: &ClientRepresentation,
    ) -> Result<(), KeycloakError> {
        self.call(Method::PUT, CLIENT, &[realm, uuid], &[], Some(&client))
            .await
            .map(drop)
    }

    /// Deletes a client; an id that no longer exists counts as deleted.
    pub async fn delete_client(&self, realm: &str, uuid: &str) -> Result<(), KeycloakError> {
        missing_is_done(
            self.call(Method::DELETE, CLIENT, &[realm, uuid], &[], None)
                .await,
        )
    }

    /// Regenerates the client's secret now (the old one stops working) and returns the new one.
    pub async fn regenerate_secret(
        &self,
        realm: &str,
        uuid: &str,
    ) -> Result<SecretValue, KeycloakError> {
        let route = "/admin/realms/{realm}/clients/{id}/client-secret";
        let answer = self
            .call(Method::POST, route, &[realm, uuid], &[], None)
            .await?;
        let credential: CredentialRepresentation = Self::parse(&answer, "the new secret")?;
        credential
            .value
            .filter(|v| !v.is_empty())
            .map(SecretValue)
            .ok_or_else(|| KeycloakError::Protocol("the regenerated secret is empty".into()))
    }

    /// Records that this Keycloak ignores `authorizationServicesEnabled: true`.
    pub fn note_authorization_ignored(&self) {
        self.authorization_ignored.store(true, Ordering::Relaxed);
    }

    /// Whether this Keycloak was seen ignoring `authorizationServicesEnabled: true`.
    pub fn authorization_ignored(&self) -> bool {
        self.authorization_ignored.load(Ordering::Relaxed)
    }

    /// Signs in (or reuses a valid token): whether the credentials are accepted.
    pub async fn sign_in(&self) -> Result<(), KeycloakError> {
        self.tokens.get().await.map(drop)
    }

    /// Whether the signed-in account may manage the realm's clients, from the `access` object
    /// Keycloak adds to each listed client (every realm has built-in clients to list).
    pub async fn may_manage_clients(&self, realm: &str) -> Result<bool, KeycloakError> {
        let first = &[("first", "0"), ("max", "1")];
        let answer = self
            .call(Method::GET, CLIENTS, &[realm], first, None)
            .await?;
        let list = Self::clients(&answer, "the client list")?;
        Ok(list
            .first()
            .and_then(|c| c.access.as_ref())
            .and_then(|a| a.get("manage"))
            .copied()
            .unwrap_or(false))
    }

    /// The realm's issuer URL under this connection's base URL.
    pub fn realm_url(&self, realm: &str) -> String {
        realm_url(&self.base_url, realm)
    }

    /// The realm's issuer as Keycloak announces it in the realm's discovery document: with
    /// Keycloak's hostname configured, the URL browsers use, even when the operator reaches
    /// Keycloak by another one. Read at most once an hour per realm (no token needed).
    pub async fn issuer(&self, realm: &str) -> Result<String, KeycloakError> {
        let cached = self
            .issuers
            .locked()
            .get(realm)
            .filter(|(_, at)| still_fresh(*at, Instant::now()))
            .map(|(issuer, _)| issuer.clone());
        if let Some(issuer) = cached {
            return Ok(issuer);
        }
        let route = "/realms/{realm}/.well-known/openid-configuration";
        let url = format!("{}{}", self.base_url, route_path(route, &[realm]));
        let answer = self.transport.send(Method::GET, route, &url, |r| r).await?;
        if !(200..=299).contains(&answer.status) {
            return Err(from_status(
                answer.status,
                &answer.body,
                answer.retry_after,
                realm,
            ));
        }
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
        }
        let discovery: Discovery = Self::parse(&answer, "the realm's discovery document")?;
        let issuer = checked_issuer(&discovery.issuer, realm).ok_or_else(|| {
            KeycloakError::Protocol("the realm's discovery document has no usable issuer".into())
        })?;
        self.issuers
            .locked()
            .insert(realm.to_string(), (issuer.clone(), Instant::now()));
        Ok(issuer)
    }
}

/// Whether an issuer read at `read_at` is still used at `now`.
fn still_fresh(read_at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(read_at) < ISSUER_TTL
}

/// A removal that found nothing to remove is done.
pub(super) fn missing_is_done<T>(result: Result<T, KeycloakError>) -> Result<(), KeycloakError> {
    match result {
        Ok(_) | Err(KeycloakError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Request bodies of any serializable type, behind one object-safe trait.
#[path = "erased.rs"]
mod erased;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_is_read_again_an_hour_after_it_was_read() {
        let read = Instant::now();
        assert!(still_fresh(read, read));
        assert!(still_fresh(
            read,
            read + ISSUER_TTL - Duration::from_millis(1)
        ));
        assert!(!still_fresh(read, read + ISSUER_TTL));
    }
}
