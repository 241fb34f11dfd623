# openmetadata-keycloak-operator container image, for those with a container engine:
#
#   docker build -t openmetadata-keycloak-operator:dev .
#
# deploy/image/build.sh builds the same image without one (CI and releases use it): the same
# build command (this file's `RUN cargo build`, which the script reads from here), the same
# files, user and entrypoint.
FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --target x86_64-unknown-linux-musl
RUN printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > /passwd \
    && printf 'root:x:0:\nnonroot:x:65532:\n' > /group

# Runtime: nothing but the static binary, the CA certificates and the non-root user. No shell,
# no package manager, no libc.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /passwd /etc/passwd
COPY --from=build /group /etc/group
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/openmetadata-keycloak-operator /usr/local/bin/openmetadata-keycloak-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/openmetadata-keycloak-operator"]
CMD ["run"]
