//! Every reason the operator reports, in one place: the Ready condition's reasons, the reasons
//! of its Events, and the metrics labels built from them.
//!
//! The troubleshooting guide's tables (`docs/users/troubleshooting.md`) and the Argo CD health check (`deploy/argocd/health.lua`)
//! are checked against [`Reason::ALL`] by tests, so a reason cannot be added without being
//! documented there.

use std::fmt;

/// How a reason behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// `Ready=True`.
    Ready,
    /// `Ready=False` until the user changes something; retried at the resync period only.
    Permanent,
    /// `Ready=False` while the operator retries by itself with backoff.
    Transient,
    /// A Normal Event: something changed.
    Change,
    /// A Warning Event that is not a Ready condition.
    Warning,
}

macro_rules! reasons {
    ($($name:ident => $class:ident,)*) => {
        /// A bounded, CamelCase reason: condition reason, Event reason and metrics label.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($class), ").")]
                $name,
            )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)*];

            /// The reason as it appears in conditions, Events and metrics.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)*
                }
            }

            /// How the reason behaves.
            pub const fn class(self) -> Class {
                match self {
                    $(Reason::$name => Class::$class,)*
                }
            }
        }
    };
}

reasons! {
    Reconciled => Ready,
    Connected => Ready,

    InvalidSpec => Permanent,
    CredentialsNotFound => Permanent,
    CredentialsInvalid => Permanent,
    CredentialsRejected => Permanent,
    CredentialsNotAllowed => Permanent,
    ConnectionNotFound => Permanent,
    ConnectionNotAllowed => Permanent,
    RealmNotAllowed => Permanent,
    ConnectionInvalid => Permanent,
    ConnectionClientLimit => Permanent,
    KeycloakForbidden => Permanent,
    RealmNotFound => Permanent,
    ScopeNotFound => Permanent,
    ClientConflict => Permanent,
    SecretConflict => Permanent,
    ConfigMapConflict => Permanent,
    SecretSourceNotFound => Permanent,
    SecretSourceInvalid => Permanent,
    KeycloakRejected => Permanent,
    ClientPolicyConflict => Permanent,
    KubernetesRejected => Permanent,

    KeycloakUnavailable => Transient,
    KeycloakConflict => Transient,
    KeycloakProtocolError => Transient,
    KubernetesError => Transient,
    ReconcileTimedOut => Transient,

    ClientCreated => Change,
    ClientAdopted => Change,
    ClientUpdated => Change,
    ScopesAdded => Change,
    SecretRegenerated => Change,
    SecretWritten => Change,
    SecretRemoved => Change,
    ClientDeleted => Change,
    ClientRetained => Change,
    SecretRotated => Change,
    SecretSetFromSource => Change,
    RotationDeferred => Change,
    ValuesWritten => Change,
    ValuesRemoved => Change,
    WorkloadRestarted => Change,

    ClientOrphaned => Warning,
    WorkloadNotFound => Warning,
    WorkloadClaimed => Warning,
    WorkloadRestartForbidden => Warning,
    MalformedResource => Warning,
}

impl Reason {
    /// True for the failures that go away without a change by the user.
    pub fn is_transient(self) -> bool {
        self.class() == Class::Transient
    }

    /// The reasons of one class, in declaration order.
    pub fn of_class(class: Class) -> impl Iterator<Item = Reason> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |r| r.class() == class)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_camel_case_and_match_the_variant() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert!(r.as_str().starts_with(|c: char| c.is_ascii_uppercase()));
            assert!(r.as_str().chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(format!("{r:?}"), r.as_str());
            assert_eq!(r.to_string(), r.as_str(), "shown as named");
        }
    }

    #[test]
    fn exactly_one_ready_reason() {
        assert_eq!(
            Reason::of_class(Class::Ready).collect::<Vec<_>>(),
            [Reason::Reconciled, Reason::Connected]
        );
        assert!(Reason::KeycloakUnavailable.is_transient());
        assert!(!Reason::SecretConflict.is_transient());
    }
}
