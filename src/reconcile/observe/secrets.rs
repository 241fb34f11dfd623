//! The Secrets a resource names besides its outputs: Keycloak credentials and the source of a
//! client secret. Only Secrets carrying the opt-in label are used; the watches hold their
//! metadata, and a Secret is read whole only when a resource needs it.

use std::sync::Arc;

use k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{Api, core::PartialObjectMeta};

use super::super::{
    Error,
    connection::{self, Connection},
};
use crate::{
    cache::ObjectCache,
    context::Context,
    keycloak::{Credentials, SecretValue},
    names::SOURCE_LABEL,
    validate::Validated,
};

/// The largest credentials or source Secret the operator reads: a user name and password, a
/// client id and secret, or one client secret fit many times over.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// A Secret that must carry an opt-in label. Its metadata comes from the label-selected
/// metadata watch `cache`; one the watch does not show is looked up by its metadata only, to say
/// whether it is missing (`missing`) or not allowed (`allowed` fails). Only an allowed Secret is
/// read whole, once per change (its `resourceVersion`), and refused when larger than
/// [`MAX_SECRET_BYTES`] (`too_large`).
async fn labelled_secret(
    ctx: &Context,
    cache: &ObjectCache<PartialObjectMeta<Secret>>,
    (namespace, name): (&str, &str),
    missing: impl FnOnce() -> Error,
    allowed: impl Fn(&ObjectMeta) -> Result<(), Error>,
    too_large: impl FnOnce(usize) -> Error,
) -> Result<Arc<Secret>, Error> {
    let action = || format!("read Secret {namespace}/{name}");
    let version = match cache.get(namespace, name) {
        Some(meta) => {
            allowed(&meta.metadata)?;
            meta.metadata.resource_version.clone()
        }
        None => {
            let meta = Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), namespace)
                .get_metadata_opt(name)
                .await
                .map_err(|e| Error::kube(action(), e))?
                .ok_or_else(missing)?;
            allowed(&meta.metadata)?;
            None
        }
    };
    if let Some(held) = version
        .as_deref()
        .and_then(|v| ctx.secret_data.get(namespace, name, v))
    {
        return Ok(held);
    }
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| Error::kube(action(), e))?;
    // The label may have gone in between: the whole Secret is judged again.
    allowed(&secret.metadata)?;
    if let Some(size) = oversized(&secret) {
        return Err(too_large(size));
    }
    let secret = Arc::new(secret);
    ctx.secret_data.insert(secret.clone());
    Ok(secret)
}

/// The size of a Secret larger than [`MAX_SECRET_BYTES`] (its keys and values, `stringData`
/// too), if it is.
fn oversized(secret: &Secret) -> Option<usize> {
    let data = secret.data.iter().flatten();
    let string_data = secret.string_data.iter().flatten();
    let size = data.map(|(k, v)| k.len() + v.0.len()).sum::<usize>()
        + string_data.map(|(k, v)| k.len() + v.len()).sum::<usize>();
    (size > MAX_SECRET_BYTES).then_some(size)
}

/// The admin credentials of a connection, from the watch of Secrets labelled as credentials.
pub async fn credentials(connection: &Connection, ctx: &Context) -> Result<Credentials, Error> {
    let (namespace, name) = &connection.credentials;
    let shown = connection.credentials_shown();
    let read = labelled_secret(
        ctx,
        &ctx.credentials,
        (namespace, name),
        || Error::credentials_not_found(shown.clone()),
        |meta| connection::credentials_allowed(meta, connection),
        |size| {
            Error::credentials_invalid(
                &shown,
                format!(
                    "holds {size} bytes, more than the {MAX_SECRET_BYTES} a credentials Secret needs"
                ),
            )
        },
    )
    .await
    .and_then(|secret| credentials_from(&shown, &secret));
    if let Err(e) = &read
        && !connection.inline
    {
        // The tenant's status names the connection only; the platform team reads the Secret here.
        tracing::warn!(secret = %format!("{namespace}/{name}"), "connection credentials: {e}");
    }
    read
}

/// Reads `username`/`password` or `clientId`/`clientSecret` from the credentials Secret.
pub fn credentials_from(name: &str, secret: &Secret) -> Result<Credentials, Error> {
    let get = |key: &str| -> Option<String> {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone());
        let string_data = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.clone().into_bytes());
        data.or(string_data)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .filter(|s| !s.is_empty())
    };
    let invalid = |problem: &str| Error::credentials_invalid(name, problem);
    match (
        get("username"),
        get("password"),
        get("clientId"),
        get("clientSecret"),
    ) {
        (Some(username), Some(password), _, _) => Ok(Credentials::Password { username, password }),
        (_, _, Some(client_id), Some(client_secret)) => Ok(Credentials::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some(_), None, _, _) => Err(invalid("has `username` but no non-empty `password`")),
        (None, Some(_), _, _) => Err(invalid("has `password` but no non-empty `username`")),
        (_, _, Some(_), None) => Err(invalid("has `clientId` but no non-empty `clientSecret`")),
        _ => Err(invalid(
            "needs keys `username` and `password`, or `clientId` and `clientSecret`",
        )),
    }
}

