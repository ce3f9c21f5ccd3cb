"""Split a class-folder data set into a fixed test set plus stratified k folds.

The test set is drawn once (stratified, ``test_ratio``) and shared by every fold; the rest is
split by stratified k-fold into disjoint validation parts, each fold training on the others.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.images.folder import MAX_PIXELS, pixel_fingerprint, scan_class_folders
from trainlab.data.images.list_copies import write_split_record
from trainlab.data.images.near_copies import MAX_RMS, NearPair, near_copy_pairs
from trainlab.errors import DataError, RunFolderError
from trainlab.io import atomic_write_text

log = logging.getLogger(__name__)


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
    max_pixels: int = MAX_PIXELS,
) -> SplitResult:
    """Scan ``data_dir/raw``; write ``splits/test.txt`` and ``splits/fold_<k>_{train,val}.txt``.

    Images of more than ``max_pixels`` pixels are refused (``folder.open_image``).
    """
    data_dir = Path(data_dir)
    split_dir = data_dir / "splits"
    existing = sorted(split_dir.glob("*.txt")) if split_dir.is_dir() else []
    if existing and not overwrite:
        raise RunFolderError(
            f"{split_dir} already holds {len(existing)} split files; refusing to overwrite them. "
            f"Pass overwrite=true to replace them (runs trained on the old splits then no longer "
            f"match)"
        )
    classes = scan_class_folders(data_dir / "raw", max_pixels=max_pixels)
    names = sorted(classes)
    items = [item for name in names for item in classes[name]]
    labels = [index for index, name in enumerate(names) for _ in classes[name]]
    test, fold_parts = split_keeping_copies_together(
        data_dir, items, labels, names, folds, test_ratio, seed, max_pixels
    )
    if overwrite:
        for path in existing:
            path.unlink()
    _write_list(split_dir / "test.txt", items, test)
    for k, (train, val) in enumerate(fold_parts):
        _write_list(split_dir / f"fold_{k}_train.txt", items, train)
        _write_list(split_dir / f"fold_{k}_val.txt", items, val)
    written = ["test.txt"] + [f"fold_{k}_{p}.txt" for k in range(folds) for p in ("train", "val")]
    write_split_record(split_dir, written)
    return SplitResult(split_dir, len(test), len(items) - len(test), folds, names)


def copy_groups(
    data_dir: Path, items: list[str], max_pixels: int = MAX_PIXELS
) -> tuple[list[int], list[NearPair]]:
    """For each item, the index of the first item with the same pixels (itself if none); and
    the near copies among the distinct images (``near_copies.near_copy_pairs``).

    Byte-identical files have the same pixels; so do lossless re-encodings (PNG and BMP of one
    picture) and a JPEG with or without its EXIF block: with only the bytes compared, 6 of 11
    test images of a folder holding a PNG and a BMP of every picture had their copy in training.
    """
    from trainlab.data.images.colour import SrgbConverter

    first: dict[bytes, int] = {}
    group, thumbnails = [], []
    to_srgb = SrgbConverter()  # one transform per profile for the whole folder
    for i, rel in enumerate(items):
        digest, thumbnail = pixel_fingerprint(data_dir / rel, max_pixels, to_srgb)
        group.append(first.setdefault(digest, i))
        thumbnails.append(thumbnail if group[i] == i else None)  # a copy is its first file
    return group, near_copy_pairs(thumbnails)


def join_near_copies(
    group: list[int],
    near: list[NearPair],
    items: list[str],
    labels: list[int],
    names: list[str],
) -> list[int]:
    """``group`` with near copies of one class joined (each group named by its first file).

    Near copies under two classes are not joined: the check is a measurement that can be wrong,
    so they are named in a warning instead of refused like exact copies.
    """
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    across = [(i, j, c) for i, j, c in near if labels[i] != labels[j]]
    for i, j, _ in near:
        if labels[i] == labels[j]:
            first, second = sorted((root(i), root(j)))
            parent[second] = first
    joined = [root(g) for g in group]
    moved = [i for i, g in enumerate(group) if g == i and joined[i] != i]  # exact copies follow
    if moved:
        counts = np.bincount([labels[i] for i in moved], minlength=len(names))
        within = [(i, j, c) for i, j, c in near if labels[i] == labels[j]]
        shown = ", ".join(f"{items[j]} ~ {items[i]} ({d:.1f})" for i, j, d in within[:3])
        log.warning(
            "%d file(s) are near copies of others of their class (%s; the same picture re-saved "
            "or resized: their 16x16 thumbnails differ by <= %.0f levels), e.g. %s: each goes to "
            "the part of the file it copies, so none is trained on and tested on as two images; "
            "if two of them are distinct pictures this only keeps them in one part",
            len(moved),
            ", ".join(f"class {names[c]}: {n}" for c, n in enumerate(counts) if n),
            MAX_RMS,
            shown,
        )
    if across:
        shown = "; ".join(f"{items[i]} ~ {items[j]} ({d:.1f})" for i, j, d in across[:5])
        log.warning(
            "%d pair(s) of images filed under different classes look like one picture re-saved "
            "or resized (%s): if they are copies, one image carries two labels; delete the copy "
            "in the wrong class folder. They are split as distinct images",
            len(across),
            shown,
        )
    return joined


def split_keeping_copies_together(
    data_dir: Path,
    items: list[str],
    labels: list[int],
    names: list[str],
    folds: int,
    test_ratio: float,
    seed: int,
    max_pixels: int = MAX_PIXELS,
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """``make_splits`` over distinct images; copies (same pixels) and near copies of the same
    class (``near_copies``: re-saved as JPEG, resized) follow their first file.

    Scraped and merged data sets hold copies of one image; split one by one, a copy in the
    training part and another in the test part lets a model score by memory. Copies under two
    classes are one image with two labels: refused. Without copies the split is exactly
    ``make_splits`` over all items. Before near copies were joined, a folder holding a JPEG
    re-saved at quality 70 or a half-size copy of every sixth and ninth picture had 11 of those
    60 copies in test with their original in training (fold 0).
    """
    exact, near = copy_groups(data_dir, items, max_pixels)
    conflicts = [(items[g], items[i]) for i, g in enumerate(exact) if labels[g] != labels[i]]
    refuse_two_labels(conflicts, f"in {data_dir / 'raw'}", "filed")
    copies = sum(1 for i, g in enumerate(exact) if g != i)
    if copies:
        counts = np.bincount(
            [labels[i] for i in range(len(items)) if exact[i] != i], minlength=len(names)
        )
        by_class = ", ".join(f"class {names[c]}: {n}" for c, n in enumerate(counts) if n)
        log.warning(
            "%d file(s) are copies (the same pixels) of others (%s): each copy goes to the part of "
            "its original, so no image is in both training and validation or test",
            copies,
            by_class,
        )
    group = join_near_copies(exact, near, items, labels, names)
    distinct = [i for i, g in enumerate(group) if g == i]
    members: dict[int, list[int]] = {i: [] for i in distinct}
    for i, g in enumerate(group):
        members[g].append(i)
    test, fold_parts = make_splits([labels[i] for i in distinct], folds, test_ratio, seed)

    def expand(index: np.ndarray) -> np.ndarray:
        return np.sort(np.array([m for u in index for m in members[distinct[u]]], dtype=np.int64))

    return expand(test), [(expand(train), expand(val)) for train, val in fold_parts]


def refuse_two_labels(conflicts: list[tuple[str, str]], where: str, how: str) -> None:
    """Raise naming pictures (the same pixels) found under two classes, if any."""
    if conflicts:
        shown = "; ".join(f"{a} = {b}" for a, b in conflicts[:5])
        raise DataError(
            f"{len(conflicts)} image(s) {where} are copies (the same pixels) of an image {how} "
            f"under another class ({shown}): one image cannot carry two labels; delete the copy "
            "in the wrong class folder"
        )


def check_no_leak(
    data_dir: Path,
    train: list[str],
    others: dict[str, list[str]],
    fold_name: str,
    byte_copies: bool = True,
) -> None:
    """Refuse a file listed twice in one list, or in two lists; warn about training copies.

    ``trainlab split`` never writes either, but a hand-made or edited ``test.txt`` (a fixed test
    set chosen by a curator) or split files kept from before copies were kept together can hold
    both, and the test score then measures memory without a word. Only files of equal size are
    hashed, so a folder too large for memory is not read through at every start. With
    ``byte_copies`` False the byte-identical copies are left to ``list_copies`` (which finds
    them among the copies with the same pixels and the near copies).
    """
    for name, paths in {fold_name: train, **others}.items():
        repeated = sorted(rel for rel, n in Counter(paths).items() if n > 1)
        if repeated:
            raise DataError(
                f"{len(repeated)} file(s) are listed more than once in {name} (e.g. "
                f"{repeated[0]}): each would count again in its loss and scores; list each file "
                f"once, or re-run `trainlab split data_dir={data_dir} overwrite=true`"
            )
    parts = list(others.items())
    for i, (first, first_paths) in enumerate(parts):
        for second, second_paths in parts[i + 1 :]:
            shared = sorted(set(first_paths).intersection(second_paths))
            if shared:
                raise DataError(
                    f"{len(shared)} file(s) are listed both in {first} and in {second} (e.g. "
                    f"{shared[0]}): the checkpoint is chosen on {first}, so the {second} score "
                    f"of those images is not an unseen one; remove them from one list or re-run "
                    f"`trainlab split data_dir={data_dir} overwrite=true`"
                )
    listed = set(train)
    for name, paths in others.items():
        shared = sorted(listed.intersection(paths))
        if shared:
            raise DataError(
                f"{len(shared)} file(s) are listed both in {fold_name} and in {name} (e.g. "
                f"{shared[0]}): a model is then scored on images it trained on; remove them from "
                f"one list or re-run `trainlab split data_dir={data_dir} overwrite=true`"
            )
    if not byte_copies:
        return
    sizes: dict[int, list[str]] = {}
    for rel in train:
        sizes.setdefault((data_dir / rel).stat().st_size, []).append(rel)
    digests: dict[bytes, str] = {}  # of the training files hashed so far
    hashed: set[str] = set()

    def digest(rel: str) -> bytes:
        return hashlib.blake2b((data_dir / rel).read_bytes(), digest_size=16).digest()

    for name, paths in others.items():
        copies = []
        for rel in paths:
            path = data_dir / rel
            candidates = sizes.get(path.stat().st_size) if path.exists() else None
            if not candidates:
                continue
            for candidate in set(candidates) - hashed:
                hashed.add(candidate)
                digests.setdefault(digest(candidate), candidate)
            match = digests.get(digest(rel))
            if match is not None:
                copies.append((rel, match))
        if copies:
            log.warning(
                "%d image(s) of %s are byte-identical copies of training images of %s (e.g. %s "
                "= %s): the %s score counts them as seen; re-run `trainlab split data_dir=%s "
                "overwrite=true` (it keeps copies in one part) or remove the copies",
                len(copies),
                name,
                fold_name,
                copies[0][0],
                copies[0][1],
                name,
                data_dir,
            )


def _write_list(path: Path, items: list[str], index: np.ndarray) -> None:
    atomic_write_text(path, "".join(f"{items[i]}\n" for i in index))


def read_split(path: Path, data_dir: Path) -> list[tuple[str, str]]:
    """Read a split file: (relative path, class name) per line.

    The class is the folder right under ``raw/`` (``raw/<class>/<file>`` or, for images in
    sub-folders of a class folder, ``raw/<class>/<sub-folder>/<file>``).
    """
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
        # raw/<class>/<sub-folder>/<file>: the class folder is right under raw/; other lines
        # (an absolute path, another folder) name their class by the file's own folder
        entries.append((line, parts[1] if parts[0] == "raw" else parts[-2]))
    return entries
