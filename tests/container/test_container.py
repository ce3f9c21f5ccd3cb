"""The Docker image for real: built on a local Debian base, trained in, evaluated, run as you.

One session-wide run of scripts/container/test-container.sh (the `container_run` fixture) builds
the image and trains a digits epoch in it; the tests here check what it left on the host and
run the image again for the permission and SLURM paths.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.container.conftest import REPO, TAG, ContainerRun

pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]
IMAGE = f"trainlab:{TAG}"


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def test_digits_epoch_trained_and_evaluated_in_the_container(container_run: ContainerRun):
    run_dir = container_run.workspace / "logs" / "train" / "runs" / "container"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.3, metrics  # one epoch of the small CNN: 0.48; majority 0.10
    assert (run_dir / "checkpoints" / "best.ckpt").stat().st_size > 10_000
    # the eval run of best.ckpt wrote its own run folder with test metrics
    evaluated = container_run.workspace / "logs" / "eval" / "runs" / "container" / "metrics.json"
    assert evaluated.is_file(), container_run.output[-3000:]
    assert json.loads(evaluated.read_text())["test/acc"] == pytest.approx(metrics["test/acc"])
    assert "trainlab 0.1.0" in container_run.output
    # every file written through the bind mounts belongs to the invoking user
    for path in [*container_run.workspace.rglob("*")]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid()), path
    assert (container_run.workspace / "data" / "digits" / "splits" / "test.txt").is_file()
    for step in ("engine", "base", "build", "train", "eval", "version"):
        assert float(container_run.timings[step]) >= 0
    print(f"container steps (s): {container_run.timings}; total {container_run.seconds:.0f} s")


def test_image_holds_no_build_secret_and_runs_as_non_root(container_run: ContainerRun):
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE)
    assert history.returncode == 0, history.stderr
    # the build's secrets and this machine's pip sources: their contents, not the mount paths
    for secret in ("127.0.0.1:", "BEGIN CERTIFICATE", "/opt/wheels", "/opt/pypi", "/etc/xdg/pip"):
        assert secret not in history.stdout, secret
    found = docker(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        IMAGE,
        "-c",
        "id -u; ls /run/secrets 2>/dev/null; "
        "find / -xdev \\( -name pip.conf -o -name ca_bundle -o -name '.env*' \\) -print; "
        "grep -rl 127.0.0.1: /etc /opt/venv/pip.conf /root 2>/dev/null; true",
    )
    assert found.returncode == 0, found.stderr
    lines = found.stdout.split()
    assert lines[0] == "1000"  # the image's own user, not root
    assert lines[1:] == [], f"secrets or pip settings in the image: {lines[1:]}"


def test_unwritable_logs_mount_says_what_to_do(container_run: ContainerRun, tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o755)
    os.chown(logs, 4242, 4242) if os.getuid() == 0 else None
    done = docker(
        "run", "--rm", "--user", "4343:4343", "-v", f"{logs}:/workspace/logs", IMAGE, "--version"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "/workspace/logs" in done.stderr and '--user "$(id -u):$(id -g)"' in done.stderr
    # an unknown uid still gets a writable HOME (matplotlib and the trackers need one)
    done = docker(
        "run",
        "--rm",
        "--user",
        "4343:4343",
        "--entrypoint",
        "trainlab-entrypoint",
        IMAGE,
        "--version",
    )
    assert done.returncode == 0 and "trainlab" in done.stdout, done.stderr


SHIM = """#!/usr/bin/env bash
# apptainer exec [--nv] [--bind SRC:DST[:MODE]]... [--pwd DIR] IMAGE CMD...: the same run in
# the Docker image, with the same bind modes (read-only stays read-only) and APPTAINERENV_*.
set -euo pipefail
echo "apptainer $*" >> "$SHIM_LOG"
[[ "$1" == exec ]] && shift
args=(--rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp --entrypoint "")
while [[ "$1" == --* ]]; do
  case "$1" in
    --nv) shift ;;
    --bind) args+=(-v "$2"); shift 2 ;;
    --pwd) args+=(-w "$2"); shift 2 ;;
    *) echo "shim: unknown option $1" >&2; exit 2 ;;
  esac
done
shift  # the .sif: the Docker image stands in for it
for var in $(compgen -e); do
  [[ "$var" == APPTAINERENV_* ]] && args+=(-e "${var#APPTAINERENV_}=${!var}")
done
[[ -z "${SHIM_LOG_ONLY:-}" ]] || exit 0
exec docker run "${args[@]}" "$SHIM_IMAGE" "$@"
"""


def test_slurm_script_trains_with_read_only_data(container_run: ContainerRun, tmp_path: Path):
    """train.sbatch with a fresh data folder: the digits are prepared writable once, then
    the training task sees /data read-only (the old script failed: Read-only file system)."""
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "apptainer").write_text(SHIM)
    (shims / "srun").write_text('#!/usr/bin/env bash\necho "srun $*" >> "$SHIM_LOG"\nexec "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "trainlab.sif").write_text("stands for the image\n")
    log = tmp_path / "shim.log"
    env = {
        **os.environ,
        "PATH": f"{shims}:{os.environ['PATH']}",
        "SLURM_JOB_ID": "77",
        "SLURM_SUBMIT_DIR": str(workspace),
        "APPTAINER": str(shims / "apptainer"),
        "SHIM_IMAGE": IMAGE,
        "SHIM_LOG": str(log),
    }
    done = subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "slurm" / "train.sbatch"),
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=2",
            "extras.print_config=false",
            "callbacks.progress_bar=null",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=workspace,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    calls = log.read_text().splitlines()
    assert "trainlab split data_dir=/data/digits" in calls[0] and ":ro" not in calls[0]
    assert calls[1].startswith("srun ") and f"{workspace / 'data'}:/data:ro" in calls[2]
    assert (workspace / "data" / "digits" / "splits" / "test.txt").is_file()
    run = workspace / "logs" / "train" / "runs" / "slurm-77"
    assert json.loads((run / "metrics.json").read_text())["test/acc"] >= 0
    # a second job finds the data prepared and goes straight to the read-only training
    log.write_text("")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm" / "train.sbatch")],
        capture_output=True,
        text=True,
        cwd=workspace,
        env={**env, "SLURM_JOB_ID": "78", "SHIM_LOG_ONLY": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and calls[0].startswith("srun ") and ":/data:ro" in calls[1]
