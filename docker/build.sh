#!/usr/bin/env bash
# Build the trainlab image (and optionally an Apptainer/Singularity image from it).
#
#   docker/build.sh [--name trainlab] [--tag TAG] [--registry REGISTRY] [--push]
#                   [--singularity] [--base-image IMAGE] [--torch-index URL] [--dry-run]
#
#   --name         image name (default: trainlab)
#   --tag          image tag (default: the git commit, or latest outside git)
#   --registry     registry prefix, e.g. ghcr.io/my-lab (the image becomes REGISTRY/NAME:TAG)
#   --push         push NAME:TAG (and :latest) to the registry after building
#   --singularity  also build NAME_TAG.sif with apptainer (or singularity) from the Docker image
#   --base-image   CUDA runtime base image (Dockerfile ARG BASE_IMAGE)
#   --torch-index  PyTorch wheel index for that CUDA version (Dockerfile ARG TORCH_INDEX_URL)
#   --dry-run      print the commands instead of running them
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=trainlab
TAG=""
REGISTRY=""
PUSH=0
SINGULARITY=0
DRY_RUN=0
BUILD_ARGS=()

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
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

if ((DRY_RUN == 0)); then
  command -v docker >/dev/null || die "docker not found: build where a Docker engine runs" 3
fi
run docker build -f "$ROOT/docker/Dockerfile" "${BUILD_ARGS[@]}" -t "$IMAGE" -t "$LATEST" "$ROOT"
if ((PUSH)); then
  run docker push "$IMAGE"
  run docker push "$LATEST"
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
