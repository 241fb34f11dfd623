#!/usr/bin/env bash
# Builds the operator's container image without a container engine, for amd64 and arm64:
#
#   1. per platform, the release binary, static (musl): for amd64 the Dockerfile's own build
#      command, for arm64 the same through cargo-zigbuild (zig as the cross C compiler and
#      linker), on the build context the Dockerfile sees (Cargo.toml, Cargo.lock, src/);
#   2. per platform, one layer: the binary, the CA certificates, a passwd/group naming the
#      non-root user;
#   3. per platform, an OCI image (umoci), user 65532:65532, entrypoint the binary, command `run`;
#      then one OCI image index over them, tagged TAG: what a registry serves to amd64 and arm64
#      nodes alike;
#   4. a docker-archive per platform (skopeo), which kind, k3d and docker load, and optionally a
#      push of the whole index.
#
# Usage: deploy/image/build.sh [--tag TAG] [--out DIR] [--platforms LIST] [--push REGISTRY/REPOSITORY:TAG]
#   --tag        image tag (default: dev); archives are named openmetadata-keycloak-operator:TAG
#   --out        output directory (default: target/image): oci/ (the OCI layout: TAG is the
#                index, TAG-amd64 and TAG-arm64 the images), openmetadata-keycloak-operator.tar
#                (the first platform's) and openmetadata-keycloak-operator-<arch>.tar (the others)
#   --platforms  linux/amd64, linux/arm64, or both comma-separated (default: this machine's;
#                CI and the release build both)
#   --push       also copy the index and both images to a registry (skopeo login first)
#
# Needs: cargo with the musl targets (added with rustup when missing), Debian's musl-tools,
# umoci, skopeo, ca-certificates and python3, and for arm64 cargo-zigbuild and zig (pip install
# -r deploy/image/requirements.txt). CARGO_TARGET_DIR is honoured, so the build shares its cache
# with other builds.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NAME=openmetadata-keycloak-operator
TARGET=x86_64-unknown-linux-musl
TAG=dev
OUT="$ROOT/target/image"
PUSH=""
case "$(uname -m)" in aarch64|arm64) PLATFORMS=linux/arm64 ;; *) PLATFORMS=linux/amd64 ;; esac
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --push) PUSH="$2"; shift 2 ;;
    --platforms) PLATFORMS="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
ARCHES=()
for platform in ${PLATFORMS//,/ }; do
  case "$platform" in
    linux/amd64) ARCHES+=(amd64) ;;
    linux/arm64) ARCHES+=(arm64) ;;
    *) echo "build.sh: unsupported platform $platform (linux/amd64, linux/arm64)" >&2; exit 2 ;;
  esac
done
[ ${#ARCHES[@]} -gt 0 ] || { echo "build.sh: --platforms is empty" >&2; exit 2; }
for tool in cargo umoci skopeo musl-gcc python3; do
  command -v "$tool" >/dev/null || {
    echo "build.sh: $tool is missing (Debian: apt-get install musl-tools umoci skopeo python3; Rust: rustup)" >&2
    exit 1
  }
done
if [[ " ${ARCHES[*]} " == *" arm64 "* ]] && ! command -v cargo-zigbuild >/dev/null; then
  echo "build.sh: cargo-zigbuild is missing for arm64 (pip install -r deploy/image/requirements.txt, or --platforms linux/amd64)" >&2
  exit 1
fi
CERTS=/etc/ssl/certs/ca-certificates.crt
[ -s "$CERTS" ] || { echo "build.sh: $CERTS is missing (Debian: apt-get install ca-certificates)" >&2; exit 1; }
target_of() { case "$1" in amd64) echo x86_64-unknown-linux-musl ;; arm64) echo aarch64-unknown-linux-musl ;; esac; }
if command -v rustup >/dev/null; then
  for arch in "${ARCHES[@]}"; do
    t="$(target_of "$arch")"
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
  done
fi

# 1. The binary: the Dockerfile's build command, on a copy of the context it sees.
BUILD_COMMAND="$(sed -n 's/^RUN \(cargo build .*\)$/\1/p' "$ROOT/Dockerfile")"
case "$BUILD_COMMAND" in
  "cargo build --release --locked --target $TARGET") ;;
  *) echo "build.sh: unexpected build command in the Dockerfile: $BUILD_COMMAND" >&2; exit 1 ;;
