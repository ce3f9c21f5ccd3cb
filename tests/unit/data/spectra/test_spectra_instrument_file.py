"""The instrument statistics file of a spectra root is read right or refused, never used with
values that turn every setting into 0 (the file may come with a root from elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainlab.data.spectra.instrument import (
    N_INSTRUMENT_SETTINGS,
    N_NUMERIC,
    NUMERIC_SETTINGS,
    Standardizer,
)
from trainlab.errors import DataError

GOOD = {"settings": list(NUMERIC_SETTINGS), "mean": [1.0] * N_NUMERIC, "std": [2.0] * N_NUMERIC}


def _file(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "instrument_standardization.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_a_file_written_by_save_reads_back(tmp_path: Path) -> None:
    loaded = Standardizer.load(_file(tmp_path, GOOD))
    raw = np.full((1, N_INSTRUMENT_SETTINGS), 5.0)
    assert np.allclose(loaded.transform(raw)[0, :N_NUMERIC], 2.0)  # (5 - 1) / 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({**GOOD, "mean": [float("nan")] * N_NUMERIC}, "mean of .* is nan, not a finite number"),
        ({**GOOD, "std": [0.0] * N_NUMERIC}, "std of .* is 0.0, not a finite number > 0"),
        ({**GOOD, "std": [-2.0] * N_NUMERIC}, r"std of .* is -2\.0, not a finite number > 0"),
        ({**GOOD, "mean": ["abc"] * N_NUMERIC}, f"'mean' must be a list of {N_NUMERIC} numbers"),
        ({**GOOD, "std": [1.0] * (N_NUMERIC - 1)}, f"'std' must be a list of {N_NUMERIC}"),
        ([1, 2], "cannot read instrument standardisation"),
        ("[" * 100_000 + "]" * 100_000, "cannot read instrument standardisation"),
    ],
    ids=["nan_mean", "zero_std", "negative_std", "text_mean", "short_std", "list", "deep"],
)
def test_a_damaged_file_is_refused_with_its_path(tmp_path: Path, content, message) -> None:
    with pytest.raises(DataError, match=message) as caught:
        Standardizer.load(_file(tmp_path, content))
    assert "instrument_standardization.json" in str(caught.value)
