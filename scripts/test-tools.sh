#!/usr/bin/env bash
# Debian's tools the install and operate tests call, when missing (needs root; nothing is downloaded otherwise):
#   curl (the one-line worker install), systemd-analyze (verifies the service units; no systemd needs to run).
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing for the tests: ${missing[*]} (run 'sudo apt-get install ${missing[*]}')" >&2
  exit 1
fi
echo "installing Debian's ${missing[*]} for the tests"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
