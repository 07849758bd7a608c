# One image for every role: `docker run IMAGE master …`, `docker run IMAGE worker …`, `docker run IMAGE migrate …`.
# It is built from the linux release archive, so the image runs the same bits as the archives (`make image` builds
# both). BASE is any image with Node.js 20 on PATH and glibc: node:20-bookworm-slim where a registry is reachable,
# else a base assembled offline from the build host's own Node.js runtime (scripts/node-base-image.sh).
ARG BASE=node:20-bookworm-slim

# Stage 1: the archive, unpacked (ADD unpacks a local .tar.gz; no shell needed).
FROM scratch AS release
ARG RELEASE
ADD ${RELEASE}.tar.gz /release/

# Stage 2: the program (bundle, web UI, add-ons) on the base's Node.js; the archive's own runtime is not needed here.
FROM ${BASE}
ARG RELEASE
COPY --from=release /release/${RELEASE}/lib /opt/docker-migrate/lib
COPY --from=release /release/${RELEASE}/release.json /release/${RELEASE}/LICENSE /opt/docker-migrate/
ENV DOCKER_MIGRATE_DATA_DIR=/var/lib/docker-migrate \
    DOCKER_MIGRATE_LOG_FORMAT=json
VOLUME /var/lib/docker-migrate
# HTTP (API, web UI), gRPC (workers; a worker's peer transfers), the master's transfer relay.
EXPOSE 8080 9090 9091
ENTRYPOINT ["node", "/opt/docker-migrate/lib/docker-migrate"]
CMD ["--help"]
