"""Renders the Helm chart through Helm's own library (helm-python-sdk) and builds the plain
kubectl manifest from it.

    python3 tests/deploy/render.py            # print the kubectl manifest
    python3 tests/deploy/render.py --write    # regenerate deploy/kubernetes/...yaml

The kubectl manifest is the chart rendered with its default values (release
"openmetadata-keycloak-operator" in namespace "omkc-system"), preceded by the Namespace and the
CRD. Two Helm-only labels are rewritten: helm.sh/chart is dropped and
app.kubernetes.io/managed-by says kubectl. test_chart.py checks the file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "openmetadata-keycloak-operator"
CRDS = sorted((ROOT / "crds").glob("*.yaml"))
CRD = ROOT / "crds" / "openmetadatakeycloakclients.omkc.dev.yaml"
CONNECTION_CRD = ROOT / "crds" / "clusterkeycloakconnections.omkc.dev.yaml"
MANIFEST = ROOT / "deploy" / "kubernetes" / "openmetadata-keycloak-operator.yaml"
RELEASE = "openmetadata-keycloak-operator"
NAMESPACE = "omkc-system"

# Order of kinds in the kubectl manifest: what others depend on first.
KIND_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
    "ClusterKeycloakConnection",
    "NetworkPolicy",
    "ServiceMonitor",
    "PrometheusRule",
    "ConfigMap",
]


def crd_schema(path: Path = CRD) -> dict:
    """The openAPIV3Schema of a committed CRD (default: OpenMetadataKeycloakClient)."""
    crd = yaml.safe_load(path.read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def render(values: dict | None = None, namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included), as `helm template` would."""
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values or {})
        return chart.render(values or {}, name=RELEASE, namespace=namespace, is_install=True)


def split_documents(text: str) -> list[str]:
    """YAML documents of a rendered template, as text (comments kept), empty ones dropped."""
    docs = []
    for doc in text.split("\n---"):
        body = doc.strip("\n")
        if yaml.safe_load(body) is not None:
            docs.append(body.strip() + "\n")
    return docs


def documents(values: dict | None = None, namespace: str = NAMESPACE) -> list[str]:
    """Every rendered YAML document as text (not NOTES.txt, not CRDs), in template order."""
    return [
        doc
        for path, text in sorted(render(values, namespace).items())
        if not path.endswith(".txt")
        for doc in split_documents(text)
    ]


def objects(values: dict | None = None, namespace: str = NAMESPACE) -> list[dict]:
    """Every object the chart renders (not NOTES.txt, not CRDs)."""
    return [yaml.safe_load(doc) for doc in documents(values, namespace)]


def kubectl_manifest() -> str:
    docs: list[tuple[int, str]] = []
    for doc in documents():
        kind = yaml.safe_load(doc)["kind"]
        lines = [
            line.replace("app.kubernetes.io/managed-by: Helm", "app.kubernetes.io/managed-by: kubectl")
            for line in doc.splitlines()
            if not line.strip().startswith("helm.sh/chart:")
        ]
        docs.append((KIND_ORDER.index(kind), "\n".join(lines) + "\n"))
    namespace = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n"
        f"  name: {NAMESPACE}\n"
        "  labels:\n"
        "    pod-security.kubernetes.io/enforce: restricted\n"
    )
    docs.append((0, namespace))
    for crd in CRDS:
        docs.append((1, crd.read_text()))
    docs.sort(key=lambda d: d[0])
    header = (
        "# openmetadata-keycloak-operator, for `kubectl apply --server-side -f`.\n"
        "# Generated from deploy/helm/openmetadata-keycloak-operator with its default values by\n"
        "# `python3 tests/deploy/render.py --write`; do not edit by hand (a test compares them).\n"
    )
    return header + "---\n".join(doc for _, doc in docs)


def main() -> int:
    text = kubectl_manifest()
    if "--write" in sys.argv[1:]:
        MANIFEST.parent.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text(text)
        print(f"wrote {MANIFEST.relative_to(ROOT)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
