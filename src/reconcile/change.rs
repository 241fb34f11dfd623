//! What a reconcile changed, as values. Rendered to text in exactly one place ([`fmt::Display`]),
//! so tests compare values and the wording can change freely.

use std::fmt;

use super::desired::ClientField;
use crate::reason::Reason;

/// One change made in Keycloak or Kubernetes, or (on deletion) what was left there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The client was created.
    ClientCreated { client_id: String, realm: String },
    /// An existing client without owner was taken over (`adoptExisting`).
    ClientAdopted { client_id: String },
    /// Managed fields of the client were corrected.
    ClientUpdated {
        client_id: String,
        fields: Vec<ClientField>,
    },
    /// Default client scopes were added.
    ScopesAdded { scopes: Vec<String> },
    /// The client got a (new) secret.
    SecretRegenerated { client_id: String },
    /// The output Secret was created.
    SecretCreated { name: String },
    /// The output Secret's data was changed.
    SecretUpdated { name: String },
    /// A previous output Secret (before a rename) was deleted.
    SecretRemoved { name: String },
    /// A new client secret was generated because a rotation was asked for or due.
    SecretRotated {
        client_id: String,
        trigger: Rotation,
    },
    /// A rotation asked for with `omkc.dev/rotate` waits: the client's secret is younger than
    /// the shortest interval between two rotations.
    RotationDeferred {
        client_id: String,
        /// The annotation's new value.
        token: String,
        /// When it is done (epoch seconds).
        until: i64,
        /// The shortest interval, as configured.
        gap: String,
    },
    /// The client secret in Keycloak was set to the source Secret's value.
    SecretSetFromSource { client_id: String, source: String },
    /// The values ConfigMap was created or its content changed.
    ValuesWritten { name: String },
    /// A previous values ConfigMap (before a rename, or values no longer asked for) was deleted.
    ValuesRemoved { name: String },
    /// A workload's pods were restarted to read the changed Secret.
    WorkloadRestarted {
        /// `Deployment` or `StatefulSet`.
        kind: String,
        name: String,
    },
    /// A workload named in `spec.secret.rollout` is restarted for another resource.
    WorkloadClaimed {
        /// `Deployment` or `StatefulSet`.
        kind: String,
        name: String,
        other: String,
    },
    /// A workload named in `spec.secret.rollout` does not exist.
    WorkloadMissing {
        /// `Deployment` or `StatefulSet`.
        kind: String,
        name: String,
    },
    /// The operator may not restart a workload named in `spec.secret.rollout`.
    WorkloadRestartForbidden {
        /// `Deployment` or `StatefulSet`.
        kind: String,
        name: String,
    },
    /// The resource was deleted, and its client with it.
    ClientDeleted { client_id: String, realm: String },
    /// The resource was deleted; its client stays (`deletionPolicy: Retain`, or adopted).
    ClientRetained { client_id: String, realm: String },
    /// The resource was deleted; its client was already gone from Keycloak.
    ClientGone { client_id: String },
    /// The resource was deleted; the client of that id is not its own, and stays.
    ClientNotOurs { client_id: String },
    /// The resource was deleted and its client could not be: it is left in Keycloak.
    ClientOrphaned {
        /// Keycloak client id, as the status recorded it.
        client_id: String,
        /// Keycloak's internal id, as the status recorded it.
        uuid: String,
        /// Where: the realm and the connection (empty when the spec is invalid).
        place: String,
        /// Why cleanup is impossible.
        why: String,
    },
    /// A resource that does not parse was deleted: what client it made cannot be known.
    UnreadableOrphaned { error: String },
}

/// Why a client secret was rotated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The `omkc.dev/rotate` annotation took this new value.
    OnDemand(String),
    /// `spec.secret.rotationInterval` elapsed since the secret was made.
    Scheduled(String),
    /// `spec.secret.rotationInterval` is set and Keycloak does not say when the secret was
    /// made (a secret given rather than generated, an imported client): its age is unknown, so
    /// the rotation counts as due, once; the new secret carries its creation time.
    AgeUnknown(String),
}

