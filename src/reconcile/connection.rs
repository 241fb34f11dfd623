//! Which Keycloak a resource may use, and with which credentials (pure). A resource either
//! names a `ClusterKeycloakConnection` that allows its namespace and realm, or (when the
//! operator allows inline connections) gives a URL and a credentials Secret of its namespace.
//! Either way the credentials Secret must carry the opt-in label; an optional annotation binds
//! it to one URL. Nothing here reaches Keycloak: a refusal happens before any request.

use crate::reason::Reason;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::Error;
use crate::{
    crd::ClusterKeycloakConnection,
    crd::OpenMetadataKeycloakClient,
    keycloak::ConnectionKey,
    names::{CREDENTIALS_LABEL, CREDENTIALS_URL_ANNOTATION},
    validate::{ConnectionSource, DEFAULT_ADMIN_REALM, Validated, base_url, ca_bundle},
};

/// A connection resolved for one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Identity of the session (one session and token per connection).
    pub key: ConnectionKey,
    /// Base URL the operator calls.
    pub url: String,
    /// Base URL browsers use (issuer, discovery, keys published for OpenMetadata), when set;
    /// otherwise the issuer comes from the realm's discovery document.
    pub public_url: Option<String>,
    /// Realm the credentials authenticate against.
    pub admin_realm: String,
    pub ca_bundle: Option<String>,
    /// Namespace and name of the credentials Secret.
    pub credentials: (String, String),
    /// Whether resources may take over a client no resource owns through this connection.
    pub allow_adoption: bool,
    /// The most resources that may use it (a ClusterKeycloakConnection's `maxClients`).
    pub max_clients: Option<u32>,
    /// Whether the resource brought it (its own URL and credentials), rather than naming a
    /// ClusterKeycloakConnection of the platform team.
    pub inline: bool,
}

/// What the environment says, for [`resolve`].
#[derive(Clone, Copy, Debug)]
pub struct Environment<'a> {
    /// The connection the resource names, if it exists.
    pub cluster: Option<&'a ClusterKeycloakConnection>,
    /// Labels of the resource's namespace.
    pub namespace_labels: &'a BTreeMap<String, String>,
    /// Where the operator runs (default namespace of a connection's credentials).
    pub operator_namespace: &'a str,
    /// Whether resources may bring their own URL and credentials.
    pub allow_inline: bool,
    /// Whether those may take over a client no resource owns.
    pub allow_inline_adoption: bool,
}

/// Resolves the connection of `v`, refusing what it may not use.
pub fn resolve(v: &Validated, env: Environment<'_>) -> Result<Connection, Error> {
    match &v.connection {
        ConnectionSource::Inline(inline) => {
            if !env.allow_inline {
                return Err(Error::new(
                    Reason::ConnectionNotAllowed,
                    "this operator does not accept keycloak.url with a credentials Secret of the namespace; use keycloak.connectionRef to a ClusterKeycloakConnection",
                ));
            }
            Ok(Connection {
                key: ConnectionKey {
                    base_url: inline.url.clone(),
                    admin_realm: inline.admin_realm.clone(),
                    credentials_source: ConnectionKey::secret_source(
                        &v.namespace,
                        &inline.credentials_secret,
                    ),
                },
                url: inline.url.clone(),
                public_url: inline.public_url.clone(),
                admin_realm: inline.admin_realm.clone(),
                ca_bundle: inline.ca_bundle.clone(),
                credentials: (v.namespace.clone(), inline.credentials_secret.clone()),
                allow_adoption: env.allow_inline_adoption,
                max_clients: None,
                inline: true,
            })
        }
        ConnectionSource::Cluster(name) => {
            let connection = env
                .cluster
                .ok_or_else(|| Error::connection_not_found(name.clone()))?;
            let spec = &connection.spec;
            if !selector_matches(&spec.namespace_selector, env.namespace_labels)? {
                return Err(Error::new(
                    Reason::ConnectionNotAllowed,
                    format!(
                        "ClusterKeycloakConnection {name:?} does not allow namespace {:?} (its namespaceSelector does not match the namespace's labels)",
                        v.namespace
                    ),
                ));
            }
            let resolved = of_cluster(connection, env.operator_namespace)?;
            let admin_realm = &resolved.admin_realm;
            // "*" never covers master, nor the realm the connection's credentials administer.
            let realm_allowed = spec
                .allowed_realms
                .iter()
                .any(|r| r == &v.realm || (r == "*" && wildcard_covers(&v.realm, admin_realm)));
            if !realm_allowed {
                return Err(Error::new(
                    Reason::RealmNotAllowed,
                    format!(
                        "ClusterKeycloakConnection {name:?} does not allow realm {:?} (allowedRealms: {})",
                        v.realm,
                        spec.allowed_realms.join(", ")
                    ),
                ));
            }
            Ok(resolved)
        }
    }
}

