#!/usr/bin/env bash
# Starts, lists and stops independent Docker engines on this machine, each in its own network namespace, so that
# tests (and people trying the product) have several real "hosts". Idempotent; needs root.
#
#   scripts/docker-hosts.sh install        install the Docker engine from Debian's packages when missing
#   scripts/docker-hosts.sh start [N]      make sure hosts 1..N run (default 2) and print them
#   scripts/docker-hosts.sh start-hosts I… [--json]  make sure hosts I… (e.g. 3 4 5) run and print only them
#   scripts/docker-hosts.sh list [--json]  print the running hosts
#   scripts/docker-hosts.sh stop           stop every host (data kept)
#   scripts/docker-hosts.sh stop-hosts I…  stop hosts I… only (data kept)
#   scripts/docker-hosts.sh clean          stop every host and delete its data
#   scripts/docker-hosts.sh local          make sure an engine answers on /var/run/docker.sock (starts one as root)
#
# Host i: network namespace dmh<i>, address 10.231.<i>.2 (the root namespace is 10.231.<i>.1), engine sockets
# unix://<dir>/h<i>/docker.sock and tcp://10.231.<i>.2:2376 (mutual TLS; client files in <dir>/tls/client).
# Every host has the offline image $BASE_IMAGE (busybox-static), since no registry is reachable.
# DM_HOST<i>_VOLUMES_SIZE=24M gives host i a size-limited tmpfs at <data-root>/volumes, mounted before its engine
# starts, so that a volume copy onto it runs out of space while the engine's own free-space figure (its data
# root) stays large. Other hosts are unchanged; `clean` unmounts it.
set -euo pipefail

DIR=${DM_HOSTS_DIR:-/var/lib/docker-migrate-test-hosts}
BASE_IMAGE=${DM_BASE_IMAGE:-docker-migrate-test/base:latest}
PREFIX=dmh
TCP_PORT=2376

die() {
  echo "docker-hosts: $*" >&2
  exit 1
}
log() { echo "docker-hosts: $*" >&2; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root: it installs packages, creates network namespaces and starts dockerd.
  Run the tests as root, or point them at engines you already run with DM_TEST_DOCKER_HOSTS=unix:///a.sock,unix:///b.sock"
}

have_engine() {
  command -v dockerd >/dev/null 2>&1 && [ -x /bin/busybox ] && command -v iptables >/dev/null 2>&1 &&
    command -v docker-compose >/dev/null 2>&1
}

# The Docker client shipped with docker.io matches the engine; fall back to any client on PATH.
docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

cmd_install() {
  if have_engine; then return 0; fi
  require_root
  log "installing the Docker engine from Debian's packages (docker.io docker-compose busybox-static iptables)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io docker-compose busybox-static iptables iproute2 openssl util-linux >/dev/null
  have_engine || die "the Docker engine is still missing after apt-get install"
}

