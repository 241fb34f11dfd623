"""The container image, without a container engine.

- The Dockerfile's shape and the .dockerignore'd context (always).
- deploy/image/build.sh: it builds with the Dockerfile's own command on that context, and CI and
  the release workflow use it (always).
- The image it built (when OMKC_IMAGE_DIR names its output, as .ci/run does after building): one
  OCI index over amd64 and arm64; per platform the config (non-root user, entrypoint, command,
  architecture), the layer's exact contents (no shell, a static binary for that platform, the CA
  certificates), its size, the binary running from the unpacked layer (arm64 under qemu-aarch64),
  and the archive kind loads.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
import yaml

import dockerfile

ROOT = dockerfile.ROOT
BUILD = ROOT / "deploy" / "image" / "build.sh"
NAME = "openmetadata-keycloak-operator"
BINARY = f"/usr/local/bin/{NAME}"
IMAGE_DIR = os.environ.get("OMKC_IMAGE_DIR")
# The layer, gzip-compressed, stays under this (a static binary and the CA certificates).
MAX_COMPRESSED_BYTES = 16 * 1024 * 1024


def stages():
    return dockerfile.parse((ROOT / "Dockerfile").read_text())


def test_the_build_stage_builds_a_static_binary_with_the_locked_release_command():
    build = dockerfile.build_stage(stages())
    assert build.base.startswith("docker.io/library/rust:")
    assert dockerfile.build_command(build) == "cargo build --release --locked --target x86_64-unknown-linux-musl"


def test_the_runtime_image_is_scratch_with_the_binary_certificates_and_a_non_root_user():
    runtime = stages()[-1]
    assert runtime.base == "scratch"
    (user,) = runtime.args("USER")
    assert user == "65532:65532"
    assert runtime.args("RUN") == [], "no shell to run anything"
    copies = [c.split() for c in runtime.args("COPY")]
    assert all(c[0] == "--from=build" for c in copies)
    targets = sorted(c[-1] for c in copies)
    assert targets == ["/etc/group", "/etc/passwd", "/etc/ssl/certs/ca-certificates.crt", BINARY]
    assert runtime.args("ENTRYPOINT") == [f'["{BINARY}"]']
    assert runtime.args("CMD") == ['["run"]']
    assert runtime.args("EXPOSE") == ["8080"], "the chart's default metrics.port"


def test_chart_runs_the_image_as_the_images_user():
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
    assert command.startswith("cargo build --release --locked")
    assert "Cargo.lock" in staged and "src/lib.rs" in staged and "src/main.rs" in staged
    assert not any(s.startswith(("tests/", "target/", "deploy/")) for s in staged)


def test_the_daemonless_build_uses_the_dockerfiles_command_on_its_context():
    script = BUILD.read_text()
    assert os.access(BUILD, os.X_OK)
    # The command comes from the Dockerfile, and must be the one the Dockerfile runs.
    assert "sed -n 's/^RUN \\(cargo build .*\\)$/\\1/p'" in script
    assert '"cargo build --release --locked --target $TARGET"' in script
    # It copies exactly the context's top-level entries.
    tops = sorted({f.split("/")[0] for f in dockerfile.context_files()})
    assert tops == ["Cargo.lock", "Cargo.toml", "src"]
    assert 'cp "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" "$WORK/context/"' in script
    assert 'cp -r "$ROOT/src" "$WORK/context/src"' in script
    # The same user and entrypoint as the Dockerfile.
    assert "--config.user 65532:65532" in script
    assert f'--config.entrypoint "/usr/local/bin/$NAME" --config.cmd run' in script
    done = subprocess.run(["bash", "-n", str(BUILD)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(["bash", str(BUILD), "--nonsense"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown argument --nonsense" in done.stderr


def test_ci_and_the_release_build_the_image_with_the_script():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "deploy/image/build.sh" in ci and "OMKC_IMAGE_DIR" in ci
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "deploy/image/build.sh" in release and "--push" in release
    e2e = (ROOT / ".github" / "workflows" / "e2e.yml").read_text()
    assert "deploy/image/build.sh" in e2e and "kind load image-archive" in e2e


# The image itself, as deploy/image/build.sh left it in OMKC_IMAGE_DIR.

needs_image = pytest.mark.skipif(not IMAGE_DIR, reason="OMKC_IMAGE_DIR is not set: .ci/run sets it after deploy/image/build.sh")


def blob(digest: str) -> bytes:
    algorithm, hexdigest = digest.split(":")
    data = (Path(IMAGE_DIR) / "oci" / "blobs" / algorithm / hexdigest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hexdigest, "a blob matches its digest"
    return data


PLATFORMS = {"amd64": 0x3E, "arm64": 0xB7}  # ELF e_machine of each platform's binary


def refs() -> dict[str, dict]:
    index = json.loads((Path(IMAGE_DIR) / "oci" / "index.json").read_text())
    return {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}


def the_index() -> tuple[str, dict]:
    """The tag that names the image index, and the index."""
    (tag,) = [t for t, m in refs().items() if m["mediaType"] == "application/vnd.oci.image.index.v1+json"]
    return tag, json.loads(blob(refs()[tag]["digest"]))


def image(arch: str) -> tuple[dict, dict]:
    _, index = the_index()
    (entry,) = [m for m in index["manifests"] if m["platform"]["architecture"] == arch]
    assert entry["platform"]["os"] == "linux"
    manifest = json.loads(blob(entry["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    return manifest, config


def run_binary(path: Path, arch: str, *args: str) -> str:
    """Runs a binary of `arch`: natively on amd64, under qemu-aarch64 (qemu-user) for arm64."""
    command = [str(path), *args]
    if arch == "arm64":
        qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
        if not qemu:
            if os.environ.get("CI"):
                pytest.fail("qemu-aarch64 is missing: .ci/run installs qemu-user to run the arm64 binary")
            pytest.skip("qemu-aarch64 is not installed")
        command = [qemu, *command]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@needs_image
def test_one_index_serves_amd64_and_arm64():
    tag, index = the_index()
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == sorted(PLATFORMS)
    # Each platform's image is also tagged on its own, for its archive.
    assert {f"{tag}-{arch}" for arch in PLATFORMS} <= set(refs())


@needs_image
@pytest.mark.parametrize("arch", PLATFORMS)
def test_the_built_image_runs_the_binary_as_non_root(arch):
    _, config = image(arch)
    c = config["config"]
    assert c["User"] == "65532:65532"
    assert c["Entrypoint"] == [BINARY]
    assert c["Cmd"] == ["run"]
    assert c["ExposedPorts"] == {"8080/tcp": {}}
    assert c["Labels"]["org.opencontainers.image.source"].endswith("/openmetadata-keycloak-operator")
    assert config["os"] == "linux" and config["architecture"] == arch


@needs_image
@pytest.mark.parametrize("arch", PLATFORMS)
def test_the_built_image_holds_the_binary_the_certificates_and_nothing_else(arch, tmp_path):
    manifest, _ = image(arch)
    (layer,) = manifest["layers"]
    data = blob(layer["digest"])
    assert len(data) < MAX_COMPRESSED_BYTES, f"{len(data)} bytes"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = {m.name.lstrip("./"): m for m in tar.getmembers()}
        files = sorted(n for n, m in members.items() if m.isfile())
        assert files == ["etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", BINARY.lstrip("/")]
        assert not any(n.startswith(("bin", "sbin", "lib", "usr/bin")) for n in members), "no shell, no libc"
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        binary = members[BINARY.lstrip("/")]
        assert binary.mode & stat.S_IXOTH and not binary.mode & stat.S_IWOTH
        assert "nonroot:x:65532:65532" in tar.extractfile("etc/passwd").read().decode()
        assert b"BEGIN CERTIFICATE" in tar.extractfile("etc/ssl/certs/ca-certificates.crt").read()
        tar.extract(binary, tmp_path, filter="data")
    path = tmp_path / BINARY.lstrip("/")
    elf = path.read_bytes()
    assert elf[:4] == b"\x7fELF"
    assert int.from_bytes(elf[0x12:0x14], "little") == PLATFORMS[arch], "built for its platform"
    # Static: no program interpreter (PT_INTERP) among the program headers.
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    phnum = int.from_bytes(elf[0x38:0x3A], "little")
    kinds = [int.from_bytes(elf[phoff + i * phentsize: phoff + i * phentsize + 4], "little") for i in range(phnum)]
    assert 3 not in kinds, "the binary is static: it needs no libc in the image"
    assert re.fullmatch(rf"{NAME} \d+\.\d+\.\d+\n", run_binary(path, arch, "--version"))
    crd = run_binary(path, arch, "crd")
    committed = "---\n".join(p.read_text() for p in sorted((ROOT / "crds").glob("*.yaml")))
    assert crd == committed, "the image's binary prints the committed CRDs"


@needs_image
@pytest.mark.parametrize("arch", PLATFORMS)
def test_each_archive_loads_as_the_tagged_image(arch):
    archive = Path(IMAGE_DIR) / (f"{NAME}.tar" if arch == "amd64" else f"{NAME}-{arch}.tar")
    with tarfile.open(archive) as tar:
        (entry,) = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(entry["Config"]))
    # kind, k3d and docker load it as docker.io/library/NAME:TAG, which the chart's
    # image.repository=NAME and image.tag=TAG name.
    tag, _ = the_index()
    assert entry["RepoTags"] == [f"docker.io/library/{NAME}:{tag}"]
    assert len(entry["Layers"]) == 1
    assert config["architecture"] == arch
