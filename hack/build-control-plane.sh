#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules (pinned in hack/control-plane and
# hack/etcd) into a cache outside the repo, keyed by version. Idempotent: a binary already in the
# cache is not rebuilt. Prints the cache directory on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${OCSP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-operator}

# The versions come from the pinned go.mod files, so the cache key cannot drift from the build.
k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$here/control-plane/go.mod")
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' "$here/etcd/go.mod")
[ -n "$k8s_version" ] && [ -n "$etcd_version" ] || { echo "cannot read pinned versions" >&2; exit 1; }

k8s_dir="$cache/kubernetes-$k8s_version"
etcd_dir="$cache/etcd-$etcd_version"
mkdir -p "$k8s_dir" "$etcd_dir"

build() { # module-dir package output [ldflags]
  local dir=$1 pkg=$2 out=$3 ldflags=${4:-}
  if [ -x "$out" ]; then
    echo "cached: $out" >&2
    return
  fi
  echo "building $pkg -> $out (first run only; several minutes on 2 cores)" >&2
  local started=$SECONDS
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out" # only a finished build enters the cache
  echo "built $pkg in $((SECONDS - started)) s" >&2
}

version_flags() { # gitVersion for the component-base version package, else it reports v0.0.0
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

build "$here/control-plane" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_dir/kube-apiserver" "$(version_flags "$k8s_version")"
build "$here/control-plane" k8s.io/kubernetes/cmd/kubectl "$k8s_dir/kubectl" "$(version_flags "$k8s_version")"
build "$here/etcd" go.etcd.io/etcd/server/v3 "$etcd_dir/etcd"

mkdir -p "$cache/bin"
ln -sfn "$k8s_dir/kube-apiserver" "$cache/bin/kube-apiserver"
ln -sfn "$k8s_dir/kubectl" "$cache/bin/kubectl"
ln -sfn "$etcd_dir/etcd" "$cache/bin/etcd"
echo "$cache/bin"
