#!/usr/bin/env bash
# Prometheus's promtool, which the end-to-end tests run on the master's /metrics page (`promtool check metrics`).
#   promtool.sh install   install Debian's prometheus package when promtool is missing (needs root; no network
#                         when it is already there)
#   promtool.sh path      print promtool's path
set -euo pipefail

PROMTOOL=${DOCKER_MIGRATE_PROMTOOL:-promtool}

case "${1:-}" in
  install)
    if command -v "$PROMTOOL" >/dev/null 2>&1; then exit 0; fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "promtool is missing: run 'sudo apt-get install prometheus' (or make promtool as root)" >&2
      exit 1
    fi
    echo "installing Debian's prometheus package for promtool"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
    # The package also enables and starts a Prometheus server, which would hold :9090 (the master's default gRPC
    # port); the tests want only its promtool.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    command -v "$PROMTOOL" >/dev/null 2>&1 || { echo "promtool is still missing after apt-get install" >&2; exit 1; }
    ;;
  path)
    command -v "$PROMTOOL"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
