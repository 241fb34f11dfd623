use super::*;
use crate::reason::Class;

fn status(code: u16) -> kube::Error {
    kube::Error::Api(
        kube::core::Status::failure("the apiserver's explanation", "Invalid")
            .with_code(code)
            .boxed(),
    )
}

/// One error of every kind. The matches stop compiling when a variant is added, as a
/// reminder to sample it here.
fn one_of_each() -> Vec<Error> {
    fn _every_variant_is_sampled(e: &Error, k: &KeycloakError) {
        match e {
            Error::InvalidSpec(_)
            | Error::CredentialsNotFound(_)
            | Error::CredentialsInvalid { .. }
            | Error::CredentialsNotAllowed(_)
            | Error::ConnectionNotFound(_)
            | Error::ConnectionNotAllowed(_)
            | Error::RealmNotAllowed(_)
            | Error::ConnectionInvalid(_)
            | Error::ConnectionClientLimit(_)
            | Error::Keycloak(_)
            | Error::ClientConflict(_)
            | Error::SecretConflict(_)
            | Error::ConfigMapConflict(_)
            | Error::SecretSourceNotFound(_)
            | Error::SecretSourceInvalid { .. }
            | Error::KubeRejected { .. }
            | Error::Kube { .. }
            | Error::TimedOut(_) => {}
        }
        match k {
            KeycloakError::Unreachable(_)
            | KeycloakError::Server { .. }
            | KeycloakError::Throttled { .. }
            | KeycloakError::Conflict
            | KeycloakError::CredentialsRejected { .. }
            | KeycloakError::Forbidden { .. }
            | KeycloakError::MayNotManage
            | KeycloakError::RealmNotFound(_)
            | KeycloakError::NotFound
            | KeycloakError::ScopeNotFound(_)
            | KeycloakError::Rejected { .. }
            | KeycloakError::Redirected { .. }
            | KeycloakError::InvalidCaBundle(_)
            | KeycloakError::Protocol(_) => {}
        }
    }
    let m = || "m".to_string();
    let keycloak = vec![
        KeycloakError::Unreachable(m()),
        KeycloakError::Server {
            status: 500,
            code: None,
        },
        KeycloakError::Throttled {
            status: 429,
            retry_after: None,
        },
        KeycloakError::Conflict,
        KeycloakError::CredentialsRejected {
            status: 401,
            code: None,
        },
        KeycloakError::Forbidden { status: 403 },
        KeycloakError::MayNotManage,
        KeycloakError::RealmNotFound(m()),
        KeycloakError::NotFound,
        KeycloakError::ScopeNotFound(m()),
        KeycloakError::Rejected {
            status: 400,
            code: None,
        },
        KeycloakError::Redirected { status: 302 },
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
        Error::CredentialsNotAllowed(m()),
        Error::ConnectionNotFound(m()),
        Error::ConnectionNotAllowed(m()),
        Error::RealmNotAllowed(m()),
        Error::ConnectionInvalid(m()),
        Error::ConnectionClientLimit(m()),
        Error::ClientConflict(m()),
        Error::SecretConflict(m()),
        Error::ConfigMapConflict(m()),
        Error::SecretSourceNotFound(m()),
        Error::SecretSourceInvalid {
            name: m(),
            problem: m(),
        },
        Error::kube("write Secret \"s\"", status(422)),
        Error::kube("write Secret \"s\"", status(500)),
        Error::TimedOut(std::time::Duration::from_secs(120)),
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

#[test]
fn kubernetes_refusals_caused_by_the_spec_are_permanent_and_clearly_worded() {
    for code in [400, 403, 422] {
        let e = Error::kube("write Secret \"oidc-secrets\"", status(code));
        assert_eq!(e.reason(), Reason::KubernetesRejected, "{code}");
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            format!(
                "Kubernetes refused to write Secret \"oidc-secrets\" (HTTP {code}): the apiserver's explanation"
            )
        );
    }
    for code in [404, 409, 429, 500, 503] {
        assert!(Error::kube("x", status(code)).is_transient(), "{code}");
    }
}

#[test]
fn retry_after_comes_through_from_keycloak() {
    let wait = Some(Duration::from_secs(9));
    let e = Error::Keycloak(KeycloakError::Throttled {
        status: 503,
        retry_after: wait,
    });
    assert_eq!(e.retry_after(), wait);
    assert!(e.is_transient());
}
