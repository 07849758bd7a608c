#!/bin/sh
# Installs, upgrades or removes a Dockation worker (docker-migrate) on this host. A master serves this script at
# /install.sh with its own addresses filled in, and the release archives it installs at /downloads/:
#
#   curl -fsSL http://MASTER:8080/install.sh | sudo sh -s -- --token TOKEN --ca-hash sha256:HASH
#
# Options:
#   --token T           enrollment token or pairing code (needed the first time only)
#   --ca-hash H         the master CA's hash from its join command: pins the master
#   --name N            worker name (default: the host name)
#   --labels k=v,...    labels, e.g. region=eu,env=prod
#   --prefix DIR        where to install (default /opt/docker-migrate; then the config is
#                       /etc/docker-migrate/worker.json and the identity /var/lib/docker-migrate, else both
#                       under DIR)
#   --no-service        start the worker in the background without systemd (pid and log under the prefix)
#   --docker-host URL   the Docker engine to serve (default: $DOCKER_HOST, else the local socket)
#   --volume-access M   auto, mountpoint or engine (see the worker's --volume-access)
#   --grpc-addr A, --advertise-addr A   where the worker serves peer transfers and what other workers dial
#   --master-url A      the master's gRPC address (default: the one this script was served with)
#   --download-url URL  where the archives are (default: the master that served this script)
#   --uninstall         stop and remove the worker; its identity and config are kept
#   --purge             with --uninstall: remove its identity, config and log too
#
# Re-running it upgrades the worker in place to the master's version and keeps its identity (same worker id).
set -eu

# Filled in by the master that serves this script; empty when run from a release archive.
MASTER_HTTP='__DM_MASTER_HTTP__'
MASTER_GRPC='__DM_MASTER_GRPC__'
case $MASTER_HTTP in __DM_*) MASTER_HTTP='' ;; esac
case $MASTER_GRPC in __DM_*) MASTER_GRPC='' ;; esac

DEFAULT_PREFIX=/opt/docker-migrate
SERVICE=docker-migrate-worker

say() { printf '%s\n' "$*"; }
fail() {
  printf 'install-worker: %s\n' "$*" >&2
  exit 1
}

token='' ca_hash='' name='' labels='' prefix=$DEFAULT_PREFIX no_service=0 uninstall=0 purge=0
docker_host=${DOCKER_HOST:-} volume_access='' grpc_addr='' advertise_addr=''
master_url=$MASTER_GRPC download_url=$MASTER_HTTP
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || fail "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --token) need_value "$@"; token=$2; shift 2 ;;
    --ca-hash) need_value "$@"; ca_hash=$2; shift 2 ;;
    --name) need_value "$@"; name=$2; shift 2 ;;
    --labels) need_value "$@"; labels=$2; shift 2 ;;
    --prefix) need_value "$@"; prefix=$2; shift 2 ;;
    --docker-host) need_value "$@"; docker_host=$2; shift 2 ;;
    --volume-access) need_value "$@"; volume_access=$2; shift 2 ;;
    --grpc-addr) need_value "$@"; grpc_addr=$2; shift 2 ;;
    --advertise-addr) need_value "$@"; advertise_addr=$2; shift 2 ;;
    --master-url) need_value "$@"; master_url=$2; shift 2 ;;
    --download-url) need_value "$@"; download_url=$2; shift 2 ;;
    --no-service) no_service=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) sed -n '2,25p' "$0" 2>/dev/null || true; exit 0 ;;
    *) fail "unknown option \"$1\" (see the options at the top of this script)" ;;
  esac
