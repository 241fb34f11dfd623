//! One scenario, two API servers: [`Cluster`] is either the fake API server or a real one (started
//! by `tests/kubernetes/cluster.sh`), with the same verbs to arrange the custom resources as
//! another client would and to read them back, and a client that is the operator's.
//!
//! Against a real API server the operator's client is its ServiceAccount's token
//! (`OMKC_TEST_OPERATOR_KUBECONFIG`): what the manifest's RBAC does not grant is refused, as in a
//! cluster. The test's own client is an administrator (`OMKC_TEST_KUBECONFIG`), and each
//! scenario works in a namespace of its own, deleted once it passes.
//!
//! [`both_apiservers!`](crate::both_apiservers) declares a scenario once and makes two tests of
//! it: `<scenario>::fake_apiserver` (always runs) and `<scenario>::real_kubernetes` (ignored
//! unless asked for: `tests/kubernetes/cluster.sh test` runs them).

use kube::{
    Api, Client,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use omkc::crd::OpenMetadataKeycloakClient;
use serde_json::{Value, json};

use super::apiserver::ApiServer;

/// Declares a scenario that runs against the fake API server and against a real one.
#[macro_export]
macro_rules! both_apiservers {
    ($(#[$doc:meta])* $name:ident, |$cluster:ident| $body:block) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn scenario($cluster: &$crate::support::apiservers::Cluster) $body
            #[tokio::test]
            async fn fake_apiserver() {
                scenario(&$crate::support::apiservers::Cluster::fake().await).await
            }
            #[tokio::test]
            #[ignore = "needs a real API server: tests/kubernetes/cluster.sh test (docs/contributors/testing.md)"]
            async fn real_kubernetes() {
                let kube = $crate::support::apiservers::Cluster::real().await;
                scenario(&kube).await;
                kube.clean_up().await;
            }
        }
    };
}

/// The custom resources' collection, as the fake API server names it.
pub const CRS: &str = "omkc.dev/v1alpha1/openmetadatakeycloakclients";

/// An API server to test against.
pub enum Cluster {
    /// The fake, and the namespace the scenario uses.
    Fake(ApiServer),
    /// A real one: the administrator's client, the operator's, and the scenario's namespace.
    Real {
        admin: Client,
        operator: Client,
        namespace: String,
    },
}

async fn client_from(variable: &str) -> Client {
    let path = std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run tests/kubernetes/cluster.sh test (docs/contributors/testing.md)")
    });
    let kubeconfig = Kubeconfig::read_from(&path).expect("a readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("a client")
}

impl Cluster {
    /// The fake API server.
    pub async fn fake() -> Self {
        omkc::tls::install_crypto_provider();
        let api = ApiServer::start().await;
        api.put(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openmetadata"}}),
        );
        Self::Fake(api)
    }

    /// The real API server of `OMKC_TEST_KUBECONFIG`, with a fresh namespace.
    pub async fn real() -> Self {
        omkc::tls::install_crypto_provider();
        let admin = client_from("OMKC_TEST_KUBECONFIG").await;
        let operator = client_from("OMKC_TEST_OPERATOR_KUBECONFIG").await;
        let namespace = format!("omkc-test-{:08x}", fastrand::u32(..));
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
        // Labelled, so that tests/kubernetes/cluster.sh can wait for them to go.
        let object =
            json!({"metadata": {"name": namespace, "labels": {"omkc.dev/test-scenario": "true"}}});
        (namespaces.create(
            &PostParams::default(),
            &serde_json::from_value(object).unwrap(),
        ))
        .await
        .expect("a namespace for the scenario");
        Self::Real {
            admin,
            operator,
            namespace,
        }
    }

    /// The namespace the scenario's objects live in.
    pub fn namespace(&self) -> &str {
        match self {
            Self::Fake(_) => "openmetadata",
            Self::Real { namespace, .. } => namespace,
        }
    }

    /// A client as the operator is: none on the fake, its ServiceAccount on a real one.
    pub fn operator(&self) -> Client {
        match self {
            Self::Fake(api) => api.client(),
            Self::Real { operator, .. } => operator.clone(),
        }
    }

    /// A client as another user is: an administrator on a real API server (on the fake, any
    /// client is).
    pub fn admin(&self) -> Client {
        match self {
            Self::Fake(api) => api.client(),
            Self::Real { admin, .. } => admin.clone(),
        }
    }

    /// The fake API server itself; panics on a real one.
    pub fn into_fake(self) -> ApiServer {
        match self {
            Self::Fake(api) => api,
            Self::Real { .. } => panic!("a real API server is not the fake"),
        }
    }

