"""Honest nnPU priors: checked against the tables before anything is built, explicit priors
override the file per polarity, and `trainlab prior` refuses estimates from a classifier near
chance unless forced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from spectra_runs import FAST_SPECTRA, QUIET, best_checkpoint, train_experiment

from trainlab.data.spectra.synthetic import TRUTH_FILE, SyntheticSpec, generate_spectra
from trainlab.errors import ConfigError
from trainlab.models.pu import merge_priors

SMALL = [a for a in FAST_SPECTRA if not a.startswith("data.synthetic")]


def measured_tables(root: Path, positive_mode_share: float = 0.6) -> Path:
    """Small tables from the generator, without its truth file: to trainlab, measured data."""
    spec = SyntheticSpec(
        n_train=300, n_validation=100, n_test=50, min_peaks=4, max_peaks=12,
        positive_mode_share=positive_mode_share,
    )  # fmt: skip
    generate_spectra(root, spec)
    (root / TRUTH_FILE).unlink()
    return root


def nnpu_args(root: Path, *extra: str) -> list[str]:
    return [
        "train",
        "experiment=spectra/nnpu",
        f"data.root={root}",
        "data.synthetic=null",
        *SMALL,
        *extra,
    ]


def test_explicit_priors_override_the_file_per_polarity(tmp_path: Path) -> None:
    path = tmp_path / "priors.json"
    path.write_text(json.dumps({"priors": {"positive": 0.5, "negative": 0.1}}))
    assert merge_priors(path, {"negative": 0.2}) == {"positive": 0.5, "negative": 0.2}
    assert merge_priors(None, {"positive": 0.3}) == {"positive": 0.3}


@pytest.mark.parametrize("value", [None, "abc", 1.5, 0])
def test_a_prior_file_value_outside_zero_one_is_refused_naming_the_key(tmp_path, value):
    # before: null and "abc" raised a bare TypeError/ValueError, 1.5 and 0 were accepted here
    path = tmp_path / "priors.json"
    path.write_text(json.dumps({"priors": {"positive": value, "negative": 0.2}}))
    with pytest.raises(ConfigError, match=rf"{path} \(priors\.positive\) is .*\(0, 1\]"):
        merge_priors(path, {})
    with pytest.raises(ConfigError, match=r"model\.priors\.negative is 1\.5"):
        merge_priors(None, {"negative": 1.5})


def test_nnpu_with_an_out_of_range_prior_file_stops_before_building(
    run_cli, log_dir: Path, tmp_path: Path, capsys
) -> None:
    # before: the config check took the file's 1.5 (the typed schema checks model.priors.*
    # only); the model refused it in on_fit_start, after the run folder, the data module and
    # the model were built, without naming the file
    root = measured_tables(tmp_path / "both")
    path = tmp_path / "priors.json"
    path.write_text(json.dumps({"priors": {"positive": 1.5, "negative": 0.2}}))
    assert run_cli(*nnpu_args(root, f"model.priors_file={path}", "run_name=bad")) == 2
    assert f"{path} (priors.positive) is 1.5" in capsys.readouterr().err
    run = log_dir / "train" / "runs" / "bad"
    assert not (run / "status.json").exists() and not (run / "config.yaml").exists()


def test_nnpu_without_priors_on_measured_data_stops_before_building(
    run_cli, log_dir: Path, tmp_path: Path, capsys
) -> None:
    root = measured_tables(tmp_path / "both")
    assert run_cli(*nnpu_args(root, "run_name=none")) == 2
    err = capsys.readouterr().err
    assert "holds ['positive', 'negative'] spectra" in err
    assert "no prior for ['positive', 'negative']" in err and "model.priors.positive=" in err
    run = log_dir / "train" / "runs" / "none"
    assert not (run / "status.json").exists() and not (run / "config.yaml").exists()

    # a file with the positive prior only: the advice names the negative one, and following it
    # (an explicit prior next to the file) is enough
    priors = tmp_path / "priors.json"
    priors.write_text(json.dumps({"priors": {"positive": 0.5}}))
    assert run_cli(*nnpu_args(root, f"model.priors_file={priors}", "run_name=half")) == 2
    err = capsys.readouterr().err
    assert "no prior for ['negative']" in err and "model.priors.negative=" in err
    args = nnpu_args(
        root,
        f"model.priors_file={priors}",
        "model.priors.negative=0.2",
        "model.priors.positive=0.35",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "run_name=merged",
    )
    assert run_cli(*args) == 0
    last = log_dir / "train" / "runs" / "merged" / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    # index 0 negative, 1 positive: the explicit positive prior overrides the file's 0.5
    assert state["priors_by_polarity"].tolist() == pytest.approx([0.2, 0.35])


def test_polarity_check_reads_the_tables_not_the_config(
    run_cli, log_dir: Path, tmp_path: Path
) -> None:
    # data.polarity=null, but the tables hold positive-mode rows only: one prior is enough
    root = measured_tables(tmp_path / "positive_only", positive_mode_share=1.0)
    args = nnpu_args(root, "model.priors.positive=0.4", "debug=fdr", "run_name=pos")
    assert run_cli(*args) == 0
    status = json.loads((log_dir / "debug" / "runs" / "pos" / "status.json").read_text())
    assert status["status"] == "finished"


def test_synthetic_setup_takes_the_generators_true_priors(
    run_cli, log_dir: Path, tmp_path: Path
) -> None:
    args = [
        "train",
        "experiment=spectra/nnpu",
        f"paths.data_dir={tmp_path}",
        *FAST_SPECTRA,
        "data.synthetic.n_train=200",
        "data.synthetic.n_validation=100",
        "data.synthetic.n_test=50",
        "debug=fdr",
        "run_name=synthetic",
    ]
    assert run_cli(*args) == 0
    run = log_dir / "debug" / "runs" / "synthetic"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert "priors:\n    positive: 0.4\n    negative: 0.25" in (run / "config.yaml").read_text()


def _shuffled_labels_copy(source: Path, target: Path) -> Path:
    """The same spectra with the labels of the labelled set shuffled: no classifier can
    separate labelled from unlabeled there (AUROC about 0.5)."""
    import pyarrow as pa

    from trainlab.data.spectra.store import read_spectra, write_spectra

    for name in ("train_data", "validation_data"):
        table = read_spectra(source, name)
        if name == "validation_data":
            labels = np.random.default_rng(0).permutation(table.column("label").to_numpy())
            index = table.schema.get_field_index("label")
            table = table.set_column(index, table.schema.field(index), pa.array(labels))
        write_spectra(table, target, name, mode="create")
    return target


def test_prior_prints_its_figures_and_refuses_a_classifier_near_chance(
    run_cli, log_dir: Path, tmp_path: Path, capsys
) -> None:
    data = tmp_path / "data"
    run_dir, _ = train_experiment(
        run_cli, log_dir, "bce_pos", data, "trainer.max_epochs=2", "data.synthetic.n_train=800"
    )
    ckpt = best_checkpoint(run_dir)
    assert run_cli("prior", f"checkpoints=['{ckpt}']", "run_name=good", QUIET) == 0
    good = json.loads((log_dir / "prior" / "runs" / "good" / "priors.json").read_text())
    estimate = good["estimates"]["positive"]
    assert estimate["auroc"] >= 0.6 and 0 < estimate["prior"] <= 0.95
    assert 0 <= estimate["recall"] <= 1 and good["forced"] is False
    out = capsys.readouterr().out
    assert "AUROC" in out and f"{estimate['auroc']:.3f}" in out

    chance = _shuffled_labels_copy(data / "spectra_synthetic", tmp_path / "shuffled")
    args = ("prior", f"checkpoints=['{ckpt}']", f"root={chance}", QUIET)
    assert run_cli(*args, "run_name=chance") == 2
    err = capsys.readouterr().err
    assert "refusing to write priors" in err and "force=true" in err
    auroc = float(err.split("validation AUROC ")[1].split()[0])
    assert auroc < 0.6
    assert not (log_dir / "prior" / "runs" / "chance" / "priors.json").exists()

    assert run_cli(*args, "force=true", "run_name=forced") == 0
    forced = json.loads((log_dir / "prior" / "runs" / "forced" / "priors.json").read_text())
    assert forced["forced"] is True
    assert "AUROC" in forced["refusals_overridden"]["positive"][0]
    assert forced["estimates"]["positive"]["auroc"] == pytest.approx(auroc, abs=1e-3)
