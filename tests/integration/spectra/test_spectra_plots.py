"""The figures a spectra user looks at: learning curves of a BCE run (matching its metrics.csv)
and `trainlab prior`'s score histograms by label with the prior estimate."""

from __future__ import annotations

import json

from PIL import Image
from spectra_runs import QUIET, best_checkpoint, train_experiment

from trainlab.core.plots import best_epoch, read_epoch_metrics


def check_png(path, min_width: int = 400, min_height: int = 250) -> None:
    assert path.is_file(), path
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height, image.size


def test_bce_run_curves_and_prior_histograms(run_cli, log_dir, tmp_path):
    data = tmp_path / "data"
    run_dir, metrics = train_experiment(
        run_cli, log_dir, "bce_pos", data, "trainer.max_epochs=2", "data.synthetic.n_train=400"
    )
    check_png(run_dir / "learning_curves.png")  # one panel: the monitor is a loss
    # the curves are drawn from the CSV logger's rows: the best epoch they mark is the one the
    # run kept (summary and best.ckpt)
    epochs = read_epoch_metrics(run_dir / "csv" / "metrics.csv")
    assert sorted(epochs) == [0, 1]
    assert all("train/loss" in row and "val/loss" in row for row in epochs.values())
    marked = best_epoch([(e, row["val/loss"]) for e, row in epochs.items()], "min")
    summary = (run_dir / "summary.txt").read_text()
    assert f"at epoch {marked[0]}" in summary, summary
    assert marked[1] == metrics["val/loss"] or abs(marked[1] - metrics["val/loss"]) < 1e-6

    ckpt = best_checkpoint(run_dir)
    assert run_cli("prior", f"checkpoints=['{ckpt}']", "run_name=p", "force=true", QUIET) == 0
    folder = log_dir / "prior" / "runs" / "p"
    assert json.loads((folder / "priors.json").read_text())["priors"]
    check_png(folder / "prior_scores.png")
