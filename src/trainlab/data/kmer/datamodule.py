"""LightningDataModule over a k-mer matrix with multi-task metadata labels."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from trainlab.data.kmer.batches import TensorBatches, gather_rows
from trainlab.data.kmer.dataset import KmerDataset, load_kmer_dataset
from trainlab.data.kmer.features import SPEC_KEY, align_features, pack_feature_ids
from trainlab.data.kmer.folds import validation_split
from trainlab.data.kmer.matrix import load_matrix
from trainlab.data.kmer.metadata import DEFAULT_ID_COLUMN, DEFAULT_TASKS
from trainlab.data.kmer.unitigs import UnitigsDigest, digest_beside
from trainlab.data.loader_settings import LoaderSettings
from trainlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


class KmerMatrixDataModule(L.LightningDataModule):
    """Samples x unitigs fractions with one label column per task (-1 = missing).

    Rows of each split are chosen by the caller (`use_rows`, as nested CV does) or, by
    default, by a stratified (group-disjoint with `group_column`) test/validation split.
    With `in_memory` (`auto`: always, the matrix fits in memory), each split is gathered
    once onto the training device and batches are slices of it, without a DataLoader.

    Args:
        matrix_path: MUSET `unitigs.frac.mat`, `.npy`, `.npz` or Parquet matrix.
        metadata_path: metadata TSV with `id_column` and the task columns.
        fof_path: kmtricks fof (searched for beside the matrix when None).
        tasks: metadata columns to predict.
        group_column: column whose values never straddle splits (e.g. project).
        stratify_column: column splits are stratified on (default: the first task).
        cache_dir: where parsed text matrices are cached (default beside the matrix).
        test_fraction: share of rows held out for test in the default split (0: none).
        validation_split: share of the remaining rows used for validation.
        loader: the shared `data.loader` node (`LoaderSettings`), used only when the matrix
            is not kept in memory (then a DataLoader reads row batches from it).
        synthetic: generator settings; the synthetic data set is written to the matrix's
            folder when the matrix is missing (see `trainlab.data.kmer.synthetic`).
    """

    def __init__(
        self,
        matrix_path: str,
        metadata_path: str | None = None,
        fof_path: str | None = None,
        id_column: str = DEFAULT_ID_COLUMN,
        tasks: list[str] | None = None,
        group_column: str | None = None,
        stratify_column: str | None = None,
        cache_dir: str | None = None,
        allow_extra_metadata: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        test_fraction: float = 0.2,
        validation_split: float = 0.1,
        split_seed: int = 42,
        in_memory: bool | str = "auto",
        loader: LoaderSettings | dict[str, Any] | None = None,
        seed: int = 42,
        synthetic: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.matrix_path = Path(matrix_path)
        self.metadata_path = Path(metadata_path) if metadata_path else None
        self.fof_path = fof_path
        self.id_column = id_column
        self.task_columns = list(tasks) if tasks else list(DEFAULT_TASKS)
        self.group_column = group_column
        self.stratify_column = stratify_column or self.task_columns[0]
        if self.stratify_column not in self.task_columns:
            raise ConfigError(
                f"data.stratify_column={self.stratify_column!r} is not one of data.tasks "
                f"{self.task_columns}."
            )
        self.cache_dir = cache_dir
        self.allow_extra_metadata = allow_extra_metadata
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.test_fraction = test_fraction
        self.validation_split = validation_split
        self.split_seed = split_seed
        if in_memory not in ("auto", True, False):
            raise ConfigError(f"data.in_memory={in_memory!r}: use auto, true or false.")
        self.in_memory = in_memory
        self.loader_settings = LoaderSettings.coerce(loader)
        self.seed = seed
        self.synthetic = synthetic
        self.dataset: KmerDataset | None = None
        self.rows: dict[str, np.ndarray] = {}
        self._device_cache: dict[tuple[str, str], tuple[torch.Tensor, ...]] = {}
        self._predict: dict[str, Any] | None = None
        self._packed_ids: str | None = None
        self._unitigs: UnitigsDigest | bool | None = False  # False: not looked for yet

    # ---------------------------------------------------------------- data
    def prepare_data(self) -> None:
        """Write the synthetic data set when asked and the matrix is missing."""
        if self.synthetic is not None and not self.matrix_path.is_file():
            from trainlab.data.kmer.synthetic import generate_kmer_dataset

            log.info("writing the SYNTHETIC k-mer data set to %s", self.matrix_path.parent)
            generate_kmer_dataset(self.matrix_path.parent, **self.synthetic)

    def load(self) -> KmerDataset:
        """Read matrix and metadata once; later calls return the same data set."""
        if self.dataset is None:
            if self.metadata_path is None:
                raise ConfigError("data.metadata_path is required to train (labels come from it).")
            self.dataset = load_kmer_dataset(
                self.matrix_path,
                self.metadata_path,
                fof_path=self.fof_path,
                id_column=self.id_column,
                tasks=self.task_columns,
                group_column=self.group_column,
                cache_dir=self.cache_dir,
                allow_extra_metadata=self.allow_extra_metadata,
            )
        return self.dataset

    def strata(self) -> np.ndarray:
        """Labels of the stratification column (-1 = missing, its own stratum)."""
        data = self.load()
        return data.y[:, self.task_columns.index(self.stratify_column)]

    def use_rows(
        self,
        train: np.ndarray,
        val: np.ndarray | None = None,
        test: np.ndarray | None = None,
    ) -> None:
        """Choose the rows of each split (global indices); drops tensors of earlier rows."""
        self.rows = {
            name: np.sort(np.asarray(rows, dtype=np.int64))
            for name, rows in (("train", train), ("val", val), ("test", test))
            if rows is not None
        }
        self._device_cache.clear()

    def setup(self, stage: str | None = None) -> None:
        """Load the data; without `use_rows`, split test/validation rows by `split_seed`."""
        data = self.load()
        if self.rows:
            return
        rows = np.arange(len(data.y))
        strata, groups = self.strata(), data.groups
        test = None
        if self.test_fraction > 0:
            rows, test = validation_split(rows, strata, self.test_fraction, self.split_seed, groups)
        train, val = validation_split(rows, strata, self.validation_split, self.split_seed, groups)
        self.use_rows(train, val, test)

    def spec(self) -> dict[str, Any]:
        """Tasks with their sorted classes and the number of input features."""
        data = self.load()
        if self._packed_ids is None:  # joined once: spec() is read by every fit of a search
            given = data.feature_ids_given
            self._packed_ids = (pack_feature_ids(data.feature_ids) if given else None) or ""
        if self._unitigs is False:  # the MUSET run's unitigs.fa, compared at prediction
            self._unitigs = digest_beside(self.matrix_path)
        spec = {"tasks": data.tasks, "in_features": int(data.x.shape[1])}
        if self._unitigs:
            spec.update(self._unitigs.spec())
        # matched by id at prediction (trainlab.data.kmer.features)
        return {**spec, SPEC_KEY: self._packed_ids or None}

    def row_keys(self, split: str) -> list[str]:
        """The sample ids of a split's rows (core.seen_rows); none for a split not made.

        Ids, not the rows' values: a sample keeps its id in a MUSET run over other samples,
        where its unitigs, and so its values, are other ones."""
        rows = self.rows.get(split)
        if rows is None:
            return []
        ids = self.load().sample_ids
        return [str(ids[i]) for i in rows]

    def content_digest(self) -> str:
        """A digest of the data as loaded, recorded in checkpoints (``core.data_digest``)."""
        return self.load().content_digest()

    def class_counts(self) -> dict[str, list[int]]:
        """Labelled training rows per class and task (for inverse-frequency weights)."""
        return self.load().class_counts(self.rows.get("train"))

    def baseline_features(self, split: str) -> tuple[str, np.ndarray, dict[str, np.ndarray], str]:
        """``("classification", x, {task: labels}, description)`` of a split's rows."""
        data = self.load()
        rows = self.rows[split]
        labels = {task: data.y[rows, i] for i, task in enumerate(data.tasks)}
        return "classification", data.x[rows], labels, f"{data.x.shape[1]} k-mer features"

    # ------------------------------------------------------------- loaders
    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _keep_in_memory(self, x: np.ndarray) -> bool:
        if self.in_memory != "auto":
            return bool(self.in_memory)
        device = self._device()
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            return x.nbytes < 0.5 * free
        return True

    def _tensors(self, split: str) -> tuple[torch.Tensor, ...]:
        if split not in self.rows:
            raise DataError(f"No {split} rows: call setup() or use_rows() first.")
        device = self._device()
        key = (split, str(device))
        if key not in self._device_cache:
            data = self.load()
            self._device_cache[key] = gather_rows(data.x, data.y, self.rows[split], device)
        return self._device_cache[key]

    def _loader(self, split: str, shuffle: bool) -> Any:
        size = self.batch_size if shuffle else self.eval_batch_size
        data = self.load()
        if self._keep_in_memory(data.x):
            return TensorBatches(self._tensors(split), size, shuffle=shuffle, seed=self.seed)
        return _memmap_loader(
            data, self.rows[split], size, shuffle, self.seed, self.loader_settings
        )

    def train_dataloader(self) -> Any:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> Any:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> Any:
        return self._loader("test", shuffle=False)

    def report_dataloaders(self) -> dict[str, Any]:
        """Unshuffled batches of every split on the CPU, for classification reports."""
        data = self.load()
        return {
            name: TensorBatches(gather_rows(data.x, data.y, rows, torch.device("cpu")), 4096)
            for name, rows in self.rows.items()
        }

    # ---------------------------------------------------------- prediction
    def setup_predict(self, input_path: str, spec: dict[str, Any]) -> None:
        """Read a matrix of new samples (any supported format) to predict on."""
        matrix = load_matrix(input_path, fof_path=None, cache_dir=self.cache_dir)
        ids = matrix.feature_ids if matrix.feature_ids_given else None
        values = align_features(input_path, matrix.values, ids, spec, digest_beside(input_path))
        x = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        self._predict = {"x": x, "sample_ids": matrix.sample_ids}

    def predict_dataloader(self) -> Any:
        if self._predict is None:
            raise DataError("call setup_predict(input) before predict_dataloader()")
        x = self._predict["x"].to(self._device())
        return TensorBatches((x,), self.eval_batch_size)

    def write_predictions(
        self, outputs: list[dict[str, Any]], out_dir: Path, spec: dict[str, Any]
    ) -> list[Path]:
        """Write `<sample>_predictions.json` per sample: class, index, probabilities, confidence."""
        from trainlab.io import atomic_write_json

        tasks = spec["tasks"]
        probs = {t: torch.cat([o["probs"][t] for o in outputs]).cpu().numpy() for t in tasks}
        written = []
        names = prediction_file_names(self._predict["sample_ids"])
        for i, sample in enumerate(self._predict["sample_ids"]):
            predictions = {}
            for task, classes in tasks.items():
                row = probs[task][i]
                best = int(row.argmax())
                predictions[task] = {
                    "predicted_class": classes[best],
                    "class_index": best,
                    "confidence": float(row[best]),
                    "probabilities": {c: float(p) for c, p in zip(classes, row, strict=True)},
                }
            path = Path(out_dir) / names[i]
            atomic_write_json(path, {"sample_id": sample, "predictions": predictions})
            written.append(path)
        return written


