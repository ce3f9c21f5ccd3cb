"""The synthetic spectra set: schema, PU structure with known priors, and that it says so."""

import numpy as np
import pytest

from trainlab.data.spectra.schema import SPECTRA_SCHEMA, polarity_of
from trainlab.data.spectra.store import flat_settings, list_spectra_tables, read_spectra
from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra, read_truth
from trainlab.errors import DataError

SMALL = SyntheticSpec(n_train=1500, n_validation=300, n_test=200, seed=3)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_spectra(root, SMALL)
    return root


def test_tables_have_the_schema_and_say_they_are_synthetic(synthetic_root):
    assert list_spectra_tables(synthetic_root) == ["test_1", "train_data", "validation_data"]
    table = read_spectra(synthetic_root, "train_data")
    assert table.schema.equals(SPECTRA_SCHEMA) and table.num_rows == 1500
    assert all(d.startswith("SYNTHETIC-") for d in table.column("dataset_id").to_pylist())
    assert all(p.startswith("synthetic://") for p in table.column("mzml_filepath").to_pylist())
    assert len(set(table.column("dataset_id").to_pylist())) >= 3  # several data sets
    truth = read_truth(synthetic_root)
    assert truth["synthetic"] is True and "SYNTHETIC" in truth["description"]


def test_pu_structure_matches_the_truth(synthetic_root):
    truth = read_truth(synthetic_root)
    table = read_spectra(synthetic_root, "train_data")
    labels = table.column("label").to_numpy()
    polarity = polarity_of(flat_settings(table.column("instrument_settings"), table.num_rows))
    assert set(polarity.tolist()) == {0, 1}
    for code, name in ((1, "positive"), (0, "negative")):
        counts = truth["tables"]["train_data"][name]
        mask = polarity == code
        assert counts["rows"] == mask.sum()
        assert counts["labelled_positives"] == labels[mask].sum()
        assert counts["empirical_prior"] == pytest.approx(SMALL.priors[name], abs=0.06)
        frequency = counts["labelled_positives"] / counts["true_positives"]
        assert frequency == pytest.approx(SMALL.label_frequency[name], abs=0.08)
    assert truth["true_priors"] == SMALL.priors


def test_several_instruments_and_valid_peaks(synthetic_root):
    table = read_spectra(synthetic_root, "validation_data")
    settings = flat_settings(table.column("instrument_settings"), table.num_rows)
    assert settings[:, 16].sum() > 0 and settings[:, 17].sum() > 0  # CID and HCD instruments
    lengths = [len(m) for m in table.column("mz_array").to_pylist()]
    assert min(lengths) >= SMALL.min_peaks and max(lengths) <= SMALL.max_peaks
    intensities = np.concatenate(table.column("intensity_array").to_pylist())
    assert intensities.max() == pytest.approx(1.0) and intensities.min() >= 0.1 - 1e-6


def test_same_seed_same_data_and_no_overwrite(tmp_path, synthetic_root):
    spec = SyntheticSpec(n_train=50, n_validation=20, n_test=0, seed=1)
    generate_spectra(tmp_path / "a", spec)
    generate_spectra(tmp_path / "b", spec)
    assert read_spectra(tmp_path / "a", "train_data").equals(
        read_spectra(tmp_path / "b", "train_data")
    )
    assert list_spectra_tables(tmp_path / "a") == ["train_data", "validation_data"]
    with pytest.raises(DataError, match="already holds"):
        generate_spectra(synthetic_root, SMALL)
    with pytest.raises(DataError, match=r"priors\.positive"):
        generate_spectra(tmp_path / "c", SyntheticSpec(priors={"positive": 1.5, "negative": 0.2}))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"true_priors": {"positive": 5.0}}', r"must map .* got \{'positive': 5.0\}"),
        ('{"true_priors": {"positive": NaN}}', "'true_priors' must map positive/negative"),
        ('{"true_priors": {"positive": "0.3"}}', "'true_priors' must map positive/negative"),
        ("[1, 2]", "'true_priors' must map positive/negative"),
        ("[" * 100_000 + "]" * 100_000, r"cannot be read \(RecursionError"),
    ],
    ids=["prior_5", "prior_nan", "prior_text", "list", "deep"],
)
def test_a_damaged_truth_file_is_refused_not_used_as_priors(tmp_path, content, message):
    # nnPU takes true_priors as its priors after the config checks: 5.0 or NaN reached the loss
    (tmp_path / "synthetic.json").write_text(content)
    with pytest.raises(DataError, match=message) as caught:
        read_truth(tmp_path)
    assert "synthetic.json" in str(caught.value) and "delete the file" in str(caught.value)
