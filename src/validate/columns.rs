//! What Keycloak's database stores of a client, on every database it runs on: the length of
//! a column, the characters of a national-character one, and values it takes for one another.

use super::{InvalidSpec, invalid};

/// Keycloak keeps a client's id, name, description, URLs, redirect URIs and web origins in
/// columns of 255 characters: a longer value fails its write with 500, which would look like an
/// outage. `what` says how `field` gives `value` ("is", "makes the redirect URI `<url>/callback`,").
/// Characters as Java counts them (UTF-16 units): a character past U+FFFF, an emoji, counts
/// twice (128 of them fail on 26.7.4's H2 database; PostgreSQL 15 takes 255, the stricter
/// count is kept). A NUL character fails the write with 500 on PostgreSQL (H2 stores it).
pub(super) fn stored(field: &str, what: &str, value: &str) -> Result<(), InvalidSpec> {
    if value.contains('\0') {
        let message = "must not hold a NUL character (Keycloak on PostgreSQL cannot store one)";
        return Err(invalid(field, message));
    }
    let n = value.encode_utf16().count();
    if n <= 255 {
        return Ok(());
    }
    let wide = if n > value.chars().count() {
        " (an emoji or other character past U+FFFF counts twice)"
    } else {
        ""
    };
    let message = format!("{what} {n} characters long{wide}; Keycloak stores at most 255");
    Err(invalid(field, message))
}

/// Keycloak keeps a client's name, description and attribute values (the post-logout redirect
/// URIs) in national-character columns, which MySQL and MariaDB hold in 3-byte UTF-8 (utf8mb3):
/// there a character past U+FFFF, an emoji, fails the write with 500 (26.7.4 on MariaDB 10.11).
/// Refused on every database, as the strictest one stores.
pub(super) fn national(field: &str, what: &str, value: &str) -> Result<(), InvalidSpec> {
    match value.chars().find(|c| u32::from(*c) > 0xFFFF) {
        None => Ok(()),
        Some(c) => Err(invalid(
            field,
            format!(
                "{what} U+{:X}, a character past U+FFFF: Keycloak on MySQL and MariaDB cannot store one in a client's name, description or post-logout redirect URIs",
                u32::from(c)
            ),
        )),
    }
}

