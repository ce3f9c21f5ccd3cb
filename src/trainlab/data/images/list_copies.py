"""Copies across split lists that ``trainlab split`` did not write: a hand-made test set.

``trainlab split`` keeps copies (same pixels) and near copies (re-saved as JPEG, resized; see
``near_copies``) of one picture in one part, so the lists it writes hold none across parts.
It records a digest of each list in ``splits/split_record.json``. A list whose digest differs
(a curator's own ``test.txt``, an edited list, split files from before the record) is checked
at the start of a run the way the split checks a folder: the same picture under two classes
is refused, a copy or near copy of a training image in validation or test is named in a
warning (the check is a measurement that can be wrong: near copies are warned about in the
split too). The check decodes every image of the lists (2 to 9 s per 1,000 images, see
``near_copies``); lists as the split wrote them skip it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from trainlab.data.images.folder import MAX_PIXELS
from trainlab.data.images.near_copies import MAX_RMS, near_copy_pairs

log = logging.getLogger(__name__)
RECORD = "split_record.json"


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def write_split_record(split_dir: Path, names: list[str]) -> Path:
    """``split_record.json``: the digest of each list ``trainlab split`` wrote."""
    from trainlab.io import atomic_write_text

    lists = {name: _digest(split_dir / name) for name in names}
    text = json.dumps({"written_by": "trainlab split", "lists": lists}, indent=1)
    return atomic_write_text(split_dir / RECORD, text + "\n")


def written_by_split(split_dir: Path, names: list[str]) -> bool:
    """Whether each of ``names`` is byte for byte the list ``trainlab split`` wrote."""
    try:
        lists = json.loads((split_dir / RECORD).read_text(encoding="utf-8"))["lists"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(
        lists.get(name) is not None and lists[name] == _digest(split_dir / name) for name in names
    )


def check_copies_across_lists(
    data_dir: Path,
    train: list[tuple[str, str]],
    others: dict[str, list[tuple[str, str]]],
    train_name: str,
    max_pixels: int = MAX_PIXELS,
) -> list[str]:
    """Refuse a picture (same pixels) listed under two classes across the lists; return the
    warnings about copies and near copies of training images in the other lists.

    Args:
        data_dir: the data folder the list paths are relative to.
        train: (path, class) of the training list.
        others: {list name: (path, class)} of the lists scored (val, test).
        train_name: the training list's file name, for the messages.
        max_pixels: images declaring more pixels are refused (``folder.open_image``).
    """
    from trainlab.data.images.colour import SrgbConverter
    from trainlab.data.images.folder import pixel_fingerprint
    from trainlab.data.images.split import refuse_two_labels

    warnings: list[str] = []
    rows = [(train_name, rel, cls) for rel, cls in train]
    rows += [(name, rel, cls) for name, entries in others.items() for rel, cls in entries]
    to_srgb = SrgbConverter()
    prints = [pixel_fingerprint(Path(data_dir) / rel, max_pixels, to_srgb) for _, rel, _ in rows]
    first: dict[bytes, int] = {}
    for i, (digest, _) in enumerate(prints):
        first.setdefault(digest, i)
    n_train = len(train)
    exact = [(i, first[d]) for i, (d, _) in enumerate(prints) if first[d] != i]
    conflicts = [(rows[j][1], rows[i][1]) for i, j in exact if rows[i][2] != rows[j][2]]
    refuse_two_labels(conflicts, f"of the split lists in {Path(data_dir) / 'splits'}", "listed")
    # near copies among distinct pictures: a training one against one of another list
    thumbs = [t if first[d] == i else None for i, (d, t) in enumerate(prints)]
    near = [(i, j, rms) for i, j, rms in near_copy_pairs(thumbs) if i < n_train <= j]
    seen = [(j, i, None) for j, i in exact if i < n_train <= j]
    for name in others:
        found = [
            (j, i, d) for j, i, d in seen + [(j, i, d) for i, j, d in near] if rows[j][0] == name
        ]
        if not found:
            continue
        shown = ", ".join(
            f"{rows[j][1]} {'=' if d is None else '~'} {rows[i][1]}"
            + ("" if d is None else f" ({d:.1f})")
            for j, i, d in sorted(found)[:3]
        )
        warnings.append(
            f"{len({j for j, _, _ in found})} image(s) of {name} are copies (=: the same pixels) "
            f"or near copies (~: re-saved or resized, 16x16 thumbnails within {MAX_RMS:.0f} "
            f"levels) of training images of {train_name}, e.g. {shown}: the {name} score counts "
            f"them as seen; re-run `trainlab split data_dir={data_dir} overwrite=true` (it keeps "
            f"copies in one part) or remove the copies from {name}"
        )
    return warnings


CHECKED = ".checked_lists"  # in splits/: one entry per checked version of the lists
CHECK_MODULES = ("list_copies.py", "near_copies.py", "folder.py")


def warn_copies_across_lists(
    data_dir: Path,
    names: list[str],
    train: list[tuple[str, str]],
    others: dict[str, list[tuple[str, str]]],
    max_pixels: int = MAX_PIXELS,
) -> None:
    """``check_copies_across_lists`` once per version of the lists and of their files: later
    starts repeat its warnings from ``splits/.checked_lists`` without decoding every image
    again (2 to 9 s per 1,000 images, at every start, on split folders made before the
    split record). A version is the lists' bytes, each listed file's size and modification
    time, and this check's code; a read-only folder only means the check runs each time."""
    from trainlab.data.code_digest import code_digest

    data_dir = Path(data_dir)
    split_dir = data_dir / "splits"
    key = hashlib.sha256()
    for name in names:
        key.update(f"{name}:{_digest(split_dir / name)}\n".encode())
    for rel, _ in [*train, *(row for rows in others.values() for row in rows)]:
        stat = (data_dir / rel).stat()
        key.update(f"{rel}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    for module in CHECK_MODULES:
        key.update(code_digest((Path(__file__).parent / module).read_bytes()).encode())
    entry = split_dir / CHECKED / f"{Path(names[0]).stem}-{key.hexdigest()[:24]}.json"
    try:
        warnings = json.loads(entry.read_text(encoding="utf-8"))["warnings"]
    except (OSError, ValueError, KeyError, TypeError):
        warnings = check_copies_across_lists(data_dir, train, others, names[0], max_pixels)
        _remember(entry, warnings)
    for text in warnings:
        log.warning("%s", text)


def _remember(entry: Path, warnings: list[str]) -> None:
    from trainlab.io import atomic_write_text

    try:
        entry.parent.mkdir(exist_ok=True)
        for old in entry.parent.glob(f"{entry.name.rsplit('-', 1)[0]}-*.json"):
            old.unlink(missing_ok=True)  # this fold's earlier versions
        atomic_write_text(entry, json.dumps({"warnings": warnings}) + "\n")
    except OSError:
        pass  # a read-only data folder: checked again at the next start