esac
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/context"
cp "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" "$WORK/context/"
cp -r "$ROOT/src" "$WORK/context/src"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
for arch in "${ARCHES[@]}"; do
  t="$(target_of "$arch")"
  # arm64: the Dockerfile's command through cargo-zigbuild, for the other target.
  command_for="$BUILD_COMMAND"
  [ "$arch" = amd64 ] || command_for="${BUILD_COMMAND/cargo build/cargo zigbuild}"
  command_for="${command_for/--target $TARGET/--target $t}"
  echo "\$ (cd <context> && $command_for)"
  (cd "$WORK/context" && $command_for)
done

# 2. and 3. Per platform, the layer (reproducible: sorted, owned by root, one timestamp, the
# commit's if any) and the image.
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}"
CREATED="$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)"
REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
rm -rf "$OUT/oci"
mkdir -p "$OUT"
umoci init --layout "$OUT/oci"
for arch in "${ARCHES[@]}"; do
  BINARY="$CARGO_TARGET_DIR/$(target_of "$arch")/release/$NAME"
  ROOTFS="$WORK/rootfs-$arch"
  install -D -m 0755 "$BINARY" "$ROOTFS/usr/local/bin/$NAME"
  install -D -m 0644 "$CERTS" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$ROOTFS/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$ROOTFS/etc/group"
  chmod 0644 "$ROOTFS/etc/passwd" "$ROOTFS/etc/group"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
    -C "$ROOTFS" -cf "$WORK/layer-$arch.tar" etc usr
  umoci new --image "$OUT/oci:$TAG-$arch"
  umoci raw add-layer --image "$OUT/oci:$TAG-$arch" --history.created "$CREATED" \
    --history.created_by "deploy/image/build.sh" "$WORK/layer-$arch.tar"
  umoci config --image "$OUT/oci:$TAG-$arch" --created "$CREATED" --history.created "$CREATED" \
    --author "openmetadata-keycloak-operator" \
    --os linux --architecture "$arch" \
    --config.user 65532:65532 \
    --config.entrypoint "/usr/local/bin/$NAME" --config.cmd run \
    --config.exposedports 8080/tcp --config.workingdir / \
    --config.label "org.opencontainers.image.title=$NAME" \
    --config.label "org.opencontainers.image.version=$VERSION" \
    --config.label "org.opencontainers.image.revision=$REVISION" \
    --config.label "org.opencontainers.image.source=https://github.com/omkc-dev/openmetadata-keycloak-operator" \
    --config.label "org.opencontainers.image.licenses=Apache-2.0"
done
umoci gc --layout "$OUT/oci"

# The index over the platforms' images, tagged TAG (umoci writes single images only).
python3 - "$OUT/oci" "$TAG" "${ARCHES[@]}" <<'PY'
import hashlib, json, sys
from pathlib import Path
layout, tag, arches = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
index = json.loads((layout / "index.json").read_text())
by_ref = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in index["manifests"]}
manifests = []
for arch in arches:
    m = dict(by_ref[f"{tag}-{arch}"])
    m.pop("annotations", None)
    m["platform"] = {"architecture": arch, "os": "linux"}
    manifests.append(m)
body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": manifests}, separators=(",", ":")).encode()
digest = hashlib.sha256(body).hexdigest()
(layout / "blobs" / "sha256" / digest).write_bytes(body)
index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                           "digest": f"sha256:{digest}", "size": len(body),
                           "annotations": {"org.opencontainers.image.ref.name": tag}})
(layout / "index.json").write_text(json.dumps(index, separators=(",", ":")))
PY

# 4. An archive per platform to load (the first platform's keeps the plain name), and the push.
for arch in "${ARCHES[@]}"; do
  archive="$OUT/$NAME-$arch.tar"
  [ "$arch" = "${ARCHES[0]}" ] && archive="$OUT/$NAME.tar"
  rm -f "$archive"
  skopeo copy --quiet "oci:$OUT/oci:$TAG-$arch" "docker-archive:$archive:$NAME:$TAG"
done
if [ -n "$PUSH" ]; then
  skopeo copy --all "oci:$OUT/oci:$TAG" "docker://$PUSH"
fi
echo "image $NAME:$TAG (${ARCHES[*]}): OCI layout $OUT/oci (index $TAG), archives in $OUT"
