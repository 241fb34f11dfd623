//! Checks of single fields (pure): URLs, names, keys.

use url::Url;

use super::{
    InvalidSpec, invalid,
    java_uri::{UriCheck, UriRefusal, refusals},
};

/// A PEM CA bundle, or none.
pub fn ca_bundle(field: &str, raw: Option<&str>) -> Result<Option<String>, InvalidSpec> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Ok(Some(pem.to_string())),
        Some(_) => Err(invalid(
            field,
            "must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
        )),
    }
}

/// Labels and annotations that the Secret must not carry from the user: the operator's own
/// marker, and Argo CD's tracking keys (they would make Argo CD treat the Secret as its own).
pub fn is_reserved_metadata_key(key: &str) -> bool {
    key == "app.kubernetes.io/managed-by"
        || key == "app.kubernetes.io/instance"
        || key.starts_with("argocd.argoproj.io/")
        || key.starts_with("omkc.dev/")
}

pub(super) fn non_empty_or(value: &Option<String>, default: &str) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => default.to_string(),
    }
}

/// Parses an absolute http(s) URL with a host and no query or fragment, and returns it without
/// a trailing slash so paths can be appended.
pub fn base_url(field: &str, raw: &str) -> Result<String, InvalidSpec> {
    let url =
        Url::parse(raw.trim()).map_err(|e| invalid(field, format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(field, "must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(field, "must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "must not embed credentials; use the credentials Secret",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A redirect (or post-logout) URI as Keycloak takes it: no fragment, an absolute URI or a path
/// (wildcards allowed), and nothing Keycloak's own validation refuses once a path is appended to
/// OpenMetadata's URL, `root` ([`check_keycloak_uri`]).
pub(super) fn check_redirect_uri(field: &str, uri: &str, root: &str) -> Result<(), InvalidSpec> {
    // Keycloak refuses the whole client with 400 for one such URI.
    if uri.contains('#') {
        return Err(invalid(
            field,
            "must not have a #fragment (Keycloak refuses redirect URIs with one)",
        ));
    }
    // Keycloak accepts wildcards ("https://host/*") and relative paths ("/callback").
    if !uri.starts_with('/') {
        let parsed =
            Url::parse(uri).map_err(|e| invalid(field, format!("is not a valid URI ({e})")))?;
        if parsed.cannot_be_a_base() {
            return Err(invalid(field, "must be an absolute URI or a path"));
        }
    }
    check_keycloak_uri(field, uri, Some(root), false)
}

/// Refuses what Keycloak's client validation would refuse with 400 (see [`super::java_uri`]),
/// the strictest way of every supported release.
pub(super) fn check_keycloak_uri(
    field: &str,
    uri: &str,
    root: Option<&str>,
    openable: bool,
) -> Result<(), InvalidSpec> {
    let check = UriCheck {
        openable,
        fragment: true,
        scheme_any_case: true,
    };
    // Keycloak appends a relative URI to the root URL (`ResolveRelative`) before it checks it.
    let (resolved, relative) = match root {
        Some(root) if uri.starts_with('/') => (
            format!("{root}{uri}"),
            " (appended to spec.openmetadata.url, as Keycloak does)",
        ),
        _ => (uri.to_string(), ""),
    };
    match refusals(&resolved, check).first() {
        None => Ok(()),
        Some(UriRefusal::IllegalScheme) => Err(invalid(
            field,
            "uses a scheme Keycloak refuses (javascript or data)",
        )),
        Some(UriRefusal::Fragment) => Err(invalid(
            field,
            "must not have a #fragment (Keycloak refuses one)",
        )),
        Some(UriRefusal::Invalid) => Err(invalid(
            field,
            format!(
                "is not a URI Keycloak accepts{relative}: Keycloak reads it with java.net.URI, which refuses a space, |, ^, brackets outside an IPv6 host, and a % not followed by two hex digits"
            ),
        )),
    }
}

pub(super) fn check_web_origin(field: &str, origin: &str) -> Result<(), InvalidSpec> {
    // "+" means "the redirect URIs' origins", "*" allows all.
    if origin == "+" || origin == "*" {
        return Ok(());
    }
    let url =
        Url::parse(origin).map_err(|e| invalid(field, format!("is not a valid origin ({e})")))?;
    if url.host_str().is_none() || !matches!(url.path(), "" | "/") {
        return Err(invalid(
            field,
            "must be scheme://host[:port], \"+\" or \"*\"",
        ));
    }
    Ok(())
}

/// A realm name the operator may put in a URL path: letters, digits, `-`, `_` and `.`, at most
/// 100 characters, and never `.` or `..` (a path segment that walks up the Admin API).
pub fn check_realm_name(field: &str, name: &str) -> Result<(), InvalidSpec> {
    let problem = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > 100 {
        Some("must be at most 100 characters")
    } else if name == "." || name == ".." {
        Some("must not be . or ..")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("may only hold letters, digits, '-', '_' and '.'")
    } else {
        None
    };
    match problem {
        Some(message) => Err(InvalidSpec {
            field: field.into(),
            message: message.into(),
        }),
        None => Ok(()),
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label value, or the name part of a label or annotation key (apimachinery's
/// `IsValidLabelValue`, `IsQualifiedName`): at most 63 characters, alphanumerics with `-`, `_`
/// and `.` inside.
fn is_name_part(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// A label's or an annotation's key and (`label`) a label's value, as the API server checks
/// them: refused here, before anything is written, not when the Secret is.
pub(super) fn check_metadata_entry(
    field: &str,
    key: &str,
    label: Option<&str>,
) -> Result<(), InvalidSpec> {
    let (prefix, name) = key
        .rsplit_once('/')
        .map_or((None, key), |(p, n)| (Some(p), n));
    if name.is_empty() || !is_name_part(name) || prefix.is_some_and(|p| !is_dns_subdomain(p)) {
        return Err(invalid(
            field,
            format!(
                "{key:?} is not a valid key: an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ),
        ));
    }
    match label {
        Some(value) if !is_name_part(value) => Err(invalid(
            &format!("{field}[{key}]"),
            format!(
                "{value:?} is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ),
        )),
        _ => Ok(()),
    }
}

pub fn check_dns_subdomain(field: &str, name: &str) -> Result<(), InvalidSpec> {
    if is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{name:?} is not a valid Kubernetes object name (lower-case DNS subdomain)"),
        ))
    }
}

pub(super) fn check_secret_key(field: &str, key: &str) -> Result<(), InvalidSpec> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{key:?} is not a valid Secret key (letters, digits, '-', '_', '.')"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    const ROOT: &str = "https://om.example";

    #[test]
    fn a_redirect_uri_with_a_fragment_is_refused_with_its_field() {
        for uri in [
            "https://om.example/callback#x",
            "/callback#",
            "https://om.example/*#",
        ] {
            let err = check_redirect_uri("spec.openmetadata.extraRedirectUris[0]", uri, ROOT)
                .unwrap_err();
            assert_eq!(err.field, "spec.openmetadata.extraRedirectUris[0]");
            assert!(err.message.contains("#fragment"), "{}", err.message);
        }
        for uri in [
            "https://om.example/callback",
            "/callback",
            "https://om.example/*",
        ] {
            check_redirect_uri("f", uri, ROOT).unwrap();
        }
    }
}