    /// The fake API server, for what only it can tell (the requests made).
    pub fn fake_server(&self) -> Option<&ApiServer> {
        match self {
            Self::Fake(api) => Some(api),
            Self::Real { .. } => None,
        }
    }

    fn resources(admin: &Client, namespace: &str) -> Api<DynamicObject> {
        let resource = ApiResource::erase::<OpenMetadataKeycloakClient>(&());
        Api::namespaced_with(admin.clone(), namespace, &resource)
    }

    /// Creates a custom resource in the scenario's namespace, as another client would.
    pub async fn create(&self, mut object: Value) {
        object["metadata"]["namespace"] = json!(self.namespace());
        match self {
            Self::Fake(api) => api.put(object),
            Self::Real {
                admin, namespace, ..
            } => {
                let object = serde_json::from_value(object).unwrap();
                (Self::resources(admin, namespace).create(&PostParams::default(), &object))
                    .await
                    .expect("the resource created");
            }
        }
    }

    /// The custom resource `name`, as stored.
    pub async fn get(&self, name: &str) -> Option<Value> {
        match self {
            Self::Fake(api) => api.get(CRS, self.namespace(), name),
            Self::Real {
                admin, namespace, ..
            } => (Self::resources(admin, namespace).get_opt(name).await)
                .expect("a read")
                .map(|o| serde_json::to_value(o).unwrap()),
        }
    }

    /// Sets the finalizers of the custom resource `name`, as another controller would.
    pub async fn set_finalizers(&self, name: &str, finalizers: Value) {
        match self {
            Self::Fake(api) => api.edit(CRS, self.namespace(), name, |o| {
                o["metadata"]["finalizers"] = finalizers
            }),
            Self::Real {
                admin, namespace, ..
            } => {
                let patch = Patch::Merge(json!({"metadata": {"finalizers": finalizers}}));
                (Self::resources(admin, namespace).patch(name, &PatchParams::default(), &patch))
                    .await
                    .expect("the finalizers set");
            }
        }
    }

    /// The `events.k8s.io/v1` Events of the scenario's namespace, as stored.
    pub async fn events(&self) -> Vec<Value> {
        match self {
            Self::Fake(api) => api.list("events.k8s.io/v1/events", self.namespace()),
            Self::Real {
                admin, namespace, ..
            } => {
                let api: Api<k8s_openapi::api::events::v1::Event> =
                    Api::namespaced(admin.clone(), namespace);
                let list = api.list(&Default::default()).await.expect("the Events");
                (list.items.iter())
                    .map(|e| serde_json::to_value(e).unwrap())
                    .collect()
            }
        }
    }

    /// Deletes a real API server's namespace of the scenario (with every object in it), first
    /// releasing the finalizers of its custom resources (no operator runs beside the scenarios
    /// to release ours, nor any other controller the scenario played).
    pub async fn clean_up(&self) {
        if let Self::Real {
            admin, namespace, ..
        } = self
        {
            let resources = Self::resources(admin, namespace);
            let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
            for object in
                (resources.list(&Default::default()).await).expect("the scenario's resources")
            {
                let name = object.metadata.name.unwrap_or_default();
                (resources.patch(&name, &PatchParams::default(), &release))
                    .await
                    .expect("the finalizers released");
            }
            match Self::delete_namespace_of(admin, namespace).await {
                // Deleted by the scenario already, and still being emptied.
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                deleted => {
                    deleted.expect("the scenario's namespace deleted");
                }
            }
        }
    }

    async fn delete_namespace_of(admin: &Client, namespace: &str) -> kube::Result<()> {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
        (namespaces.delete(namespace, &DeleteParams::default()).await).map(drop)
    }

    /// Deletes the scenario's namespace, as a user would. It stays terminating while an object
    /// in it keeps a finalizer (on the fake, for good: no namespace controller runs there).
    pub async fn delete_namespace(&self) {
        (Self::delete_namespace_of(&self.admin(), self.namespace()).await)
            .expect("the namespace deleted");
    }

    /// Deletes the custom resource `name`, as a user would.
    pub async fn delete(&self, name: &str) {
        match self {
            Self::Fake(api) => api.delete(CRS, self.namespace(), name),
            Self::Real {
                admin, namespace, ..
            } => {
                (Self::resources(admin, namespace).delete(name, &DeleteParams::default()))
                    .await
                    .expect("the resource deleted");
            }
        }
    }
}
