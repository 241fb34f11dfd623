"""The chart under Helm 3, which many platform teams still run: the `helm` v3 binary named by
OMKC_HELM3 (.ci/run builds it from the Go module proxy). The other checks use Helm 4's library;
here Helm 3 lints each value set strictly, renders the very objects Helm 4 renders, and refuses
the same mistakes, naming them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

import render
from test_chart import MISTAKES, VALUE_SETS

HELM3 = os.environ.get("OMKC_HELM3", "")
pytestmark = pytest.mark.skipif(not HELM3, reason="OMKC_HELM3 is not set: .ci/run builds Helm 3 and sets it")


def helm3(tmp_path, *args: str, values: dict | None = None) -> subprocess.CompletedProcess:
    """Runs Helm 3 on the chart with `values` (as a values file), its state in `tmp_path`."""
    file = tmp_path / "values.json"
    file.write_text(json.dumps(values or {}))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": os.devnull}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp_path / var)
    command = [HELM3, *args, str(render.CHART), "--namespace", render.NAMESPACE, "-f", str(file)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_it_is_helm_3(tmp_path):
    out = subprocess.run([HELM3, "version", "--short"], capture_output=True, text=True, env={"HOME": str(tmp_path)})
    assert out.returncode == 0 and out.stdout.startswith("v3."), out.stdout + out.stderr


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm3_lints_strictly_and_renders_what_helm4_renders(name, tmp_path):
    values = VALUE_SETS[name]
    lint = helm3(tmp_path, "lint", "--strict", values=values)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # Not even the informational findings, as with Helm 4.
    assert not any(word in lint.stdout for word in ("[INFO]", "[WARNING]", "[ERROR]")), lint.stdout
    out = helm3(tmp_path, "template", render.RELEASE, values=values)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", out.stderr

    def key(obj: dict) -> str:
        return json.dumps(obj, sort_keys=True)

    theirs = sorted((o for o in yaml.safe_load_all(out.stdout) if o is not None), key=key)
    ours = sorted(render.objects(values), key=key)
    assert [(o["kind"], o["metadata"]["name"]) for o in theirs] == [(o["kind"], o["metadata"]["name"]) for o in ours]
    assert theirs == ours


@pytest.mark.parametrize("values, fragment", MISTAKES)
def test_helm3_refuses_the_same_mistakes(values, fragment, tmp_path):
    out = helm3(tmp_path, "template", render.RELEASE, values=values)
    assert out.returncode != 0 and fragment in out.stderr, out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(
    "values, message",
    [
        ({"leaderElection": {"enabled": False}}, "replicaCount above 1 needs leaderElection.enabled"),
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
        (
            {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
            "metrics.serviceMonitor.enabled needs metrics.service.enabled",
        ),
    ],
)
def test_helm3_stops_on_the_charts_own_checks(values, message, tmp_path):
    out = helm3(tmp_path, "template", render.RELEASE, values=values)
    assert out.returncode != 0 and message in out.stderr, out.stderr