/// The client secret from `spec.secret.source`, from the watch of Secrets labelled as sources.
pub async fn source(v: &Validated, ctx: &Context) -> Result<Option<SecretValue>, Error> {
    let Some((name, key)) = &v.secret.source else {
        return Ok(None);
    };
    let secret = labelled_secret(
        ctx,
        &ctx.sources,
        (&v.namespace, name),
        || Error::source_not_found(name.clone()),
        |meta| {
            let labelled = meta
                .labels
                .as_ref()
                .and_then(|l| l.get(SOURCE_LABEL))
                .is_some_and(|v| v == "true");
            labelled.then_some(()).ok_or_else(|| {
                Error::source_invalid(
                    name,
                    format!(
                        "is not labelled {SOURCE_LABEL}=true; label it to let the operator read it"
                    ),
                )
            })
        },
        |size| {
            Error::source_invalid(
                name,
                format!(
                    "holds {size} bytes, more than the {MAX_SECRET_BYTES} a client secret needs"
                ),
            )
        },
    )
    .await?;
    source_value(name, key, &secret).map(Some)
}

/// The value under `key` of a source Secret: present, UTF-8, not empty (a final newline, as
/// `--from-file` leaves it, is not part of it).
pub fn source_value(name: &str, key: &str, secret: &Secret) -> Result<SecretValue, Error> {
    let invalid = |problem: String| Error::source_invalid(name, problem);
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .ok_or_else(|| invalid(format!("has no key {key:?}")))?;
    let value =
        String::from_utf8(bytes).map_err(|_| invalid(format!("key {key:?} is not UTF-8 text")))?;
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(invalid(format!("key {key:?} is empty")));
    }
    Ok(SecretValue::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_either_key_pair_and_errors_name_keys_only() {
        use k8s_openapi::ByteString;
        let secret = |pairs: &[(&str, &str)]| Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        assert!(matches!(
            credentials_from("a", &secret(&[("username", "admin"), ("password", "pw\n")])).unwrap(),
            Credentials::Password { ref password, .. } if password == "pw"
        ));
        assert!(matches!(
            credentials_from("a", &secret(&[("clientId", "ops"), ("clientSecret", "cs")])).unwrap(),
            Credentials::ClientCredentials { .. }
        ));
        let err =
            credentials_from("a", &secret(&[("username", "admin"), ("password", "")])).unwrap_err();
        assert_eq!(err.reason(), crate::reason::Reason::CredentialsInvalid);
        assert!(err.to_string().contains("`password`"));
        let err = credentials_from("a", &secret(&[("clientSecret", "topsecret")])).unwrap_err();
        assert!(!err.to_string().contains("topsecret"), "{err}");
        // Half a pair is named as such.
        for (pairs, says) in [
            (
                &[("username", "admin")][..],
                "has `username` but no non-empty `password`",
            ),
            (
                &[("password", "pw")][..],
                "has `password` but no non-empty `username`",
            ),
            (
                &[("clientId", "ops")][..],
                "has `clientId` but no non-empty `clientSecret`",
            ),
            (
                &[("user", "admin")][..],
                "needs keys `username` and `password`, or",
            ),
        ] {
            let err = credentials_from("a", &secret(pairs)).unwrap_err();
            assert!(err.to_string().contains(says), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn a_secret_is_too_large_past_the_limit_counting_keys_and_string_data() {
        use k8s_openapi::ByteString;
        let secret = |key: &str, data: usize, string_data: usize| Secret {
            data: Some([(key.into(), ByteString(vec![b'x'; data]))].into()),
            string_data: Some([("s".into(), "y".repeat(string_data))].into()),
            ..Default::default()
        };
        // Keys and values of both maps add up: 1 + 1 of keys.
        let at_limit = secret("k", MAX_SECRET_BYTES - 12, 10);
        assert_eq!(oversized(&at_limit), None, "exactly the limit is read");
        assert_eq!(
            oversized(&secret("k", MAX_SECRET_BYTES - 12, 11)),
            Some(MAX_SECRET_BYTES + 1)
        );
        assert_eq!(
            oversized(&secret("kk", MAX_SECRET_BYTES - 12, 10)),
            Some(MAX_SECRET_BYTES + 1)
        );
        assert_eq!(
            oversized(&secret("k", MAX_SECRET_BYTES, 0)),
            Some(MAX_SECRET_BYTES + 2)
        );
    }
}
