#!/usr/bin/env bash
# The container end to end, as `make test-container` and tests/container run it:
# engine, base image, project image, a digits epoch, eval of its checkpoint, --version.
#
#   scripts/container/test-container.sh [--workspace DIR] [--tag TAG] [--timings FILE]
#                                       [--keep-engine]
#
# 1. docker/engine.sh start: the running engine, or docker.io installed and dockerd started
#    (overlay2, PID file); a dockerd started here is stopped by its PID at the end.
# 2. docker/base.sh: the Debian bookworm base (debootstrap + docker import), once.
# 3. docker/build.sh: the image on that base, this machine's pip settings and CA bundle as
#    build secrets, network host; the dependency layers are cached between runs.
# 4. docker/run.sh as the invoking user with DIR/data and DIR/logs mounted (default: a new
#    temporary folder): train one digits epoch (the embedded digits are written and split
#    into DIR/data on first use), eval best.ckpt,
#    trainlab --version; then checks that the results are on the host and belong to the user.
# Exit status 3: no container engine could be installed or started (the reason is printed).
# Timings (seconds per step) go to --timings as KEY=VALUE lines, with engine_started=1 when
# this run started dockerd; --keep-engine leaves that dockerd running for the caller to stop
# (docker/engine.sh stop), e.g. for more tests against the image.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORKSPACE=""
TAG=container-test
TIMINGS=""
KEEP_ENGINE=0
die() { echo "test-container.sh: $1" >&2; exit "${2:-1}"; }
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value" 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workspace) need_value "$@"; WORKSPACE="$2"; shift 2 ;;
    --tag) need_value "$@"; TAG="$2"; shift 2 ;;
    --timings) need_value "$@"; TIMINGS="$2"; shift 2 ;;
    --keep-engine) KEEP_ENGINE=1; shift ;;
    -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" 2 ;;
  esac
done
[[ -n "$WORKSPACE" ]] || WORKSPACE="$(mktemp -d "${TMPDIR:-/tmp}/trainlab-container.XXXXXX")"
IMAGE="trainlab:$TAG"

STARTED_ENGINE=0
finish() {
  if ((STARTED_ENGINE && !KEEP_ENGINE)); then "$ROOT/docker/engine.sh" stop || true; fi
}
trap finish EXIT

declare -A SECONDS_OF=()
step() { # step NAME command...: run it, record its wall time
  local name="$1" start
  shift
  start=$EPOCHREALTIME
  echo "== $name: $*" >&2
  "$@"
  SECONDS_OF[$name]="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  echo "== $name took ${SECONDS_OF[$name]} s" >&2
}

start_engine() {
  if ! "$ROOT/docker/engine.sh" status; then
    "$ROOT/docker/engine.sh" start || exit 3
    STARTED_ENGINE=1
  fi
}
step engine start_engine
# the engine may have just been installed: pick a client that runs BuildKit builds
export DOCKER="${DOCKER:-docker}"

step base "$ROOT/docker/base.sh"
OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
step build "$ROOT/docker/build.sh" --base-image trainlab-base:bookworm --torch-index none \
  --network host --host-pip --tag "$TAG"
# the previous build of this tag is left without a name: remove it (and only it)
if [[ -n "$OLD_ID" && "$OLD_ID" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]]; then
  docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi

RUN=("$ROOT/docker/run.sh" --image "$IMAGE" --workspace "$WORKSPACE" --network host --)
QUIET=(extras.print_config=false callbacks.progress_bar=null callbacks.model_summary=null)
# the embedded digits are written and split into the mounted data folder on first use
step train "${RUN[@]}" train experiment=images/digits trainer.max_epochs=1 run_name=container \
  "${QUIET[@]}"
RUN_DIR="$WORKSPACE/logs/train/runs/container"
[[ -f "$RUN_DIR/checkpoints/best.ckpt" ]] || die "no $RUN_DIR/checkpoints/best.ckpt on the host"
step eval "${RUN[@]}" eval ckpt_path=logs/train/runs/container/checkpoints/best.ckpt \
  run_name=container extras.print_config=false
step version "${RUN[@]}" --version

# every file the container wrote on the host belongs to the invoking user
FOREIGN="$(find "$WORKSPACE/data" "$WORKSPACE/logs" \( ! -uid "$(id -u)" -o ! -gid "$(id -g)" \) \
  -print | head -n 5)"
[[ -z "$FOREIGN" ]] || die "files on the host not owned by $(id -u):$(id -g): $FOREIGN"
[[ -f "$RUN_DIR/metrics.json" ]] || die "no $RUN_DIR/metrics.json on the host"
SIZE="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
echo "test-container.sh: all steps passed; image $IMAGE is $((SIZE / 1000000)) MB;" \
  "results in $WORKSPACE" >&2
if [[ -n "$TIMINGS" ]]; then
  {
    for name in "${!SECONDS_OF[@]}"; do echo "$name=${SECONDS_OF[$name]}"; done
    echo "image_mb=$((SIZE / 1000000))"
    echo "engine_started=$STARTED_ENGINE"
    echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "workspace=$WORKSPACE"
  } >"$TIMINGS"
fi