/// Whether an allowedRealms `"*"` covers `realm`: never master, nor the connection's own
/// admin realm.
pub fn wildcard_covers(realm: &str, admin_realm: &str) -> bool {
    !realm.eq_ignore_ascii_case("master") && !realm.eq_ignore_ascii_case(admin_realm)
}

/// A ClusterKeycloakConnection's own spec, checked: where, as whom, with which CA. Its
/// namespaceSelector and allowedRealms are the resource's side ([`resolve`]).
pub fn of_cluster(
    connection: &ClusterKeycloakConnection,
    operator_namespace: &str,
) -> Result<Connection, Error> {
    let name = connection.metadata.name.clone().unwrap_or_default();
    let spec = &connection.spec;
    let invalid = |e: crate::validate::InvalidSpec| {
        Error::new(
            Reason::ConnectionInvalid,
            format!("ClusterKeycloakConnection {name:?}: {e}"),
        )
    };
    let admin_realm = spec
        .admin_realm
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_REALM.to_string());
    crate::validate::check_realm_name("spec.adminRealm", &admin_realm).map_err(invalid)?;
    // Said on the connection's own status too, not only to the resources it would serve.
    check_selector(&spec.namespace_selector).map_err(|m| {
        Error::new(
            Reason::ConnectionInvalid,
            format!("ClusterKeycloakConnection {name:?}: spec.{m}"),
        )
    })?;
    let url = base_url("spec.url", &spec.url).map_err(invalid)?;
    let public_url = spec
        .public_url
        .as_deref()
        .map(|u| base_url("spec.publicUrl", u).map_err(invalid))
        .transpose()?;
    Ok(Connection {
        key: ConnectionKey {
            base_url: url.clone(),
            admin_realm: admin_realm.clone(),
            credentials_source: ConnectionKey::connection_source(&name),
        },
        url,
        public_url,
        admin_realm,
        ca_bundle: ca_bundle("spec.caBundle", spec.ca_bundle.as_deref()).map_err(invalid)?,
        credentials: spec.credentials_secret_ref.in_or(operator_namespace),
        allow_adoption: spec.allow_adoption.unwrap_or(false),
        max_clients: spec.max_clients,
        inline: false,
    })
}

/// Whether `obj` names the ClusterKeycloakConnection `name`.
pub fn names_connection(obj: &OpenMetadataKeycloakClient, name: &str) -> bool {
    obj.spec
        .keycloak
        .connection_ref
        .as_ref()
        .is_some_and(|c| c.name == name)
}

/// Refuses `me` when connection `name` allows at most `max` resources and `max` others that
/// use it came first (by creation time, then namespace and name: the same order on every
/// replica and after every restart). Resources being deleted do not count. The message names
/// no other resource: they may be other tenants'.
pub fn within_limit<'a>(
    name: &str,
    max: Option<u32>,
    me: &OpenMetadataKeycloakClient,
    all: impl IntoIterator<Item = &'a OpenMetadataKeycloakClient>,
) -> Result<(), Error> {
    let Some(max) = max else { return Ok(()) };
    let order = |o: &OpenMetadataKeycloakClient| {
        (
            o.metadata.creation_timestamp.as_ref().map(|t| t.0),
            o.metadata.namespace.clone(),
            o.metadata.name.clone(),
        )
    };
    let mine = order(me);
    let before = all
        .into_iter()
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .filter(|o| names_connection(o, name))
        .filter(|o| order(o) < mine)
        .count();
    if before >= max as usize {
        return Err(Error::new(
            Reason::ConnectionClientLimit,
            format!(
                "ClusterKeycloakConnection {name:?} allows {max} clients (maxClients) and {before} resources that came earlier use it; nothing was done in Keycloak (ask the platform team, or delete another resource of yours)"
            ),
        ));
    }
    Ok(())
}

