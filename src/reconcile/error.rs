//! What a reconcile can fail with, and the [`Reason`] of each failure.

use crate::{keycloak::KeycloakError, reason::Reason, validate::InvalidSpec};

/// Everything a reconcile can fail with. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid.
    #[error("invalid spec: {0}")]
    InvalidSpec(#[from] InvalidSpec),
    /// The credentials Secret does not exist.
    #[error("credentials Secret {0:?} not found in the resource's namespace")]
    CredentialsNotFound(String),
    /// The credentials Secret lacks the expected keys.
    #[error("credentials Secret {name:?}: {problem}")]
    CredentialsInvalid {
        /// Secret name.
        name: String,
        /// What is wrong (names keys, never values).
        problem: String,
    },
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
    /// The Kubernetes API failed.
    #[error("Kubernetes API error: {0}")]
    Kube(#[source] kube::Error),
    /// The finalizer machinery failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl Error {
    /// The condition and Event reason of this failure.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidSpec(_) => Reason::InvalidSpec,
            Self::CredentialsNotFound(_) => Reason::CredentialsNotFound,
            Self::CredentialsInvalid { .. } => Reason::CredentialsInvalid,
            Self::Keycloak(e) => keycloak_reason(e),
            Self::ClientConflict(_) => Reason::ClientConflict,
            Self::SecretConflict(_) => Reason::SecretConflict,
            Self::Kube(_) => Reason::KubernetesError,
            Self::Finalizer(_) => Reason::FinalizerError,
        }
    }

    /// Whether waiting and retrying may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        self.reason().is_transient()
    }
}

/// The reason of a Keycloak failure.
pub fn keycloak_reason(e: &KeycloakError) -> Reason {
    match e {
        KeycloakError::Unreachable(_) | KeycloakError::Server { .. } => Reason::KeycloakUnavailable,
        KeycloakError::Conflict(_) => Reason::KeycloakConflict,
        KeycloakError::CredentialsRejected { .. } => Reason::CredentialsRejected,
        KeycloakError::Forbidden { .. } => Reason::KeycloakForbidden,
        KeycloakError::RealmNotFound(_) => Reason::RealmNotFound,
        KeycloakError::ScopeNotFound(_) => Reason::ScopeNotFound,
        KeycloakError::Rejected { .. } => Reason::KeycloakRejected,
        KeycloakError::Protocol(_) => Reason::KeycloakProtocolError,
        KeycloakError::InvalidCaBundle(_) => Reason::InvalidSpec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Class;

    /// One error of every kind. The matches stop compiling when a variant is added, as a
    /// reminder to sample it here.
    pub(crate) fn one_of_each() -> Vec<Error> {
        fn _every_variant_is_sampled(e: &Error, k: &KeycloakError) {
            match e {
                Error::InvalidSpec(_)
                | Error::CredentialsNotFound(_)
                | Error::CredentialsInvalid { .. }
                | Error::Keycloak(_)
                | Error::ClientConflict(_)
                | Error::SecretConflict(_)
                | Error::Kube(_)
                | Error::Finalizer(_) => {}
            }
            match k {
                KeycloakError::Unreachable(_)
                | KeycloakError::Server { .. }
                | KeycloakError::Conflict(_)
                | KeycloakError::CredentialsRejected { .. }
                | KeycloakError::Forbidden { .. }
                | KeycloakError::RealmNotFound(_)
                | KeycloakError::ScopeNotFound(_)
                | KeycloakError::Rejected { .. }
                | KeycloakError::InvalidCaBundle(_)
                | KeycloakError::Protocol(_) => {}
            }
        }
        let m = || "m".to_string();
        let keycloak = vec![
            KeycloakError::Unreachable(m()),
            KeycloakError::Server {
                status: 503,
                message: m(),
            },
            KeycloakError::Conflict(m()),
            KeycloakError::CredentialsRejected {
                status: 401,
                message: m(),
            },
            KeycloakError::Forbidden {
                status: 403,
                message: m(),
            },
            KeycloakError::RealmNotFound(m()),
            KeycloakError::ScopeNotFound(m()),
            KeycloakError::Rejected {
                status: 400,
                message: m(),
            },
            KeycloakError::InvalidCaBundle(m()),
            KeycloakError::Protocol(m()),
        ];
        let mut all: Vec<Error> = keycloak.into_iter().map(Error::Keycloak).collect();
        all.extend([
            Error::InvalidSpec(InvalidSpec {
                field: m(),
                message: m(),
            }),
            Error::CredentialsNotFound(m()),
            Error::CredentialsInvalid {
                name: m(),
                problem: m(),
            },
            Error::ClientConflict(m()),
            Error::SecretConflict(m()),
            Error::Kube(kube::Error::LinesCodecMaxLineLengthExceeded),
            Error::Finalizer(m()),
        ]);
        all
    }

    #[test]
    fn every_failure_maps_to_a_condition_reason_and_every_condition_reason_is_reachable() {
        let reached: std::collections::BTreeSet<Reason> =
            one_of_each().iter().map(Error::reason).collect();
        for r in &reached {
            assert!(
                matches!(r.class(), Class::Permanent | Class::Transient),
                "{r} is not a failure reason"
            );
        }
        let failures: std::collections::BTreeSet<Reason> = Reason::ALL
            .iter()
            .copied()
            .filter(|r| matches!(r.class(), Class::Permanent | Class::Transient))
            .collect();
        assert_eq!(reached, failures, "a failure reason no error produces");
    }
}
