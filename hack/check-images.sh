#!/usr/bin/env bash
# Proves the images hack/build-images.sh makes really run: imports them into a throwaway containerd
# (its own root, state and socket under a temp dir, CRI off) and runs each one:
#   pause     runs, and exits 0 on SIGTERM
#   toolbox   openssl, curl, dig, getent, bash, inotifywait, as uid 65532, read-only root
#   operator  node v24, `cli.js --help` as uid 65532 with a read-only root filesystem
#   signer    the same, plus SoftHSM's module loaded through pkcs11js, softhsm2-util, pkcs11-tool
#   nginx, haproxy, redis  start as non-root on a read-only root and answer (from toolbox, in their
#             network namespace)
#
#   hack/check-images.sh [NAME...]     (none = all; builds what is missing first)
#
# Stops that containerd and its shims afterwards, even after a failure. Needs root, containerd, ctr.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[check-images] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (containerd)"
for c in containerd ctr nsenter ip; do command -v "$c" >/dev/null || die "$c not found"; done

declare -A ref tarball
names=()
while read -r n r t; do
  [ -n "$n" ] || continue
  names+=("$n"); ref[$n]=$r; tarball[$n]=$t
done < <("$here/build-images.sh" "$@")
[ ${#names[@]} -gt 0 ] || die "build-images.sh printed no images"
want() { [ -n "${ref[$1]:-}" ]; }
# toolbox is the client of the server checks
if { want nginx || want haproxy || want redis; } && ! want toolbox; then
  read -r _ r t < <("$here/build-images.sh" toolbox)
  ref[toolbox]=$r; tarball[toolbox]=$t
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocsp-check-images.XXXXXX")
sock="$tmp/containerd.sock"
cgroup_parent="/ocsp-check-images-$$"
cpid=
c() { ctr -a "$sock" -n k8s.io "$@"; }

cleanup() {
  local id pid p
  if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
    # Tasks first: containerd's shims outlive containerd.
    for id in $(c tasks ls -q 2>/dev/null); do c tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(c tasks ls -q 2>/dev/null); do c tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(c containers ls -q 2>/dev/null); do c containers delete "$id" >/dev/null 2>&1 || true; done
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
  fi
  # Any shim still serving this containerd (its command line names our socket).
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "containerd-shim.* -address $sock"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # Mounts left under the temp dir (snapshots), deepest first.
  awk -v d="$tmp" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  for p in /sys/fs/cgroup/*"$cgroup_parent"; do rmdir "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/config.toml" <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do c version >/dev/null 2>&1 && break; sleep 0.2; done
c version >/dev/null 2>&1 || { tail -n 20 "$tmp/containerd.log" >&2; die "containerd did not start"; }

for n in "${!ref[@]}"; do
  started=$SECONDS
  c images import "${tarball[$n]}" >/dev/null
  # Listed first, then searched: with pipefail, `ctr ... | grep -q` fails when grep exits on its
  # match while ctr still writes the names after it (SIGPIPE).
  listed=$(c images ls -q)
  grep -qx "${ref[$n]}" <<<"$listed" || die "$n: ${ref[$n]} not in containerd after import"
  log "$n: imported ${ref[$n]} in $((SECONDS - started)) s"
done

# run NAME ID [ctr run options...] -- ARGS...: runs to completion, read-only root, /tmp a tmpfs.
run() {
  local n=$1 id=$2
  shift 2
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  c run --rm --read-only --cgroup "$cgroup_parent/$id" \
    --mount type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777 \
    "${opts[@]}" "${ref[$n]}" "$id" "$@"
}
# start NAME ID: its own command, detached, in a network namespace of its own with lo up.
start() {
  local n=$1 id=$2 pid
  c run -d --read-only --cgroup "$cgroup_parent/$id" \
    --mount type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777 "${ref[$n]}" "$id" >/dev/null
  pid=$(c tasks ls | awk -v id="$id" '$1 == id {print $2}')
  if [ -z "$pid" ] || [ "$pid" = 0 ]; then die "$n: no task"; fi
  nsenter --net="/proc/$pid/ns/net" ip link set lo up
  echo "$pid"
}
status() { c tasks ls | awk -v id="$1" '$1 == id {print $3}'; }
running() { [ "$(status "$1")" = RUNNING ]; }
stop() { c tasks kill -s SIGKILL "$1" >/dev/null 2>&1 || true; sleep 0.5; c tasks delete -f "$1" >/dev/null 2>&1 || true; c containers delete "$1" >/dev/null 2>&1 || true; }
# client PID script: bash -c SCRIPT in toolbox, inside the network namespace of PID.
client() { run toolbox "client-$RANDOM" --with-ns "network:/proc/$1/ns/net" -- bash -c "$2"; }
# until SECONDS CMD...: retries CMD every 0.5 s.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.5; done
}

check_pause() {
  # In the foreground, ctr run exits with the task's exit code.
  c run --rm --read-only --cgroup "$cgroup_parent/pause-check" "${ref[pause]}" pause-check >/dev/null 2>&1 &
  local runner=$! rc=0
  until_ok 10 running pause-check || die "pause: not running"
  sleep 1
  running pause-check || die "pause: did not keep running"
  c tasks kill -s SIGTERM pause-check
  local deadline=$((SECONDS + 5))
  while kill -0 "$runner" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "pause: still running 5 s after SIGTERM"
    sleep 0.2
  done
  wait "$runner" || rc=$?
  [ "$rc" = 0 ] || die "pause: exit code $rc on SIGTERM"
  log "pause: ran, exited 0 on SIGTERM"
}

check_toolbox() {
  local out
  # shellcheck disable=SC2016 # expanded in the container
  out=$(run toolbox toolbox-check -- bash -c 'set -e; echo "uid $(id -u)"; openssl version; curl --version | head -n1; dig -v 2>&1; getent passwd root >/dev/null; inotifywait --help | head -n1; touch /tmp/w' 2>&1) \
    || die "toolbox: $out"
  grep -q '^uid 65532$' <<<"$out" || die "toolbox: not uid 65532: $out"
  grep -q '^OpenSSL 3' <<<"$out" || die "toolbox: no openssl: $out"
  log "toolbox: $(tr '\n' ';' <<<"$out")"
}

check_node_image() { # operator|signer
  local n=$1 out
  out=$(run "$n" "$n-check" -- node -e 'console.log(process.version, process.getuid(), process.getgid())' 2>&1) || die "$n: $out"
  [[ $out =~ ^v24\.[0-9]+\.[0-9]+\ 65532\ 65532$ ]] || die "$n: node --version/uid: $out"
  out=$(run "$n" "$n-help" -- node /app/dist/src/cli.js --help 2>&1) || die "$n: cli.js --help: $out"
  grep -q 'controller' <<<"$out" || die "$n: cli.js --help: $out"
  # Each pod role loads its own modules: all of them load from what the image holds.
  # shellcheck disable=SC2016 # expanded in the container
  out=$(run "$n" "$n-roles" -- sh -c 'for c in responder signer probe; do node /app/dist/src/cli.js $c --help >/dev/null || exit 1; done' 2>&1) \
    || die "$n: a command's --help failed: $out"
  run "$n" "$n-ro" -- node -e 'require("fs").writeFileSync("/app/x", "")' >/dev/null 2>&1 \
    && die "$n: the root filesystem is writable"
  if run "$n" "$n-npm" -- sh -c 'command -v npm || command -v npx || command -v gcc || command -v python3 || test -d /usr/local/include/node || test -d /app/dist/src/devenv' >/dev/null 2>&1; then
    die "$n: dev tooling or devenv code in the image"
  fi
  log "$n: node $(run "$n" "$n-v" -- node --version); cli.js --help, responder/signer/probe --help as 65532 on a read-only root; no npm, compiler or devenv"
}

check_signer() {
  local out
  # The token volume: a directory owned by the signer's user, as a pod's fsGroup makes it.
  install -d -o 65532 -g 65532 -m 0750 "$tmp/tokens"
  out=$(run signer signer-hsm --mount "type=bind,src=$tmp/tokens,dst=/var/lib/softhsm/tokens,options=rbind:rw" -- sh -c '
    set -e
    test -f /usr/lib/softhsm/libsofthsm2.so
    cd /app
    node -e "const {PKCS11}=require(\"pkcs11js\"); const p=new PKCS11(); p.load(process.env.PKCS11_MODULE); p.C_Initialize(); console.log(\"pkcs11js:\", p.C_GetInfo().manufacturerID.trim()); p.C_Finalize()"
    softhsm2-util --init-token --free --label check --pin 1234 --so-pin 5678 >/dev/null
    pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so -L | grep -c "token label"' 2>&1) || die "signer: $out"
  grep -q '^pkcs11js: SoftHSM' <<<"$out" || die "signer: pkcs11js did not load SoftHSM: $out"
  log "signer: $(tr '\n' ';' <<<"$out") (token made in a volume)"
}

check_server() { # NAME PORT CHECK-SCRIPT
  local n=$1 id="$1-check" pid
  pid=$(start "$n" "$id")
  if ! until_ok 15 client "$pid" "$3"; then
    c tasks ls >&2
    die "$n: no answer on :$2"
  fi
  running "$id" || die "$n: not running"
  log "$n: started as $(awk '/^Uid:/{print $2}' "/proc/$pid/status") on a read-only root, answered on :$2"
  stop "$id"
}

for n in "${names[@]}"; do
  # shellcheck disable=SC2016 # expanded in the container
  case $n in
    pause) check_pause ;;
    toolbox) check_toolbox ;;
    operator) check_node_image operator ;;
    signer) check_node_image signer; check_signer ;;
    nginx) check_server nginx 8080 'curl -fsS http://127.0.0.1:8080/ | grep -q "nginx ok"' ;;
    haproxy) check_server haproxy 8080 'curl -fsS http://127.0.0.1:8080/ | grep -q "haproxy ok"' ;;
    redis) check_server redis 6379 'exec 3<>/dev/tcp/127.0.0.1/6379; printf "PING\r\n" >&3; read -r l <&3; [[ $l == +PONG* ]]' ;;
  esac
done
log "all checked: ${names[*]}"
