"""The kubectl path: `kubectl apply -k deploy/kubernetes` with the image set in one line, built
with the real kustomize (.ci/run installs it from the Go module proxy)."""

import os
import shutil
import subprocess

import pytest
import yaml

import render

KUSTOMIZATION = render.ROOT / "deploy" / "kubernetes"
DEFAULT_IMAGE = "ghcr.io/omkc-dev/openmetadata-keycloak-operator"


def kustomize() -> str:
    path = os.environ.get("OMKC_KUSTOMIZE") or shutil.which("kustomize")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("kustomize is missing: .ci/run installs it")
        pytest.skip("kustomize is not installed (CI installs it)")
    return path


def build(directory) -> list[dict]:
    out = subprocess.run([kustomize(), "build", str(directory)], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def image_of(objects: list[dict]) -> str:
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_the_kustomization_is_the_manifest_with_the_release_image():
    chart = yaml.safe_load((render.CHART / "Chart.yaml").read_text())
    objects = build(KUSTOMIZATION)
    manifest = [d for d in yaml.safe_load_all((KUSTOMIZATION / "openmetadata-keycloak-operator.yaml").read_text()) if d]
    key = lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
    assert sorted(map(key, objects)) == sorted(map(key, manifest))
    assert image_of(objects) == f"{DEFAULT_IMAGE}:{chart['appVersion']}"


def test_an_image_of_your_own_reaches_the_deployment_in_one_line(tmp_path):
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUSTOMIZATION, copy)
    subprocess.run(
        [kustomize(), "edit", "set", "image", f"{DEFAULT_IMAGE}=registry.example.com/team/omkc:dev"],
        cwd=copy, check=True,
    )
    assert image_of(build(copy)) == "registry.example.com/team/omkc:dev"
    # The same by hand: the two lines the file's comment names.
    text = (KUSTOMIZATION / "kustomization.yaml").read_text()
    edited = text.replace(f"newName: {DEFAULT_IMAGE}", "newName: registry.example.com/team/omkc")
    edited = edited.replace('newTag: "0.1.0"', 'newTag: "dev"')
    (copy / "kustomization.yaml").write_text(edited)
    assert image_of(build(copy)) == "registry.example.com/team/omkc:dev"
