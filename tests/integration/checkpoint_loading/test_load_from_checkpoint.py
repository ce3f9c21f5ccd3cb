"""Lightning's convention on real tiny trained checkpoints: `SomeModule.load_from_checkpoint(path)`
for every trainlab LightningModule, and `trainlab.load_checkpoint(path)`, without the Hydra tree.

Each module class is trained once (one epoch of two batches, through `trainlab train`) by the
experiment that uses it; the k-mer CV's final model is covered in test_kmer_cv.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from tests.conftest import FAST

import trainlab
from trainlab.errors import CheckpointError
from trainlab.models.classification import MultiHeadClassifier
from trainlab.models.pu import BinaryPUClassifier
from trainlab.models.text import JointCriteriaEvidenceModule, SpanExtractionModule, TextClassifier

TINY_TEXT = [
    "model.net.encoder=tiny",
    "+model.net.tiny={hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}",
    "data.synthetic_posts=40",
    "data.tiny_vocab_size=200",
    "data.batch_size=8",
]
TINY_SPECTRA = [
    "model.net.d_model=8",
    "model.net.nhead=2",
    "model.net.dim_feedforward=16",
    "model.net.n_layers=1",
    "data.synthetic.n_train=200",
    "data.synthetic.n_validation=100",
    "data.synthetic.n_test=100",
    "data.synthetic.min_peaks=4",
    "data.synthetic.max_peaks=8",
    "data.batch_size=32",
]
# the experiment that trains each module class, with what keeps it small
CASES = {
    MultiHeadClassifier: ("images/digits", []),
    BinaryPUClassifier: ("spectra/bce_pos", TINY_SPECTRA),
    TextClassifier: ("text/criteria", TINY_TEXT),
    SpanExtractionModule: ("text/evidence", TINY_TEXT),
    JointCriteriaEvidenceModule: ("text/joint", TINY_TEXT),
}
SHORT = [
    "debug=default",
    "trainer.detect_anomaly=false",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "~baselines",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """Trains a module class's experiment on first use; returns its run folder."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab.cli.main import main

    root = tmp_path_factory.mktemp("load-from-checkpoint")
    runs: dict[type, Path] = {}

    def train(cls: type) -> Path:
        if cls not in runs:
            experiment, extra = CASES[cls]
            name = cls.__name__
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("TRAINLAB_LOG_DIR", str(root / "logs"))
                patch.setenv("TRAINLAB_DATA_DIR", str(root / "data"))
                patch.chdir(root)
                GlobalHydra.instance().clear()
                try:
                    args = [f"experiment={experiment}", f"run_name={name}", *SHORT, *extra]
                    main(["train", *args, *FAST])
                finally:
                    GlobalHydra.instance().clear()
            runs[cls] = root / "logs" / "debug" / "runs" / name
        return runs[cls]

    return train


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_every_module_class_loads_its_checkpoint_the_lightning_way(cls: type, trained) -> None:
    run = trained(cls)
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    for name in ("best.ckpt", "last.ckpt"):
        path = run / "checkpoints" / name
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = cls.load_from_checkpoint(path)  # no Hydra tree, no arguments
        assert type(model) is cls and not model.training
        state = model.state_dict()
        assert set(state) == set(saved["state_dict"])
        for key, value in saved["state_dict"].items():  # the trained weights, not fresh ones
            torch.testing.assert_close(state[key], value, rtol=0, atol=0, equal_nan=True)
        # the public API: the same model and the data spec it was trained with
        restored = trainlab.load_checkpoint(path)
        assert type(restored.model) is cls and restored.spec == saved["trainlab"]["spec"]
        assert restored.config.model._target_ == saved["trainlab"]["config"]["model"]["_target_"]


def test_overrides_wrong_class_and_unsupported_arguments_are_clear(trained) -> None:
    path = trained(MultiHeadClassifier) / "checkpoints" / "best.ckpt"
    # keyword arguments override the checkpoint's model settings, as Lightning's do
    changed = MultiHeadClassifier.load_from_checkpoint(path, label_smoothing=0.25)
    assert changed.label_smoothing == 0.25
    with pytest.raises(CheckpointError, match=r"holds a MultiHeadClassifier .* not a BinaryPU"):
        BinaryPUClassifier.load_from_checkpoint(path)
    with pytest.raises(CheckpointError, match="always load with weights_only=True"):
        MultiHeadClassifier.load_from_checkpoint(path, weights_only=False)
    with pytest.raises(CheckpointError, match="carries its own config; drop hparams_file"):
        MultiHeadClassifier.load_from_checkpoint(path, hparams_file="hparams.yaml")
    with pytest.raises(CheckpointError, match="give a device such as"):
        MultiHeadClassifier.load_from_checkpoint(path, map_location={"cuda:0": "cpu"})
    with pytest.raises(CheckpointError, match="overrides must be plain config values"):
        MultiHeadClassifier.load_from_checkpoint(path, net=torch.nn.Linear(2, 2))


def test_load_from_checkpoint_refuses_planted_targets_and_pickles(trained, tmp_path: Path) -> None:
    """The Lightning entry point keeps the trust rules: allowlist and weights_only."""
    source = trained(MultiHeadClassifier) / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    marker = tmp_path / "ran"
    checkpoint["trainlab"]["config"]["model"]["net"] = {
        "_target_": "os.system",
        "command": f"touch {marker}",
    }
    planted = tmp_path / "planted.ckpt"
    torch.save(checkpoint, planted)
    with pytest.raises(Exception, match="not an allowed target") as caught:
        MultiHeadClassifier.load_from_checkpoint(planted)
    assert caught.type.__module__.startswith("trainlab")
    # an override cannot plant one either
    with pytest.raises(Exception, match="not an allowed target"):
        MultiHeadClassifier.load_from_checkpoint(source, net={"_target_": "os.system"})
    pickled = tmp_path / "pickled.ckpt"
    torch.save({**checkpoint, "extra": os.stat_result((0,) * 10)}, pickled)
    with pytest.raises(CheckpointError, match="not plain data"):
        MultiHeadClassifier.load_from_checkpoint(pickled)
    assert not marker.exists()


def test_nan_weights_and_wrong_shapes_are_refused_by_name(trained, tmp_path: Path) -> None:
    """Before: NaN weights evaluated to test/acc 0.1, test/loss 0.0 without a word; a wrong
    shape ended in torch's traceback."""
    source = trained(MultiHeadClassifier) / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    name = next(k for k, v in checkpoint["state_dict"].items() if v.is_floating_point())
    nan = {**checkpoint, "state_dict": dict(checkpoint["state_dict"])}
    nan["state_dict"][name] = torch.full_like(nan["state_dict"][name], float("nan"))
    torch.save(nan, tmp_path / "nan.ckpt")
    with pytest.raises(CheckpointError, match=rf"1 weight tensor\(s\) hold NaN or inf \({name}\)"):
        trainlab.load_checkpoint(tmp_path / "nan.ckpt")
    shape = {**checkpoint, "state_dict": dict(checkpoint["state_dict"])}
    shape["state_dict"][name] = torch.zeros(3, 3)
    torch.save(shape, tmp_path / "shape.ckpt")
    with pytest.raises(CheckpointError, match=rf"do not fit .*size mismatch for {name}"):
        MultiHeadClassifier.load_from_checkpoint(tmp_path / "shape.ckpt")
    trainlab.load_checkpoint(source)  # the untouched file loads
