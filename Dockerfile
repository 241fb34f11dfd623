# openmetadata-keycloak-operator container image.
#
#   docker build -t openmetadata-keycloak-operator:dev .
#
# Build stage: the toolchain image; the exact build command below is also run by CI
# (.ci/run builds a copy of this stage's context with it, see tests/deploy/dockerfile.py).
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked

# Runtime stage: distroless (glibc, CA certificates, no shell, no package manager), non-root.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/openmetadata-keycloak-operator /usr/local/bin/openmetadata-keycloak-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/openmetadata-keycloak-operator"]
CMD ["run"]
