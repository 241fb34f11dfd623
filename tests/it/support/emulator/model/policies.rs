//! A realm's client policies (Realm settings → Client policies), as Keycloak's
//! `ClientPolicyManager` runs them on a client registered or updated through the Admin API:
//! before the representation reaches the model, the executors of each policy whose conditions
//! match may change it, or refuse it.
//!
//! Modelled: one policy whose condition is `any-client`, with one of four executors, as Keycloak
//! answers (seen on 26.7, checked by the `both!` scenarios in `tests/it/keycloak/policies.rs` on
//! every version CI runs):
//! - `reject-implicit-grant`: with `auto-configure`, `implicitFlowEnabled` becomes false,
//!   whatever was sent (absent included); without, `true` is refused with 400
//!   `invalid_client_metadata`, and a representation without the field fails with 500 (the
//!   executor unboxes a null: a NullPointerException), described as any 500 of its version;
//! - `consent-required`: with `auto-configure`, `consentRequired` becomes true; without, a
//!   representation that does not say `true` is refused with 400 `invalid_registration`;
//! - `secure-client-authenticator`: a representation without `clientAuthenticatorType` is given
//!   the default authenticator; one not allowed is refused with 400 `invalid_client_metadata`;
//! - `pkce-enforcer` (`PKCEEnforcerExecutor`): with `auto-configure`, the attribute
//!   `pkce.code.challenge.method` becomes `S256`; then a representation whose attributes do not
//!   say `S256` is refused with 400 `invalid_client_metadata`, whatever the client already has
//!   (the executor reads the representation sent, not the client). Its check of the login
//!   requests themselves is the real Keycloak's (`tests/it/login.rs`).

use serde_json::{Map, Value, json};

use super::super::Version;

/// An executor of the realm's client policies.
#[derive(Clone, Debug)]
pub enum Executor {
    RejectImplicitGrant {
        auto_configure: bool,
    },
    ConsentRequired {
        auto_configure: bool,
    },
    SecureClientAuthenticator {
        allowed: Vec<String>,
        default: Option<String>,
    },
    PkceEnforcer {
        auto_configure: bool,
    },
}

impl Executor {
    /// The executor of this name, with this configuration; the emulator refuses to pretend it
    /// runs one it does not model.
    pub fn named(name: &str, configuration: &Value) -> Self {
        let auto_configure = configuration["auto-configure"] == json!(true);
        match name {
            "reject-implicit-grant" => Self::RejectImplicitGrant { auto_configure },
            "consent-required" => Self::ConsentRequired { auto_configure },
            "pkce-enforcer" => Self::PkceEnforcer { auto_configure },
            "secure-client-authenticator" => Self::SecureClientAuthenticator {
                allowed: serde_json::from_value(
                    configuration["allowed-client-authenticators"].clone(),
                )
                .unwrap_or_default(),
                default: configuration["default-client-authenticator"]
                    .as_str()
                    .map(String::from),
            },
            other => panic!("the emulator does not model the client policy executor {other:?}"),
        }
    }
}

/// Runs the executors on a representation sent to register or update a client: `Err` holds
/// Keycloak's answer.
pub fn enforce(
    executors: &[Executor],
    rep: &mut Map<String, Value>,
    version: Version,
) -> Result<(), (u16, Value)> {
    let refused = |status, error: &str, description: &str| {
        Err((
            status,
            json!({"error": error, "error_description": description}),
        ))
    };
    for executor in executors {
        match executor {
            Executor::RejectImplicitGrant {
                auto_configure: true,
            } => {
                rep.insert("implicitFlowEnabled".into(), json!(false));
            }
            Executor::RejectImplicitGrant {
                auto_configure: false,
            } => match rep.get("implicitFlowEnabled").and_then(Value::as_bool) {
                Some(false) => {}
                Some(true) => {
                    return refused(
                        400,
                        "invalid_client_metadata",
                        "Invalid client metadata: implicit flow enabled",
                    );
                }
                None => return Err(super::unknown_error(version)),
            },
            Executor::ConsentRequired {
                auto_configure: true,
            } => {
                rep.insert("consentRequired".into(), json!(true));
            }
            Executor::ConsentRequired {
                auto_configure: false,
            } => {
                if rep.get("consentRequired") != Some(&json!(true)) {
                    return refused(
                        400,
                        "invalid_registration",
                        "Client is required to enable consentRequired",
                    );
                }
            }
            Executor::SecureClientAuthenticator { allowed, default } => {
                match rep.get("clientAuthenticatorType").and_then(Value::as_str) {
                    None => {
                        if let Some(default) = default {
                            rep.insert("clientAuthenticatorType".into(), json!(default));
                        }
                    }
                    Some(chosen) if allowed.iter().any(|a| a == chosen) => {}
                    Some(_) => {
                        return refused(
                            400,
                            "invalid_client_metadata",
                            "Invalid client metadata: token_endpoint_auth_method",
                        );
                    }
                }
            }
            Executor::PkceEnforcer { auto_configure } => {
                const PKCE: &str = "pkce.code.challenge.method";
                if *auto_configure {
                    let attributes = rep.entry("attributes").or_insert_with(|| json!({}));
                    attributes[PKCE] = json!("S256");
                }
                if rep.get("attributes").and_then(|a| a.get(PKCE)) != Some(&json!("S256")) {
                    return refused(
                        400,
                        "invalid_client_metadata",
                        "Invalid client metadata: code_challenge_method",
                    );
                }
            }
        }
    }
    Ok(())
}
