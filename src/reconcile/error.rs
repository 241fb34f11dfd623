//! What a reconcile can fail with: one type, a [`Reason`] and a message (and the delay the
//! failing service asked for). The reason says everything else: the condition, the Event's
//! type, whether to retry, the exit code of `check`. A failure is classified once, where it
//! enters: Keycloak's through `From<KeycloakError>`, Kubernetes' through [`Error::kube`], the
//! operator's own refusals by their constructors.

use std::{fmt, time::Duration};

use crate::{events::truncate, keycloak::KeycloakError, reason::Reason, validate::InvalidSpec};

/// A failure of a reconcile. Messages never contain secret values, nor text chosen by a remote
/// server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    reason: Reason,
    message: String,
    retry_after: Option<Duration>,
    status: Option<u16>,
    /// Met while the resource's namespace is being deleted (see [`Error::in_namespace_deletion`]).
    namespace_deleted: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<KeycloakError> for Error {
    fn from(e: KeycloakError) -> Self {
        Self {
            reason: e.reason(),
            message: e.to_string(),
            retry_after: e.retry_after(),
            status: None,
            namespace_deleted: false,
        }
    }
}

impl From<InvalidSpec> for Error {
    fn from(e: InvalidSpec) -> Self {
        Self::new(Reason::InvalidSpec, format!("invalid spec: {e}"))
    }
}

impl Error {
    /// A failure with `reason`, said by `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retry_after: None,
            status: None,
            namespace_deleted: false,
        }
    }

    /// A Kubernetes failure while doing `action`, classified: refusals the spec causes (400,
    /// 403, 422) are permanent, everything else (network, 5xx, conflicts) is retried.
    pub fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        let action = action.into();
        match &source {
            kube::Error::Api(status) if matches!(status.code, 400 | 403 | 422) => Self {
                status: Some(status.code),
                ..Self::new(
                    Reason::KubernetesRejected,
                    format!(
                        "Kubernetes refused to {action} (HTTP {}): {}",
                        status.code,
                        truncate(&status.message, 300)
                    ),
                )
            },
            _ => Self::kube_retried(&action, source),
        }
    }

    /// A Kubernetes failure while doing `action`, retried whatever its status (a refusal that
    /// cannot be the spec's fault, such as a stale copy's failed patch `test`).
    pub fn kube_retried(action: &str, source: kube::Error) -> Self {
        Self::new(
            Reason::KubernetesError,
            format!("Kubernetes API error while trying to {action}: {source}"),
        )
    }

    /// The credentials Secret `namespace/name` does not exist.
    pub fn credentials_not_found(shown: impl fmt::Display) -> Self {
        Self::new(
            Reason::CredentialsNotFound,
            format!("credentials Secret {shown} not found"),
        )
    }

    /// The credentials Secret `shown` is unusable (`problem` names keys, never values).
    pub fn credentials_invalid(shown: impl fmt::Display, problem: impl fmt::Display) -> Self {
        Self::new(
            Reason::CredentialsInvalid,
            format!("credentials Secret {shown}: {problem}"),
        )
    }

    /// The named ClusterKeycloakConnection does not exist.
    pub fn connection_not_found(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        Self::new(
            Reason::ConnectionNotFound,
            format!("ClusterKeycloakConnection {name:?} not found"),
        )
    }

    /// A Secret with the output name exists and is not owned by this resource.
    pub fn secret_conflict(name: String) -> Self {
        Self::new(
            Reason::SecretConflict,
            format!(
                "Secret {name:?} exists and is not owned by this resource; the operator will not overwrite it (delete it or choose spec.secret.name)"
            ),
        )
    }

    /// A ConfigMap with the values name exists and is not owned by this resource.
    pub fn config_map_conflict(name: String) -> Self {
        Self::new(
            Reason::ConfigMapConflict,
            format!(
                "ConfigMap {name:?} exists and is not owned by this resource; the operator will not overwrite it (delete it or choose spec.openmetadata.valuesConfigMap.name)"
            ),
        )
    }

    /// The source Secret of the client secret (`spec.secret.source`) does not exist.
    pub fn source_not_found(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        Self::new(
            Reason::SecretSourceNotFound,
            format!("source Secret {name:?} (spec.secret.source) not found"),
        )
    }

    /// The source Secret may not be read, or does not hold a usable value (`problem` names
    /// keys and labels, never values).
    pub fn source_invalid(name: &str, problem: impl fmt::Display) -> Self {
        Self::new(
            Reason::SecretSourceInvalid,
            format!("source Secret {name:?} (spec.secret.source): {problem}"),
        )
    }

    /// The whole reconcile took longer than `bound`: a slow Keycloak or API server must not
    /// hold a worker for ever; retried.
    pub fn timed_out(bound: Duration) -> Self {
        Self::new(
            Reason::ReconcileTimedOut,
            format!(
                "the reconcile took longer than {}s (Keycloak or the Kubernetes API answers slowly); it is retried",
                bound.as_secs()
            ),
        )
    }

    /// The condition and Event reason of this failure.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether waiting and retrying may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        self.reason.is_transient()
    }

    /// The delay the failing service asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether Kubernetes refused with this HTTP status (403: the role does not grant it).
    pub fn refused_with(&self, code: u16) -> bool {
        self.status == Some(code)
    }

    /// This failure, known to be what the deletion of the resource's namespace does (its
    /// Secrets go first, new objects are refused): logged as news, not as a warning.
    pub fn in_namespace_deletion(self) -> Self {
        Self {
            namespace_deleted: true,
            ..self
        }
    }

    /// Whether [`Error::in_namespace_deletion`] marked this failure.
    pub fn during_namespace_deletion(&self) -> bool {
        self.namespace_deleted
    }
}

#[cfg(test)]
mod tests;
