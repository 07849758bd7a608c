#!/usr/bin/env bash
# Debian's Chromium for the browser tests (playwright-core drives it; no browser is ever downloaded).
#   browser.sh install   install the chromium package when /usr/bin/chromium is missing (needs root)
#   browser.sh path      print the browser's path
set -euo pipefail

BROWSER=${DOCKER_MIGRATE_CHROMIUM:-/usr/bin/chromium}

case "${1:-}" in
  install)
    if [ -x "$BROWSER" ]; then exit 0; fi
    if [ "$(id -u)" -ne 0 ]; then
      echo "chromium is missing: run 'sudo apt-get install chromium' (or make browser as root)" >&2
      exit 1
    fi
    echo "installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }
    ;;
  path)
    echo "$BROWSER"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
