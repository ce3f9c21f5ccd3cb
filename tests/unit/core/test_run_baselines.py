"""Baselines take the DataModule's own training and test rows: k-mer tasks and spectra tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from trainlab.core.baselines import baseline_settings, compute_baselines, format_baselines
from trainlab.errors import ConfigError


def _logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=0))


@pytest.fixture(scope="module")
def kmer_datamodule(tmp_path_factory: pytest.TempPathFactory):
    from trainlab.data.kmer.datamodule import KmerMatrixDataModule
    from trainlab.data.kmer.synthetic import generate_kmer_dataset

    folder = tmp_path_factory.mktemp("kmer")
    generate_kmer_dataset(folder, n_samples=160, n_unitigs=60, n_projects=8, seed=3)
    dm = KmerMatrixDataModule(
        str(folder / "unitigs.frac.mat"), str(folder / "metadata.tsv"), test_fraction=0.25
    )
    dm.setup("fit")
    return dm


def test_kmer_baselines_per_task_on_the_split_rows(kmer_datamodule) -> None:
    dm = kmer_datamodule
    data = dm.load()
    block = compute_baselines({}, dm)
    assert block["n_train"] == len(dm.rows["train"]) and block["n_test"] == len(dm.rows["test"])
    train, test = dm.rows["train"], dm.rows["test"]
    f1s = []
    for j, task in enumerate(data.tasks):
        y = data.y[:, j]
        keep_tr, keep_te = train[y[train] >= 0], test[y[test] >= 0]
        predicted = _logreg().fit(data.x[keep_tr], y[keep_tr]).predict(data.x[keep_te])
        f1 = f1_score(y[keep_te], predicted, average="weighted")
        f1s.append(f1)
        linear = block["scores"]["logistic_regression"]
        assert linear[f"test/{task}/f1_weighted"] == pytest.approx(f1, abs=1e-6)
    assert linear["test/f1_weighted"] == pytest.approx(np.mean(f1s), abs=1e-6)
    assert block["seconds"] > 0 and "k-mer features" in block["features"]


def test_linear_off_and_the_size_limit_keep_only_the_majority(kmer_datamodule) -> None:
    assert set(compute_baselines({"linear": False}, kmer_datamodule)["scores"]) == {"majority"}
    block = compute_baselines({"max_train_cells": 10}, kmer_datamodule)
    assert set(block["scores"]) == {"majority"}
    assert "max_train_cells=10" in block["notes"][0]
    assert compute_baselines({"enabled": False}, kmer_datamodule) is None


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"baselines\.enable "):
        baseline_settings({"enable": False})
    with pytest.raises(ConfigError, match=r"baselines\.linear='no'"):
        baseline_settings({"linear": "no"})


def test_spectra_baselines_use_instrument_settings_and_precursor(tmp_path: Path) -> None:
    import lance

    from trainlab.data.spectra.datamodule import SpectraDataModule
    from trainlab.data.spectra.store import flat_settings
    from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra

    spec = {"n_train": 300, "n_validation": 60, "n_test": 120, "min_peaks": 3, "max_peaks": 6}
    generate_spectra(tmp_path, SyntheticSpec(**spec))
    dm = SpectraDataModule(str(tmp_path), polarity=1, loader={"num_workers": 0})
    dm.setup("test")
    block = compute_baselines({}, dm)

    def rows(split: str) -> tuple[np.ndarray, np.ndarray]:
        batches = dm.datasets[split]
        table = lance.dataset(batches.uri).take(batches.rows).to_pydict()
        import pyarrow as pa

        settings = flat_settings(pa.array(table["instrument_settings"]), len(batches.rows))
        x = np.column_stack([settings, table["precursor_mz"]]).astype(np.float64)
        return np.nan_to_num(x), np.asarray(table["label"]).astype(int)

    x_train, y_train = rows("train")
    x_test, y_test = rows("test")
    probs = _logreg().fit(x_train, y_train).predict_proba(x_test)[:, 1]
    linear = block["scores"]["logistic_regression"]
    assert linear["test/auroc"] == pytest.approx(roc_auc_score(y_test, probs), abs=1e-9)
    assert block["scores"]["majority"]["test/auroc"] == pytest.approx(0.5)
    assert block["n_train"] == len(y_train) and "instrument settings" in block["features"]
    lines = format_baselines(block, {"test/auroc": 0.9})
    auroc = next(line.split() for line in lines if line.strip().startswith("test/auroc"))
    assert auroc[1] == "0.9000" and auroc[3] == f"{linear['test/auroc']:.4f}"


def test_a_model_no_better_than_a_baseline_is_called_out() -> None:
    block = {
        "scores": {
            "majority": {"test/acc": 0.1, "test/f1_macro": 0.018, "test/loss": 2.3},
            "logistic_regression": {"test/acc": 0.97, "test/f1_macro": 0.96},
        },
        "n_train": 100,
        "n_test": 30,
        "features": "pixels",
        "seconds": 1.0,
    }
    chance = {"test/acc": 0.1, "test/f1_macro": 0.018, "test/loss": 1e12}  # lr 1e12 on digits
    lines = format_baselines(block, chance)
    assert any(
        "warning: the model does no better than always answering the most frequent class "
        "(majority) on any of test/acc, test/f1_macro" in line
        for line in lines
    ), lines
    lines = format_baselines(block, {"test/acc": 0.9, "test/f1_macro": 0.89})
    assert any("a logistic regression on the same inputs scores higher" in x for x in lines)
    # better than majority on one metric, better than logreg on one: nothing to say
    assert not [x for x in format_baselines(block, {"test/acc": 0.98}) if "warning" in x]
    assert not [x for x in format_baselines(block, {"test/acc": 0.11}) if "majority) on" in x]
