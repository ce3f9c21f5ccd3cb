"""experiment=images/folder on a real photo class folder, and the baselines beside the model.

The photos are scikit-learn's two shipped sample photographs (a temple in China, a flower), cut
into 22x18 tiles: real RGB pixels, two classes, nothing downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import FAST, only_run, train_args

TILE_W, TILE_H = 22, 18
PER_CLASS = 40


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from trainlab.data.images.split import split_folder

    data_dir = tmp_path_factory.mktemp("data") / "photos"
    sample = load_sample_images()
    for name, photo in zip(("china", "flower"), sample.images, strict=True):
        folder = data_dir / "raw" / name
        folder.mkdir(parents=True)
        height, width = photo.shape[:2]
        ys = np.linspace(0, height - TILE_H, 5).astype(int)
        xs = np.linspace(0, width - TILE_W, PER_CLASS // 5).astype(int)
        for i, (y, x) in enumerate((y, x) for y in ys for x in xs):
            tile = photo[y : y + TILE_H, x : x + TILE_W]
            Image.fromarray(tile).save(folder / f"{i:03d}.png")
    split_folder(data_dir, folds=3, test_ratio=0.25, seed=0)
    return data_dir


def _split_pixels(data_dir: Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, C*H*W) on 0..1, channel-major, and labels of a split file, read with PIL."""
    from PIL import Image

    rows, labels = [], []
    for line in (data_dir / "splits" / split).read_text().split():
        with Image.open(data_dir / line) as image:
            array = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR))
        rows.append(array.transpose(2, 0, 1).reshape(-1) / 255.0)
        labels.append(["china", "flower"].index(line.split("/")[-2]))
    return np.stack(rows), np.asarray(labels)


def _folder_args(data_dir: Path, *extra: str) -> list[str]:
    return [
        "train",
        "experiment=images/folder",
        f"data.data_dir={data_dir}",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        *FAST,
        *extra,
    ]


@pytest.fixture(scope="module")
def folder_run(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One short images/folder training on the photos, then `trainlab eval` of its checkpoint:
    (training run folder, evaluation run folder)."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.main import main

    logs = tmp_path_factory.mktemp("folder-logs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINLAB_LOG_DIR", str(logs))
        for args in (_folder_args(photo_dir), None):
            if args is None:
                ckpt = only_run(logs) / "checkpoints" / "best.ckpt"
                args = ["eval", f"ckpt_path={ckpt}", "extras.print_config=false"]
            GlobalHydra.instance().clear()
            main(args)
    GlobalHydra.instance().clear()
    return only_run(logs), only_run(logs, "eval")


def test_folder_experiment_learns_size_channels_and_normalisation_from_the_training_split(
    folder_run: tuple[Path, Path], photo_dir: Path
) -> None:
    run = folder_run[0]
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    spec = ckpt["trainlab"]["spec"]
    # median shorter side of the 22x18 tiles, three channels: nothing from the digits defaults
    assert spec["image_size"] == TILE_H and spec["in_channels"] == 3
    pixels, _ = _split_pixels(photo_dir, "fold_0_train.txt", TILE_H)
    per_channel = pixels.reshape(len(pixels), 3, -1).transpose(1, 0, 2).reshape(3, -1)
    assert spec["mean"] == pytest.approx(per_channel.mean(axis=1).tolist(), abs=1e-5)
    assert spec["std"] == pytest.approx(per_channel.std(axis=1, ddof=1).tolist(), abs=1e-5)
    config = ckpt["trainlab"]["config"]
    assert config["experiment_name"] == "images/photos"
    assert config["tags"] == ["images", "folder", "photos"]
    assert config["model"]["net"]["name"] == "compact_resnet"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


def test_baselines_in_summary_and_eval_report_equal_a_direct_scikit_learn_fit(
    folder_run: tuple[Path, Path], photo_dir: Path
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    run, eval_run = folder_run
    x_train, y_train = _split_pixels(photo_dir, "fold_0_train.txt", TILE_H)
    x_test, y_test = _split_pixels(photo_dir, "test.txt", TILE_H)
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=0)
    )
    predicted = model.fit(x_train, y_train).predict(x_test)
    majority = np.full(len(y_test), np.bincount(y_train).argmax())
    block = json.loads((run / "baselines.json").read_text())
    assert block["n_train"] == len(y_train) and block["n_test"] == len(y_test)
    linear, trivial = block["scores"]["logistic_regression"], block["scores"]["majority"]
    assert linear["test/acc"] == pytest.approx(accuracy_score(y_test, predicted), abs=1e-6)
    assert linear["test/f1_macro"] == pytest.approx(
        f1_score(y_test, predicted, average="macro"), abs=1e-6
    )
    assert trivial["test/acc"] == pytest.approx(accuracy_score(y_test, majority), abs=1e-6)
    summary = (run / "summary.txt").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    row = next(line.split() for line in summary.splitlines() if line.startswith("  test/acc "))
    assert row[1:] == [f"{metrics['test/acc']:.4f}", f"{trivial['test/acc']:.4f}",
                       f"{linear['test/acc']:.4f}"]  # fmt: skip
    assert "majority" in summary and "logreg" in summary

    report = json.loads((eval_run / "evaluation_report.json").read_text())
    for name, scores in block["scores"].items():
        assert report["baselines"]["scores"][name] == pytest.approx(scores, abs=1e-9)
    assert report["baselines"]["model"]["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_baselines_switch_off(run_cli, digits_dir: Path, log_dir: Path) -> None:
    assert run_cli(*train_args(digits_dir, "baselines.enabled=false")) == 0
    run = only_run(log_dir)
    assert not (run / "baselines.json").exists()
    summary = (run / "summary.txt").read_text()
    assert "status: finished" in summary
    assert not any(line.startswith("baselines (") for line in summary.splitlines())
    assert "logreg" not in summary


def test_folder_experiment_without_a_data_dir_names_the_key(run_cli, log_dir: Path, capsys):
    assert run_cli("train", "experiment=images/folder", *FAST) != 0
    assert "data.data_dir" in capsys.readouterr().err


def test_eval_refuses_a_test_split_of_rows_the_model_was_trained_on(
    folder_run: tuple[Path, Path], photo_dir: Path, tmp_path: Path, run_cli, log_dir, capsys
):
    """The same photos split again (another seed): most of the new test list were training or
    validation rows of the checkpoint, which eval used to score as unseen."""
    import shutil

    from trainlab.data.images.split import split_folder

    ckpt = folder_run[0] / "checkpoints" / "best.ckpt"
    copy = tmp_path / "photos"
    shutil.copytree(photo_dir / "raw", copy / "raw")
    split_folder(copy, folds=3, test_ratio=0.25, seed=1)
    old = set((photo_dir / "splits" / "test.txt").read_text().split())
    new = (copy / "splits" / "test.txt").read_text().split()
    seen = [rel for rel in new if rel not in old]
    assert seen  # the new test list holds rows of the old folds
    args = ["eval", f"ckpt_path={ckpt}", "extras.print_config=false"]
    assert run_cli(*args, f"+data.data_dir={copy}") == 2
    err = capsys.readouterr().err
    assert f"of the {len(new)} test rows were training rows of {ckpt}" in err
    # the folder the model was trained with still evaluates
    assert run_cli(*args, f"+data.data_dir={photo_dir}") == 0
