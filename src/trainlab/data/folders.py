"""The files of a data folder, read the same way by every reader that takes a folder.

Symbolic links are followed, folders included: data sets are often assembled by linking
class or run folders from shared storage. ``Path.rglob`` (Python 3.11) yields a link to a file
but does not enter a link to a folder below the top one: ``raw/cat/2023 -> /photos/2023`` lost
its images from the class without a word, while ``raw/cat -> /photos/cat`` was read whole.
A link that points outside the folder is read with one warning naming it (a downloaded archive
can carry links to anywhere); a dangling link, or one that would read a folder twice (a link
to a folder above it loops for ever), is refused naming the link.
"""

from __future__ import annotations

import logging
from pathlib import Path

from trainlab.errors import DataError

log = logging.getLogger(__name__)


def files_under(folder: Path, root: Path | None = None, skip_hidden: bool = True) -> list[Path]:
    """Every file under ``folder``, sorted, through symbolic links (see the module docstring).

    Args:
        folder: the folder to read.
        root: the data folder the user named (default ``folder``); links whose target is
            outside it are named in a warning.
        skip_hidden: leave out entries whose name starts with a dot (``.DS_Store``, ``._x``,
            ``.ipynb_checkpoints/``).

    Raises:
        DataError: a dangling link, or a link to a folder that is already read.
    """
    folder = Path(folder)
    top = Path(root if root is not None else folder).resolve()
    files: list[Path] = []
    outside: list[Path] = []
    read: dict[Path, Path] = {}  # real folder -> the path it was read through

    def walk(path: Path) -> None:
        real = path.resolve()
        if real in read:
            raise DataError(
                f"{path} is a symbolic link to {real}, which is already read as {read[real]} (a "
                "link to a folder above it, or a second link to one folder): its files would "
                "be read twice, or for ever; remove the link"
            )
        read[real] = path
        for entry in sorted(path.iterdir()):
            if skip_hidden and entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if not entry.exists():
                    raise DataError(
                        f"{entry} is a symbolic link to {entry.readlink()}, which does not "
                        "exist: restore the target or remove the link"
                    )
                if not entry.resolve().is_relative_to(top):
                    outside.append(entry)
            if entry.is_dir():
                walk(entry)
            elif entry.is_file():
                files.append(entry)

    if folder.is_symlink() and not folder.resolve().is_relative_to(top):
        outside.append(folder)
    walk(folder)
    if outside:
        log.warning(
            "%d symbolic link(s) under %s point outside it and are read as data, e.g. %s -> %s; "
            "check that they are meant to be there (an archive from elsewhere can link anywhere)",
            len(outside),
            top,
            outside[0],
            outside[0].resolve(),
        )
    return sorted(files)
