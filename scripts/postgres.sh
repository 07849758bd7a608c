#!/usr/bin/env bash
# Debian's PostgreSQL server for the tests of the master's PostgreSQL store (the tests start their own private
# server from it, on 127.0.0.1 and a free port; nothing runs as a system service).
#   postgres.sh install   install the postgresql package when no initdb is found (needs root)
#   postgres.sh bindir    print the folder of initdb and pg_ctl
set -euo pipefail

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

case "${1:-}" in
  install)
    if bindir >/dev/null; then exit 0; fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "PostgreSQL is missing: run 'sudo apt-get install postgresql' (or make postgres as root)" >&2
      exit 1
    fi
    echo "installing Debian's postgresql for the store tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
    # The package starts a cluster as a service on :5432; the tests need none of it.
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      for cluster in /etc/postgresql/*/main; do
        [ -d "$cluster" ] || continue
        version=$(basename "$(dirname "$cluster")")
        pg_ctlcluster "$version" main stop 2>/dev/null || true
      done
    fi
    ;;
  bindir)
    bindir || { echo "no PostgreSQL server found: run make postgres" >&2; exit 1; }
    ;;
  *)
    echo "usage: $0 install|bindir" >&2
    exit 2
    ;;
esac
