use super::*;
use crate::reason::Class;

fn status(code: u16) -> kube::Error {
    kube::Error::Api(
        kube::core::Status::failure("the apiserver's explanation", "Invalid")
            .with_code(code)
            .boxed(),
    )
}

#[test]
fn every_keycloak_failure_has_a_failure_reason() {
    // The match stops compiling when a variant is added, as a reminder to sample it here.
    fn _every_variant_is_sampled(k: &KeycloakError) {
        match k {
            KeycloakError::Unreachable(_)
            | KeycloakError::Server { .. }
            | KeycloakError::Throttled { .. }
            | KeycloakError::Conflict
            | KeycloakError::CredentialsRejected { .. }
            | KeycloakError::Forbidden { .. }
            | KeycloakError::TokenRefused { .. }
            | KeycloakError::MayNotManage
            | KeycloakError::RealmNotFound(_)
            | KeycloakError::NotFound
            | KeycloakError::ScopeNotFound(_)
            | KeycloakError::Rejected { .. }
            | KeycloakError::PolicyRefused { .. }
            | KeycloakError::Redirected { .. }
            | KeycloakError::InvalidCaBundle(_)
            | KeycloakError::Protocol(_) => {}
        }
    }
    let m = || "m".to_string();
    let all = [
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
        KeycloakError::TokenRefused {
            admin_api_scope: None,
            password_grant: false,
            admin_realm: m(),
        },
        KeycloakError::MayNotManage,
        KeycloakError::RealmNotFound(m()),
        KeycloakError::NotFound,
        KeycloakError::ScopeNotFound(m()),
        KeycloakError::Rejected {
            status: 400,
            code: None,
        },
        KeycloakError::PolicyRefused {
            code: m(),
            pkce: true,
        },
        KeycloakError::Redirected { status: 302 },
        KeycloakError::InvalidCaBundle(m()),
        KeycloakError::Protocol(m()),
    ];
    for k in all {
        let e = Error::from(k.clone());
        assert!(
            matches!(e.reason().class(), Class::Permanent | Class::Transient),
            "{k:?}"
        );
        assert_eq!(e.to_string(), k.to_string(), "said in the operator's words");
    }
}

#[test]
fn every_failure_reason_is_produced_somewhere() {
    // A failure reason nothing produces is documentation of nothing: each one is named where a
    // failure enters (outside `reason.rs`, the docs' tables and the tests).
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "tests") {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("reason.rs")
                && !path.ends_with("tests.rs")
            {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut code = String::new();
    sources(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut code,
    );
    for reason in Reason::ALL
        .iter()
        .filter(|r| matches!(r.class(), Class::Permanent | Class::Transient))
    {
        assert!(
            code.contains(&format!("Reason::{}", reason.as_str())),
            "{reason} is produced nowhere"
        );
    }
}

#[test]
fn kubernetes_refusals_caused_by_the_spec_are_permanent_and_clearly_worded() {
    for code in [400, 403, 422] {
        let e = Error::kube("write Secret \"oidc-secrets\"", status(code));
        assert_eq!(e.reason(), Reason::KubernetesRejected, "{code}");
        assert!(!e.is_transient());
        assert!(e.refused_with(code));
        assert_eq!(
            e.to_string(),
            format!(
                "Kubernetes refused to write Secret \"oidc-secrets\" (HTTP {code}): the apiserver's explanation"
            )
        );
    }
    for code in [404, 409, 429, 500, 503] {
        let e = Error::kube("x", status(code));
        assert!(e.is_transient(), "{code}");
        assert!(!e.refused_with(code), "{code}: retried, not refused");
    }
}

#[test]
fn retry_after_comes_through_from_keycloak() {
    let wait = Some(Duration::from_secs(9));
    let e = Error::from(KeycloakError::Throttled {
        status: 503,
        retry_after: wait,
    });
    assert_eq!(e.retry_after(), wait);
    assert!(e.is_transient());
    assert_eq!(Error::timed_out(Duration::from_secs(1)).retry_after(), None);
}
