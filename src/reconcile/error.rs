//! What a reconcile can fail with, and the [`Reason`] of each failure.

use std::time::Duration;

use crate::{events::truncate, keycloak::KeycloakError, reason::Reason, validate::InvalidSpec};

/// Everything a reconcile can fail with. Messages never contain secret values, nor text chosen
/// by a remote server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid.
    #[error("invalid spec: {0}")]
    InvalidSpec(#[from] InvalidSpec),
    /// The credentials Secret (`namespace/name`) does not exist.
    #[error("credentials Secret {0} not found")]
    CredentialsNotFound(String),
    /// The credentials Secret lacks the expected keys.
    #[error("credentials Secret {name}: {problem}")]
    CredentialsInvalid {
        /// Secret name.
        name: String,
        /// What is wrong (names keys, never values).
        problem: String,
    },
    /// The credentials Secret may not be used (no opt-in label, or bound to another URL).
    #[error("{0}")]
    CredentialsNotAllowed(String),
    /// The named ClusterKeycloakConnection does not exist.
    #[error("ClusterKeycloakConnection {0:?} not found")]
    ConnectionNotFound(String),
    /// The connection does not allow this namespace, or inline connections are off.
    #[error("{0}")]
    ConnectionNotAllowed(String),
    /// The connection does not allow this realm.
    #[error("{0}")]
    RealmNotAllowed(String),
    /// The connection already serves as many resources as it allows.
    #[error("{0}")]
    ConnectionClientLimit(String),
    /// The connection's own spec is unusable (the platform team's to fix).
    #[error("{0}")]
    ConnectionInvalid(String),
    /// Keycloak refused or failed.
    #[error(transparent)]
    Keycloak(#[from] KeycloakError),
    /// A client with this clientId exists and this resource may not take it.
    #[error("{0}")]
    ClientConflict(String),
    /// A Secret with the output name exists and is not owned by this resource.
    #[error(
        "Secret {0:?} exists and is not owned by this resource; the operator will not overwrite it (delete it or choose spec.secret.name)"
    )]
    SecretConflict(String),
    /// A ConfigMap with the values name exists and is not owned by this resource.
    #[error(
        "ConfigMap {0:?} exists and is not owned by this resource; the operator will not overwrite it (delete it or choose spec.openmetadata.valuesConfigMap.name)"
    )]
    ConfigMapConflict(String),
    /// The source Secret of the client secret (`spec.secret.source`) does not exist.
    #[error("source Secret {0:?} (spec.secret.source) not found")]
    SecretSourceNotFound(String),
    /// The source Secret may not be read, or does not hold a usable value.
    #[error("source Secret {name:?} (spec.secret.source): {problem}")]
    SecretSourceInvalid {
        /// Secret name.
        name: String,
        /// What is wrong (names keys and labels, never values).
        problem: String,
    },
    /// The Kubernetes API refused a write because of what the spec asks (400, 403, 422):
    /// retrying without a change cannot help.
    #[error("Kubernetes refused to {action} (HTTP {status}): {message}")]
    KubeRejected {
        /// What the operator tried, in its own words.
        action: String,
        /// HTTP status.
        status: u16,
        /// The API server's explanation (bounded).
        message: String,
    },
    /// The whole reconcile took longer than its bound: a slow Keycloak or API server must not
    /// hold a worker for ever; retried.
    #[error(
        "the reconcile took longer than {}s (Keycloak or the Kubernetes API answers slowly); it is retried",
        .0.as_secs()
    )]
    TimedOut(std::time::Duration),
    /// The Kubernetes API failed (network, 5xx, conflicts); retried.
    #[error("Kubernetes API error while trying to {action}: {source}")]
    Kube {
        /// What the operator tried.
        action: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// A Kubernetes failure while doing `action`, classified: refusals the spec causes are
    /// permanent, everything else is retried.
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        let action = action.into();
        match &source {
            kube::Error::Api(status) if matches!(status.code, 400 | 403 | 422) => {
                Self::KubeRejected {
                    action,
                    status: status.code,
                    message: truncate(&status.message, 300),
                }
            }
            _ => Self::Kube { action, source },
        }
    }

    /// The condition and Event reason of this failure.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidSpec(_) => Reason::InvalidSpec,
            Self::CredentialsNotFound(_) => Reason::CredentialsNotFound,
            Self::CredentialsInvalid { .. } => Reason::CredentialsInvalid,
            Self::CredentialsNotAllowed(_) => Reason::CredentialsNotAllowed,
            Self::ConnectionNotFound(_) => Reason::ConnectionNotFound,
            Self::ConnectionNotAllowed(_) => Reason::ConnectionNotAllowed,
            Self::RealmNotAllowed(_) => Reason::RealmNotAllowed,
            Self::ConnectionInvalid(_) => Reason::ConnectionInvalid,
            Self::ConnectionClientLimit(_) => Reason::ConnectionClientLimit,
            Self::Keycloak(e) => keycloak_reason(e),
            Self::ClientConflict(_) => Reason::ClientConflict,
            Self::SecretConflict(_) => Reason::SecretConflict,
            Self::ConfigMapConflict(_) => Reason::ConfigMapConflict,
            Self::SecretSourceNotFound(_) => Reason::SecretSourceNotFound,
            Self::SecretSourceInvalid { .. } => Reason::SecretSourceInvalid,
            Self::KubeRejected { .. } => Reason::KubernetesRejected,
            Self::Kube { .. } => Reason::KubernetesError,
            Self::TimedOut(_) => Reason::ReconcileTimedOut,
        }
    }

    /// Whether waiting and retrying may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        self.reason().is_transient()
    }

    /// The delay the failing service asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Keycloak(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// The reason of a Keycloak failure.
pub fn keycloak_reason(e: &KeycloakError) -> Reason {
    match e {
        KeycloakError::Unreachable(_)
        | KeycloakError::Server { .. }
        | KeycloakError::Throttled { .. } => Reason::KeycloakUnavailable,
        // Something changed under the operator (a concurrent create, a client deleted between
        // two calls): the next attempt sees the new state.
        KeycloakError::Conflict | KeycloakError::NotFound => Reason::KeycloakConflict,
        KeycloakError::CredentialsRejected { .. } => Reason::CredentialsRejected,
        KeycloakError::Forbidden { .. } | KeycloakError::MayNotManage => Reason::KeycloakForbidden,
        KeycloakError::RealmNotFound(_) => Reason::RealmNotFound,
        KeycloakError::ScopeNotFound(_) => Reason::ScopeNotFound,
        KeycloakError::Rejected { .. } | KeycloakError::Redirected { .. } => {
            Reason::KeycloakRejected
        }
        KeycloakError::Protocol(_) => Reason::KeycloakProtocolError,
        KeycloakError::InvalidCaBundle(_) => Reason::InvalidSpec,
    }
}

#[cfg(test)]
mod tests;
