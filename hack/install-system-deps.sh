#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use as real peers: openssl (OCSP responder
# and client), redis-server (the store at scale), haproxy and nginx (staple consumers), softhsm2
# (the HSM), wrk (load generator), curl, prometheus (promtool checks the chart's alert rules; the
# server scrapes the operator and pool pods for the dashboard's queries), postgresql (a CA database
# source: the tests run a primary and a streaming replica of their own); and what the real single-node cluster of the node tests
# runs on: containerd, runc and the CNI plugins, iptables/conntrack for kube-proxy, and buildah,
# umoci and debootstrap to build the project's images without a daemon. Idempotent: installs only
# what is missing.
set -euo pipefail
packages=(openssl redis-server haproxy nginx-light softhsm2 opensc wrk curl shellcheck prometheus postgresql
  containerd runc containernetworking-plugins iptables conntrack iproute2 buildah umoci debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present" >&2
  exit 0
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged services must not run on their default ports: tests start their own on 127.0.0.1.
for svc in redis-server nginx haproxy containerd prometheus prometheus-node-exporter postgresql; do
  "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
