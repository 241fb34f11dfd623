"""The container image, checked without a Docker engine: the Dockerfile's shape, the
.dockerignore'd context, and that CI runs the very build command of the build stage."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import dockerfile

ROOT = dockerfile.ROOT


def stages():
    return dockerfile.parse((ROOT / "Dockerfile").read_text())


def test_multi_stage_build_with_the_locked_release_command():
    build = dockerfile.build_stage(stages())
    assert build.base.startswith("docker.io/library/rust:")
    assert dockerfile.build_command(build) == "cargo build --release --locked"


def test_runtime_image_is_minimal_and_non_root():
    runtime = stages()[-1]
    assert runtime.base.startswith("gcr.io/distroless/") and runtime.base.endswith(":nonroot")
    (user,) = runtime.args("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    assert runtime.args("RUN") == [], "the runtime stage has no shell to run anything"
    (copy,) = runtime.args("COPY")
    source, target = copy.split()[1:]
    assert copy.startswith("--from=build ")
    assert source == "/src/target/release/openmetadata-keycloak-operator"
    (entrypoint,) = runtime.args("ENTRYPOINT")
    assert entrypoint == f'["{target}"]'
    assert runtime.args("CMD") == ['["run"]']
    assert runtime.args("EXPOSE") == ["8080"], "the chart's default metrics.port"


def test_chart_runs_the_image_as_the_images_user():
    import yaml

    values = yaml.safe_load((ROOT / "deploy/helm/openmetadata-keycloak-operator/values.yaml").read_text())
    (user,) = stages()[-1].args("USER")
    assert f"{values['podSecurityContext']['runAsUser']}:{values['podSecurityContext']['runAsGroup']}" == user


def test_dockerignore_keeps_the_context_to_sources():
    files = dockerfile.context_files()
    assert "Cargo.toml" in files and "Cargo.lock" in files and "src/main.rs" in files
    for f in files:
        assert f in ("Cargo.toml", "Cargo.lock") or f.startswith("src/"), f


def test_dockerignore_rules_follow_docker_semantics():
    patterns = [(True, "*"), (False, "src"), (True, "src/secret.rs")]
    assert dockerfile.in_context("src/main.rs", patterns)
    assert not dockerfile.in_context("src/secret.rs", patterns)
    assert not dockerfile.in_context("target/release/x", patterns)
    assert not dockerfile.in_context(".git/config", patterns)


def test_the_staged_context_holds_what_the_build_copies():
    with tempfile.TemporaryDirectory() as tmp:
        command = dockerfile.stage_context(Path(tmp))
        staged = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*") if p.is_file())
    assert command == "cargo build --release --locked"
    assert "Cargo.lock" in staged and "src/lib.rs" in staged and "src/main.rs" in staged
    assert not any(s.startswith(("tests/", "target/", "deploy/")) for s in staged)


def test_ci_runs_the_dockerfile_build_command_on_the_staged_context():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tests/deploy/dockerfile.py stage" in ci
    command = dockerfile.build_command(dockerfile.build_stage(stages()))
    # .ci/run takes the command from the Dockerfile itself rather than repeating it.
    assert re.search(r'BUILD_COMMAND=.*dockerfile\.py stage', ci)
    assert '$BUILD_COMMAND' in ci or '${BUILD_COMMAND}' in ci
    assert command.startswith("cargo build")
