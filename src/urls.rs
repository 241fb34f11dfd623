//! URL helpers shared by the Keycloak client and the desired state.

/// Percent-encodes one URL path segment (a realm name, a client id).
///
/// ```
/// assert_eq!(omkc::urls::encode_segment("my realm/x"), "my%20realm%2Fx");
/// ```
pub fn encode_segment(segment: &str) -> String {
    let mut url = url::Url::parse("http://x/").expect("static URL parses");
    url.path_segments_mut()
        .expect("http URL has path segments")
        .push(segment);
    url.path()[1..].to_string()
}

/// `{base}/realms/{realm}`: a realm's issuer under a Keycloak base URL (which may end in `/auth`).
pub fn realm_url(base: &str, realm: &str) -> String {
    format!(
        "{}/realms/{}",
        base.trim_end_matches('/'),
        encode_segment(realm)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("data-sec"), "data-sec");
        assert_eq!(encode_segment("my realm/x"), "my%20realm%2Fx");
        assert_eq!(
            realm_url("https://kc/auth/", "a b"),
            "https://kc/auth/realms/a%20b"
        );
    }
}
