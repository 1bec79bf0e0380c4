# shellcheck shell=bash
# Sourced by the hack/build-*.sh scripts: the cache they build into and how they build a Go binary
# into it. Not executable on its own.
#   cache                        the cache root (OCSP_OPERATOR_CACHE, else XDG_CACHE_HOME, else ~/.cache)
#   pinned_version MOD GOMOD     the version GOMOD requires of module MOD (the cache key)
#   go_build DIR PKG OUT [FLAGS] builds PKG in module DIR to OUT unless OUT exists
#   version_flags VERSION        the ldflags that give a Kubernetes binary its version
#   link_bin OUT                 symlinks OUT into "$cache/bin"
cache=${OCSP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-operator}

pinned_version() { # module go.mod
  local v
  v=$(awk -v m="$1" '$1==m{print $2} $1=="require" && $2==m{print $3}' "$2" | head -n1)
  [ -n "$v" ] || { echo "cannot read the pinned version of $1 from $2" >&2; exit 1; }
  echo "$v"
}

go_build() { # module-dir package output [ldflags]
  local dir=$1 pkg=$2 out=$3 ldflags=${4:-}
  if [ -x "$out" ]; then
    echo "cached: $out" >&2
    return
  fi
  echo "building $pkg -> $out (first run only; minutes on 2 cores)" >&2
  local started=$SECONDS tmp="$out.tmp.$$"
  mkdir -p "$(dirname "$out")"
  # CGO off: static binaries that need no C toolchain; the process-id suffix keeps two
  # concurrent builds of the same binary from writing one file.
  if ! (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg"); then
    rm -f "$tmp"
    echo "build of $pkg failed" >&2
    exit 1
  fi
  mv "$tmp" "$out" # only a finished build enters the cache
  echo "built $pkg in $((SECONDS - started)) s" >&2
}

version_flags() { # gitVersion for the component-base version package, else it reports v0.0.0
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

link_bin() { # output
  mkdir -p "$cache/bin"
  ln -sfn "$1" "$cache/bin/$(basename "$1")"
}
