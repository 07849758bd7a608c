#!/usr/bin/env bash
# Assembles a base image from this host's own Node.js runtime, for `make image` where no registry is reachable:
# the node binary and every library it links, a minimal /etc and /tmp, imported as one layer. Prints its name.
#   scripts/node-base-image.sh            (on the engine DOCKER_HOST names)
set -euo pipefail

node_bin=$(command -v node)
node_bin=$(readlink -f "$node_bin")
version=$("$node_bin" -p 'process.versions.node')
name="docker-migrate-base/node:$version"
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "$name"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/tmp" "$root/etc" "$root/var/lib/docker-migrate"
chmod 1777 "$root/tmp"
cp "$node_bin" "$root/usr/bin/node"
# The libraries node links (and the dynamic loader), at the same paths; glibc 2.34+ holds the DNS resolver itself.
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
mkdir -p "$root/root"
tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -c . |
  docker import -c 'ENV PATH=/usr/bin' -m "Node.js $version from the build host" - "$name" >/dev/null
echo "$name"
