"""The GitHub Actions workflows cannot run here; actionlint checks them (syntax, expressions,
shell scripts through its own checks, action inputs), and these tests check they do the jobs
the project needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = shutil.which("actionlint")


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT, "actionlint is required (pip install -r tests/deploy/requirements.txt)"
    return subprocess.run(
        [ACTIONLINT, "-color=false", "-no-color", *map(str, paths)],
        capture_output=True, text=True, check=False,
    )


def test_the_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "e2e.yml", "keycloak-minors.yml", "release.yml"]
    done = actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.nope.nope }}\n"
        "      - uses: actions/checkout@v5\n        with: {fetch-depht: 1}\n"
    )
    done = actionlint(bad)
    assert done.returncode != 0
    assert "fetch-depht" in done.stdout


def steps(workflow: str) -> list[str]:
    doc = yaml.safe_load((WORKFLOWS / workflow).read_text())
    out = []
    for job in doc["jobs"].values():
        for step in job["steps"]:
            out.append(step.get("run", "") + " " + step.get("uses", ""))
    return out


def has(workflow: str, fragment: str) -> bool:
    return any(fragment in s for s in steps(workflow))


@pytest.mark.parametrize(
    "fragment",
    [
        "cargo fmt --all -- --check",
        "cargo clippy --locked --all-targets -- -D warnings",
        "cargo test --locked",
        "pip install -r tests/deploy/requirements.txt",
        "python -m pytest -q tests/deploy",
        "lua5.4",
        "deploy/image/build.sh",
        "python -m pytest -q tests/deploy/test_image.py",
        "tests/kubernetes/crd-admission/check.sh",
    ],
)
def test_ci_runs_every_check(fragment):
    assert has("ci.yml", fragment), fragment


@pytest.mark.parametrize(
    "fragment",
    [
        "helm/kind-action",
        "kubectl apply -f tests/e2e/keycloak.yaml",
        "deploy/image/build.sh",
        "kind load image-archive",
        "helm install openmetadata-keycloak-operator deploy/helm/openmetadata-keycloak-operator",
        "cargo test --locked --test it -- --ignored --nocapture 'e2e::'",
        "kind export logs",
        "actions/upload-artifact",
    ],
)
def test_e2e_builds_installs_and_runs_the_suite(fragment):
    assert has("e2e.yml", fragment), fragment


@pytest.mark.parametrize(
    "fragment",
    [
        "apt-get install -y --no-install-recommends musl-tools umoci skopeo",
        "skopeo login ghcr.io",
        "bash deploy/image/build.sh --tag \"$version\" --out target/image --platforms linux/amd64,linux/arm64 --push \"$image:$version\"",
        "pip install -r deploy/image/requirements.txt",
        "python -m pytest -q tests/deploy/test_image.py",
        "helm package deploy/helm/openmetadata-keycloak-operator",
        "helm registry login ghcr.io",
        'helm push target/chart/*.tgz "oci://ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/charts"',
        "gh release create",
    ],
)
def test_a_tag_publishes_the_image_and_the_chart(fragment):
    assert has("release.yml", fragment), fragment


def test_every_keycloak_minor_runs_weekly():
    doc = yaml.safe_load((WORKFLOWS / "keycloak-minors.yml").read_text())
    assert doc[True] == {"schedule": [{"cron": "17 4 * * 1"}], "workflow_dispatch": None}
    (job,) = doc["jobs"].values()
    runs = [s for s in job["steps"] if s.get("run") == "tests/keycloak/keycloak.sh minors"]
    # Both ends of each line's Java range, on the JDKs ubuntu-24.04 runners carry.
    assert sorted(s["env"]["OMKC_KEYCLOAK_JAVA"] for s in runs) == ["highest", "lowest"], runs
    listed = subprocess.run(
        [ROOT / "tests/keycloak/keycloak.sh", "versions"], capture_output=True, text=True, check=True
    ).stdout.split()
    lines = [l.split() for l in (ROOT / "tests/keycloak/versions").read_text().splitlines()]
    every = [l[0] for l in lines if l and not l[0].startswith("#")]
    ends = {int(end) for l in lines if l and not l[0].startswith("#") for end in l[1:3]}
    assert ends <= {17, 21, 25}, ends
    minors = [tuple(v.split(".")[:2]) for v in every]
    # One release of 22.0, 23.0, 24.0 and 25.0 (the last of each major), then of each minor from
    # 26.0 to the newest, none skipped; CI runs the oldest and newest.
    assert minors[:4] == [("22", "0"), ("23", "0"), ("24", "0"), ("25", "0")], every
    assert minors[4:] == [("26", str(m)) for m in range(int(minors[-1][1]) + 1)], every
    assert listed[0] == every[0] and listed[-1] == every[-1] and set(listed) < set(every), listed


def test_the_release_runs_on_version_tags_only():
    doc = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    assert doc[True] == {"push": {"tags": ["v*"]}}
    assert doc["permissions"] == {"contents": "write", "packages": "write"}
    chart = yaml.safe_load((ROOT / "deploy/helm/openmetadata-keycloak-operator/Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "deploy/helm/openmetadata-keycloak-operator/values.yaml").read_text())
    # What the release pushes is what the chart pulls by default.
    assert values["image"]["repository"] == "ghcr.io/omkc-dev/openmetadata-keycloak-operator"
    assert values["image"]["tag"] == "" and chart["appVersion"]


def test_e2e_collects_logs_only_on_failure():
    doc = yaml.safe_load((WORKFLOWS / "e2e.yml").read_text())
    (job,) = doc["jobs"].values()
    collect = [s for s in job["steps"] if "kind export logs" in s.get("run", "") or "upload-artifact" in s.get("uses", "")]
    assert len(collect) == 2 and all(s.get("if") == "failure()" for s in collect)


def test_e2e_sets_what_the_suite_reads():
    text = (ROOT / "tests" / "it" / "e2e" / "mod.rs").read_text()
    doc = yaml.safe_load((WORKFLOWS / "e2e.yml").read_text())
    (job,) = doc["jobs"].values()
    (suite,) = [s for s in job["steps"] if "e2e::" in s.get("run", "")]
    for var in ("KEYCLOAK_URL", "KEYCLOAK_URL_IN_CLUSTER", "KEYCLOAK_ADMIN_USER", "KEYCLOAK_ADMIN_PASSWORD"):
        assert var in suite["env"] and var in text, var


def test_the_e2e_keycloak_manifest_is_valid():
    for doc in yaml.safe_load_all((ROOT / "tests" / "e2e" / "keycloak.yaml").read_text()):
        kubernetes_validate.validate(doc, "1.33", strict=True)
