#!/usr/bin/env bash
# Run trainlab in its Docker image with this folder's data/ and logs/ mounted, as you.
#
#   docker/run.sh [--image trainlab:latest] [--workspace DIR] [--gpus all] [--network MODE]
#                 [--] trainlab arguments...
#   docker/run.sh train experiment=images/digits trainer=gpu --gpus all
#
# It creates DIR/data and DIR/logs first (when Docker creates a missing mount source it
# belongs to root, and the run fails with PermissionError) and runs the container as your
# uid:gid, so every file the run writes on the host is yours. W&B, MLflow and Hugging Face
# variables that are set here reach the run. DOCKER picks the docker client.
set -euo pipefail

IMAGE=trainlab:latest
WORKSPACE="$PWD"
DOCKER_ARGS=(--shm-size 8g)
DOCKER="${DOCKER:-docker}"
die() { echo "run.sh: $1" >&2; exit "${2:-2}"; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }

ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --image) need_value "$@"; IMAGE="$2"; shift 2 ;;
    --workspace) need_value "$@"; WORKSPACE="$2"; shift 2 ;;
    --gpus) need_value "$@"; DOCKER_ARGS+=(--gpus "$2"); shift 2 ;;
    --network) need_value "$@"; DOCKER_ARGS+=(--network "$2"); shift 2 ;;
    -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; ARGS+=("$@"); break ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

mkdir -p "$WORKSPACE/data" "$WORKSPACE/logs"
WORKSPACE="$(cd "$WORKSPACE" && pwd)"
for var in WANDB_API_KEY WANDB_PROJECT WANDB_ENTITY WANDB_MODE WANDB_BASE_URL \
  MLFLOW_TRACKING_URI MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD \
  MLFLOW_TRACKING_TOKEN MLFLOW_EXPERIMENT_NAME HF_TOKEN; do
  if [[ -n "${!var:-}" ]]; then DOCKER_ARGS+=(-e "$var"); fi
done
exec "$DOCKER" run --rm --user "$(id -u):$(id -g)" \
  -v "$WORKSPACE/data:/workspace/data" -v "$WORKSPACE/logs:/workspace/logs" \
  "${DOCKER_ARGS[@]}" "$IMAGE" "${ARGS[@]}"
