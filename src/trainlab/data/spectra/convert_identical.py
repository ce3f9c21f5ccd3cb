"""Identical spectra found while converting, before the rows are written.

Training refuses two tables of a root holding identical spectra (precursor m/z and MS1 peaks),
and warns about copies within a table; before this, ``trainlab convert`` wrote such rows without
a word and the user learnt it when training started. Each converted file's rows are compared,
by the same fingerprints (``store.spectrum_fingerprint``, then in full), with the root's other
tables (their fingerprints come from the row check's cache, ``table_checks``), with the rows
already in the target table and with the earlier files of this conversion. Nothing is refused:
the counts go to the file's ``checks`` and the copies between tables or files to its warnings.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from trainlab.data.spectra import identical_spectra
from trainlab.data.spectra.identical_spectra import CONTENT_COLUMNS, Identical
from trainlab.data.spectra.store import (
    as_schema_types,
    list_spectra_tables,
    open_spectra,
    spectrum_fingerprint,
)
from trainlab.errors import DataError

log = logging.getLogger(__name__)


class IdenticalSpectraCheck:
    """Compare each file of one conversion into ``<root>/<table>`` (call ``check`` per file,
    in the order they are written)."""

    def __init__(self, root: Path, table: str) -> None:
        self.root, self.table = root, table
        self._tables: dict[str, tuple[str, np.ndarray]] | None = None
        self._written: list[tuple[pa.Table, np.ndarray]] = []  # earlier files of this run

    def _fingerprints(self) -> dict[str, tuple[str, np.ndarray]]:
        """{table name: (uri, one fingerprint per row)} of the root's tables, the target too."""
        if self._tables is None:
            from trainlab.data.spectra.table_checks import checked_fingerprints

            self._tables = {}
            for name in list_spectra_tables(self.root):
                try:
                    dataset = open_spectra(self.root, name)
                    self._tables[name] = (dataset.uri, checked_fingerprints(dataset, dataset.uri))
                except DataError as err:  # training refuses it, naming the rows
                    log.warning("%s: not compared for identical spectra: %s", name, err)
        return self._tables

    def check(self, rows: pa.Table, checks: dict, name: str) -> None:
        """Record in ``checks`` the rows of one file (``name``) identical to rows elsewhere."""
        new = as_schema_types(rows.select(CONTENT_COLUMNS), name)
        prints = spectrum_fingerprint(new)
        found: dict[str, int] = {}
        warnings = checks.setdefault("warnings", [])
        for other, (uri, table_prints) in self._fingerprints().items():
            same = identical_spectra.rows_in_table(uri, table_prints, new, prints)
            if other != self.table:
                found[other] = same.rows
                if same.rows:
                    warnings.append(
                        f"{same.rows} spectra identical to rows of {other} of this root (same "
                        f"precursor m/z and MS1 peaks), e.g. {same.describe(other)}: training "
                        f"refuses {self.table} and {other} together (the model would be tested "
                        "on spectra it trained on); remove the copies, or, for technical "
                        "replicates kept on purpose, train with data.allow_identical_spectra=true"
                    )
            else:
                found[f"{self.table} (rows already there)"] = same.rows
                self._warn_copies(warnings, same, f"rows already in {self.table}")
        earlier = Identical()
        for table, table_prints in self._written:
            same = identical_spectra.rows_in_rows(table, table_prints, new, prints)
            earlier.rows += same.rows
            earlier.examples += same.examples[: identical_spectra.EXAMPLES - len(earlier.examples)]
        found["earlier files of this conversion"] = earlier.rows
        self._warn_copies(warnings, earlier, "rows of earlier files of this conversion")
        found["within the file"] = identical_spectra.rows_repeated(new, prints).rows
        checks["identical_spectra"] = found
        self._written.append((new, prints))

    def _warn_copies(self, warnings: list[str], same: Identical, where: str) -> None:
        if same.rows:
            warnings.append(
                f"{same.rows} spectra identical to {where} (same precursor m/z and MS1 peaks), "
                f"e.g. {same.describe()}: copies count twice in training and in every figure"
            )
