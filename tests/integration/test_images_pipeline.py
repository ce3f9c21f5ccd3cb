"""The image pipeline through the real entry points, on the embedded digits."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.conftest import only_run, subprocess_env, train_args
from tests.wandb_records import logged_values


def test_train_writes_the_whole_run_folder(run_cli, digits_dir: Path, log_dir: Path) -> None:
    assert run_cli(*train_args(digits_dir, "logger=[csv,tensorboard]")) == 0
    run = only_run(log_dir)
    for name in (
        "config.yaml",
        "command.txt",
        "git.txt",
        "hardware.json",
        "metrics.json",
        "summary.txt",
        "status.json",
        "train.log",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "csv/metrics.csv",
        "reports/test_classification_report.txt",
        "reports/val_confusion_matrix.png",
        "reports/train_classification_report.json",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test/acc", "test/f1_macro", "val/acc", "train/loss"} <= set(metrics)
    assert metrics["test/acc"] > 0.25  # well above chance (0.1) after 12 batches
    summary = (run / "summary.txt").read_text()
    assert "status: finished" in summary and "best val/acc" in summary
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert "data.data_dir=" in (run / "command.txt").read_text()
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["trainlab"]["spec"]["tasks"]["label"] == [str(d) for d in range(10)]
    assert ckpt["trainlab"]["config"]["model"]["net"]["name"] == "small_cnn"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert "confusion_matrix/test" in events.Tags()["images"]
    # a real run's reports cover the whole test split (15 % of 1,797 digits)
    report = json.loads((run / "reports" / "test_classification_report.json").read_text())
    assert 250 <= report["weighted avg"]["support"] <= 290


def test_fast_dev_run_reports_read_only_its_batches(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    # Whole-split reports after a one-batch fit made `experiment=text/joint debug=fdr` take
    # minutes; a fast dev run's reports read as many batches as its loops did.
    args = train_args(digits_dir, "debug=fdr", "data.batch_size=16")
    assert run_cli(*args) == 0
    run = only_run(log_dir, task="debug")
    for split in ("train", "val", "test"):
        path = run / "reports" / f"{split}_classification_report.json"
        assert json.loads(path.read_text())["weighted avg"]["support"] == 16, split


def test_eval_reproduces_test_metrics_and_predict_needs_only_the_checkpoint(
    run_cli, digits_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    assert run_cli(*train_args(digits_dir)) == 0
    run = only_run(log_dir)
    trained = json.loads((run / "metrics.json").read_text())
    ckpt = tmp_path / "elsewhere" / "model.ckpt"
    ckpt.parent.mkdir()
    shutil.copy(run / "checkpoints" / "best.ckpt", ckpt)
    assert run_cli("eval", f"ckpt_path={ckpt}", "extras.print_config=false") == 0
    evaluated = json.loads((only_run(log_dir, "eval") / "metrics.json").read_text())
    for key in ("test/acc", "test/f1_macro", "test/loss"):
        assert evaluated[key] == pytest.approx(trained[key], abs=1e-6)
    shutil.rmtree(run)  # the checkpoint alone must be enough
    images = tmp_path / "new_images"
    for digit in ("3", "7"):
        (images / digit).mkdir(parents=True)
        for png in sorted((digits_dir / "raw" / digit).glob("*.png"))[:5]:
            shutil.copy(png, images / digit / png.name)
    out = tmp_path / "predictions"
    assert run_cli("predict", f"ckpt_path={ckpt}", f"input={images}", f"output_dir={out}") == 0
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0].startswith("path,predicted,confidence,prob_0")
    assert len(rows) == 11
    correct = sum(row.split(",")[1] == Path(row.split(",")[0]).parent.name for row in rows[1:])
    assert correct >= 4  # chance would be 1 of 10
    # a second predict into the same folder keeps the first one's file (before: overwritten)
    (images / "3" / sorted(os.listdir(images / "3"))[0]).unlink()
    assert run_cli("predict", f"ckpt_path={ckpt}", f"input={images}", f"output_dir={out}") == 2
    assert (out / "predictions.csv").read_text().splitlines() == rows
    (kept,) = out.glob("predict_*/predictions.csv")
    assert len(kept.read_text().splitlines()) == 10


def test_resume_continues_and_reaches_the_uninterrupted_step_count(
    digits_dir: Path, log_dir: Path
) -> None:
    args = [sys.executable, "-m", "trainlab.cli.main", *train_args(digits_dir)]
    args = [a for a in args if not a.startswith("trainer.max_epochs")]
    args = [a for a in args if not a.startswith("+trainer.limit_train_batches")]
    args += ["trainer.max_epochs=12", "+trainer.limit_train_batches=3"]
    args += ["~callbacks.early_stopping", "run_name=resumable"]
    env = subprocess_env(log_dir)
    last = log_dir / "train" / "runs" / "resumable" / "checkpoints" / "last.ckpt"
    # Ctrl+C while epoch 3 starts (after three epochs' checkpoints): the run waits there, so
    # the signal cannot miss the fit. The run gets SIGINT's default disposition: started from
    # a background job (`make test &`) it would inherit SIGINT ignored, Python then installs
    # no KeyboardInterrupt handler, and the Ctrl+C is lost (the run went on and exited 0).
    never = log_dir.parent / "never"
    wait = {"TRAINLAB_WAIT_AT": "epoch_start:3", "TRAINLAB_WAIT_FOR": str(never)}
    first = subprocess.Popen(
        args,
        env={**env, **wait},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 240
    reached = never.with_name("never.reached")
    while not reached.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=120) != 0
    run = last.parent.parent
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    stopped_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert stopped_at == 3 * 3  # three epochs of three batches
    done = subprocess.run([*args, "resume=auto"], env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["global_step"] == 12 * 3  # the same as an uninterrupted run
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["attempts"] == 2
    assert (run / "command.1.txt").is_file()  # the first attempt's record is kept
    assert "resuming from" in (run / "train.log").read_text()
    with open(run / "csv" / "metrics.csv") as handle:
        epochs = {row["epoch"] for row in csv.DictReader(handle) if row.get("val/acc")}
    assert epochs == {str(e) for e in range(12)}  # rows before the interruption are kept


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_refusals_leave_an_existing_run_untouched(run_cli, digits_dir: Path, log_dir: Path) -> None:
    assert run_cli(*train_args(digits_dir, "run_name=keep")) == 0
    run = only_run(log_dir)
    before = _snapshot(run)
    assert run_cli(*train_args(digits_dir, "run_name=keep")) != 0  # would reuse the folder
    assert run_cli(*train_args(digits_dir, "run_name=keep", "resume=auto")) == 2  # finished
    assert run_cli(*train_args(digits_dir, "data.batch_size=many")) == 2  # bad type
    assert run_cli(*train_args(digits_dir, "data.fold=7")) == 2  # no such split file
    assert _snapshot(run) == before


@pytest.mark.parametrize("precision", ["bf16-mixed"])
def test_mixed_precision_on_cpu(run_cli, digits_dir: Path, log_dir: Path, precision: str) -> None:
    assert run_cli(*train_args(digits_dir, f"trainer.precision={precision}")) == 0
    metrics = json.loads((only_run(log_dir) / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.3


def test_ddp_sim_trains_on_two_processes(run_cli, digits_dir: Path, log_dir: Path) -> None:
    assert run_cli(*train_args(digits_dir, "trainer=ddp_sim", "trainer.max_epochs=1")) == 0
    run = only_run(log_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    assert "test/acc" in metrics
    hparams = (run / "config.yaml").read_text()
    assert "strategy: ddp_spawn" in hparams and "devices: 2" in hparams


def test_wandb_offline_and_mlflow_sqlite_record_the_run(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    assert run_cli(*train_args(digits_dir, "logger=[csv,wandb,mlflow]")) == 0
    run = only_run(log_dir)
    files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    # W&B's writer process may still be flushing the offline file when the run returns.
    deadline = time.time() + 60
    history, summary = logged_values(files[0])
    while ("val/acc" not in history or "test/acc" not in summary) and time.time() < deadline:
        time.sleep(1)
        history, summary = logged_values(files[0])
    assert len(history.get("val/acc", [])) == 2  # one value per epoch
    assert float(summary["test/acc"]) > 0.25
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir}/mlflow.db")
    experiment = client.get_experiment_by_name("images/digits")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    history = client.get_metric_history(runs[0].info.run_id, "val/acc")
    assert len(history) == 2  # one value per epoch
    ids = json.loads((run / "logger_ids.json").read_text())
    assert ids["mlflow"] == runs[0].info.run_id


def test_help_lists_the_groups_and_experiments(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trainlab.cli.main", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0
    assert "experiment/images: " in out.stdout and "trainer: " in out.stdout


@pytest.mark.slow  # 2 to 2.5 min on a loaded 2-core machine
def test_a_best_checkpoint_from_epoch_0_of_several_is_warned(
    run_cli, digits_dir: Path, log_dir: Path
) -> None:
    """Before: a run whose later epochs never beat epoch 0 (on a few hundred images val/acc
    moves in coarse steps, and a tie keeps the first epoch) kept the epoch-0 model as best.ckpt
    and scored it on test without a word. Here the learning rate drops to 0 after epoch 0."""
    args = train_args(digits_dir, "trainer.max_epochs=3", "callbacks.early_stopping=null")
    args += [
        "+model.scheduler._target_=torch.optim.lr_scheduler.MultiStepLR",
        "+model.scheduler._partial_=true",
        "+model.scheduler.milestones=[1]",
        "+model.scheduler.gamma=0.0",
    ]
    assert run_cli(*args) == 0
    log = (only_run(log_dir) / "train.log").read_text()
    assert "is from epoch 0: none of the 2 later epochs beat it" in log, log[-2000:]
