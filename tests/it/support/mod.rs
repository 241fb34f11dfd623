//! Test doubles and fixtures shared by the integration tests.
#![allow(dead_code)]

pub mod apiserver;
pub mod emulator;
pub mod openapi;

use omkc::{
    crd::OpenMetadataKeycloakClient,
    keycloak::{ConnectionKey, ConnectionSpec, Credentials, Session},
};

use emulator::{ADMIN_PASSWORD, ADMIN_USER, Emulator};

/// A resource from `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> OpenMetadataKeycloakClient {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Base64 of a string, as Secret data carries it.
pub fn b64(s: &str) -> String {
    serde_json::to_value(k8s_openapi::ByteString(s.as_bytes().to_vec()))
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The string inside base64 Secret data.
pub fn decode(v: &serde_json::Value) -> String {
    let bytes: k8s_openapi::ByteString = serde_json::from_value(v.clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// A Keycloak session to the emulator with `credentials`.
pub fn session_with(emu: &Emulator, credentials: Credentials) -> Session {
    Session::open(&ConnectionSpec {
        key: ConnectionKey {
            base_url: emu.base_url.clone(),
            admin_realm: "master".into(),
            credentials_source: "openmetadata/keycloak-admin".into(),
        },
        credentials,
        ca_bundle: None,
    })
    .unwrap()
}

/// A Keycloak session as the emulator's admin.
pub fn admin_session(emu: &Emulator) -> Session {
    session_with(
        emu,
        Credentials::Password {
            username: ADMIN_USER.into(),
            password: ADMIN_PASSWORD.into(),
        },
    )
}