/// MySQL and MariaDB compare a client's redirect URIs, and its web origins, without case: two
/// that differ only in case are one there, and Keycloak refuses the client with 409
/// ("Duplicate resource error"; 26.7.4 on MariaDB 10.11). `derived` comes first, then `extra`.
pub(super) fn distinct_in_any_case(
    field: &str,
    what: &str,
    derived: &str,
    extra: &[String],
) -> Result<(), InvalidSpec> {
    let mut seen = vec![derived];
    for (i, item) in extra.iter().enumerate() {
        let lower = item.to_lowercase();
        if let Some(other) = seen
            .iter()
            .find(|s| *s != item && s.to_lowercase() == lower)
        {
            let message = format!(
                "differs from the {what} {other:?} only in case: Keycloak on MySQL and MariaDB takes them for one and refuses the client (409); keep one"
            );
            return Err(invalid(&format!("{field}[{i}]"), message));
        }
        seen.push(item);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{
        crd::OpenMetadataKeycloakClient,
        validate::{
            tests::{INSTALLATION, fixture},
            validate,
        },
    };

    /// Keycloak's client columns hold 255 characters as Java counts them (`é` once, an emoji
    /// twice): a longer value is refused here, naming the field, where Keycloak would fail the
    /// write with 500 (26.7.4). Its name, description and attributes hold no emoji at all on
    /// MySQL and MariaDB.
    #[test]
    fn values_keycloak_cannot_store_are_refused() {
        let at = |n: usize, c: &str| c.repeat(n);
        let host = "https://om.example.com/";
        let refused = |change: &dyn Fn(&mut OpenMetadataKeycloakClient)| {
            let mut obj = fixture("basic.yaml");
            change(&mut obj);
            validate(&obj, INSTALLATION).map(drop)
        };
        // At the bound: stored.
        refused(&|o| o.spec.client.get_or_insert_default().description = Some(at(255, "é")))
            .unwrap();
        let emoji = format!("{host}{}", at(116, "😀"));
        refused(&|o| o.spec.openmetadata.extra_redirect_uris = vec![emoji.clone()]).unwrap();
        refused(&|o| o.spec.client.get_or_insert_default().name = Some(at(255, "\u{FFFD}")))
            .unwrap();
        let url = format!("{host}{}", at(246 - host.len(), "a"));
        refused(&|o| o.spec.openmetadata.url = url.clone()).unwrap();
        for (change, field, said) in [
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    o.spec.client.get_or_insert_default().description = Some(at(256, "é"))
                }) as Box<dyn Fn(&mut OpenMetadataKeycloakClient)>,
                "spec.client.description",
                "is 256 characters long; Keycloak stores at most 255",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    o.spec.openmetadata.extra_redirect_uris =
                        vec![format!("{host}{}", at(117, "😀"))]
                }),
                "spec.openmetadata.extraRedirectUris[0]",
                "is 257 characters long (an emoji or other character past U+FFFF counts twice)",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    let uri = "https://OpenMetadata.example.com/callback";
                    o.spec.openmetadata.extra_redirect_uris = vec![uri.into()]
                }),
                "spec.openmetadata.extraRedirectUris[0]",
                "differs from the redirect URI \"https://openmetadata.example.com/callback\" only in case",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    let origins = [
                        "https://b.example",
                        "https://x.example",
                        "https://B.example",
                    ];
                    o.spec.openmetadata.extra_web_origins = origins.map(String::from).to_vec()
                }),
                "spec.openmetadata.extraWebOrigins[2]",
                "differs from the web origin \"https://b.example\" only in case: Keycloak on MySQL and MariaDB",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    let origin = "https://OpenMetadata.example.com";
                    o.spec.openmetadata.extra_web_origins = vec![origin.into()]
                }),
                "spec.openmetadata.extraWebOrigins[0]",
                "differs from the web origin \"https://openmetadata.example.com\" only in case",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    o.spec.client.get_or_insert_default().name = Some("Catalog 😀".into())
                }),
                "spec.client.name",
                "holds U+1F600, a character past U+FFFF: Keycloak on MySQL and MariaDB cannot store",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    o.spec.client.get_or_insert_default().description = Some("𝔇ata".into())
                }),
                "spec.client.description",
                "holds U+1D507",
            ),
            (
                Box::new(|o| {
                    o.spec.openmetadata.post_logout_redirect_uris = vec![format!("{host}bye😀")]
                }),
                "spec.openmetadata.postLogoutRedirectUris[0]",
                "holds U+1F600",
            ),
            (
                Box::new(|o: &mut OpenMetadataKeycloakClient| {
                    o.spec.client.get_or_insert_default().description = Some("a\0b".into())
                }),
                "spec.client.description",
                "must not hold a NUL character (Keycloak on PostgreSQL cannot store one)",
            ),
            (
                Box::new(|o| {
                    o.spec.openmetadata.url = format!("{host}{}", at(247 - host.len(), "a"))
                }),
                "spec.openmetadata.url",
                "makes the redirect URI <url>/callback, 256 characters long",
            ),
            (
                Box::new(|o| {
                    o.spec.openmetadata.extra_redirect_uris =
                        vec![format!("{host}{}", at(233, "b"))]
                }),
                "spec.openmetadata.extraRedirectUris[0]",
                "is 256 characters long",
            ),
            (
                Box::new(|o| {
                    o.spec.openmetadata.extra_web_origins =
                        vec![format!("https://{}.example.com", at(237, "c"))]
                }),
                "spec.openmetadata.extraWebOrigins[0]",
                "is 257 characters long",
            ),
        ] {
            let e = refused(&*change).expect_err(field);
            assert_eq!(e.field, field);
            assert!(e.message.contains(said), "{e}");
        }
    }
}
