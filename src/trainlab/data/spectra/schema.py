"""The spectra table schema, exactly as the researchers' Lance tables have it.

One row is one MS2 scan: the preceding MS1 spectrum (peaks), the precursor m/z, 22 instrument
settings and a PU label (1 = identified, 0 = unlabeled). Tables live under one root as
``<root>/train_data``, ``<root>/validation_data`` and ``<root>/test_<n>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

N_INSTRUMENT_SETTINGS = 22
NEGATIVE_INDEX = 14
POSITIVE_INDEX = 15
MAX_PEAKS = 400
MIN_RELATIVE_INTENSITY = 0.01

POSITIVE = 1
NEGATIVE = 0
UNKNOWN_POLARITY = -1
POLARITY_NAMES = {POSITIVE: "positive", NEGATIVE: "negative"}

TRAIN_TABLE = "train_data"
VALIDATION_TABLE = "validation_data"
_TABLE_NAME = re.compile(r"^(train_data|validation_data|test_\d+)$")

SPECTRA_SCHEMA = pa.schema(
    [
        pa.field("ms1_scan_number", pa.int32()),
        pa.field("ms2_scan_number", pa.int32()),
        pa.field("mz_array", pa.list_(pa.float32())),
        pa.field("intensity_array", pa.list_(pa.float32())),
        pa.field("instrument_settings", pa.list_(pa.float32())),
        pa.field("precursor_mz", pa.float32()),
        pa.field("label", pa.float32()),
        pa.field("compound_name", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("dataset_id", pa.string()),
        pa.field("mzml_filepath", pa.string()),
    ]
)
COLUMNS = tuple(SPECTRA_SCHEMA.names)


def nth_test_table(n: int) -> str:
    """Name of the ``n``-th test table (``test_<n>``)."""
    return f"test_{int(n)}"


def is_table_name(name: str) -> bool:
    """Whether ``name`` is one of ``train_data``, ``validation_data``, ``test_<n>``."""
    return bool(_TABLE_NAME.match(name))


def polarity_of(settings: np.ndarray) -> np.ndarray:
    """Polarity per row from an ``(N, 22)`` settings array: 1 positive, 0 negative, -1 unknown."""
    settings = np.asarray(settings, dtype=np.float32).reshape(-1, N_INSTRUMENT_SETTINGS)
    positive = settings[:, POSITIVE_INDEX] == 1
    negative = settings[:, NEGATIVE_INDEX] == 1
    polarity = np.full(len(settings), UNKNOWN_POLARITY, dtype=np.int8)
    polarity[positive & ~negative] = POSITIVE
    polarity[negative & ~positive] = NEGATIVE
    return polarity


@dataclass(frozen=True)
class RowProblem:
    """A row that does not fit the schema: its position in the input and what is wrong."""

    position: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.position}, column {self.column!r}: {self.message}"
