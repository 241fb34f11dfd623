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

/// A route's path: each `{…}` of `route` in turn replaced by the next of `args`, percent-encoded.
pub fn route_path(route: &str, args: &[&str]) -> String {
    let mut args = args.iter();
    let mut parts = route.split('{');
    let mut path = parts.next().unwrap_or_default().to_string();
    for part in parts {
        let (_, rest) = part.split_once('}').expect("a placeholder is closed");
        path.push_str(&encode_segment(
            args.next().expect("an argument per placeholder"),
        ));
        path.push_str(rest);
    }
    path
}

/// An issuer announced for `realm` (a discovery document's `issuer`), if it is usable: an
/// absolute http(s) URL ending in `/realms/<realm>`, with no query, fragment or credentials
/// (it is published for browsers). Returned without a trailing slash.
pub fn checked_issuer(raw: &str, realm: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    let issuer = raw.trim_end_matches('/');
    let suffix = format!("/realms/{}", encode_segment(realm));
    (plain && issuer.ends_with(&suffix)).then(|| issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_must_be_a_plain_url_of_that_realm() {
        assert_eq!(
            checked_issuer("https://sso.example.com/realms/data/", "data").as_deref(),
            Some("https://sso.example.com/realms/data")
        );
        for bad in [
            "https://sso.example.com/realms/other",
            "javascript:alert(1)//realms/data",
            "https://u:p@sso.example.com/realms/data",
            "https://sso.example.com/realms/data?x=1",
            "/realms/data",
        ] {
            assert_eq!(checked_issuer(bad, "data"), None, "{bad}");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_segment("data-sec"), "data-sec");
        assert_eq!(encode_segment("my realm/x"), "my%20realm%2Fx");
        assert_eq!(
            realm_url("https://kc/auth/", "a b"),
            "https://kc/auth/realms/a%20b"
        );
        assert_eq!(
            route_path("/admin/realms/{realm}/clients/{id}", &["a b", "x/y"]),
            "/admin/realms/a%20b/clients/x%2Fy"
        );
    }
}
