"""SageMaker training entry point: SageMaker's conventions -> one `trainlab train` run.

SageMaker hands a job its settings in three places; this script turns them into Hydra
overrides of `trainlab train`:

- hyperparameters, from /opt/ml/input/config/hyperparameters.json and as `--key value`
  arguments (the arguments win): `model.optimizer.lr=0.01` (`__` may stand for `.`, as in
  `model__optimizer__lr`); the hyperparameter `overrides` holds raw Hydra overrides
  (`"experiment=images/digits trainer=gpu"`);
- input channels (/opt/ml/input/data/<channel>, or $SM_CHANNEL_<NAME>): `paths.data_dir` is
  their parent, so a channel named after a data set is where the experiment configs look
  (`${paths.data_dir}/digits`), and each channel is also `paths.channels.<name>`;
- the model folder (/opt/ml/model, $SM_MODEL_DIR) receives the run folder: config,
  checkpoints, metrics.json and reports, which SageMaker uploads as model.tar.gz. Other logs go
  to /opt/ml/output/data. With checkpointing configured (/opt/ml/checkpoints exists, e.g. for
  spot training), the run trains there with resume=auto, so a restarted job continues from
  last.ckpt, and is copied to the model folder once it finished.

On failure the error goes to /opt/ml/output/failure, where SageMaker shows it.
Usage: `python scripts/sagemaker/entrypoint.py [--key value ...]`; $TRAINLAB_SM_ROOT replaces
/opt/ml (tests use a fake tree).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RAW_OVERRIDES_KEY = "overrides"
CHECKPOINT_RUN = "run"


@dataclass(frozen=True)
class SageMakerPaths:
    """Where SageMaker put this job's inputs and where it collects its outputs."""

    hyperparameters: Path
    channels: dict[str, Path]
    model_dir: Path
    output_data_dir: Path
    failure_file: Path
    checkpoint_dir: Path

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> SageMakerPaths:
        """SageMaker's SM_* variables where set, else the standard layout under the root."""
        env = os.environ if environ is None else environ
        root = Path(env.get("TRAINLAB_SM_ROOT", "/opt/ml"))
        config_dir = Path(env.get("SM_INPUT_CONFIG_DIR", root / "input" / "config"))
        data_root = Path(env.get("SM_INPUT_DATA_DIR", root / "input" / "data"))
        channels = (
            {p.name: p for p in sorted(data_root.iterdir()) if p.is_dir()}
            if data_root.is_dir()
            else {}
        )
        for key, value in env.items():
            if key.startswith("SM_CHANNEL_") and key != "SM_CHANNELS":
                channels[key[len("SM_CHANNEL_") :].lower()] = Path(value)
        return cls(
            hyperparameters=config_dir / "hyperparameters.json",
            channels=channels,
            model_dir=Path(env.get("SM_MODEL_DIR", root / "model")),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR", root / "output" / "data")),
            failure_file=Path(env.get("SM_OUTPUT_DIR", root / "output")) / "failure",
            checkpoint_dir=Path(env.get("TRAINLAB_SM_CHECKPOINTS", root / "checkpoints")),
        )


def decode(value: Any) -> Any:
    """SageMaker's SDK stores hyperparameters JSON-encoded as strings ('"adam"', '0.1')."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def parse_arguments(argv: list[str]) -> dict[str, Any]:
    """`--key value`, `--key=value` and bare `--flag` (true); a leading `train` is skipped."""
    args = list(argv)
    if args and args[0] == "train":  # how SageMaker starts a bring-your-own container
        args = args[1:]
    parsed: dict[str, Any] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if not word.startswith("--"):
            raise SystemExit(f"entrypoint: expected --key value, got {word!r}")
        key, eq, value = word[2:].partition("=")
        if not eq:
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
            else:
                value = "true"
        parsed[key] = decode(value)
        i += 1
    return parsed


def hydra_value(value: Any) -> str:
    """A Python value in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def hyperparameter_overrides(hyperparameters: dict[str, Any]) -> list[str]:
    """Hydra overrides from hyperparameters; `overrides` is split like a shell line."""
    out = []
    for key, value in hyperparameters.items():
        if key == RAW_OVERRIDES_KEY:
            out += shlex.split(str(value))
            continue
        out.append(f"{key.replace('__', '.')}={hydra_value(value)}")
    return out


def read_hyperparameters(paths: SageMakerPaths, argv: list[str]) -> dict[str, Any]:
    """The JSON file's hyperparameters, updated by the command-line ones."""
    found: dict[str, Any] = {}
    if paths.hyperparameters.is_file():
        found = {k: decode(v) for k, v in json.loads(paths.hyperparameters.read_text()).items()}
    found.update(parse_arguments(argv))
    return found


def build_command(paths: SageMakerPaths, argv: list[str]) -> tuple[list[str], Path]:
    """The `trainlab train` command line, and the run folder it trains in."""
    checkpointing = paths.checkpoint_dir.is_dir()
    run_dir = paths.checkpoint_dir / CHECKPOINT_RUN if checkpointing else paths.model_dir
    overrides = [
        f"paths.log_dir={paths.output_data_dir}",
        f"hydra.run.dir={run_dir}",
    ]
    if paths.channels:
        parents = {p.parent for p in paths.channels.values()}
        data_dir = parents.pop() if len(parents) == 1 else next(iter(paths.channels.values()))
        overrides.append(f"paths.data_dir={data_dir}")
        overrides += [f"++paths.channels.{name}={p}" for name, p in paths.channels.items()]
    if checkpointing:
        overrides.append("resume=auto")
    overrides += hyperparameter_overrides(read_hyperparameters(paths, argv))
    command = [sys.executable, "-m", "trainlab.cli.main", "train", *overrides]
    return command, run_dir


def write_failure(paths: SageMakerPaths, message: str) -> None:
    paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.failure_file.with_name(".failure.tmp")
    tmp.write_text(message[-4000:])
    os.replace(tmp, paths.failure_file)


def main(argv: list[str] | None = None) -> int:
    """Run the training; returns its exit status (SageMaker marks the job by it)."""
    paths = SageMakerPaths.from_environment()
    command, run_dir = build_command(paths, list(sys.argv[1:] if argv is None else argv))
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    paths.output_data_dir.mkdir(parents=True, exist_ok=True)
    print("entrypoint:", shlex.join(command), flush=True)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:  # pass the output on, keep its end for the failure file
        sys.stderr.write(line)
        tail = [*tail[-60:], line]
    code = process.wait()
    if code != 0:
        write_failure(paths, f"trainlab train exited with status {code}:\n{''.join(tail)}")
        return code
    if run_dir != paths.model_dir:
        shutil.copytree(run_dir, paths.model_dir, dirs_exist_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
