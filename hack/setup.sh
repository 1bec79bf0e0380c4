#!/usr/bin/env bash
# Everything a fresh machine needs before the tests or the demo, idempotent and quick when warm:
# Debian packages (openssl, redis, haproxy, nginx, softhsm2, wrk), npm packages from the lock file
# (pkcs11js built offline against the installed Node headers), and the local Kubernetes control
# plane (kube-apiserver, kubectl, etcd) built once from Go modules into a cache outside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup] %s\n' "$*" >&2; }

step "system packages"
hack/install-system-deps.sh

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ ! -f node_modules/pkcs11js/build/Release/pkcs11.node ]; then
  step "npm ci"
  [ -f /usr/include/node/node.h ] || { echo "Node headers missing at /usr/include/node (needed to build pkcs11js offline)" >&2; exit 1; }
  npm ci --no-audit --no-fund
else
  step "npm packages present"
fi

step "control plane (first run builds kube-apiserver, kubectl and etcd)"
hack/build-control-plane.sh >/dev/null
# Built where they are needed, not here, so the embedded demo waits for nothing else: helm by the
# tests that install the chart (hack/install-helm.sh), the node's binaries and the images by the
# node tests and `npm run cluster` (hack/build-node.sh, hack/build-images.sh).
