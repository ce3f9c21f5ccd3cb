"""A SYNTHETIC spectra data set with a known positive-unlabeled structure.

Not measured data: every spectrum is drawn from a simple model so that the true class prior of
each polarity is known and prior estimation can be checked against it. Each row's true class is
drawn with the polarity's prior; a true positive is labelled with probability
``label_frequency`` (selected completely at random, the assumption of Elkan & Noto 2008), every
other row stays unlabeled. True positives have an intense MS1 peak at the precursor m/z and a
precursor-intensity setting (slot 11) 4.5 standard deviations higher; negatives have a weak peak
or none there. The classes are thus nearly separable, the case in which s / c recovers the
prior. The rows use the exact spectra schema and say what they are: dataset ids
``SYNTHETIC-...``, files ``synthetic_run_...``, paths ``synthetic://...``; and
``<root>/synthetic.json`` holds the truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from trainlab.data.spectra.instrument import N_NUMERIC
from trainlab.data.spectra.schema import (
    N_INSTRUMENT_SETTINGS,
    NEGATIVE,
    NEGATIVE_INDEX,
    POLARITY_NAMES,
    POSITIVE,
    POSITIVE_INDEX,
    SPECTRA_SCHEMA,
    TRAIN_TABLE,
    VALIDATION_TABLE,
    nth_test_table,
)
from trainlab.data.spectra.store import list_spectra_tables, write_spectra
from trainlab.errors import DataError
from trainlab.io import atomic_write_json

TRUTH_FILE = "synthetic.json"
_PRECURSOR_INTENSITY_SLOT = 11
# name, activation slot (16 CID / 17 HCD), offset of the numeric settings
_INSTRUMENTS = (("orbitrap-a", 17, 0.0), ("orbitrap-b", 17, 0.4), ("qtof-c", 16, -0.4))


@dataclass
class SyntheticSpec:
    """How big the synthetic set is and its PU structure (defaults: seconds to make and train)."""

    n_train: int = 3000
    n_validation: int = 1000
    n_test: int = 1000
    priors: dict[str, float] = field(default_factory=lambda: {"positive": 0.4, "negative": 0.25})
    label_frequency: dict[str, float] = field(
        default_factory=lambda: {"positive": 0.7, "negative": 0.6}
    )
    positive_mode_share: float = 0.6
    min_peaks: int = 10
    max_peaks: int = 50
    n_datasets: int = 4
    scans_per_run: int = 100
    seed: int = 0

    def check(self) -> None:
        """Raise ``DataError`` for values outside their range."""
        for name in ("positive", "negative"):
            if not 0 < self.priors.get(name, -1) < 1:
                raise DataError(f"synthetic priors.{name} must lie in (0, 1), got {self.priors}")
            if not 0 < self.label_frequency.get(name, -1) <= 1:
                raise DataError(
                    f"synthetic label_frequency.{name} must lie in (0, 1], "
                    f"got {self.label_frequency}"
                )
        if not 1 <= self.min_peaks <= self.max_peaks:
            raise DataError(f"synthetic peaks need 1 <= min_peaks <= max_peaks, got {self}")
        if min(self.n_train, self.n_validation) < 1 or self.n_test < 0:
            raise DataError("synthetic n_train and n_validation must be >= 1, n_test >= 0")


def generate_spectra(root: str | Path, spec: SyntheticSpec | None = None) -> dict:
    """Write the synthetic tables under ``root`` and return the truth written to synthetic.json.

    Refuses a ``root`` that already holds spectra tables (nothing is ever overwritten).
    """
    spec = spec or SyntheticSpec()
    spec.check()
    root = Path(root)
    existing = list_spectra_tables(root)
    if existing:
        raise DataError(
            f"{root} already holds spectra tables {existing}; generate into an empty folder"
        )
    rng = np.random.default_rng(spec.seed)
    sizes = {TRAIN_TABLE: spec.n_train, VALIDATION_TABLE: spec.n_validation}
    if spec.n_test:
        sizes[nth_test_table(1)] = spec.n_test
    truth = {
        "synthetic": True,
        "description": "SYNTHETIC spectra from trainlab.data.spectra.synthetic, not measurements",
        "true_priors": dict(spec.priors),
        "spec": asdict(spec),
        "tables": {},
    }
    run_offset = 0
    for name, n in sizes.items():
        table, counts = _make_table(n, spec, rng, run_offset, split=name)
        run_offset += int(np.ceil(n / spec.scans_per_run))
        write_spectra(table, root, name, mode="create")
        truth["tables"][name] = counts
    atomic_write_json(root / TRUTH_FILE, truth)
    return truth


def read_truth(root: str | Path) -> dict | None:
    """The truth of a synthetic root (``synthetic.json``), or None for measured data.

    nnPU training takes its ``true_priors`` as the priors when none are given, after the config
    checks of ``model.priors``: a file holding 5.0 was refused only by the model, as
    "model.priors.positive is 5.0", a key the user never set (a root copied from elsewhere can
    carry such a file); a JSON list ended in a TypeError traceback.
    """
    path = Path(root) / TRUTH_FILE
    if not path.exists():
        return None
    try:
        truth = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as err:
        raise DataError(
            f"{path}: cannot be read ({type(err).__name__}: {str(err)[:200]}). {_TRUTH_FIX}"
        ) from None
    priors = truth.get("true_priors") if isinstance(truth, dict) else None
    if (
        not isinstance(priors, dict)
        or not priors
        or not all(
            name in ("positive", "negative")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and 0 < value <= 1
            for name, value in priors.items()
        )
    ):
        raise DataError(
            f"{path}: 'true_priors' must map positive/negative to a class prior in (0, 1]; got "
            f"{str(priors)[:120]}. {_TRUTH_FIX}"
        )
    return truth


_TRUTH_FIX = (
    "The generator writes this file to mark a synthetic root and its true priors: generate "
    "the root again, or delete the file if the root holds measured spectra"
)


def _make_table(
    n: int, spec: SyntheticSpec, rng: np.random.Generator, run_offset: int, split: str
) -> tuple[pa.Table, dict]:
    polarity = np.where(rng.random(n) < spec.positive_mode_share, POSITIVE, NEGATIVE)
    names = np.array([POLARITY_NAMES[p] for p in polarity])
    prior = np.array([spec.priors[p] for p in names])
    frequency = np.array([spec.label_frequency[p] for p in names])
    true_class = rng.random(n) < prior
    labelled = true_class & (rng.random(n) < frequency)
    run = np.arange(n) // spec.scans_per_run + run_offset
    instrument = run % len(_INSTRUMENTS)
    dataset = run % spec.n_datasets

    columns: dict[str, list] = {f.name: [] for f in SPECTRA_SCHEMA}
    settings = _settings(polarity, true_class, instrument, rng)
    for i in range(n):
        mz, intensity, precursor = _spectrum(polarity[i], true_class[i], rng, spec)
        scan_in_run = i % spec.scans_per_run
        columns["ms1_scan_number"].append(1 + 4 * (scan_in_run // 3))
        columns["ms2_scan_number"].append(2 + 4 * (scan_in_run // 3) + scan_in_run % 3)
        columns["mz_array"].append(mz)
        columns["intensity_array"].append(intensity)
        columns["instrument_settings"].append(settings[i])
        columns["precursor_mz"].append(precursor)
        columns["label"].append(float(labelled[i]))
        columns["compound_name"].append(f"synthetic compound {i % 97}" if labelled[i] else "")
        run_name = f"synthetic_run_{run[i]:03d}.mzML"
        columns["source_file"].append(run_name)
        columns["dataset_id"].append(f"SYNTHETIC-{dataset[i]:02d}-{_INSTRUMENTS[instrument[i]][0]}")
        columns["mzml_filepath"].append(f"synthetic://{split}/{run_name}")
    table = pa.table(
        {f.name: pa.array(columns[f.name], type=f.type) for f in SPECTRA_SCHEMA},
        schema=SPECTRA_SCHEMA,
    )
    counts = {}
    for code, name in POLARITY_NAMES.items():
        mask = polarity == code
        counts[name] = {
            "rows": int(mask.sum()),
            "true_positives": int(true_class[mask].sum()),
            "labelled_positives": int(labelled[mask].sum()),
            "empirical_prior": float(true_class[mask].mean()) if mask.any() else None,
        }
    return table, counts


def _settings(
    polarity: np.ndarray, true_class: np.ndarray, instrument: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n = len(polarity)
    settings = np.zeros((n, N_INSTRUMENT_SETTINGS), dtype=np.float32)
    offsets = np.array([_INSTRUMENTS[k][2] for k in instrument])
    settings[:, :N_NUMERIC] = rng.normal(offsets[:, None], 1.0, size=(n, N_NUMERIC))
    settings[:, _PRECURSOR_INTENSITY_SLOT] += np.where(true_class, 3.5, -1.0)
    settings[:, NEGATIVE_INDEX] = polarity == NEGATIVE
    settings[:, POSITIVE_INDEX] = polarity == POSITIVE
    activation = np.array([_INSTRUMENTS[k][1] for k in instrument])
    settings[np.arange(n), activation] = 1.0
    profile = rng.random(n) < 0.1
    settings[:, 18] = ~profile
    settings[:, 19] = profile
    settings[:, 20] = 1.0
    return settings


def _spectrum(
    polarity: int, is_positive: bool, rng: np.random.Generator, spec: SyntheticSpec
) -> tuple[np.ndarray, np.ndarray, float]:
    n_peaks = int(rng.integers(spec.min_peaks, spec.max_peaks + 1))
    low, high = (100.0, 1200.0) if polarity == POSITIVE else (60.0, 900.0)
    mz = rng.uniform(low, high, size=n_peaks)
    relative = np.clip(np.exp(-rng.exponential(1.5, size=n_peaks)), 0.01, 1.0)
    target = int(rng.integers(n_peaks))
    if is_positive:
        relative[target] = rng.uniform(0.6, 1.0)
        precursor = mz[target] + rng.normal(0, 0.002)
    elif rng.random() < 0.5:
        relative[target] = rng.uniform(0.01, 0.05)
        precursor = mz[target] + rng.normal(0, 0.002)
    else:
        precursor = rng.uniform(low, high)
    relative = relative / relative.max()
    order = np.argsort(mz)
    return (
        mz[order].astype(np.float32),
        np.sqrt(relative[order]).astype(np.float32),
        float(precursor),
    )
