"""BinaryPUClassifier: BCE/nnPU training steps, priors by polarity, metrics and the plot."""

import json
import logging

import lightning as L
import pytest
import torch

from trainlab.data.spectra.datamodule import SpectraDataModule
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra
from trainlab.errors import ConfigError
from trainlab.models.pu import BinaryPUClassifier, read_priors_file
from trainlab.nets.spectrum_transformer import SpectrumTransformer


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectra")
    spec = SyntheticSpec(n_train=256, n_validation=128, n_test=64, min_peaks=3, max_peaks=8)
    generate_spectra(root, spec)
    return root


def tiny_model(**kwargs) -> BinaryPUClassifier:
    torch.manual_seed(0)
    net = SpectrumTransformer(d_model=8, nhead=2, dim_feedforward=16, n_layers=1, dropout=0.0)
    return BinaryPUClassifier(net, encoder_lr=1e-3, linear_lr=1e-3, **kwargs)


def fit(model, root, tmp_path, polarity=None, epochs=2):
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    dm = SpectraDataModule(str(root), polarity=polarity, batch_size=64, loader={"num_workers": 0})
    trainer.fit(model, dm)
    return trainer


def test_nnpu_fit_logs_pu_metrics_and_plots_probabilities(root, tmp_path):
    model = tiny_model(loss="nnpu", priors={"positive": 0.4, "negative": 0.25})
    trainer = fit(model, root, tmp_path)
    logged = set(trainer.callback_metrics)
    for stage in ("train", "val"):
        for name in (
            "loss",
            "recall",
            "predicted_positive_rate",
            "lee_liu",
            "auroc",
            "average_precision",
            "recall_at_prior",
            "precision_at_prior",
        ):
            assert f"{stage}/{name}" in logged
    assert "train/corrected_share" in logged
    assert model.priors_by_polarity.tolist() == pytest.approx([0.25, 0.4])
    assert [h["epoch"] for h in model.probability_history] == [0, 1]
    assert (
        sum(model.probability_history[0]["labelled"])
        + sum(model.probability_history[0]["unlabeled"])
        == 128
    )
    assert (tmp_path / "plots" / "val_probabilities.png").stat().st_size > 0
    assert "priors_by_polarity" in model.state_dict()  # checkpoints carry the priors


def test_bce_optimizer_has_two_learning_rates():
    model = tiny_model(loss="bce", weight_decay=0.01)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-3]
    model = BinaryPUClassifier(
        SpectrumTransformer(d_model=8, nhead=2), encoder_lr=5e-6, linear_lr=1e-5
    )
    groups = model.configure_optimizers().param_groups
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("encoder", 5e-6, 1e-3),
        ("linear", 1e-5, 1e-3),
    ]


def test_typed_priors_override_the_file_per_polarity(tmp_path):
    path = tmp_path / "priors.json"
    path.write_text(json.dumps({"priors": {"positive": 0.3, "negative": 0.2}, "estimates": {}}))
    assert read_priors_file(path) == {"positive": 0.3, "negative": 0.2}
    model = tiny_model(loss="nnpu", priors={"positive": 0.9}, priors_file=str(path))
    model.resolve_priors()
    # negative from the file, positive typed in (index 0 negative, 1 positive)
    assert model.priors_by_polarity.tolist() == pytest.approx([0.2, 0.9])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigError, match="no priors by polarity"):
        read_priors_file(tmp_path / "bad.json")


def test_missing_priors_are_refused(root, tmp_path):
    with pytest.raises(ConfigError, match="needs class priors"):
        tiny_model(loss="nnpu").resolve_priors()
    with pytest.raises(ConfigError, match=r"\['negative'\]"):
        fit(tiny_model(loss="nnpu", priors={"positive": 0.4}), root, tmp_path, epochs=1)
    trainer = fit(tiny_model(loss="nnpu", priors={"positive": 0.4}), root, tmp_path, 1, epochs=1)
    assert "val/recall" in trainer.callback_metrics
    with pytest.raises(ConfigError, match=r"model\.loss"):
        tiny_model(loss="hinge")


def test_rank_metrics_are_exact_as_the_baselines_are_scored():
    # a rare-positive BCE model squeezes its probabilities below 0.01: binned at 200
    # thresholds (width 0.005) they would tie, scikit-learn (the baselines) does not
    from sklearn.metrics import average_precision_score, roc_auc_score

    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(400, generator=generator) < 0.1).long()
    probabilities = 0.004 * torch.rand(400, generator=generator) + 0.004 * labels
    model = tiny_model()
    model.auroc["test_auroc"].update(probabilities, labels)
    model.average_precision["test_ap"].update(probabilities, labels)
    assert float(model.auroc["test_auroc"].compute()) == pytest.approx(
        roc_auc_score(labels.numpy(), probabilities.numpy()), abs=1e-6
    )
    assert float(model.average_precision["test_ap"].compute()) == pytest.approx(
        average_precision_score(labels.numpy(), probabilities.numpy()), abs=1e-6
    )


