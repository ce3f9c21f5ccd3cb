"""Trials per minute of the same Optuna search on the digits model, pruned and unpruned.

    python benchmarks/sweep_pruning.py [--trials 8] [--epochs 6] [--repeats 1]

Runs `train.py -m hparams_search=images_optuna` twice per repeat, side by side in one
process tree (same seed, same search space, same machine load): once with the search file's
median pruner, once with `hydra.sweeper.pruner.name=none`. Prints wall time, trials per
minute, epochs actually trained and the best val/acc of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_search(pruner: str, trials: int, epochs: int, logs: Path, data: Path) -> dict:
    """One sweep as a user runs it; returns its timing and what the study recorded."""
    import optuna

    from trainlab.core.optuna_study import default_storage_spec, open_storage

    name = f"bench_{pruner}_{time.time_ns()}"
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "-m",
        "hparams_search=images_optuna",
        f"run_name={name}",
        f"hydra.sweeper.study_name={name}",
        f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.plots=false",
        f"trainer.max_epochs={epochs}",
        f"data.data_dir={data}",
        "data.embedded=null",
        "test=false",
        "logger=csv",
        "extras.print_config=false",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
    ]
    if pruner == "none":
        command.append("hydra.sweeper.pruner=none")
    env = {**os.environ, "TRAINLAB_LOG_DIR": str(logs)}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    folder = logs / "train" / "multiruns" / name
    study = optuna.load_study(
        study_name=name, storage=open_storage(default_storage_spec(folder, "sqlite"))
    )
    states = [t.state.name for t in study.trials]
    return {
        "pruner": pruner,
        "trials": len(study.trials),
        "pruned": states.count("PRUNED"),
        "epochs": sum(len(t.intermediate_values) for t in study.trials),
        "seconds": seconds,
        "trials_per_min": 60 * len(study.trials) / seconds,
        "best": study.best_value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    from trainlab.data.images.digits import write_digits
    from trainlab.data.images.split import split_folder

    with tempfile.TemporaryDirectory(prefix="sweep_pruning_") as tmp:
        data = Path(tmp) / "digits"
        write_digits(data)
        split_folder(data, folds=5, test_ratio=0.15, seed=0)
        rows = []
        for _ in range(args.repeats):
            for pruner in ("median", "none"):
                rows.append(run_search(pruner, args.trials, args.epochs, Path(tmp) / "logs", data))
                print(rows[-1], flush=True)
    print(f"\n{args.trials} trials x up to {args.epochs} epochs, digits small_cnn, CPU")
    print(
        f"{'pruner':<8} {'trials':>6} {'pruned':>6} {'epochs':>6} {'wall s':>8} "
        f"{'trials/min':>10} {'best val/acc':>12}"
    )
    for r in rows:
        print(
            f"{r['pruner']:<8} {r['trials']:>6} {r['pruned']:>6} {r['epochs']:>6} "
            f"{r['seconds']:>8.1f} {r['trials_per_min']:>10.2f} {r['best']:>12.4f}"
        )


if __name__ == "__main__":
    main()
