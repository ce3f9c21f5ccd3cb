#!/usr/bin/env bash
# Build a Debian bookworm base image locally (debootstrap + docker import), once.
#
#   docker/base.sh [--tag trainlab-base:bookworm] [--mirror URL] [--force]
#
# For machines that reach a Debian mirror but no image registry: the project image is then
# built with `docker/build.sh --base-image trainlab-base:bookworm`. The base already holds
# Python 3.11 with venv, git and the CA certificates, so the project build skips apt. When the
# tag exists the script does nothing (--force rebuilds). The mirror defaults to the one this
# machine's apt uses (/etc/apt/sources.list*), else deb.debian.org. Needs root and debootstrap
# (installed with apt-get when missing).
set -euo pipefail

TAG=trainlab-base:bookworm
MIRROR=""
FORCE=0
DOCKER="${DOCKER:-docker}"
die() { echo "base.sh: $1" >&2; exit "${2:-1}"; }
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value" 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --mirror) need_value "$@"; MIRROR="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" 2 ;;
  esac
done

if ((FORCE == 0)) && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  echo "base.sh: $TAG exists (cached; --force rebuilds)" >&2
  exit 0
fi
((EUID == 0)) || die "debootstrap needs root (or build the base elsewhere and docker load it)"

apt_mirror() {
  # the first Debian archive (not security) this machine's apt reads, deb822 or one-line format
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  grep -h -s -o -E '(URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+' \
    "${files[@]}" 2>/dev/null | grep -o -E '[a-z]+://[^[:space:]]+' \
    | grep -v -E 'security|updates' | grep -E '/debian/?$' | head -n 1
}
[[ -n "$MIRROR" ]] || MIRROR="$(apt_mirror || true)"
[[ -n "$MIRROR" ]] || MIRROR=http://deb.debian.org/debian

if ! command -v debootstrap >/dev/null; then
  echo "base.sh: installing debootstrap with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi

ROOTFS="$(mktemp -d "${TMPDIR:-/var/tmp}/trainlab-base.XXXXXX")"
trap 'rm -rf "$ROOTFS"' EXIT
echo "base.sh: debootstrap bookworm from $MIRROR" >&2
debootstrap --variant=minbase --include=python3,python3-venv,git,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >&2
cat >"$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian*}/debian-security bookworm-security main
SOURCES
# what docker's own debian images leave out: package lists, caches, logs of the bootstrap
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/* "$ROOTFS"/tmp/*
tar --numeric-owner -C "$ROOTFS" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "base.sh: built $TAG ($("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes)" >&2
