//! What whatever answers at `keycloak.url` can and cannot make the operator do: redirects are
//! never followed, remote error text never reaches a message, `Retry-After` is honoured, and
//! a refused login is not retried once per resource.

use std::time::Duration;

use omkc::{
    keycloak::{Credentials, KeycloakError},
    reason::Reason,
};

use crate::support::{
    admin_session,
    emulator::{ADMIN_USER, Emulator, Fault},
    fixture, has, keycloak_sync, lacks, session_with,
};

async fn attempt(emu: &Emulator, session: &omkc::keycloak::Session) -> Result<(), omkc::Error> {
    let mut obj = fixture("basic.yaml");
    obj.spec.keycloak.url = Some(emu.base_url.clone());
    keycloak_sync(session, &obj).await.map(drop)
}

#[tokio::test]
async fn a_redirect_is_never_followed_not_even_for_the_token_request() {
    let emu = Emulator::start().await;
    for (path, method) in [
        ("/protocol/openid-connect/token", "POST"),
        ("/clients", "GET"),
    ] {
        emu.inject_fault(Fault {
            headers: vec![("location", format!("{}/elsewhere", emu.base_url))],
            ..Fault::once(Some(method), path, 307, "")
        });
        let err = attempt(&emu, &admin_session(&emu)).await.unwrap_err();
        assert_eq!(
            err,
            omkc::Error::from(KeycloakError::Redirected { status: 307 }),
            "{path}"
        );
        assert_eq!(err.reason(), Reason::KeycloakRejected);
        assert!(!err.is_transient());
    }
    assert!(
        emu.log().iter().all(|e| !e.path.contains("elsewhere")),
        "the credentials were never sent to the redirect's target"
    );
}

#[tokio::test]
async fn remote_error_text_never_reaches_a_message() {
    let emu = Emulator::start().await;
    let planted = "10.0.0.7 internal-db password=hunter2";
    let body = format!(
        r#"{{"error":"invalid_request","error_description":"{planted}","errorMessage":"{planted}"}}"#
    );
    for (method, path, status) in [
        ("GET", "/clients", 400),
        ("GET", "/clients", 500),
        ("POST", "/protocol/openid-connect/token", 401),
    ] {
        emu.inject(Some(method), path, status, &body);
        let err = attempt(&emu, &admin_session(&emu)).await.unwrap_err();
        let text = err.to_string();
        lacks(&text, "10.0.0.7");
        lacks(&text, "hunter2");
        has(&text, &format!("HTTP {status}"));
        has(&text, "invalid_request"); // the plain error code is kept
    }
}

#[tokio::test]
async fn throttling_carries_retry_after_and_is_transient() {
    let emu = Emulator::start().await;
    for status in [429, 503] {
        emu.inject_fault(Fault {
            headers: vec![("retry-after", "17".into())],
            ..Fault::once(Some("GET"), "/clients", status, "")
        });
        let err = attempt(&emu, &admin_session(&emu)).await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(17)), "{status}");
        assert_eq!(err.reason(), Reason::KeycloakUnavailable);
        assert!(err.is_transient());
    }
}

#[tokio::test]
async fn rejected_credentials_are_remembered_instead_of_retried_per_resource() {
    let emu = Emulator::start().await;
    let session = session_with(
        &emu,
        Credentials::Password {
            username: ADMIN_USER.into(),
            password: "wrong".into(),
        },
    );
    for _ in 0..100 {
        let err = attempt(&emu, &session).await.unwrap_err();
        assert_eq!(err.reason(), Reason::CredentialsRejected);
    }
    assert_eq!(emu.token_requests(), 1, "one attempt per backoff window");
    assert!(emu.admin_calls().is_empty());
}

#[tokio::test]
async fn a_token_endpoint_that_fails_for_a_moment_is_asked_again_at_once() {
    // Only a refusal is remembered for a window; a 503 is not, and the next resource's
    // reconcile asks for a token again (and converges).
    let emu = Emulator::start().await;
    let session = admin_session(&emu);
    emu.inject(Some("POST"), "/protocol/openid-connect/token", 503, "");
    let err = attempt(&emu, &session).await.unwrap_err();
    assert_eq!(err.reason(), Reason::KeycloakUnavailable, "{err}");
    attempt(&emu, &session).await.unwrap();
    assert_eq!(emu.token_requests(), 2, "the failed one, then one at once");
}

