#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules (pinned in hack/control-plane and
# hack/etcd) into a cache outside the repo, keyed by version. Idempotent: a binary already in the
# cache is not rebuilt. Prints the binary directory on its last line. (hack/build-node.sh builds
# the node's binaries the same way, from the same module and Go build cache.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/go-build.sh source-path=SCRIPTDIR
. "$here/lib/go-build.sh"

# The versions come from the pinned go.mod files, so the cache key cannot drift from the build.
k8s_version=$(pinned_version k8s.io/kubernetes "$here/control-plane/go.mod")
etcd_version=$(pinned_version go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
k8s_dir="$cache/kubernetes-$k8s_version"
etcd_dir="$cache/etcd-$etcd_version"

go_build "$here/control-plane" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_dir/kube-apiserver" "$(version_flags "$k8s_version")"
go_build "$here/control-plane" k8s.io/kubernetes/cmd/kubectl "$k8s_dir/kubectl" "$(version_flags "$k8s_version")"
go_build "$here/etcd" go.etcd.io/etcd/server/v3 "$etcd_dir/etcd"

link_bin "$k8s_dir/kube-apiserver"
link_bin "$k8s_dir/kubectl"
link_bin "$etcd_dir/etcd"
echo "$cache/bin"