def test_nnpu_refuses_rows_of_a_polarity_without_prior(root):
    # before: a negative-mode row under a positive-only model made the loss NaN, and a row of
    # unknown polarity (-1) silently took the negative-mode prior
    dm = SpectraDataModule(str(root), batch_size=16, loader={"num_workers": 0})
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    model = tiny_model(loss="nnpu", priors={"positive": 0.4})
    model.resolve_priors()
    batch["polarity"] = torch.zeros_like(batch["polarity"])
    batch["label"] = torch.ones_like(batch["label"])
    with pytest.raises(ConfigError, match="val rows hold negative-mode spectra but the model"):
        model._step(batch, "val")
    model = tiny_model(loss="nnpu", priors={"positive": 0.4, "negative": 0.25})
    model.resolve_priors()
    batch["polarity"][0] = -1
    with pytest.raises(ConfigError, match="unknown polarity"):
        model._step(batch, "val")
    batch["polarity"][0] = 1
    assert model._step(batch, "val").isfinite()


def test_nnpu_step_groups_the_risk_by_polarity(root, monkeypatch):
    import trainlab.models.pu as pu_module

    seen = {}
    real = pu_module.nnpu_loss

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pu_module, "nnpu_loss", spy)
    dm = SpectraDataModule(str(root), batch_size=32, loader={"num_workers": 0})
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    model = tiny_model(loss="nnpu", priors={"positive": 0.3, "negative": 0.3})
    model.resolve_priors()
    model._step(batch, "val")
    assert torch.equal(seen["groups"], batch["polarity"])


def test_nnpu_step_weights_labelled_rows_by_the_tables_labelled_share(root, tmp_path, monkeypatch):
    # before: each batch's own labelled share weighted its positives, and a batch without
    # labelled positives of a polarity counted its rows as negatives (a biased risk)
    import trainlab.models.pu as pu_module

    seen = []
    real = pu_module.nnpu_loss

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pu_module, "nnpu_loss", spy)
    model = tiny_model(loss="nnpu", priors={"positive": 0.4, "negative": 0.25})
    trainer = fit(model, root, tmp_path, epochs=1)
    counts = trainer.datamodule.label_counts
    expected = {
        (table, code): labelled / (unlabelled + labelled)
        for table in ("train_data", "validation_data")
        for code, (unlabelled, labelled) in (
            (0, counts[table]["negative"]),
            (1, counts[table]["positive"]),
        )
    }
    shares_seen = set()
    for kwargs in seen:
        pairs = zip(kwargs["groups"].tolist(), kwargs["labelled_shares"].tolist(), strict=True)
        for group, share in pairs:
            shares_seen.add((group, round(share, 6)))
    wanted = {(code, round(v, 6)) for (_, code), v in expected.items()}
    assert shares_seen == wanted


