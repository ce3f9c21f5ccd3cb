"""kmtricks file-of-files (`kmtricks.fof`): sample order of a MUSET unitig matrix.

Each line is `<sample_id> : <path>[ ; <path> ...]`. The fof is not always beside the matrix:
MUSET writes the matrix into its output folder while kmtricks keeps the fof in `kmer_matrix/`.
"""

from pathlib import Path

from trainlab.errors import DataError

FOF_NAME = "kmtricks.fof"


def fof_candidates(matrix_path: str | Path) -> list[Path]:
    """Places searched for the fof of a matrix, in order.

    Beside the matrix, in `kmer_matrix/` next to it, and in its parent's `kmer_matrix/`.
    """
    folder = Path(matrix_path).resolve().parent
    return [
        folder / FOF_NAME,
        folder / "kmer_matrix" / FOF_NAME,
        folder.parent / "kmer_matrix" / FOF_NAME,
    ]


def find_fof(matrix_path: str | Path) -> Path:
    """Return the first existing fof for `matrix_path`; raise DataError listing where we looked."""
    candidates = fof_candidates(matrix_path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = "\n  ".join(str(c) for c in candidates)
    raise DataError(
        f"No {FOF_NAME} found for matrix {matrix_path}. Looked in:\n  {looked}\n"
        "Sample ids are never invented: pass the file explicitly (data.fof_path=<path>)."
    )


def read_fof(path: str | Path) -> list[str]:
    """Sample ids of a kmtricks fof, in file order.

    Raises:
        DataError: a line without `:`, an empty id, or a duplicated id.
    """
    from trainlab.data.utf8 import check_utf8

    path = Path(path)
    ids: list[str] = []
    seen: dict[str, int] = {}
    check_utf8(path, "data.fof_path")
    with path.open(encoding="utf-8-sig") as handle:  # a BOM is not part of the first id
        for lineno, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            sample_id, sep, _ = line.partition(":")
            sample_id = sample_id.strip()
            if not sep or not sample_id:
                raise DataError(
                    f"{path}:{lineno}: expected '<sample_id> : <path>', got {line[:80]!r}. "
                    "Fix the line or point data.fof_path at a kmtricks fof."
                )
            if sample_id in seen:
                raise DataError(
                    f"{path}:{lineno}: sample id {sample_id!r} already on line "
                    f"{seen[sample_id]}. Each sample must appear once in the fof."
                )
            seen[sample_id] = lineno
            ids.append(sample_id)
    if not ids:
        raise DataError(f"{path} lists no samples. Point data.fof_path at the kmtricks fof.")
    return ids
