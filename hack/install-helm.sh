#!/usr/bin/env bash
# Builds the helm binary that the install tests (test/install) run, from its Go module pinned in
# hack/helm/go.mod, into the same cache as the control plane, keyed by version:
#   ~/.cache/ocsp-operator/helm-<version>/helm   (and a link in ~/.cache/ocsp-operator/bin/helm)
# Idempotent: a binary already in the cache is not rebuilt. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${OCSP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-operator}

# The version comes from the pinned go.mod, so the cache key cannot drift from the build.
helm_version=$(awk '$1=="helm.sh/helm/v3"{print $2}' "$here/helm/go.mod")
[ -n "$helm_version" ] || { echo "cannot read the pinned helm version from $here/helm/go.mod" >&2; exit 1; }
# helm reports the Kubernetes version of its client libraries as the default cluster version
# (helm template, helm lint's deprecation checks); its Makefile sets it from k8s.io/client-go.
client_go=$(awk '$1=="k8s.io/client-go"{print $2}' "$here/helm/go.mod")
k8s_minor=${client_go#v0.}; k8s_minor=${k8s_minor%%.*}
[ -n "$k8s_minor" ] || { echo "cannot read k8s.io/client-go from $here/helm/go.mod" >&2; exit 1; }

dir="$cache/helm-$helm_version"
out="$dir/helm"
mkdir -p "$dir" "$cache/bin"
if [ -x "$out" ]; then
  echo "cached: $out" >&2
else
  echo "building helm $helm_version -> $out (first run only; about a minute on 2 cores)" >&2
  started=$SECONDS
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  (cd "$here/helm" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" helm.sh/helm/v3/cmd/helm)
  # Only a finished build enters the cache; the pid keeps two concurrent first runs apart.
  mv "$out.tmp.$$" "$out"
  echo "built helm in $((SECONDS - started)) s" >&2
fi
ln -sfn "$out" "$cache/bin/helm"
echo "$out"
