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


def test_the_readme_shows_the_argocd_cm_snippet():
    readme = (ROOT / "README.md").read_text()
    snippet = (ARGOCD / "argocd-cm-patch.yaml").read_text()
    body = "\n".join(line for line in snippet.splitlines() if not line.startswith("#"))
    assert body.strip() in readme, "README's argocd-cm block differs from deploy/argocd/argocd-cm-patch.yaml"


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
