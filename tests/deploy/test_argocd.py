"""The Argo CD integration: the Lua health check run under a real Lua interpreter (Debian's
lua5.4 with lua-cjson) against fixture objects, the argocd-cm snippet, the example Application
and the sync-wave guidance."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

import render
from render import crd_schema

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "deploy" / "argocd"
HEALTH = ARGOCD / "health.lua"
HARNESS = Path(__file__).resolve().parent / "argocd_harness.lua"
CASES = yaml.safe_load((ROOT / "tests" / "fixtures" / "argocd" / "cases.yaml").read_text())
KEY = "resource.customizations.health.omkc.dev_OpenMetadataKeycloakClient"
LUA = shutil.which("lua5.4") or shutil.which("lua5.1") or shutil.which("lua")


def run_health(script: Path, obj: dict) -> dict:
    assert LUA, "a Lua interpreter is required (Debian: apt-get install lua5.4 lua-cjson)"
    done = subprocess.run(
        [LUA, str(HARNESS), str(script)],
        input=json.dumps(obj), capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def full_object(case: dict) -> dict:
    return {"apiVersion": "omkc.dev/v1alpha1", "kind": "OpenMetadataKeycloakClient", **case["object"]}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_health_check_under_lua(case):
    # The fixture is a resource the API server would accept and the operator would write.
    body = {k: v for k, v in case["object"].items() if k != "metadata"}
    jsonschema.validate(body, crd_schema())
    health = run_health(HEALTH, full_object(case))
    assert health["status"] == case["expect"]["status"]
    if "message" in case["expect"]:
        assert health["message"] == case["expect"]["message"]


def test_every_health_status_is_covered_by_the_fixtures():
    assert {c["expect"]["status"] for c in CASES} == {"Healthy", "Progressing", "Degraded"}


def test_a_broken_script_fails_the_harness(tmp_path):
    broken = tmp_path / "broken.lua"
    broken.write_text("return nil\n")
    with pytest.raises(AssertionError):
        run_health(broken, full_object(CASES[0]))


def argocd_cm() -> dict:
    return yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())


def test_the_argocd_cm_snippet_carries_the_health_check_verbatim(tmp_path):
    cm = argocd_cm()
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"][KEY] == HEALTH.read_text()
    # And it behaves the same when run from the ConfigMap.
    script = tmp_path / "from-cm.lua"
    script.write_text(cm["data"][KEY])
    for case in CASES:
        assert run_health(script, full_object(case)) == run_health(HEALTH, full_object(case))


def test_the_argocd_guide_links_the_health_check_instead_of_printing_it():
    readme = (ROOT / "docs" / "operators" / "argocd.md").read_text()
    assert "deploy/argocd/argocd-cm-patch.yaml" in readme and "deploy/argocd/health.lua" in readme
    assert "local permanent = {" not in (ROOT / "README.md").read_text()
    assert "local permanent = {" not in readme, "the script lives in one place"


def test_the_example_puts_the_client_a_wave_before_openmetadata():
    apps = list(yaml.safe_load_all((ARGOCD / "applications.yaml").read_text()))
    assert [a["kind"] for a in apps] == ["Application", "Application"]
    operator, openmetadata = apps
    assert operator["spec"]["source"]["path"] == "deploy/helm/openmetadata-keycloak-operator"
    assert (ROOT / operator["spec"]["source"]["path"] / "Chart.yaml").exists()
    assert "ServerSideApply=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    charts = [s for s in openmetadata["spec"]["sources"] if s.get("chart") == "openmetadata"]
    assert len(charts) == 1
    sso = yaml.safe_load((ARGOCD / "openmetadata-sso.yaml").read_text())
    wave = int(sso["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert wave < 0, "the OpenMetadata chart's resources are in wave 0"
    body = {k: v for k, v in sso.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, crd_schema())
    assert sso["metadata"]["namespace"] == openmetadata["spec"]["destination"]["namespace"]


def sync_order_problems(apps: list[dict]) -> list[str]:
    """Applies the Applications as an app of apps would (by sync wave) and says which object
    would land in a namespace that does not exist yet, or which resource needs a CRD not
    installed yet."""
    problems = []
    namespaces = {"argocd", "default", "kube-system"}
    crds = set()
    for app in sorted(apps, key=lambda a: int(a["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))):
        spec = app["spec"]
        destination = spec["destination"]["namespace"]
        if "CreateNamespace=true" in spec.get("syncPolicy", {}).get("syncOptions", []):
            namespaces.add(destination)
        objects = []
        for source in spec.get("sources", [spec.get("source")]):
            if source and source.get("path") == "deploy/helm/openmetadata-keycloak-operator":
                values = source.get("helm", {}).get("valuesObject", {})
                objects += render.objects(values, namespace=destination)
                objects += [yaml.safe_load(p.read_text()) for p in render.CRDS]
            elif source and source.get("path") == "openmetadata-sso":
                objects.append(yaml.safe_load((ARGOCD / "openmetadata-sso.yaml").read_text()))
        for obj in objects:
            if obj["kind"] == "Namespace":
                namespaces.add(obj["metadata"]["name"])
        # A CRD in the same sync is applied first (Argo CD skips the dry run of its resources).
        for obj in objects:
            if obj["kind"] == "CustomResourceDefinition":
                crds.add(obj["spec"]["group"] + "/" + obj["spec"]["names"]["kind"])
        for obj in objects:
            if obj["kind"] == "CustomResourceDefinition":
                continue
            ns = obj["metadata"].get("namespace")
            if ns and ns not in namespaces:
                problems.append(f"{app['metadata']['name']}: {obj['kind']} {obj['metadata']['name']} in namespace {ns}, which does not exist yet")
            group = obj["apiVersion"].split("/")[0]
            if group == "omkc.dev" and f"omkc.dev/{obj['kind']}" not in crds:
                problems.append(f"{app['metadata']['name']}: {obj['kind']} before its CRD")
    return problems


def test_the_documented_order_creates_every_namespace_before_it_is_used():
    apps = list(yaml.safe_load_all((ARGOCD / "applications.yaml").read_text()))
    assert sync_order_problems(apps) == []
    waves = [int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps]
    assert waves == sorted(waves) and waves[0] < waves[1], "the operator syncs first"
    # The order this test guards: a watched namespace only the second Application creates.
    broken = yaml.safe_load((ARGOCD / "applications.yaml").read_text().split("\n---")[0])
    broken["spec"]["source"]["helm"]["valuesObject"] = {"watchNamespaces": ["openmetadata"]}
    problems = sync_order_problems([broken, apps[1]])
    assert any("namespace openmetadata, which does not exist yet" in p for p in problems), problems
    swapped = [dict(apps[1], metadata={**apps[1]["metadata"], "annotations": {"argocd.argoproj.io/sync-wave": "-2"}}), apps[0]]
    assert any("before its CRD" in p for p in sync_order_problems(swapped))


def test_one_client_id_everywhere():
    """The worked example's client id is the same in every file that names it."""
    sso = yaml.safe_load((ARGOCD / "openmetadata-sso.yaml").read_text())
    example = yaml.safe_load((ROOT / "examples" / "openmetadatakeycloakclient.yaml").read_text())
    values = yaml.safe_load((ROOT / "examples" / "openmetadata-values.yaml").read_text())
    notes = render.render()["openmetadata-keycloak-operator/templates/NOTES.txt"]
    ids = {
        "deploy/argocd/openmetadata-sso.yaml": sso["spec"]["client"]["clientId"],
        "examples/openmetadatakeycloakclient.yaml": example["spec"]["client"]["clientId"],
        "examples/openmetadata-values.yaml": values["openmetadata"]["config"]["authentication"]["clientId"],
        "NOTES.txt": "open-metadata" if "clientId: open-metadata" in notes else "missing",
    }
    assert set(ids.values()) == {"open-metadata"}, ids
    readme = (ROOT / "README.md").read_text()
    assert "clientId: openmetadata" not in readme and "client id `openmetadata`" not in readme


