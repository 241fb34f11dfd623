#!/usr/bin/env bash
# Builds the operator's container image without a container engine:
#
#   1. the release binary, static (musl), with the Dockerfile's own build command, on the build
#      context the Dockerfile sees (Cargo.toml, Cargo.lock, src/);
#   2. one layer: the binary, the CA certificates, a passwd/group naming the non-root user;
#   3. an OCI image from it (umoci), user 65532:65532, entrypoint the binary, command `run`;
#   4. a docker-archive of it (skopeo), which kind, k3d and docker load, and optionally a push.
#
# Usage: deploy/image/build.sh [--tag TAG] [--out DIR] [--push REGISTRY/REPOSITORY:TAG]
#   --tag   image tag (default: dev); the archive is named openmetadata-keycloak-operator:TAG
#   --out   output directory (default: target/image): oci/ (the OCI layout) and
#           openmetadata-keycloak-operator.tar (the archive)
#   --push  also copy the image to a registry (skopeo's credentials: skopeo login first)
#
# Needs: cargo with the x86_64-unknown-linux-musl target (added with rustup when missing), and
# Debian's musl-tools, umoci, skopeo and ca-certificates. CARGO_TARGET_DIR is honoured, so the
# build shares its cache with other builds.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NAME=openmetadata-keycloak-operator
TARGET=x86_64-unknown-linux-musl
TAG=dev
OUT="$ROOT/target/image"
PUSH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --push) PUSH="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in cargo umoci skopeo musl-gcc; do
  command -v "$tool" >/dev/null || {
    echo "build.sh: $tool is missing (Debian: apt-get install musl-tools umoci skopeo; Rust: rustup)" >&2
    exit 1
  }
done
CERTS=/etc/ssl/certs/ca-certificates.crt
[ -s "$CERTS" ] || { echo "build.sh: $CERTS is missing (Debian: apt-get install ca-certificates)" >&2; exit 1; }
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
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
echo "\$ (cd <context> && $BUILD_COMMAND)"
(cd "$WORK/context" && $BUILD_COMMAND)
BINARY="$CARGO_TARGET_DIR/$TARGET/release/$NAME"

# 2. The layer, reproducible: sorted, owned by root, one timestamp (the commit's, if any).
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}"
ROOTFS="$WORK/rootfs"
install -D -m 0755 "$BINARY" "$ROOTFS/usr/local/bin/$NAME"
install -D -m 0644 "$CERTS" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$ROOTFS/etc/group"
chmod 0644 "$ROOTFS/etc/passwd" "$ROOTFS/etc/group"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
  -C "$ROOTFS" -cf "$WORK/layer.tar" etc usr

# 3. The OCI image.
CREATED="$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -1)"
REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
rm -rf "$OUT/oci"
mkdir -p "$OUT"
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$TAG"
umoci raw add-layer --image "$OUT/oci:$TAG" --history.created "$CREATED" \
  --history.created_by "deploy/image/build.sh" "$WORK/layer.tar"
umoci config --image "$OUT/oci:$TAG" --created "$CREATED" --history.created "$CREATED" \
  --author "openmetadata-keycloak-operator" \
  --config.user 65532:65532 \
  --config.entrypoint "/usr/local/bin/$NAME" --config.cmd run \
  --config.exposedports 8080/tcp --config.workingdir / \
  --config.label "org.opencontainers.image.title=$NAME" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label "org.opencontainers.image.source=https://github.com/omkc-dev/openmetadata-keycloak-operator" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0"
umoci gc --layout "$OUT/oci"

# 4. An archive to load, and the push.
rm -f "$OUT/$NAME.tar"
skopeo copy --quiet "oci:$OUT/oci:$TAG" "docker-archive:$OUT/$NAME.tar:$NAME:$TAG"
if [ -n "$PUSH" ]; then
  skopeo copy "oci:$OUT/oci:$TAG" "docker://$PUSH"
fi
echo "image $NAME:$TAG: OCI layout $OUT/oci, archive $OUT/$NAME.tar"
