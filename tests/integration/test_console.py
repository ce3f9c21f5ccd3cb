"""What `trainlab` prints when its output is a file or a pipe (SLURM logs, `make train | tee`).

Real commands in subprocesses with stdout to a pipe: few lines, each once, paths whole, no
third-party tips, one line per epoch, and a learning-curves PNG in the run folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tests.conftest import REPO, only_run
from tests.integration.test_kmer_cv import SMALL as KMER_SMALL

# the start of a plain console line: "[2026-12-01 17:52:13] INFO "
PREFIX = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] [A-Z]+ ")
NOISE = (
    "💡 Tip",
    "litlogger",
    "The `srun` command is available",
    "LeafSpec",
    "Trainer already configured with model summary",
    "Total FLOPs",
    "GPU available: False, used: False",
    "┏",  # a Rich table (the config tree, Lightning's summary or test table)
    "├──",
    "━",  # a Rich progress bar
)


def trainlab(log_dir: Path, *args: str, timeout: int = 300) -> list[str]:
    """Run `trainlab <args>` with stdout and stderr to a pipe; its output lines."""
    env = {**os.environ, "TRAINLAB_LOG_DIR": str(log_dir), "COLUMNS": "80"}
    env.pop("TRAINLAB_CONFIG_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout
    return result.stdout.splitlines()


def check_console(lines: list[str], max_lines: int, repeats: tuple[str, ...] = ()) -> list[str]:
    """Common rules: line budget, no noise, every message once; returns the messages.

    ``repeats``: starts of messages that legitimately come once per fit (several fits).
    """
    text = "\n".join(lines)
    assert len(lines) <= max_lines, text
    for noise in NOISE:
        assert noise not in text, f"{noise!r} printed:\n{text}"
    messages = [PREFIX.sub("", line) for line in lines if line.strip()]
    repeated = [m for m, n in Counter(messages).items() if n > 1 and not m.startswith(repeats)]
    assert not repeated, f"printed more than once: {repeated}\n{text}"
    return messages


def test_train_and_eval_print_few_whole_lines_once(tmp_path: Path, digits_dir: Path) -> None:
    log_dir = tmp_path / "logs"
    lines = trainlab(
        log_dir,
        "train",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        "trainer.max_epochs=2",
        "+trainer.limit_train_batches=3",
        "+trainer.limit_val_batches=2",
        "logger=csv",
    )
    check_console(lines, max_lines=30)
    run = only_run(log_dir)
    text = "\n".join(lines)
    # paths whole on one line although COLUMNS=80 and the path is longer
    assert len(str(run)) > 40
    assert any(f"run folder: {run}" in line for line in lines), text
    assert any(f"results: {run}" in line for line in lines), text
    # one summary line per epoch, numbered like the checkpoints (from 0), with the monitor
    epochs = [line for line in lines if " epoch 0/1 " in line or " epoch 1/1 " in line]
    assert len(epochs) == 2, text
    assert all("train/loss" in line and "val/acc" in line for line in epochs), text
    assert "ETA" in epochs[0]
    assert any(line.startswith("model: ") or "INFO model: " in line for line in lines), text
    assert (run / "config.yaml").is_file()
    assert (run / "learning_curves.png").is_file()

    # eval routes Lightning's lines through the run's handlers once (they printed twice)
    lines = trainlab(log_dir, "eval", f"ckpt_path={run}/checkpoints/best.ckpt")
    messages = check_console(
        [line for line in lines if not line.startswith(("│", "┃", "┡", "└", "┏"))], 25
    )
    assert any(m.startswith("evaluation of ") for m in messages), "\n".join(lines)


def test_no_bar_at_all_when_the_progress_bar_is_switched_off(
    tmp_path: Path, digits_dir: Path
) -> None:
    # Lightning adds its own bar when no progress-bar callback is given; it printed
    # "Epoch 0/0 ━━━" into the pipe after `callbacks.progress_bar=null`.
    lines = trainlab(
        tmp_path / "logs",
        "train",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=3",
        "+trainer.limit_val_batches=2",
        "test=false",
        "logger=csv",
        "callbacks.progress_bar=null",
    )
    check_console(lines, max_lines=20)
    assert not any("Epoch 0" in line for line in lines), "\n".join(lines)
    assert any(" epoch 0/0 " in line for line in lines), "\n".join(lines)


def test_print_config_shows_the_tree_on_request(tmp_path: Path, digits_dir: Path) -> None:
    lines = trainlab(
        tmp_path / "logs",
        "train",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "test=false",
        "logger=csv",
        "extras.print_config=true",
    )
    text = "\n".join(lines)
    assert "├── model" in text and "_target_: trainlab.models" in text, text
    # the tree is not cut at 80 columns either: the run folder's checkpoint path is whole
    run = only_run(tmp_path / "logs")
    assert f"dirpath: {run}/checkpoints" in text, text


KMER_CV = ["cv", *KMER_SMALL, "mode=full"]


@pytest.mark.slow  # 3 fits per fold: 37 s alone, 140 s on the shared 2-core machine
def test_kmer_cv_reports_folds_and_trials_with_i_of_n(tmp_path: Path) -> None:
    from PIL import Image

    lines = trainlab(tmp_path / "logs", *KMER_CV, "run_name=cv", f"paths.data_dir={tmp_path}")
    # 40 lines are the results table; each of the 3 fits says why it stopped
    messages = check_console(lines, max_lines=80, repeats=("`Trainer.fit` stopped",))
    text = "\n".join(lines)
    for fold in (0, 1):
        for i in (1, 2):
            assert any(m.startswith(f"fold_{fold} trial {i}/2 | #") for m in messages), text
    assert any(m.startswith("outer fold 1/2 | fold 0 finished") and "ETA" in m for m in messages)
    assert any(m.startswith("outer fold 2/2 | fold 1 finished") for m in messages), text
    assert all("| best val/" in m for m in messages if " trial " in m and "/2 | #" in m)
    out = tmp_path / "logs" / "cv" / "runs" / "cv"
    figures = [
        # beside each fit's best.ckpt (docs/kmer.md)
        out / "cv_results" / "fold_0" / "checkpoints" / "learning_curves.png",
        out / "cv_results" / "fold_1" / "checkpoints" / "learning_curves.png",
        out / "final_model" / "checkpoints" / "learning_curves.png",
        out / "cv_results" / "results.png",
    ]
    for figure in figures:
        with Image.open(figure) as image:
            assert image.format == "PNG" and image.width >= 500 and image.height >= 300, figure


def test_sweep_prints_trials_with_i_of_n_and_the_best(tmp_path: Path, digits_dir: Path) -> None:
    log_dir = tmp_path / "logs"
    lines = trainlab(
        log_dir,
        "train",
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.params=null",
        "model.optimizer.lr=choice(0.003, 0.01)",
        "hydra.sweeper.n_trials=2",
        f"data.data_dir={digits_dir}",
        "data.embedded=null",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "+trainer.limit_val_batches=1",
        "logger=csv",
        "run_name=sweep",
    )
    text = "\n".join(lines)
    assert len(lines) <= 45, text  # a 3-trial sweep printed 269 lines
    trials = [line for line in lines if re.search(r"\] trial [12]/2 \| #[01] ", line)]
    assert len(trials) == 2, text
    assert "ETA" in trials[0] and "| best val/acc " in trials[1], text
    sweep = log_dir / "train" / "multiruns" / "sweep"
    for job in ("0", "1"):
        assert (sweep / job / "learning_curves.png").is_file()
    assert (sweep / "optimization_history.png").is_file()


def test_convert_reports_files_with_i_of_n_and_rate(tmp_path: Path) -> None:
    from tests.unit.data.spectra.spectra_files import ms1, ms2, write_mgf

    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        scans = [ms1(1, [100.0, 200.0], [5.0, 10.0]), ms2(2, 200.0, label="1"), ms2(3, 100.0)]
        write_mgf(tmp_path / "in" / f"{name}.mgf", scans)
    lines = trainlab(
        tmp_path / "logs",
        "convert",
        f"inputs={tmp_path / 'in'}",
        f"root={tmp_path / 'root'}",
        "label_column=LABEL",
    )
    messages = check_console(lines, max_lines=20)
    files = [m for m in messages if m.startswith("file ")]
    assert [m.split(" | ")[0] for m in files] == ["file 1/2", "file 2/2"], lines
    assert "a.mgf: read, 2 spectra" in files[0] and "spectra/s" in files[0], files
    assert "ETA" in files[0]
