#!/usr/bin/env bash
# Build the trainlab image (and optionally an Apptainer/Singularity image from it).
#
#   docker/build.sh [--name trainlab] [--tag TAG] [--registry REGISTRY] [--push]
#                   [--singularity] [--base-image IMAGE] [--torch-index URL|none]
#                   [--network MODE] [--build-arg KEY=VALUE]... [--pip-conf FILE]
#                   [--ca-bundle FILE] [--host-pip] [--dry-run]
#
#   --name         image name (default: trainlab)
#   --tag          image tag (default: the git commit, or latest outside git)
#   --registry     registry prefix, e.g. ghcr.io/my-lab (the image becomes REGISTRY/NAME:TAG)
#   --push         push NAME:TAG (and :latest) to the registry after building
#   --singularity  also build NAME_TAG.sif with apptainer (or singularity) from the Docker image
#   --base-image   CUDA runtime base image (Dockerfile ARG BASE_IMAGE)
#   --torch-index  PyTorch wheel index for that CUDA version (Dockerfile ARG TORCH_INDEX_URL);
#                  none: only the indexes pip is configured with
#   --network      the build's network (host where dockerd runs without a bridge)
#   --build-arg    any Dockerfile ARG, e.g. USER_UID=1001 or TORCH_INDEX_URL=...
#   --pip-conf     a pip.conf for the dependency install (a BuildKit secret: never in a layer)
#   --ca-bundle    CA certificates pip trusts, for networks that intercept TLS (a secret too)
#   --host-pip     this machine's pip settings and CA bundle, its local package folders served
#                  on 127.0.0.1 for the build (scripts/container/host_pip_config.py; needs
#                  --network host)
#   --dry-run      print the commands instead of running them
# The build needs BuildKit (secrets, multi-stage caching): the buildx plugin, or a docker
# client older than 23 (which has BuildKit built in, e.g. Debian's docker.io at /usr/bin/docker).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=trainlab
TAG=""
REGISTRY=""
PUSH=0
SINGULARITY=0
DRY_RUN=0
BUILD_ARGS=()
HOST_PIP=0
DOCKER="${DOCKER:-docker}"

usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "build.sh: $1" >&2; exit "${2:-1}"; }
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value" 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) need_value "$@"; NAME="$2"; shift 2 ;;
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --registry) need_value "$@"; REGISTRY="${2%/}"; shift 2 ;;
    --push) PUSH=1; shift ;;
    --singularity) SINGULARITY=1; shift ;;
    --base-image) need_value "$@"; BUILD_ARGS+=(--build-arg "BASE_IMAGE=$2"); shift 2 ;;
    --torch-index) need_value "$@"; BUILD_ARGS+=(--build-arg "TORCH_INDEX_URL=$2"); shift 2 ;;
    --network) need_value "$@"; BUILD_ARGS+=(--network "$2"); shift 2 ;;
    --build-arg)
      need_value "$@"
      [[ "$2" == ?*=* ]] || die "--build-arg needs KEY=VALUE, got '$2'" 2
      BUILD_ARGS+=(--build-arg "$2"); shift 2 ;;
    --pip-conf | --ca-bundle)
      need_value "$@"
      [[ -f "$2" ]] || die "$1: no file $2" 2
      id=pip_conf; [[ "$1" == --ca-bundle ]] && id=ca_bundle
      BUILD_ARGS+=(--secret "id=$id,src=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    --host-pip) HOST_PIP=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" 2 ;;
  esac
done

if [[ -z "$TAG" ]]; then
  TAG="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo latest)"
fi
IMAGE="${REGISTRY:+$REGISTRY/}$NAME:$TAG"
LATEST="${REGISTRY:+$REGISTRY/}$NAME:latest"
((PUSH == 0)) || [[ -n "$REGISTRY" ]] || die "--push needs --registry" 2

run() {
  if ((DRY_RUN)); then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

buildkit_client() {
  # the given client if it can run BuildKit builds, else another docker client on PATH that can
  local client major
  for client in "$DOCKER" $(type -ap docker); do
    command -v "$client" >/dev/null || continue
    if "$client" buildx version >/dev/null 2>&1; then echo "$client"; return 0; fi
    major="$("$client" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 23)); then echo "$client"; return 0; fi
  done
  return 1
}

if ((DRY_RUN == 0)); then
  command -v "$DOCKER" >/dev/null || die "docker not found: build where a Docker engine runs" 3
  DOCKER="$(buildkit_client)" || die "$DOCKER cannot run BuildKit builds: install the docker \
buildx plugin (docker-buildx-plugin), or set DOCKER to a docker client older than 23" 3
fi
# BuildKit: build secrets, and stages cached by content (a source edit keeps the dependencies)
export DOCKER_BUILDKIT=1

SERVER_PID=""
SECRETS_DIR=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$SECRETS_DIR" ]]; then rm -rf "$SECRETS_DIR"; fi
}
trap cleanup EXIT
if ((HOST_PIP)); then
  SECRETS_DIR="$(mktemp -d)"
  if ((DRY_RUN)); then
    echo "python3 $ROOT/scripts/container/host_pip_config.py $SECRETS_DIR &"
  else
    python3 "$ROOT/scripts/container/host_pip_config.py" "$SECRETS_DIR" &
    SERVER_PID=$!
    for _ in $(seq 120); do
      [[ -f "$SECRETS_DIR/ready" ]] && break
      kill -0 "$SERVER_PID" 2>/dev/null || die "host_pip_config.py failed (see above)"
      sleep 0.5
    done
    [[ -f "$SECRETS_DIR/ready" ]] || die "host_pip_config.py did not start within 60 s"
    echo "build.sh: serving the local package sources $(cat "$SECRETS_DIR/ready") on 127.0.0.1" >&2
  fi
  BUILD_ARGS+=(--secret "id=pip_conf,src=$SECRETS_DIR/pip.conf")
  if ((DRY_RUN)) || [[ -f "$SECRETS_DIR/ca_bundle" ]]; then
    BUILD_ARGS+=(--secret "id=ca_bundle,src=$SECRETS_DIR/ca_bundle")
  fi
fi

run "$DOCKER" build -f "$ROOT/docker/Dockerfile" "${BUILD_ARGS[@]}" \
  -t "$IMAGE" -t "$LATEST" "$ROOT"
if ((DRY_RUN == 0)); then
  SIZE="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")"
  echo "build.sh: $IMAGE is $((SIZE / 1000000)) MB" >&2
fi
if ((PUSH)); then
  run "$DOCKER" push "$IMAGE"
  run "$DOCKER" push "$LATEST"
fi
if ((SINGULARITY)); then
  RUNTIME="$(command -v apptainer || command -v singularity || true)"
  if [[ -z "$RUNTIME" ]]; then
    ((DRY_RUN)) || die "--singularity: neither apptainer nor singularity found" 3
    RUNTIME=apptainer
  fi
  SIF="$ROOT/${NAME}_${TAG}.sif"
  run "$(basename "$RUNTIME")" build --force --build-arg "IMAGE=$IMAGE" "$SIF" \
    "$ROOT/docker/apptainer.def"
  ((DRY_RUN)) || echo "built $SIF"
fi
((DRY_RUN)) || echo "built $IMAGE"
