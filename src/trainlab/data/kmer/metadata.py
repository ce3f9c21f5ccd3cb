"""Sample metadata (TSV keyed by `Run_accession`) and its alignment with the matrix samples."""

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainlab.data.utf8 import check_utf8
from trainlab.errors import DataError

log = logging.getLogger(__name__)

# what ENA/SRA/BioSample records hold where a value is absent (INSDC missing-value reporting)
INSDC_MISSING = ("not applicable", "missing", "not collected", "not provided", "restricted access")
DEFAULT_ID_COLUMN = "Run_accession"
DEFAULT_TASKS = ("sample_type", "community_type", "sample_host", "material")
MISSING = -1
_EXAMPLES = 5


@dataclass
class Labels:
    """Encoded labels aligned with the matrix rows.

    Attributes:
        tasks: task name -> sorted class names (index = class id).
        y: (n_samples, n_tasks) int64, -1 where the label is missing.
        groups: group label per sample (e.g. project) or None.
    """

    tasks: dict[str, list[str]]
    y: np.ndarray
    groups: np.ndarray | None


def read_metadata(
    path: str | Path,
    id_column: str = DEFAULT_ID_COLUMN,
    task_columns: Sequence[str] = DEFAULT_TASKS,
    group_column: str | None = None,
):
    """Read a metadata TSV as strings; blank and NA cells become missing (None).

    Returns:
        A pandas DataFrame with the id, task and group columns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Metadata file {path} does not exist. Set data.metadata_path.")
    check_utf8(path, "data.metadata_path")
    frame = _read_tsv(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    wanted = [id_column, *task_columns] + ([group_column] if group_column else [])
    absent = [c for c in wanted if c not in frame.columns]
    if absent:
        raise DataError(
            f"{path}: columns {absent} not found; it has {list(frame.columns)}. "
            "Set data.id_column / data.tasks / data.group_column to existing columns."
        )
    # blank lines are kept by the reader so that row i is line i + 2; lines of empty cells
    # (spreadsheet exports end with rows of tabs) are blank lines too
    empty = frame.apply(lambda c: c.str.strip().fillna("") == "").all(axis=1)
    frame = frame.loc[~empty, list(dict.fromkeys(wanted))].copy()
    for column in frame.columns:
        stripped = frame[column].str.strip()
        blank = stripped.isna() | (stripped == "")
        if column != id_column:
            insdc = stripped.fillna("").map(_is_insdc_missing)
            if insdc.any():
                n, example = int(insdc.sum()), stripped[insdc].iloc[0]
                log.info(
                    "%s: %d %s cells hold INSDC missing-value terms (e.g. %r): missing",
                    path,
                    n,
                    column,
                    example,
                )
            blank |= insdc
        frame[column] = stripped.where(~blank, None)
    if frame[id_column].isna().any():
        row = int(frame.index[frame[id_column].isna().to_numpy().argmax()]) + 2
        raise DataError(f"{path}:{row}: empty {id_column}. Every row needs a sample id.")
    return frame


def _read_tsv(path: Path):
    """The TSV as strings, its columns where the header puts them.

    index_col=False: without it, pandas turns the first column into the index as soon as
    the first data row has one field more than the header (a trailing tab, as spreadsheet
    exports write), and every column moves one to the left. Trailing empty fields are then
    dropped; a row with extra values is refused with the line.
    """
    import warnings

    import pandas as pd

    def refuse(where: str, what: str) -> DataError:
        header = path.read_text(encoding="utf-8-sig").splitlines()[0].split("\t")
        return DataError(
            f"{where}: {what}, but the header (line 1) has {len(header)} columns: "
            f"{header[:6]}. Fix that row (a value holding a tab must be quoted), add the "
            "missing column names to the header, or delete lines above the header."
        )

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(path, sep="\t", dtype=str, index_col=False, skip_blank_lines=False)
        except pd.errors.EmptyDataError:
            raise DataError(
                f"{path} is empty. Point data.metadata_path at the metadata TSV (a header "
                "row, then one row per sample)."
            ) from None
        except pd.errors.ParserWarning:
            raise refuse(str(path), "the first data row has more fields") from None
        except pd.errors.ParserError as exc:
            # pandas: "Error tokenizing data. C error: Expected 3 fields in line 3, saw 4"
            found = re.search(r"in line (\d+), saw (\d+)", str(exc))
            if found is None:
                raise DataError(f"{path}: cannot be read as a TSV ({exc}).") from None
            raise refuse(f"{path}:{found[1]}", f"{found[2]} tab-separated fields") from None


def align_metadata(
    sample_ids: Sequence[str],
    frame,
    id_column: str = DEFAULT_ID_COLUMN,
    allow_extra_metadata: bool = False,
    source: str = "metadata",
):
    """Reorder metadata rows to the matrix sample order.

    Raises:
        DataError: duplicated ids on either side, ids missing on either side, or a count
            mismatch; each message lists examples.
    """
    matrix_dupes = _duplicates(sample_ids)
    if matrix_dupes:
        raise DataError(
            f"Matrix sample ids are duplicated: {_examples(matrix_dupes)}. "
            "Fix the kmtricks.fof so each sample appears once."
        )
    meta_ids = frame[id_column].tolist()
    meta_dupes = _duplicates(meta_ids)
    if meta_dupes:
        raise DataError(
            f"{source}: {id_column} values are duplicated: {_examples(meta_dupes)}. "
            "Keep one row per sample."
        )
    meta_set, matrix_set = set(meta_ids), set(sample_ids)
    no_meta = [s for s in sample_ids if s not in meta_set]
    no_matrix = [s for s in meta_ids if s not in matrix_set]
    if len(sample_ids) != len(meta_ids) and not (allow_extra_metadata and not no_meta):
        raise DataError(
            f"Sample count mismatch: the matrix has {len(sample_ids)} samples, {source} has "
            f"{len(meta_ids)} rows. In the matrix only: {len(no_meta)} "
            f"{_examples(no_meta)}; in {source} only: {len(no_matrix)} {_examples(no_matrix)}. "
            "Use the metadata of exactly these samples (or data.allow_extra_metadata=true "
            "when the metadata covers more samples)." + _near_matches(no_meta, no_matrix, source)
        )
    if no_meta or (no_matrix and not allow_extra_metadata):
        raise DataError(
            f"Sample ids do not match: {len(no_meta)} matrix samples lack metadata "
            f"{_examples(no_meta)}; {len(no_matrix)} {source} rows are not in the matrix "
            f"{_examples(no_matrix)}. Check {id_column} against the kmtricks.fof ids."
            + _near_matches(no_meta, no_matrix, source)
        )
    return frame.set_index(id_column).loc[list(sample_ids)].reset_index()


# what fof ids made from read file names carry: MUSET's generate_fof keeps the name up to its
# first dot, so paired files give ids ERR1_1 and ERR1_2; other recipes keep the whole name
_READ_SUFFIX = re.compile(
    r"(\.(fastq|fq|fasta|fa|fna)(\.(gz|bz2|xz|zst))?|[._](R?[12]))+$", re.IGNORECASE
)


def _near_matches(no_meta: Sequence[str], no_matrix: Sequence[str], source: str) -> str:
    """A hint when unmatched ids differ only in case or by a read-file suffix.

    Such ids are never matched loosely: 'ERR1_1' and 'ERR1_2' are two fof samples (the two
    mates of a pair, as MUSET's generate_fof names them), and matching both to the metadata's
    'ERR1' would put one sample's labels on two rows, on both sides of a split.
    """

    def loose(sample_id: str) -> str:
        return _READ_SUFFIX.sub("", sample_id).casefold()

    metadata = {}
    for sample_id in no_matrix:
        metadata.setdefault(loose(sample_id), sample_id)
    pairs = [(s, metadata[loose(s)]) for s in no_meta if loose(s) in metadata]
    if not pairs:
        return ""
    matrix_id, meta_id = pairs[0]
    return (
        f" {len(pairs)} of the matrix samples differ from a {source} id only in case or by a "
        f"read-file suffix (e.g. fof {matrix_id!r}, metadata {meta_id!r}): ids are matched "
        "exactly, so write them one way in both files (the fof's first column is the id; one "
        "fof line lists all the read files of a sample: `ERR1 : ERR1_1.fq.gz ; ERR1_2.fq.gz`)."
    )


def encode_labels(
    frame,
    task_columns: Sequence[str],
    group_column: str | None = None,
    classes: dict[str, list[str]] | None = None,
    source: str = "metadata",
) -> Labels:
    """Integer-encode task columns; classes are sorted from the data unless given.

    Missing labels become -1 and are kept (ignored by losses and metrics). With `classes`
    given (prediction data), labels outside them raise DataError; without, a task needs at
    least two classes (`source`, the file, is named in the error).
    """
    tasks: dict[str, list[str]] = {}
    y = np.full((len(frame), len(task_columns)), MISSING, dtype=np.int64)
    for j, task in enumerate(task_columns):
        column = frame[task]
        present = column.notna().to_numpy()
        names = sorted(set(column[present])) if classes is None else list(classes[task])
        if classes is None and len(names) < 2:
            raise _too_few_classes(source, task, names, len(frame))
        if classes is None:
            _check_spellings(source, task, names)
        index = {name: i for i, name in enumerate(names)}
        unknown = sorted(set(column[present]) - index.keys())
        if unknown:
            raise DataError(
                f"Task {task!r}: labels {_examples(unknown)} are not among the model's classes "
                f"{names}. Predict without labels or retrain with these classes."
            )
        y[present, j] = [index[v] for v in column[present]]
        tasks[task] = names
    groups = None
    if group_column:
        # a sample without a group is its own group, so it never joins another's side;
        # pandas hands blank cells back as NaN, not None, so test with isna
        column = frame[group_column]
        groups = column.to_numpy(dtype=object).copy()
        for i in np.flatnonzero(column.isna().to_numpy()):
            groups[i] = f"__nogroup_{i}"
    return Labels(tasks=tasks, y=y, groups=groups)


def _is_insdc_missing(value: str) -> bool:
    term = " ".join(value.split()).casefold()
    return term in INSDC_MISSING or term.startswith(("missing:", "not applicable:"))


def _too_few_classes(source: str, task: str, names: list[str], n_rows: int) -> DataError:
    # a task without labels has an empty head (argmax fails mid-training); a task with one
    # class scores 1.0 whatever the model does and lifts the mean over tasks
    found = (
        f"has no label (all {n_rows} rows are blank or NA)"
        if not names
        else f"has one class {names} in all its labelled rows"
    )
    return DataError(
        f"{source}: task {task!r} {found}; there is nothing to learn. Drop it from data.tasks "
        "or fill in its labels."
    )


def _check_spellings(source: str, task: str, names: list[str]) -> None:
    """Refuse labels that differ only in case or spacing: they would be separate classes."""
    spellings: dict[str, list[str]] = {}
    for name in names:
        spellings.setdefault(" ".join(name.split()).casefold(), []).append(name)
    clashes = [group for group in spellings.values() if len(group) > 1]
    if clashes:
        shown = "; ".join(str(group) for group in clashes[:_EXAMPLES])
        raise DataError(
            f"{source}: task {task!r} has labels that differ only in case or spacing: {shown}. "
            "Each would be a class of its own; write each class one way in the metadata."
        )


def _duplicates(ids: Sequence[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


def _examples(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:_EXAMPLES])
    more = f", ... ({len(ids) - _EXAMPLES} more)" if len(ids) > _EXAMPLES else ""
    return f"[{shown}{more}]"