def prediction_file_names(sample_ids: Sequence[str]) -> list[str]:
    """``<sample>_predictions.json`` per sample, one file each.

    Characters a file name cannot hold become ``_``; that made ``A/1`` and ``A_1`` (and, on the
    case-insensitive file systems of macOS and Windows, ``ERR1`` and ``err1``) one file, the
    later sample overwriting the earlier one's predictions without a word. Such names get the
    first 8 hex digits of the id's SHA-1, so every sample keeps its own file.
    """
    import hashlib

    safe = [re.sub(r"[^A-Za-z0-9._-]", "_", str(sample)) for sample in sample_ids]
    counts = Counter(name.casefold() for name in safe)
    names = []
    for sample, name in zip(sample_ids, safe, strict=True):
        if counts[name.casefold()] > 1:
            name = f"{name}-{hashlib.sha1(str(sample).encode()).hexdigest()[:8]}"
        names.append(f"{name}_predictions.json")
    if len({n.casefold() for n in names}) < len(names):
        raise DataError(
            "two predict samples have ids that differ only in characters a file name cannot "
            "hold or in case, even with their hash; rename one of them"
        )
    return names


def _memmap_loader(
    data: KmerDataset,
    rows: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
    settings: LoaderSettings,
) -> Any:
    """A DataLoader reading row batches from the (memory-mapped) matrix."""
    from torch.utils.data import DataLoader

    return DataLoader(
        _RowBatchDataset(data, rows),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=_keep,
        generator=torch.Generator().manual_seed(seed),
        **settings.dataloader_kwargs(),
    )


def _keep(batch: Any) -> Any:
    return batch


class _RowBatchDataset(torch.utils.data.Dataset):
    def __init__(self, data: KmerDataset, rows: np.ndarray) -> None:
        self.data, self.rows = data, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return gather_rows(self.data.x, self.data.y, self.rows[indices], torch.device("cpu"))