#[tokio::test]
async fn a_server_version_is_reported_only_when_it_is_short_plain_text() {
    let emu = Emulator::start().await;
    let session = admin_session(&emu);
    let (major, minor, patch) = emu.version();
    let reported = session.server_version().await.unwrap();
    assert_eq!(reported, Some(format!("{major}.{minor}.{patch}")));
    for (version, shown) in [
        ("", false),
        (&*"9".repeat(64), true),
        (&*"9".repeat(65), false),
    ] {
        let body = serde_json::json!({"systemInfo": {"version": version}}).to_string();
        emu.inject(Some("GET"), "/admin/serverinfo", 200, &body);
        let reported = session.server_version().await.unwrap();
        assert_eq!(reported.is_some(), shown, "{} characters", version.len());
    }
}

#[tokio::test]
async fn a_fresh_client_in_a_realm_without_the_default_scopes_gets_them_one_by_one() {
    let emu = Emulator::start().await;
    emu.remove_realm_default_scope("data-sec", "email");
    emu.remove_realm_default_scope("data-sec", "profile");
    attempt(&emu, &admin_session(&emu)).await.unwrap();
    assert_eq!(
        emu.default_scope_names("data-sec", "openmetadata"),
        ["acr", "basic", "email", "profile", "roles", "web-origins"],
        "added; the realm's other defaults stay"
    );
    let calls = emu.admin_calls();
    assert_eq!(
        calls.len(),
        6,
        "lookup, create, read back, scopes, two adds: {calls:?}"
    );
}

#[tokio::test]
async fn a_401_after_a_fresh_token_is_an_error_not_a_second_renewal() {
    // The token is revoked, and so is the next one: a session renews once, then says so.
    let emu = Emulator::start().await;
    emu.inject_fault(Fault {
        times: 2,
        ..Fault::once(
            Some("GET"),
            "/clients",
            401,
            r#"{"error":"HTTP 401 Unauthorized"}"#,
        )
    });
    let err = attempt(&emu, &admin_session(&emu)).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert_eq!(emu.token_requests(), 2, "one token, one renewal");
    let refused = emu.log().iter().filter(|e| e.status == 401).count();
    assert_eq!(refused, 2);
}

/// A Keycloak URL that answers every admin call with `[]` padded with spaces to `length` bytes
/// (valid JSON: an empty list), or, with no length, with a body too long to hold that never
/// ends. Announced with a `Content-Length` (100 MiB for the endless one), or (`chunked`) streamed
/// without one in pieces of 100,000 bytes, which add up to no round number.
async fn body_server(chunked: bool, length: Option<usize>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&request).to_string();
                if head.contains("/protocol/openid-connect/token") {
                    // The form came with the head or is on its way: answer with a token.
                    let body = r#"{"access_token":"t","expires_in":60,"token_type":"Bearer"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    return;
                }
                let body = match length {
                    Some(n) => {
                        let mut body = vec![b' '; n];
                        (body[0], body[n - 1]) = (b'[', b']');
                        body
                    }
                    None => vec![b' '; 64 * 1024 * 1024],
                };
                let head = if chunked {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
                } else {
                    let announced = length.unwrap_or(100 * 1024 * 1024);
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {announced}\r\n\r\n"
                    )
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for piece in body.chunks(100_000) {
                    let chunk = if chunked {
                        let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
                        c.extend_from_slice(piece);
                        c.extend_from_slice(b"\r\n");
                        c
                    } else {
                        piece.to_vec()
                    };
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                if length.is_some() {
                    if chunked {
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                    return;
                }
                // Never finish: hold the connection open.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    base
}

/// `find_client` against [`body_server`], bounded: a client that read on would wait for a body
/// that never ends.
async fn find_at(base: &str) -> Result<Option<omkc::keycloak::ObservedClient>, KeycloakError> {
    let session = crate::support::session_at(
        base,
        Credentials::Password {
            username: ADMIN_USER.into(),
            password: "irrelevant".into(),
        },
    );
    tokio::time::timeout(
        Duration::from_secs(10),
        session.find_client("data-sec", "openmetadata"),
    )
    .await
    .unwrap_or_else(|_| panic!("{base}: still reading after 10 s"))
}

#[tokio::test]
async fn a_response_body_too_long_to_need_is_refused_without_reading_it_all() {
    const MIB: usize = 1024 * 1024;
    for chunked in [false, true] {
        // Up to 1 MiB is read; a byte more, or a body that never ends, is refused.
        let read = find_at(&body_server(chunked, Some(MIB)).await).await;
        assert!(matches!(read, Ok(None)), "chunked {chunked}: {read:?}");
        for length in [Some(MIB + 1), None] {
            let err = find_at(&body_server(chunked, length).await)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, KeycloakError::Protocol(m) if m.contains("larger than 1 MiB")),
                "chunked {chunked}, {length:?} bytes: {err}"
            );
        }
    }
}