host_dir() { echo "$DIR/h$1"; }
host_pid() {
  local pidfile
  pidfile="$(host_dir "$1")/dockerd.pid"
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
host_ip() { echo "10.231.$1.2"; }
host_sock() { echo "unix://$(host_dir "$1")/docker.sock"; }

# One CA for all hosts; a server certificate per host; one client certificate (DOCKER_CERT_PATH layout).
ensure_tls() {
  local tls="$DIR/tls"
  mkdir -p "$tls/client"
  chmod 700 "$tls"
  if [ ! -f "$tls/ca.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=docker-migrate test CA" \
      -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
  fi
  if [ ! -f "$tls/client/cert.pem" ]; then
    openssl req -newkey rsa:2048 -nodes -subj "/CN=docker-migrate test client" \
      -keyout "$tls/client/key.pem" -out "$tls/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >"$tls/client.ext"
    openssl x509 -req -in "$tls/client.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
      -days 3650 -extfile "$tls/client.ext" -out "$tls/client/cert.pem" 2>/dev/null
    cp "$tls/ca.pem" "$tls/client/ca.pem"
  fi
}

ensure_server_cert() {
  local i=$1 tls="$DIR/tls" out
  out="$(host_dir "$i")/tls"
  [ -f "$out/cert.pem" ] && return 0
  mkdir -p "$out"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=h$i" -keyout "$out/key.pem" -out "$out/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:localhost,DNS:h%s\nextendedKeyUsage=serverAuth\n' \
    "$(host_ip "$i")" "$i" >"$out/server.ext"
  openssl x509 -req -in "$out/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$out/server.ext" -out "$out/cert.pem" 2>/dev/null
  cp "$tls/ca.pem" "$out/ca.pem"
}

ensure_netns() {
  local i=$1 ns="$PREFIX$1"
  if ! ip netns list | grep -qw "^$ns"; then
    ip netns add "$ns"
  fi
  if ! ip link show "$ns" >/dev/null 2>&1; then
    ip link add "$ns" type veth peer name "$ns-c"
    ip link set "$ns-c" netns "$ns"
    ip -n "$ns" link set "$ns-c" name eth0
    ip addr add "10.231.$i.1/24" dev "$ns"
    ip link set "$ns" up
    ip -n "$ns" addr add "$(host_ip "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "10.231.$i.1"
  fi
  # Hosts reach one another through the root namespace, as machines on one LAN would.
  echo 1 >/proc/sys/net/ipv4/ip_forward
}

wait_ready() {
  local i=$1 sock tries=0
  sock=$(host_sock "$i")
  until docker_cli -H "$sock" version >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ] || ! host_pid "$i" >/dev/null; then
      tail -n 20 "$(host_dir "$i")/dockerd.log" >&2 || true
      die "engine h$i did not become ready (log: $(host_dir "$i")/dockerd.log)"
    fi
    sleep 0.25
  done
}

# An offline base image: busybox-static with its applets linked, plus passwd/group files for ownership tests.
ensure_base_image() {
  local i=$1 sock root
  sock=$(host_sock "$i")
  if docker_cli -H "$sock" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  root="$DIR/base-rootfs"
  if [ ! -x "$root/bin/sh" ]; then
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var" "$root/data"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
      [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    chmod 1777 "$root/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/data:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' >"$root/etc/group"
  fi
  tar -C "$root" --numeric-owner -c . |
    docker_cli -H "$sock" import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$BASE_IMAGE" >/dev/null
}

# The small volumes filesystem DM_HOST<i>_VOLUMES_SIZE asks for; nothing when unset. A running engine without it
# is an error rather than a silent success: volumes it made live on the large filesystem underneath.
ensure_volumes_fs() {
  local i=$1 size_var size data volumes
  size_var="DM_HOST${i}_VOLUMES_SIZE"
  size=${!size_var:-}
  [ -n "$size" ] || return 0
  [[ "$size" =~ ^[0-9]+[kKmMgG]?$ ]] || die "$size_var=$size: expected a size such as 24M"
  data="$(host_dir "$i")/data"
  volumes="$data/volumes"
  # stat -f reads the filesystem actually seen at the path (findmnt would also name one hidden underneath).
  if mountpoint -q "$data" && [ "$(stat -f -c %T "$volumes")" = tmpfs ]; then return 0; fi
  if host_pid "$i" >/dev/null; then
    die "h$i runs without the small volumes filesystem $size_var asks for: stop it first (stop-hosts $i)"
  fi
  unmount_under "$data"
  mkdir -p "$volumes"
  chmod 700 "$volumes"
  # dockerd bind-mounts a data root that is no mount point onto itself (to make its propagation shared), which
  # hides whatever was mounted inside it before: make the data root a mount point of its own first.
  mount --bind "$data" "$data"
  mount -t tmpfs -o "size=$size,mode=0700" "dm-h$i-volumes" "$volumes"
  log "h$i volumes on a $size tmpfs: $volumes"
}

start_host() {
  local i=$1 dir ns="$PREFIX$1"
  dir=$(host_dir "$i")
  ensure_volumes_fs "$i"
  if host_pid "$i" >/dev/null; then
    wait_ready "$i"
    ensure_base_image "$i"
    return 0
  fi
  mkdir -p "$dir"
  ensure_netns "$i"
  ensure_server_cert "$i"
  # Leftovers of an engine that was killed (pidfile, socket) would fool the readiness checks below.
  rm -f "$dir/docker.sock" "$dir/dockerd.pid"
  # nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroup mounts dockerd needs.
  nohup nsenter --net="/var/run/netns/$ns" dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    --host "unix://$dir/docker.sock" --host "tcp://$(host_ip "$i"):$TCP_PORT" \
    --tlsverify --tlscacert "$dir/tls/ca.pem" --tlscert "$dir/tls/cert.pem" --tlskey "$dir/tls/key.pem" \
    --label "docker-migrate.test-host=h$i" >"$dir/dockerd.log" 2>&1 </dev/null &
  local tries=0
  until [ -f "$dir/dockerd.pid" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 80 ] || die "engine h$i did not start (log: $dir/dockerd.log)"
    sleep 0.25
  done
  wait_ready "$i"
  ensure_base_image "$i"
  log "h$i ready: $(host_sock "$i")"
}

running_hosts() {
  local d i
  for d in "$DIR"/h*; do
    [ -d "$d" ] || continue
    i=${d##*/h}
    [[ "$i" =~ ^[0-9]+$ ]] || continue
    host_pid "$i" >/dev/null && echo "$i"
  done | sort -n
}

# Prints the running hosts, or of those only the ones named after the format (`cmd_list --json 3 4`).
cmd_list() {
  local json=${1:-} first=1 i only
  shift || true
  only=" $* "
  [ "$json" = --json ] && printf '['
  for i in $(running_hosts); do
    [ "$only" = "  " ] || [[ "$only" == *" $i "* ]] || continue
    if [ "$json" = --json ]; then
      [ $first -eq 1 ] || printf ','
      first=0
      printf '{"name":"h%s","socket":"%s","tcp":"tcp://%s:%s","certPath":"%s","ip":"%s","netns":"%s","baseImage":"%s"}' \
        "$i" "$(host_sock "$i")" "$(host_ip "$i")" "$TCP_PORT" "$DIR/tls/client" "$(host_ip "$i")" "$PREFIX$i" "$BASE_IMAGE"
    else
      printf 'h%s\t%s\ttcp://%s:%s (DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=%s)\n' \
        "$i" "$(host_sock "$i")" "$(host_ip "$i")" "$TCP_PORT" "$DIR/tls/client"
    fi
  done
  [ "$json" = --json ] && printf ']\n'
  return 0
}

cmd_start() {
  local n=${1:-2} i
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "start takes a number of hosts from 1 to 50"
  require_root
  cmd_install
  mkdir -p "$DIR"
  ensure_tls
  for i in $(seq 1 "$n"); do start_host "$i"; done
}

# Host numbers from the command line, checked; the output of `start-hosts`/`stop-hosts` follows their order.
parse_host_numbers() {
  local i
  [ "$#" -ge 1 ] || die "name at least one host number, e.g. 3 4"
  for i in "$@"; do
    if ! [[ "$i" =~ ^[0-9]+$ ]] || [ "$i" -lt 1 ] || [ "$i" -gt 50 ]; then
      die "host numbers go from 1 to 50, not \"$i\""
    fi
  done
}

cmd_start_hosts() {
  local json='' numbers=() arg i
  for arg in "$@"; do
    if [ "$arg" = --json ]; then json=--json; else numbers+=("$arg"); fi
  done
  parse_host_numbers "${numbers[@]}"
  require_root
  cmd_install
  mkdir -p "$DIR"
  ensure_tls
  for i in "${numbers[@]}"; do start_host "$i"; done
  cmd_list "$json" "${numbers[@]}"
}

cmd_stop_hosts() {
  local i
  parse_host_numbers "$@"
  require_root
  for i in "$@"; do stop_host "$i"; done
}

stop_host() {
  local i=$1 dir pid ns="$PREFIX$1" tries=0
  dir=$(host_dir "$i")
  if pid=$(host_pid "$i"); then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      tries=$((tries + 1))
      if [ "$tries" -gt 120 ]; then
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.25
    done
  fi
  rm -f "$dir/dockerd.pid"
  ip link del "$ns" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

unmount_under() {
  local target
  findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d) == 1' | sort -r | while read -r target; do
    umount -l "$target" 2>/dev/null || true
  done
}

cmd_stop() {
  require_root
  local d i
  for d in "$DIR"/h*; do
    [ -d "$d" ] || continue
    i=${d##*/h}
    [[ "$i" =~ ^[0-9]+$ ]] && stop_host "$i"
  done
  return 0
}

cmd_clean() {
  cmd_stop
  [ -d "$DIR" ] || return 0
  unmount_under "$DIR"
  rm -rf "$DIR"
  log "removed $DIR"
}

# The machine's own engine, for `make run`: left alone when it answers, started (as root) when it does not.
cmd_local() {
  local sock=/var/run/docker.sock tries=0
  if docker_cli -H "unix://$sock" version >/dev/null 2>&1; then return 0; fi
  require_root
  cmd_install
  log "starting the local Docker engine (log: /var/log/docker-migrate-dockerd.log)"
  nohup dockerd --host "unix://$sock" >/var/log/docker-migrate-dockerd.log 2>&1 </dev/null &
  until docker_cli -H "unix://$sock" version >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || die "the local Docker engine did not start (log: /var/log/docker-migrate-dockerd.log)"
    sleep 0.25
  done
  log "local Docker engine ready: unix://$sock"
}

case "${1:-}" in
  install) cmd_install ;;
  local) cmd_local ;;
  start)
    cmd_start "${2:-2}"
    cmd_list "${3:-}"
    ;;
  start-hosts)
    shift
    cmd_start_hosts "$@"
    ;;
  list | status) cmd_list "${2:-}" ;;
  stop) cmd_stop ;;
  stop-hosts)
    shift
    cmd_stop_hosts "$@"
    ;;
  clean) cmd_clean ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