def test_training_figures_are_scored_in_eval_mode_as_validation_is(root, tmp_path):
    # validation_data = train_data's spectra (other file names and scans): scored alike (eval
    # mode, the epoch's final weights), train/ and val/ figures are equal; scored during the
    # steps (dropout on, weights changing) train/auroc read 0.537 beside val/auroc 0.822 here
    import shutil

    import lance
    import pyarrow as pa

    same = tmp_path / "same"
    same.mkdir()
    for name in ("train_data", "test_1"):
        shutil.copytree(root / name, same / name)
    rows = lance.dataset(str(root / "train_data")).to_table()
    n = rows.num_rows
    for column, values in (
        ("source_file", pa.array(["copy.mzML"] * n)),
        ("mzml_filepath", pa.array(["/elsewhere/copy.mzML"] * n)),
        ("ms2_scan_number", pa.array(range(90_000, 90_000 + n), pa.int32())),
    ):
        rows = rows.set_column(rows.column_names.index(column), column, values)
    lance.write_dataset(rows, str(same / "validation_data"))
    torch.manual_seed(0)
    net = SpectrumTransformer(d_model=8, nhead=2, dim_feedforward=16, n_layers=1, dropout=0.5)
    model = BinaryPUClassifier(
        net,
        loss="nnpu",
        priors={"positive": 0.4, "negative": 0.25},
        encoder_lr=1e-2,
        linear_lr=1e-2,
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    dm = SpectraDataModule(
        str(same), batch_size=64, loader={"num_workers": 0}, allow_identical_spectra=True
    )
    frozen = next(model.net.children())
    frozen.eval()  # a part kept in eval mode by the user stays so
    trainer.fit(model, dm)
    logged = trainer.callback_metrics
    for name in ("auroc", "average_precision", "recall", "recall_at_prior"):
        assert float(logged[f"train/{name}"]) == pytest.approx(float(logged[f"val/{name}"]))
    assert model.training and model.net.training  # back in training mode after the scoring
    assert not frozen.training


def test_no_training_figures_with_train_metric_rows_0(root, tmp_path):
    model = tiny_model(loss="bce", train_metric_rows=0)
    logged = set(fit(model, root, tmp_path, epochs=1).callback_metrics)
    assert "train/loss" in logged and "val/auroc" in logged
    assert not {"train/auroc", "train/recall"} & logged


def test_nnpu_results_lead_with_the_figures_of_its_decision_rule(root, tmp_path, caplog):
    # recall at 0.5 is 0.0 after 3 epochs of the default nnPU (its sigmoid is no calibrated
    # posterior): the printed figures led with it, and the baselines' line with their recall
    from omegaconf import OmegaConf

    from trainlab.core.baselines import format_baselines, run_baselines

    model = tiny_model(loss="nnpu", priors={"positive": 0.4, "negative": 0.25})
    trainer = fit(model, root, tmp_path, epochs=1)
    with caplog.at_level(logging.INFO):
        trainer.test(model, datamodule=trainer.datamodule, verbose=False)
        block = run_baselines(
            OmegaConf.create({"baselines": {}}), tmp_path, model, trainer.datamodule
        )
    tested = [k for k in trainer.callback_metrics if k.startswith("test/")]
    assert tested[:5] == [
        "test/loss",
        "test/auroc",
        "test/average_precision",
        "test/recall_at_prior",
        "test/precision_at_prior",
    ]
    assert "which is not nnPU's decision rule" in caplog.text
    assert "test/recall_at_prior 0." in caplog.text
    assert "majority test/auroc 0.5000" in caplog.text  # the baselines' line
    table = format_baselines(block, {k: float(v) for k, v in trainer.callback_metrics.items()})
    assert table[2].split()[0] == "test/auroc"
    assert any("not nnPU's decision rule" in line for line in table)
    # the model's headline figures have the baselines' beside them (model, majority, logreg)
    rows = {line.split()[0]: line.split()[1:] for line in table[2:] if line.startswith("  test/")}
    for name in ("test/recall_at_prior", "test/precision_at_prior"):
        assert len(rows[name]) == 3 and "-" not in rows[name], rows
    _baselines_scored_at_the_prior(block, model, trainer.datamodule)


def _top_prior_share(probabilities, labels, polarities, priors) -> tuple[float, float]:
    """Recall and estimated precision when each polarity calls its top prior share, by hand
    (continuous probabilities: no ties)."""
    import numpy as np

    hits = labelled = called = true_called = 0.0
    for code, prior in enumerate(priors):
        rows = polarities == code
        if not rows.any():
            continue
        known = labels[rows] == 1
        k = max(1, round(prior * int(rows.sum())))
        top = np.argsort(-probabilities[rows], kind="stable")[:k]
        hits += known[top].sum()
        labelled += known.sum()
        called += k
        true_called += known[top].sum() * prior / known.mean()
    return hits / labelled, min(true_called / called, 1.0)


def _baselines_scored_at_the_prior(block, model, dm) -> None:
    # the model led with recall/precision_at_prior while the baselines beside it had only
    # figures at 0.5: nothing to compare its headline figures with
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, x_train, y_train, _ = dm.baseline_features("train")
    _, x_test, y_test, _ = dm.baseline_features("test")
    polarities = dm.baseline_polarities("test")
    assert set(polarities.tolist()) == {0, 1}
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    probabilities = linear.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    recall, precision = _top_prior_share(probabilities, y_test, polarities, (0.25, 0.4))
    scores = block["scores"]["logistic_regression"]
    assert scores["test/recall_at_prior"] == pytest.approx(recall, abs=1e-6)
    assert scores["test/precision_at_prior"] == pytest.approx(precision, abs=1e-6)
    # a constant probability ranks nothing: it calls a random prior share k/n of each
    # polarity, whose expected recall is that share of its labelled rows (it was 1.0: every
    # tied row called)
    found = 0.0
    for code, prior in enumerate((0.25, 0.4)):
        rows = polarities == code
        found += max(1, round(prior * int(rows.sum()))) / rows.sum() * (y_test[rows] == 1).sum()
    majority = block["scores"]["majority"]
    assert majority["test/recall_at_prior"] == pytest.approx(found / (y_test == 1).sum(), abs=1e-6)
    assert np.isfinite(majority["test/precision_at_prior"])
