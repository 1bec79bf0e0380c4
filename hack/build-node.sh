#!/usr/bin/env bash
# Builds what the real single-node cluster of the node tests runs besides the control plane:
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy from the same k8s.io/kubernetes
# module and Go build cache as kube-apiserver (hack/control-plane), and CoreDNS from its Go module
# (hack/coredns, only the plugins the node's cluster DNS uses). First it runs
# hack/build-control-plane.sh (etcd, kube-apiserver, kubectl). Idempotent: a binary already in
# the cache is not rebuilt. Prints the binary directory on its last line.
# Names: one or more of kubelet kube-controller-manager kube-scheduler kube-proxy coredns builds
# only those (and the control plane); none builds all.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/go-build.sh source-path=SCRIPTDIR
. "$here/lib/go-build.sh"

"$here/build-control-plane.sh" >/dev/null

k8s_version=$(pinned_version k8s.io/kubernetes "$here/control-plane/go.mod")
coredns_version=$(pinned_version github.com/coredns/coredns "$here/coredns/go.mod")
k8s_dir="$cache/kubernetes-$k8s_version"
coredns_dir="$cache/coredns-$coredns_version"

all=(kubelet kube-controller-manager kube-scheduler kube-proxy coredns)
[ $# -gt 0 ] || set -- "${all[@]}"
for name in "$@"; do
  case $name in
    kubelet | kube-controller-manager | kube-scheduler | kube-proxy)
      go_build "$here/control-plane" "k8s.io/kubernetes/cmd/$name" "$k8s_dir/$name" "$(version_flags "$k8s_version")"
      link_bin "$k8s_dir/$name"
      ;;
    coredns)
      go_build "$here/coredns" . "$coredns_dir/coredns"
      link_bin "$coredns_dir/coredns"
      ;;
    *) echo "unknown binary $name (one of: ${all[*]})" >&2; exit 2 ;;
  esac
done
echo "$cache/bin"
