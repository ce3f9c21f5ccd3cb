#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: measures what the project has never measured
# there (precisions, throughput, memory, DDP, exact resume on the device, the container's GPU
# path) and writes the tables to docs/gpu.md. At most ~8 minutes on one modern GPU.
#
#   scripts/gpu-check.sh [--out FILE] [--only STEP,...]
#   scripts/gpu-check.sh --dry-run      the same steps on CPU at tiny sizes, into a scratch
#                                       file (checks the script on a machine without a GPU)
#
# The steps and their sizes: scripts/gpu_check.py. Uses .venv/bin/python when it exists.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  esac
done
if ((DRY_RUN == 0)) && ! command -v nvidia-smi >/dev/null; then
  echo "gpu-check.sh: no NVIDIA GPU here (nvidia-smi not found); --dry-run runs the same" \
    "steps on CPU" >&2
  exit 3
fi
cd "$ROOT"
# the dry run on a shared CPU machine: two threads per process, not every core
((DRY_RUN == 0)) || export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "$PYTHON" "$ROOT/scripts/gpu_check.py" "$@"
