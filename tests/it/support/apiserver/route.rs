//! A request's path, parsed: which collection, namespace, object and subresource.

use super::*;

/// A parsed resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Route {
    pub(super) group: String,
    pub(super) version: String,
    pub(super) resource: String,
    pub(super) namespace: Option<String>,
    pub(super) name: Option<String>,
    pub(super) subresource: Option<String>,
}

impl Route {
    pub(super) fn parse(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
            ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
            _ => (None, rest),
        };
        let (resource, name, subresource) = match rest {
            [r] => (r.to_string(), None, None),
            [r, n] => (r.to_string(), Some(n.to_string()), None),
            [r, n, s] => (r.to_string(), Some(n.to_string()), Some(s.to_string())),
            _ => return None,
        };
        Some(Self {
            group,
            version,
            resource,
            namespace,
            name,
            subresource,
        })
    }

    pub(super) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub(super) fn collection(&self) -> String {
        format!("{}/{}", self.api_version(), self.resource)
    }

    pub(super) fn kind(&self) -> Option<&'static str> {
        Some(match (self.group.as_str(), self.resource.as_str()) {
            ("", "secrets") => "Secret",
            ("", "configmaps") => "ConfigMap",
            ("", "namespaces") => "Namespace",
            ("apps", "deployments") => "Deployment",
            ("apps", "statefulsets") => "StatefulSet",
            ("coordination.k8s.io", "leases") => "Lease",
            ("omkc.dev", "clusterkeycloakconnections") => "ClusterKeycloakConnection",
            ("events.k8s.io", "events") => "Event",
            ("omkc.dev", "openmetadatakeycloakclients") => "OpenMetadataKeycloakClient",
            _ => return None,
        })
    }

    /// The key of the object `name` of this route.
    pub(super) fn key(&self, name: &str) -> Key {
        (
            self.collection(),
            self.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    }

    /// The API server's 404 for the object `name` of this route.
    pub(super) fn not_found(&self, name: &str) -> Response {
        status(
            404,
            "NotFound",
            format!("{} {name:?} not found", self.resource),
        )
    }

    /// The NamespaceLifecycle admission's refusal to create `name` in this route's namespace,
    /// being deleted, worded as a real kube-apiserver (1.34) words it.
    pub(super) fn namespace_terminating(&self, name: &str) -> Response {
        let namespace = self.namespace.clone().unwrap_or_default();
        let resource = match self.group.as_str() {
            "" => self.resource.clone(),
            group => format!("{}.{group}", self.resource),
        };
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("{resource} {name:?} is forbidden: unable to create new content in namespace {namespace} because it is being terminated"),
            "reason": "Forbidden",
            "details": {"name": name, "group": self.group, "kind": self.resource, "causes": [
                {"reason": "NamespaceTerminating", "field": "metadata.namespace",
                 "message": format!("namespace {namespace} is being terminated")}
            ]},
            "code": 403
        });
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }

    pub(super) fn access(&self, verb: &str) -> Access {
        Access {
            group: self.group.clone(),
            resource: match &self.subresource {
                Some(s) => format!("{}/{s}", self.resource),
                None => self.resource.clone(),
            },
            verb: verb.to_string(),
        }
    }
}
