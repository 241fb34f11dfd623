//! What Keycloak checks before it stores a client made or changed through the Admin API (or
//! the console): its client validation of URLs, then the database's columns.

use omkc::validate::java_uri::{UriCheck, UriRefusal, refusals};

use super::*;

/// Where Keycloak's client validation grew (absent on 26.3.5 and 26.5.6, present on 26.6.4):
/// post-logout redirect URIs and the admin URL are checked, a scheme compares without case, and
/// the fragment message of a redirect URI changed.
const URI_CHECKS_SINCE: Version = (26, 6, 0);

/// `ResolveRelative.resolveRelativeUri`: a relative URI (`/path`) appended to the root URL, the
/// others as they are. Without a root URL, a URI builder replaces the server URL's path with it,
/// escaping whatever needs it (`None`: nothing left to refuse), but a `{template}` in it has no
/// value and fails the request with 500 (seen on 22.0.5 and 26.7.4: `/{x}`, `/{ x }`; not `/{}`,
/// `/{x`, `/a}b{`).
fn resolved(uri: &str, root: Option<&str>) -> Result<Option<String>, ()> {
    match (uri.starts_with('/'), root) {
        (false, _) => Ok(Some(uri.to_string())),
        (true, Some(root)) => Ok(Some(format!("{root}{uri}"))),
        (true, None) => {
            let template = uri
                .split('{')
                .skip(1)
                .any(|after| after.find('}').is_some_and(|end| end > 0));
            if template { Err(()) } else { Ok(None) }
        }
    }
}

impl ClientModel {
    /// What a client made or changed through the Admin API (or the console) passes before it is
    /// stored: Keycloak's client validation, then the database's columns. A realm's built-in
    /// clients are made without either.
    pub fn stored(&self, version: Version) -> Result<(), Refusal> {
        self.check_urls(version)?;
        self.fits_columns(version)
    }

    /// `DefaultClientValidationProvider.validateUrls` on the client as it would be stored: the
    /// root URL, the base URL (a relative one resolved against a placeholder server URL), each
    /// redirect URI and, from 26.6, the admin URL and each post-logout redirect URI (relative
    /// ones resolved against the root URL), each checked by `java.net.URI` ([`refusals`]). Every distinct message, in
    /// one 400 `invalid_input`, `; `-separated (Keycloak's own order follows a hash set).
    fn check_urls(&self, version: Version) -> Result<(), Refusal> {
        let since = version >= URI_CHECKS_SINCE;
        let root = self.root_url.as_deref();
        let mut messages: Vec<String> = Vec::new();
        let mut failed = false;
        let mut check = |name: &str, uris: Vec<(&str, Option<&str>)>, fragment: Option<&str>| {
            // The root and base URLs must open (`toURL`); the URIs need not.
            let openable = name.ends_with("URL");
            let kind = if openable { "URL" } else { "URI" };
            let check = UriCheck {
                openable,
                fragment: fragment.is_some(),
                scheme_any_case: since,
            };
            for (uri, root) in uris {
                let resolved = match resolved(uri, root) {
                    Ok(Some(resolved)) => resolved,
                    Ok(None) => continue,
                    Err(()) => {
                        failed = true;
                        continue;
                    }
                };
                for refusal in refusals(&resolved, check) {
                    let message = match refusal {
                        UriRefusal::Invalid => format!("{name} is not a valid {kind}"),
                        UriRefusal::IllegalScheme => format!("{name} uses an illegal scheme"),
                        UriRefusal::Fragment => fragment.unwrap_or_default().to_string(),
                    };
                    if !messages.contains(&message) {
                        messages.push(message);
                    }
                }
            }
        };
        let root_fragment = "Root URL must not contain an URL fragment";
        // The root URL is checked as it is: appended to nothing.
        check(
            "Root URL",
            root.map(|r| (r, Some(""))).into_iter().collect(),
            Some(root_fragment),
        );
        // An empty root URL is no root URL to resolve against (seen on 26.6.4 and 26.7.4).
        let root = root.filter(|r| !r.is_empty());
        let base = (self.base_url.as_deref()).map(|b| (b, Some("https://localhost/auth")));
        check("Base URL", base.into_iter().collect(), None);
        // From 26.6 the admin URL must open too; a relative one is appended to the root URL
        // (seen on 26.6.4 and 26.7.4, not on 22.0.5 or 26.5.6; found by the random hand-edit
        // differential).
        let admin = (self.admin_url.as_deref())
            .filter(|_| since)
            .map(|a| (a, root));
        check("Admin URL", admin.into_iter().collect(), None);
        let redirect_fragment = if since {
            "A redirect URI must not contain an URL fragment"
        } else {
            "Redirect URIs must not contain an URI fragment"
        };
        let redirects = self.redirect_uris.iter().map(|u| (u.as_str(), root));
        check(
            "A redirect URI",
            redirects.collect(),
            Some(redirect_fragment),
        );
        if since && let Some(uris) = self.attributes.get("post.logout.redirect.uris") {
            let fragment = "A post-logout redirect URI must not contain an URL fragment";
            // Blank entries are passed over; the others are checked as they are, untrimmed.
            let entries = uris.split("##").filter(|u| !u.trim().is_empty());
            let post_logout = entries.map(|u| (u, root)).collect();
            check("A post-logout redirect URI", post_logout, Some(fragment));
        }
        if failed {
            return Err(unknown_error(version));
        }
        if messages.is_empty() {
            return Ok(());
        }
        let description = messages.join("; ");
        Err((
            400,
            json!({"error": "invalid_input", "error_description": description}),
        ))
    }

    /// Keycloak's database keeps these in `VARCHAR(255)` columns (`CLIENT`, `REDIRECT_URIS`,
    /// `WEB_ORIGINS`): a longer value fails the write with 500 (characters as the database
    /// counts them, not bytes: [`Database::fits`]). Attributes are not bounded so. The name,
    /// the description and attribute values are national-character columns
    /// ([`Database::holds_national`]). Two redirect URIs or web origins the database takes for
    /// one ([`Database::repeats`]) fail it with 409.
    fn fits_columns(&self, version: Version) -> Result<(), Refusal> {
        let single = [
            &self.name,
            &self.description,
            &self.admin_url,
            &self.root_url,
            &self.base_url,
        ];
        let too_long = (single.into_iter().flatten().chain([&self.client_id]))
            .chain(&self.redirect_uris)
            .chain(&self.web_origins)
            .any(|v| !self.database.fits(v));
        let national = [&self.name, &self.description].into_iter().flatten();
        let unheld =
            (national.chain(self.attributes.values())).any(|v| !self.database.holds_national(v));
        if (self.database.repeats(&self.redirect_uris)) || self.database.repeats(&self.web_origins)
        {
            let body =
                json!({"error": "conflict", "error_description": "Duplicate resource error"});
            return Err((409, body));
        }
        if too_long || unheld {
            Err(unknown_error(version))
        } else {
            Ok(())
        }
    }
}