def test_the_crd_has_no_defaults_that_argocd_would_see_as_drift():
    def walk(node, path):
        if isinstance(node, dict):
            assert "default" not in node, f"schema default at {path}"
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(crd_schema(), "openAPIV3Schema")


def test_the_operator_application_tracks_a_release_tag_and_its_values_reach_the_cluster():
    app = list(yaml.safe_load_all((ARGOCD / "applications.yaml").read_text()))[0]
    source = app["spec"]["source"]
    chart = yaml.safe_load((render.CHART / "Chart.yaml").read_text())
    # A tag, the chart's own version: never a moving branch.
    assert source["targetRevision"] == f"v{chart['version']}"
    values = source["helm"]["valuesObject"]
    assert values["image"]["tag"] == chart["appVersion"]
    # The one-line override a user makes for an image of their own reaches the Deployment.
    own = {**values, "image": {"repository": "registry.example.com/team/omkc", "tag": "dev"}}
    objects = render.objects(own, namespace=app["spec"]["destination"]["namespace"])
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/team/omkc:dev"
    # The connection the SSO folder's resource names is the one this Application creates.
    (connection,) = [o for o in objects if o["kind"] == "ClusterKeycloakConnection"]
    sso = yaml.safe_load((ARGOCD / "openmetadata-sso.yaml").read_text())
    assert sso["spec"]["keycloak"]["connectionRef"]["name"] == connection["metadata"]["name"]
    assert sso["spec"]["keycloak"]["realm"] in connection["spec"]["allowedRealms"]
    selector = connection["spec"]["namespaceSelector"]["matchLabels"]
    assert selector == {"omkc.dev/tenant": "true"}