done
[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || fail '--purge goes with --uninstall'
case $prefix in /*) ;; *) fail "--prefix must be an absolute path, not \"$prefix\"" ;; esac
prefix=${prefix%/}

app=$prefix/app
if [ "$prefix" = "$DEFAULT_PREFIX" ]; then
  config=/etc/docker-migrate/worker.json
  data_dir=/var/lib/docker-migrate
  run_dir=/var/lib/docker-migrate/run
  link=/usr/local/bin/docker-migrate
else
  config=$prefix/etc/worker.json
  data_dir=$prefix/data
  run_dir=$prefix/run
  link=''
fi
pid_file=$run_dir/worker.pid
log_file=$run_dir/worker.log
unit=/etc/systemd/system/$SERVICE.service

if [ "$no_service" = 0 ] && ! command -v systemctl >/dev/null 2>&1; then
  fail 'systemd (systemctl) is not on this host: use --no-service to run the worker in the background without it'
fi
if [ "$(id -u)" != 0 ] && { [ "$no_service" = 0 ] || [ "$prefix" = "$DEFAULT_PREFIX" ]; }; then
  fail 'run this as root (curl … | sudo sh -s -- …), or give --prefix DIR and --no-service to install as this user'
fi

# The worker started without systemd, if it is running.
background_pid() {
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_worker() {
  if [ -f "$unit" ] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop "$SERVICE" 2>/dev/null || true
  fi
  if pid=$(background_pid); then
    kill "$pid" 2>/dev/null || true
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$waited" -ge 30 ]; then
        kill -9 "$pid" 2>/dev/null || true
        break
      fi
      sleep 1
      waited=$((waited + 1))
    done
  fi
  rm -f "$pid_file"
}

if [ "$uninstall" = 1 ]; then
  stop_worker
  if [ -f "$unit" ]; then
    systemctl disable "$SERVICE" >/dev/null 2>&1 || true
    rm -f "$unit"
    systemctl daemon-reload 2>/dev/null || true
  fi
  if [ -n "$link" ] && [ -L "$link" ]; then
    case $(readlink "$link") in "$app"/*) rm -f "$link" ;; esac
  fi
  rm -rf "$app" "$app.previous" "$prefix/.staging"
  if [ "$purge" = 1 ]; then
    rm -rf "$data_dir" "$config" "$run_dir"
    rmdir "${config%/*}" 2>/dev/null || true
    say "Removed the worker, its identity and its config."
  else
    say "Removed the worker. Its identity ($data_dir/worker) and config ($config) are kept: re-installing brings it"
    say "back as the same worker; --uninstall --purge removes them too."
  fi
  rmdir "$prefix" 2>/dev/null || true
  exit 0
fi

[ -n "$download_url" ] || fail 'no master to download from: give --download-url http://MASTER:8080'
download_url=${download_url%/}

case $(uname -s) in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "no release for $(uname -s): workers run on Linux (and macOS)" ;;
esac
case $(uname -m) in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "no release for the $(uname -m) processor (there are x64 and arm64 builds)" ;;
esac
platform=$os-$arch

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail 'neither curl nor wget is installed'
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 "$1" | sed 's/.*= *//'
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fetch "$download_url/downloads/SHA256SUMS" "$tmp/SHA256SUMS" ||
  fail "cannot get $download_url/downloads/SHA256SUMS: is the master reachable, and does it serve release archives?"
line=$(grep " docker-migrate-[^ ]*-$platform\.tar\.gz\$" "$tmp/SHA256SUMS" | tail -n 1) || true
[ -n "$line" ] || fail "the master offers no archive for $platform; it has: $(sed 's/.* //' "$tmp/SHA256SUMS" | tr '\n' ' ')"
archive=${line#* }
archive=${archive# }
want=${line%% *}
say "Downloading $archive from $download_url ..."
fetch "$download_url/downloads/$archive" "$tmp/$archive" || fail "cannot download $download_url/downloads/$archive"
got=$(sha256_of "$tmp/$archive")
[ "$got" = "$want" ] || fail "$archive is damaged or was altered: SHA-256 $got, expected $want"

mkdir -p "$prefix"
rm -rf "$prefix/.staging"
mkdir -p "$prefix/.staging"
tar -xzf "$tmp/$archive" -C "$prefix/.staging"
top=$prefix/.staging/${archive%.tar.gz}
[ -x "$top/docker-migrate" ] || fail "$archive does not hold docker-migrate"
version=$("$top/docker-migrate" version 2>&1 | head -n 1) ||
  fail "the $platform build does not run on this host: $version"

# The config: written when none exists or when a token is given; kept as it is on a plain upgrade.
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
write_config() {
  with_token=$1
  {
    printf '{\n  "role": "worker",\n  "data_dir": %s,\n' "$(json_string "$data_dir")"
    [ -z "$docker_host" ] || printf '  "docker": { "host": %s },\n' "$(json_string "$docker_host")"
    printf '  "worker": {\n    "master_url": %s' "$(json_string "$master_url")"
    [ "$with_token" = 0 ] || [ -z "$token" ] || printf ',\n    "token": %s' "$(json_string "$token")"
    [ -z "$ca_hash" ] || printf ',\n    "ca_hash": %s' "$(json_string "$ca_hash")"
    [ -z "$name" ] || printf ',\n    "name": %s' "$(json_string "$name")"
    [ -z "$labels" ] || printf ',\n    "labels": %s' "$(json_string "$labels")"
    [ -z "$volume_access" ] || printf ',\n    "volume_access": %s' "$(json_string "$volume_access")"
    [ -z "$grpc_addr" ] || printf ',\n    "grpc_addr": %s' "$(json_string "$grpc_addr")"
    [ -z "$advertise_addr" ] || printf ',\n    "advertise_addr": %s' "$(json_string "$advertise_addr")"
    printf '\n  }\n}\n'
  } >"$config.new"
  chmod 600 "$config.new"
  mv -f "$config.new" "$config"
}
enrolled() { [ -f "$data_dir/worker/identity.json" ]; }
mkdir -p "${config%/*}" "$data_dir" "$run_dir"
chmod 700 "$data_dir" "${config%/*}"
if [ -n "$token" ] || [ ! -f "$config" ]; then
  [ -n "$master_url" ] || fail 'no master address: give --master-url HOST:9090'
  [ -n "$token" ] || enrolled || fail 'this host has no worker yet: give --token (from the master'"'"'s join command)'
  [ -n "$ca_hash" ] || enrolled ||
    say 'warning: no --ca-hash: the worker trusts the first master CA it sees; pass the hash from the join command'
  umask 077
  write_config 1
fi

upgrade=0
[ -d "$app" ] && upgrade=1
stop_worker
rm -rf "$app.previous"
[ ! -d "$app" ] || mv "$app" "$app.previous"
mv "$top" "$app"
rm -rf "$prefix/.staging"
if [ -n "$link" ] && [ -d "${link%/*}" ]; then
  ln -sfn "$app/docker-migrate" "$link"
fi

if [ "$no_service" = 1 ]; then
  nohup "$app/docker-migrate" worker --config "$config" </dev/null >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
else
  sed -e "s#/opt/docker-migrate/app#$app#g" -e "s#/etc/docker-migrate/worker.json#$config#g" \
    "$app/packaging/$SERVICE.service" >"$unit.new"
  mv -f "$unit.new" "$unit"
  systemctl daemon-reload
  systemctl enable "$SERVICE" >/dev/null 2>&1
  systemctl restart "$SERVICE"
fi

# Wait for the worker to enroll (or, on an upgrade, to be running), and show why when it does not.
worker_alive() {
  if [ "$no_service" = 1 ]; then background_pid >/dev/null; else systemctl is-active --quiet "$SERVICE"; fi
}
show_log() {
  if [ "$no_service" = 1 ]; then tail -n 15 "$log_file" >&2; else journalctl -u "$SERVICE" -n 15 --no-pager >&2 || true; fi
}
waited=0
while ! enrolled || [ "$waited" -lt 2 ]; do
  if ! worker_alive; then
    show_log
    fail 'the worker stopped (its last lines are above)'
  fi
  if [ "$waited" -ge 60 ]; then
    show_log
    fail "the worker has not enrolled within 60 s: can this host reach the master at $master_url?"
  fi
  sleep 1
  waited=$((waited + 1))
done
# Enrolled: the identity is what the worker authenticates with from now on, so the token leaves the config.
if [ -n "$token" ]; then
  umask 077
  write_config 0
fi
worker_id=$(sed -n 's/.*"worker_id": *"\([^"]*\)".*/\1/p' "$data_dir/worker/identity.json")
if [ "$upgrade" = 1 ]; then say "Upgraded the worker to $version"; else say "Installed $version"; fi
say "  worker id:  $worker_id"
say "  program:    $app"
say "  config:     $config"
if [ "$no_service" = 1 ]; then
  say "  running:    pid $(cat "$pid_file"), log $log_file (not restarted at boot: no service)"
else
  say "  service:    $SERVICE (systemctl status $SERVICE; journalctl -u $SERVICE)"
fi
say "Remove it with: sh install.sh --uninstall$([ "$prefix" = "$DEFAULT_PREFIX" ] || printf ' --prefix %s' "$prefix")"