impl Connection {
    /// The credentials Secret as a resource's status may name it: its namespace and name for
    /// the resource's own, only the connection for the platform team's (whose Secrets are not
    /// the tenants' to know; the operator's log names it).
    pub fn credentials_shown(&self) -> String {
        match ConnectionKey::connection_of(&self.key.credentials_source) {
            Some(connection) => format!("of ClusterKeycloakConnection {connection:?}"),
            _ => format!("{}/{}", self.credentials.0, self.credentials.1),
        }
    }
}

/// Whether a Secret may be used as the credentials of `connection`: it carries the opt-in
/// label, and if it names the one URL it may be sent to, that is the connection's URL.
pub fn credentials_allowed(secret: &ObjectMeta, connection: &Connection) -> Result<(), Error> {
    let shown = connection.credentials_shown();
    let labelled = secret
        .labels
        .as_ref()
        .and_then(|l| l.get(CREDENTIALS_LABEL))
        .is_some_and(|v| v == "true");
    if !labelled {
        return Err(Error::new(
            Reason::CredentialsNotAllowed,
            format!(
                "Secret {shown} lacks the label {CREDENTIALS_LABEL}=true; only a Secret so labelled (by someone allowed to write Secrets) is used as Keycloak credentials"
            ),
        ));
    }
    if let Some(bound) = secret
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREDENTIALS_URL_ANNOTATION))
    {
        let bound = bound.trim().trim_end_matches('/');
        if bound != connection.url {
            return Err(Error::new(
                Reason::CredentialsNotAllowed,
                format!(
                    "Secret {shown} may only be sent to {bound} ({CREDENTIALS_URL_ANNOTATION}), not to {}",
                    connection.url
                ),
            ));
        }
        // The binding is to a host as the system's authorities vouch for it: a CA bundle the
        // resource brings could let another certificate stand for that host.
        if connection.inline && connection.ca_bundle.is_some() {
            return Err(Error::new(
                Reason::CredentialsNotAllowed,
                format!(
                    "Secret {shown} is bound to {bound} ({CREDENTIALS_URL_ANNOTATION}); a caBundle of the resource is not trusted with it (remove spec.keycloak.caBundle, or use a ClusterKeycloakConnection)"
                ),
            ));
        }
    }
    Ok(())
}

/// What Kubernetes refuses of a label selector (apimachinery's `LabelSelectorAsSelector`): an
/// operator but `In`, `NotIn`, `Exists` and `DoesNotExist`; no values with `In` or `NotIn`;
/// values with `Exists` or `DoesNotExist`.
fn check_selector(selector: &LabelSelector) -> Result<(), String> {
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let has_values = e.values.as_ref().is_some_and(|v| !v.is_empty());
        let problem = match (e.operator.as_str(), has_values) {
            ("In" | "NotIn", true) | ("Exists" | "DoesNotExist", false) => continue,
            ("In" | "NotIn", false) => "values must be given with In and NotIn".to_string(),
            ("Exists" | "DoesNotExist", true) => {
                "values must not be given with Exists and DoesNotExist".to_string()
            }
            (other, _) => {
                format!("unknown operator {other:?} (In, NotIn, Exists, DoesNotExist)")
            }
        };
        return Err(format!(
            "namespaceSelector.matchExpressions[{i}]: {problem}"
        ));
    }
    Ok(())
}

/// Whether `labels` match a label selector (`matchLabels` and `matchExpressions` with `In`,
/// `NotIn`, `Exists`, `DoesNotExist`). A selector Kubernetes would refuse is an error, never a
/// match.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, Error> {
    check_selector(selector).map_err(|m| Error::new(Reason::ConnectionInvalid, m))?;
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let mut by_expressions = true;
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        by_expressions &= match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            // DoesNotExist: the one operator left once checked.
            _ => value.is_none(),
        };
    }
    Ok(by_labels && by_expressions)
}

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;
