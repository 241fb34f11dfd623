//! The emulator, proven field by field. One script — the operator's own [`Session`] calls, with
//! the bodies the operator builds (`desired_client`, `update_body`) — runs against a real
//! Keycloak and against the emulator modelling the same version: as an admin, as an account
//! that may only view clients, and as one that may only query them. Both transcripts keep, for
//! every exchange, what the operator reads (the managed fields, the scopes, the secret's
//! presence, `access`, the attributes it looks at, error codes, the issuer) after normalising
//! what may legitimately differ (ids, secrets, tokens, timestamps, the base URL), and, for every
//! step, what the operator concluded. Any difference fails the test and is fixed in the
//! emulator, with a comment naming the Keycloak behaviour.

use std::sync::Arc;

use omkc::{
    keycloak::{Credentials, KeycloakError, Session},
    names::{
        ADOPTED_ATTRIBUTE, OWNER_ATTRIBUTE, OWNER_UID_ATTRIBUTE, POST_LOGOUT_ATTRIBUTE,
        SECRET_CREATION_ATTRIBUTE,
    },
    reconcile::desired,
    validate::validate,
};
use serde_json::{Map, Value, json};

use crate::support::{
    INSTALLATION,
    emulator::{Exchange, Level},
    fixture, real,
    target::{Kc, REALM, ScopeKind},
};

/// The attributes the operator reads.
const READ_ATTRIBUTES: [&str; 6] = [
    "realm_client",
    POST_LOGOUT_ATTRIBUTE,
    OWNER_ATTRIBUTE,
    OWNER_UID_ATTRIBUTE,
    ADOPTED_ATTRIBUTE,
    SECRET_CREATION_ATTRIBUTE,
];

/// What one target answered.
#[derive(Default)]
struct Transcript {
    /// One line per step: what the operator concluded.
    steps: Vec<String>,
    /// Every exchange, normalised: `METHOD path -> status` and what the operator reads.
    exchanges: Vec<(String, Value)>,
}

/// The ids seen so far on one target and the names they get in a transcript.
#[derive(Default)]
struct Ids(Vec<(String, String)>);

impl Ids {
    fn name(&mut self, id: &str, name: &str) {
        self.0.push((id.to_string(), format!("{{{name}}}")));
    }

    fn replace(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |t, (id, name)| {
            t.replace(id.as_str(), name)
        })
    }
}

/// The fields of a client representation the operator reads: those it manages (the keys of
/// its own creation body) and `id`, the scopes, the secret and `access`.
fn read_fields(wanted: &Value) -> Vec<String> {
    let mut fields: Vec<String> = wanted.as_object().unwrap().keys().cloned().collect();
    for extra in [
        "id",
        "defaultClientScopes",
        "optionalClientScopes",
        "secret",
        "access",
    ] {
        fields.push(extra.to_string());
    }
    fields.sort();
    fields.dedup();
    fields
}

fn sorted_strings(v: &Value) -> Value {
    let mut items: Vec<Value> = v.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|i| i.to_string());
    Value::Array(items)
}

/// A client representation, reduced to what the operator reads.
fn client(rep: &Value, fields: &[String], ids: &Ids) -> Value {
    let mut out = Map::new();
    for field in fields {
        let Some(value) = rep.get(field) else {
            continue;
        };
        let value = match field.as_str() {
            "id" => {
                // Named when the script knows it, opaque otherwise (built-in clients).
                let id = value.as_str().unwrap_or_default();
                let named = ids.replace(id);
                json!(if named == id {
                    "<id>".to_string()
                } else {
                    named
                })
            }
            "secret" => match value.as_str() {
                Some(s) if !s.is_empty() && s.chars().all(|c| c == '*') => json!("<mask>"),
                Some(s) if !s.is_empty() => json!("<secret>"),
                _ => value.clone(),
            },
            "redirectUris" | "webOrigins" | "defaultClientScopes" | "optionalClientScopes" => {
                sorted_strings(value)
            }
            "attributes" => {
                let mut kept = Map::new();
                for key in READ_ATTRIBUTES {
                    if let Some(a) = value.get(key) {
                        let a = if key == SECRET_CREATION_ATTRIBUTE && a.is_string() {
                            json!("<time>")
                        } else {
                            a.clone()
                        };
                        kept.insert(key.to_string(), a);
                    }
                }
                Value::Object(kept)
            }
            _ => value.clone(),
        };
        out.insert(field.clone(), value);
    }
    Value::Object(out)
}

