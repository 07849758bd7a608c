#!/usr/bin/env bash
# Debian's C compiler for the native add-on (native/fs-native.c), installed when no `cc` (or $CC) is on PATH.
# Without root it only says what to do: the product runs without the add-on, setting file times to the µs.
set -euo pipefail

CC=${CC:-cc}
if command -v "$CC" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "no C compiler ($CC): run 'sudo apt-get install gcc libc6-dev' (or make compiler as root) for nanosecond file times" >&2
  exit 0
fi
echo "installing Debian's gcc for the native add-on"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null; }
