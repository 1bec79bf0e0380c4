#!/usr/bin/env bash
# Checks that the real node's start-up is idempotent and that its teardown leaves nothing behind,
# even after a killed run: `up` twice in a row (the second cleans up the first and starts again),
# a pod running, then every daemon of the node SIGKILLed (containerd's shims, the pods, their
# network namespaces, mounts and iptables chains stay behind), then `down`; finally
# `node-cluster.js leftovers` must find no process, mount, netns, bridge, KUBE-*/CNI-* chain or
# kubepods cgroup. Needs root and a built tree (npm run build). Prints timings; exit 0 when clean.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=(node dist/src/devenv/node-cluster.js)
kubectl=$(hack/build-control-plane.sh 2>/dev/null | tail -n1)/kubectl
say() { printf '[check-node] %s\n' "$*" >&2; }
timed() { # label command...
  local s=$SECONDS
  "$@" >/dev/null
  say "$1 ${*:2}: $((SECONDS - s)) s"
}

# A detached node is replaced by whoever starts one next (another person's test run): check it is
# still the one started here before touching it, and never kill another run's daemons.
pids=/run/ocsp-operator-node/pids
still_ours() {
  if [ "$(cat "$pids"/*.pid 2>/dev/null)" != "$ours" ] || ! grep -q ' detached$' /run/ocsp-operator-node.lock 2>/dev/null; then
    say "the node was taken over by another run ($(cat /run/ocsp-operator-node.lock 2>/dev/null)); nothing killed, check not done"
    exit 2
  fi
}

timed "${cli[@]}" up --detach --images toolbox
timed "${cli[@]}" up --detach --images toolbox
ours=$(cat "$pids"/*.pid)
export KUBECONFIG=/var/lib/ocsp-operator-node/kubeconfig
still_ours
"$kubectl" get node ocsp-node --no-headers >&2
"$kubectl" run check-teardown --image=localhost/toolbox:test --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":65532}}}' -- sleep infinity >/dev/null
"$kubectl" wait --for=condition=Ready pod/check-teardown --timeout=120s >/dev/null
still_ours
say "pod check-teardown Ready; SIGKILL every daemon of the node (a killed run)"
for f in "$pids"/*.pid; do kill -9 "$(cat "$f")" 2>/dev/null || true; done
sleep 1
say "left behind by the killed run:"
"${cli[@]}" leftovers | sed 's/^/  /' >&2 || true
timed "${cli[@]}" down
if left=$("${cli[@]}" leftovers); then
  say "clean: no process, mount, netns, bridge, iptables chain or cgroup of the node is left"
else
  say "NOT clean after down:"
  printf '  %s\n' "$left" >&2
  exit 1
fi