/// An exchange, reduced to what the operator reads of it.
fn exchange(e: &Exchange, fields: &[String], ids: &Ids, bases: &[String]) -> (String, Value) {
    let path = ids.replace(&e.path);
    let body = e.response.clone().unwrap_or(Value::Null);
    let read = if e.path.ends_with("/protocol/openid-connect/token") {
        // The operator reads the token, its lifetime and its scopes (or the error code).
        let scope = body["scope"].as_str().map(|s| {
            let mut names: Vec<&str> = s.split_ascii_whitespace().collect();
            names.sort_unstable();
            names.join(" ")
        });
        json!({
            "access_token": body.get("access_token").map(|_| "<token>"),
            "expires_in": body.get("expires_in").map(Value::is_number),
            "scope": scope,
            "error": body.get("error"),
        })
    } else if e.status >= 400 {
        // The operator reads a plain error code and whether a 404 names the realm.
        let text = body.to_string();
        let code = body["error"].as_str().filter(|c| {
            c.len() <= 64
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        });
        json!({"error": code, "mentionsRealm": text.to_ascii_lowercase().contains("realm")})
    } else if e.path.ends_with("/admin/realms") && e.method == "GET" {
        // A connection's status reads the names; other tests' realms may exist on a real one.
        let names: Vec<&str> = body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["realm"].as_str())
            .collect();
        let shown = body
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["realm"] == REALM)
            .and_then(Value::as_object)
            .map(|r| {
                let mut keys: Vec<&String> = r.keys().collect();
                keys.sort();
                json!(keys)
            });
        json!({"master": names.contains(&"master"), "realm": names.contains(&REALM),
               "keysOfRealm": shown})
    } else if e.path.ends_with("/admin/serverinfo") {
        let version = body["systemInfo"]["version"].as_str().map(|v| {
            let (major, minor, _) = crate::support::target::parse_version(v);
            format!("{major}.{minor}")
        });
        json!({"systemInfo": body.get("systemInfo").is_some(), "version": version})
    } else if e.path.ends_with("/.well-known/openid-configuration") {
        let issuer = body["issuer"].as_str().map(|i| {
            bases
                .iter()
                .fold(i.to_string(), |i, base| i.replace(base.as_str(), "<base>"))
        });
        json!({ "issuer": issuer })
    } else if e.query == "first=0&max=1" {
        // The permission probe: only `access` of the first client is read.
        json!(body[0].get("access"))
    } else if e.path.ends_with("/client-scopes") && e.method == "GET" {
        let mut names: Vec<&str> = body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        names.sort();
        json!(names)
    } else if e.path.ends_with("/client-secret") {
        json!({"type": body["type"], "value": body.get("value").map(|_| "<secret>")})
    } else if let Some(list) = body.as_array() {
        Value::Array(list.iter().map(|c| client(c, fields, ids)).collect())
    } else if body.is_object() {
        client(&body, fields, ids)
    } else {
        body
    };
    let query = if e.query.is_empty() {
        String::new()
    } else {
        format!("?{}", e.query)
    };
    (format!("{} {path}{query} -> {}", e.method, e.status), read)
}

fn outcome<T>(result: &Result<T, KeycloakError>, ok: impl Fn(&T) -> String) -> String {
    match result {
        Ok(t) => ok(t),
        Err(e) => format!("error: {e}"),
    }
}

/// Where two values differ, as JSON paths with both sides.
fn value_differences(at: &str, real: &Value, emulated: &Value, out: &mut Vec<String>) {
    match (real, emulated) {
        (Value::Object(r), Value::Object(e)) => {
            let mut keys: Vec<&String> = r.keys().chain(e.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (a, b) = (
                    r.get(k).unwrap_or(&Value::Null),
                    e.get(k).unwrap_or(&Value::Null),
                );
                value_differences(&format!("{at}.{k}"), a, b, out);
            }
        }
        (Value::Array(r), Value::Array(e))
            if r.len() == e.len() && r.iter().all(Value::is_object) =>
        {
            for (i, (a, b)) in r.iter().zip(e).enumerate() {
                value_differences(&format!("{at}[{i}]"), a, b, out);
            }
        }
        (a, b) if a != b => out.push(format!("    {at}: real {a}, emulator {b}")),
        _ => {}
    }
}

/// The differences between two transcripts: steps, then exchanges, each with what differs.
fn differences(real: &Transcript, emulated: &Transcript) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..real.steps.len().max(emulated.steps.len()) {
        let (r, e) = (real.steps.get(i), emulated.steps.get(i));
        if r != e {
            out.push(format!(
                "step {i}:\n  real Keycloak: {}\n  emulator:      {}",
                r.map_or("(nothing)", |s| s.as_str()),
                e.map_or("(nothing)", |s| s.as_str())
            ));
        }
    }
    let none = (String::from("(nothing)"), Value::Null);
    for i in 0..real.exchanges.len().max(emulated.exchanges.len()) {
        let (r, e) = (
            real.exchanges.get(i).unwrap_or(&none),
            emulated.exchanges.get(i).unwrap_or(&none),
        );
        if r.0 != e.0 {
            out.push(format!(
                "exchange {i}:\n  real Keycloak: {}\n  emulator:      {}",
                r.0, e.0
            ));
            continue;
        }
        let mut fields = Vec::new();
        value_differences("", &r.1, &e.1, &mut fields);
        if !fields.is_empty() {
            out.push(format!("exchange {i}: {}\n{}", r.0, fields.join("\n")));
        }
    }
    out
}

#[tokio::test]
#[ignore = "needs a real Keycloak: tests/keycloak/keycloak.sh test (docs/contributors/testing.md)"]
async fn the_emulator_answers_as_real_keycloak() {
    let real = Kc::real().await;
    let emulated = Kc::emulator_like(&real).await;
    let (a, b) = (script(&real).await, script(&emulated).await);
    assert!(
        a.exchanges.len() > 60,
        "the script made {} exchanges",
        a.exchanges.len()
    );
    let found = differences(&a, &b);
    assert!(
        found.is_empty(),
        "{} differs from {} in {} places:\n{}",
        emulated.describe(),
        real.describe(),
        found.len(),
        found.join("\n")
    );
}

mod script;
use script::script;
mod edits;
mod java;
mod random;
