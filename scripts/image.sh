#!/usr/bin/env bash
# `make image`: builds docker-migrate:<version> and docker-migrate:latest on the engine DOCKER_HOST names, from the
# linux-x64 release archive (built here, from bin/), offline when need be.
#   BASE=auto (default): node:20-bookworm-slim when the engine has it or can pull it, else a base assembled from
#   this host's Node.js runtime (scripts/node-base-image.sh); BASE=offline forces the latter; BASE=IMAGE names one.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
release="docker-migrate-$version-linux-x64"
base=${BASE:-auto}
slim=node:20-bookworm-slim

if [ "$base" = auto ]; then
  if docker image inspect "$slim" >/dev/null 2>&1 || timeout 60 docker pull -q "$slim" >/dev/null 2>&1; then
    base=$slim
  else
    echo "image: $slim cannot be had (no registry reachable): using a base made from this host's Node.js" >&2
    base=offline
  fi
fi
[ "$base" != offline ] || base=$(bash scripts/node-base-image.sh)

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
node scripts/release.mjs --platforms linux-x64 --out "$context" --no-build >/dev/null
cp Dockerfile "$context/"
docker build -q --build-arg "BASE=$base" --build-arg "RELEASE=$release" \
  -t "docker-migrate:$version" -t docker-migrate:latest "$context" >/dev/null
echo "built docker-migrate:$version and docker-migrate:latest (base $base) on ${DOCKER_HOST:-the local engine}"