impl Change {
    /// The reason of the Event that reports this change: one per kind of change, so a series
    /// of Events never mixes kinds.
    pub fn reason(&self) -> Reason {
        match self {
            Self::ClientCreated { .. } => Reason::ClientCreated,
            Self::ClientAdopted { .. } => Reason::ClientAdopted,
            Self::ClientUpdated { .. } => Reason::ClientUpdated,
            Self::ScopesAdded { .. } => Reason::ScopesAdded,
            Self::SecretRegenerated { .. } => Reason::SecretRegenerated,
            Self::SecretCreated { .. } | Self::SecretUpdated { .. } => Reason::SecretWritten,
            Self::SecretRemoved { .. } => Reason::SecretRemoved,
            Self::SecretRotated { .. } => Reason::SecretRotated,
            Self::SecretSetFromSource { .. } => Reason::SecretSetFromSource,
            Self::RotationDeferred { .. } => Reason::RotationDeferred,
            Self::ValuesWritten { .. } => Reason::ValuesWritten,
            Self::ValuesRemoved { .. } => Reason::ValuesRemoved,
            Self::WorkloadRestarted { .. } => Reason::WorkloadRestarted,
            Self::ClientDeleted { .. } | Self::ClientGone { .. } | Self::ClientNotOurs { .. } => {
                Reason::ClientDeleted
            }
            Self::ClientRetained { .. } => Reason::ClientRetained,
            Self::WorkloadClaimed { .. } => Reason::WorkloadClaimed,
            Self::WorkloadMissing { .. } => Reason::WorkloadNotFound,
            Self::WorkloadRestartForbidden { .. } => Reason::WorkloadRestartForbidden,
            Self::ClientOrphaned { .. } | Self::UnreadableOrphaned { .. } => Reason::ClientOrphaned,
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCreated { client_id, realm } => {
                write!(f, "created client {client_id:?} in realm {realm:?}")
            }
            Self::ClientAdopted { client_id } => write!(f, "adopted existing client {client_id:?}"),
            Self::ClientUpdated { client_id, fields } => {
                write!(f, "updated client {client_id:?}: {}", join(fields))
            }
            Self::ScopesAdded { scopes } => {
                write!(f, "added default client scopes: {}", join(scopes))
            }
            Self::SecretRegenerated { client_id } => {
                write!(f, "generated a new secret for client {client_id:?}")
            }
            Self::SecretCreated { name } => write!(f, "created Secret {name:?}"),
            Self::SecretUpdated { name } => write!(f, "updated Secret {name:?}"),
            Self::SecretRemoved { name } => write!(f, "deleted previous Secret {name:?}"),
            Self::RotationDeferred {
                client_id,
                token,
                until,
                gap,
            } => write!(
                f,
                "the rotation of client {client_id:?} for omkc.dev/rotate {token:?} waits until {}: \
                 its secret is less than {gap} old (at most one rotation per {gap}, \
                 --min-rotation-interval)",
                k8s_openapi::jiff::Timestamp::from_second(*until)
                    .map_or_else(|_| until.to_string(), |t| t.to_string())
            ),
            Self::SecretRotated { client_id, trigger } => match trigger {
                Rotation::OnDemand(token) => write!(
                    f,
                    "rotated the secret of client {client_id:?} (omkc.dev/rotate {token:?})"
                ),
                Rotation::Scheduled(interval) => write!(
                    f,
                    "rotated the secret of client {client_id:?} (rotationInterval {interval} elapsed)"
                ),
                Rotation::AgeUnknown(interval) => write!(
                    f,
                    "rotated the secret of client {client_id:?} (rotationInterval {interval}; \
                     Keycloak did not say when the secret was made)"
                ),
            },
            Self::SecretSetFromSource { client_id, source } => write!(
                f,
                "set the secret of client {client_id:?} from Secret {source:?}"
            ),
            Self::ValuesWritten { name } => {
                write!(f, "wrote OpenMetadata Helm values to ConfigMap {name:?}")
            }
            Self::ValuesRemoved { name } => write!(f, "deleted previous ConfigMap {name:?}"),
            Self::WorkloadRestarted { kind, name } => {
                write!(f, "restarted {kind} {name:?} to load the new secret")
            }
            Self::WorkloadClaimed { kind, name, other } => write!(
                f,
                "{kind} {name:?} named in spec.secret.rollout is restarted for another resource of the namespace ({other}); left alone (one workload follows one resource)"
            ),
            Self::WorkloadMissing { kind, name } => write!(
                f,
                "{kind} {name:?} named in spec.secret.rollout does not exist"
            ),
            Self::WorkloadRestartForbidden { kind, name } => write!(
                f,
                "may not restart {kind} {name:?} named in spec.secret.rollout: the operator's role does not grant it (install the chart with rollout.enabled=true); the client and the Secret are up to date"
            ),
            Self::ClientDeleted { client_id, realm } => {
                write!(f, "deleted client {client_id:?} from realm {realm:?}")
            }
            Self::ClientRetained { client_id, realm } => write!(
                f,
                "client {client_id:?} stays in realm {realm:?} (deletionPolicy Retain, or adopted and no explicit Delete)"
            ),
            Self::ClientGone { client_id } => {
                write!(f, "client {client_id:?} was already gone from Keycloak")
            }
            Self::ClientNotOurs { client_id } => write!(
                f,
                "client {client_id:?} is not owned by this resource: left in Keycloak"
            ),
            Self::ClientOrphaned {
                client_id,
                uuid,
                place,
                why,
            } => write!(
                f,
                "client {client_id:?} (id {uuid}){place} is left in Keycloak: cleanup is impossible ({why}); delete it there by hand"
            ),
            Self::UnreadableOrphaned { error } => write!(
                f,
                "the resource does not parse ({error}); the Keycloak client it may have made is left in Keycloak"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_render_to_one_line_each() {
        let changes = [
            Change::ClientCreated {
                client_id: "om".into(),
                realm: "data".into(),
            },
            Change::ClientUpdated {
                client_id: "om".into(),
                fields: vec![ClientField::RedirectUris, ClientField::PublicClient],
            },
            Change::ScopesAdded {
                scopes: vec!["email".into()],
            },
            Change::SecretCreated {
                name: "oidc-secrets".into(),
            },
        ];
        let rendered: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered.join("; "),
            "created client \"om\" in realm \"data\"; updated client \"om\": redirectUris, publicClient; added default client scopes: email; created Secret \"oidc-secrets\""
        );
    }
}
