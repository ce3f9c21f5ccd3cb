"""One call from file paths to an aligned, labelled k-mer data set."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.kmer.matrix import load_matrix
from trainlab.data.kmer.metadata import (
    DEFAULT_ID_COLUMN,
    DEFAULT_TASKS,
    align_metadata,
    encode_labels,
    read_metadata,
)


@dataclass
class KmerDataset:
    """Samples x features values with labels aligned row by row.

    Attributes:
        x: (n_samples, n_features) float32, possibly memory-mapped.
        y: (n_samples, n_tasks) int64, -1 = missing label.
        tasks: task name -> sorted class names.
        groups: group per sample or None.
    """

    x: np.ndarray
    y: np.ndarray
    sample_ids: list[str]
    feature_ids: list[str]
    tasks: dict[str, list[str]]
    groups: np.ndarray | None
    feature_ids_given: bool = True

    def content_digest(self) -> str:
        """SHA-256 of the values, labels, ids, classes and groups as loaded (whatever the
        file format), the values read in blocks of rows. 0.56 GB/s on this loaded 2-core
        machine (BLAKE2b 0.29): 16 ms for the 5 MB of a 600 x 2,000 matrix, 0.63 s for 400 MB."""
        import hashlib
        import json

        digest = hashlib.sha256()
        digest.update(json.dumps([list(self.x.shape), str(self.x.dtype)]).encode())
        step = max(1, (1 << 26) // max(1, self.x.shape[1] * self.x.itemsize))
        for start in range(0, self.x.shape[0], step):
            digest.update(np.ascontiguousarray(self.x[start : start + step]).data)
        digest.update(np.ascontiguousarray(self.y, dtype=np.int64).data)
        groups = None if self.groups is None else [str(g) for g in self.groups]
        described = [self.sample_ids, self.feature_ids, self.tasks, groups]
        digest.update(json.dumps(described, default=str).encode())
        return digest.hexdigest()

    def class_counts(self, rows: np.ndarray | None = None) -> dict[str, list[int]]:
        """Labelled samples per class and task, over `rows` (all when None)."""
        y = self.y if rows is None else self.y[rows]
        counts = {}
        for j, (task, names) in enumerate(self.tasks.items()):
            labelled = y[:, j][y[:, j] >= 0]
            counts[task] = np.bincount(labelled, minlength=len(names)).tolist()
        return counts


def load_kmer_dataset(
    matrix_path: str | Path,
    metadata_path: str | Path,
    fof_path: str | Path | None = None,
    id_column: str = DEFAULT_ID_COLUMN,
    tasks: Sequence[str] = DEFAULT_TASKS,
    group_column: str | None = None,
    cache_dir: str | Path | None = None,
    allow_extra_metadata: bool = False,
) -> KmerDataset:
    """Read the matrix and the metadata, align them by id and encode the labels."""
    matrix = load_matrix(matrix_path, fof_path=fof_path, cache_dir=cache_dir)
    frame = read_metadata(metadata_path, id_column, tasks, group_column)
    frame = align_metadata(
        matrix.sample_ids, frame, id_column, allow_extra_metadata, source=str(metadata_path)
    )
    labels = encode_labels(frame, tasks, group_column, source=str(metadata_path))
    return KmerDataset(
        x=matrix.values,
        y=labels.y,
        sample_ids=matrix.sample_ids,
        feature_ids=matrix.feature_ids,
        tasks=labels.tasks,
        groups=labels.groups,
        feature_ids_given=matrix.feature_ids_given,
    )
