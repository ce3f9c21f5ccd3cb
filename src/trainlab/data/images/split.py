"""Split a class-folder data set into a fixed test set plus stratified k folds.

The test set is drawn once (stratified, ``test_ratio``) and shared by every fold; the rest is
split by stratified k-fold into disjoint validation parts, each fold training on the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.images.folder import scan_class_folders
from trainlab.errors import DataError, RunFolderError
from trainlab.io import atomic_write_text


@dataclass(frozen=True)
class SplitResult:
    """Paths of the written split files and their sizes."""

    split_dir: Path
    n_test: int
    n_rest: int
    folds: int
    classes: list[str]


def make_splits(
    labels: list[int], folds: int, test_ratio: float, seed: int
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Return test indices and (train, val) indices per fold over the remaining items."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    y = np.asarray(labels)
    counts = np.bincount(y)
    if folds < 2:
        raise DataError(f"folds={folds}: use at least 2 folds")
    if not 0.0 < test_ratio < 1.0:
        raise DataError(f"test_ratio={test_ratio}: use a value between 0 and 1, e.g. 0.15")
    smallest = int(counts.min())
    needed = folds + 1
    if smallest < needed:
        raise DataError(
            f"the smallest class has {smallest} images; {folds} folds plus a test set need at "
            f"least {needed} per class: add images or lower folds"
        )
    index = np.arange(len(y))
    rest, test = train_test_split(index, test_size=test_ratio, stratify=y, random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_parts = [
        (np.sort(rest[train]), np.sort(rest[val])) for train, val in splitter.split(rest, y[rest])
    ]
    return np.sort(test), fold_parts


def split_folder(
    data_dir: Path,
    folds: int = 5,
    test_ratio: float = 0.15,
    seed: int = 42,
    overwrite: bool = False,
) -> SplitResult:
    """Scan ``data_dir/raw``; write ``splits/test.txt`` and ``splits/fold_<k>_{train,val}.txt``."""
    data_dir = Path(data_dir)
    split_dir = data_dir / "splits"
    existing = sorted(split_dir.glob("*.txt")) if split_dir.is_dir() else []
    if existing and not overwrite:
        raise RunFolderError(
            f"{split_dir} already holds {len(existing)} split files; refusing to overwrite them. "
            f"Pass overwrite=true to replace them (runs trained on the old splits then no longer "
            f"match)"
        )
    classes = scan_class_folders(data_dir / "raw")
    names = sorted(classes)
    items = [item for name in names for item in classes[name]]
    labels = [index for index, name in enumerate(names) for _ in classes[name]]
    test, fold_parts = make_splits(labels, folds, test_ratio, seed)
    if overwrite:
        for path in existing:
            path.unlink()
    _write_list(split_dir / "test.txt", items, test)
    for k, (train, val) in enumerate(fold_parts):
        _write_list(split_dir / f"fold_{k}_train.txt", items, train)
        _write_list(split_dir / f"fold_{k}_val.txt", items, val)
    return SplitResult(split_dir, len(test), len(items) - len(test), folds, names)


def _write_list(path: Path, items: list[str], index: np.ndarray) -> None:
    atomic_write_text(path, "".join(f"{items[i]}\n" for i in index))


def read_split(path: Path, data_dir: Path) -> list[tuple[str, str]]:
    """Read a split file: (relative path, class name) per line."""
    if not path.is_file():
        raise DataError(
            f"split file {path} is missing: run `trainlab split data_dir={data_dir}` first"
        )
    entries = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split("/")
        if len(parts) < 3:
            raise DataError(f"{path}:{line_no}: expected raw/<class>/<file>, got {line!r}")
        entries.append((line, parts[-2]))
    return entries
