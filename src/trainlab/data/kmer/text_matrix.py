"""MUSET text unitig matrices (`unitigs.frac.mat`, `unitigs.abundance.mat`), parsed once.

MUSET writes one row per unitig (`<unitig_id> <v_1> ... <v_N>`, space-separated, values with two
decimals, no header) with one column per sample in the order of `kmtricks.fof`; the unitig id is
GGCAT's number for it, or its sequence with -s. Its `--output-format tsv` adds a header line,
and other tools write others (`_header_lines` says which are read). We transpose the matrix once
into a memory-mapped binary cache (`cache`) and reuse it. Every check made while parsing is
skipped when a cached entry is used, which is why the cache is keyed on this module's code
(`cache.reader_key`).
"""

import logging
import os
import re
from pathlib import Path

import numpy as np

from trainlab.data.kmer import cache
from trainlab.errors import DataError

log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 << 20
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
)
_DECOMPRESS = {
    "gzip": "gunzip -k",
    "bzip2": "bunzip2 -k",
    "xz": "unxz -k",
    "zstd": "unzstd",
    "zip": "unzip",
}


def check_plain_text(path: Path) -> None:
    """Refuse an empty or compressed text matrix before it is parsed (and cached)."""
    with path.open("rb") as handle:
        head = handle.read(6)
    if not head:
        raise DataError(
            f"{path} is empty. Point data.matrix_path at the unitigs.frac.mat MUSET wrote."
        )
    kind = next((name for magic, name in _COMPRESSED if head.startswith(magic)), None)
    if kind is not None:
        raise DataError(
            f"{path} is {kind}-compressed; the text matrix is read uncompressed (it is parsed "
            f"once into a cache). Decompress it (e.g. `{_DECOMPRESS[kind]} {path}`) and set "
            "data.matrix_path to the decompressed file."
        )


def load_unitig_matrix(
    path: str | Path, sample_ids: list[str], cache_dir: str | Path
) -> tuple[np.ndarray, list[str]]:
    """Samples x unitigs float32 memmap of a MUSET text matrix, parsed once then cached.

    `sample_ids` are the fof's, in column order; a header line is checked against them.
    """
    path = Path(path)
    n_samples = len(sample_ids)
    sep = _separator(path)
    # read on every load, not cached: whether line 1 is a header can depend on the fof's ids
    header_lines = _header_lines(path, sep, sample_ids)
    fp = cache.fingerprint(path)
    entry = cache.cache_entry(cache_dir, path, fp)
    cached, stale = cache.load_cached(entry, fp, header_lines, path)
    if cached is not None:
        values, feature_ids = cached
        if values.shape[0] != n_samples:
            raise _column_count_error(path, values.shape[0], n_samples)
        log.info("Using cached matrix %s (%d x %d)", entry, *values.shape)
        return values, feature_ids
    n_unitigs = fp.n_lines - header_lines
    if n_unitigs == 0:  # before: the header became the only unitig
        raise DataError(
            f"{path} holds a header line and no unitig row: MUSET kept no unitig (its filters, "
            "-f/-F/-n/-N, removed every k-mer?). Rerun MUSET with looser filters, or point "
            "data.matrix_path at a matrix with unitigs."
        )
    size = f"{fp.size / 1e6:.1f} MB, {n_unitigs} unitigs"
    if stale is None:
        log.info("Parsing %s (%s) into %s", path, size, entry)
    else:  # one line saying why the earlier parse is not used
        log.info(
            "Parsing %s (%s) again into %s: the cached parse is not used, %s",
            path,
            size,
            entry,
            stale,
        )
    shape = (n_samples, n_unitigs)
    values, tmp = cache.open_cache_values(entry, shape)
    try:
        feature_ids = _parse_into(path, values, fp, sep, header_lines)
        values.flush()
        del values
        cache.commit_cache(entry, tmp, fp, shape, feature_ids, header_lines, path)
    finally:
        if tmp.exists():
            os.unlink(tmp)
    return np.load(entry / "values.npy", mmap_mode="r"), feature_ids


def _parse_into(
    path: Path, out: np.ndarray, fp: cache.Fingerprint, sep: str, header_lines: int
) -> list[str]:
    """Parse unitig rows in chunks with the pandas C parser and write them transposed."""
    import pandas as pd

    n_samples, n_unitigs = out.shape
    chunk_rows = max(1, int(_CHUNK_BYTES / max(1, fp.size / max(1, n_unitigs))))
    feature_ids: list[str] = []
    start = 0
    first = 1 + header_lines  # file line of the first unitig row
    # MUSET's fractions lie in [0, 1]; its abundances are means of k-mer counts, >= 0
    high = 1.0 if ".frac." in path.name else np.inf
    try:  # pandas' EmptyDataError and ParserError are ValueErrors too
        reader = pd.read_csv(
            path,
            sep=sep,
            header=None,
            skiprows=header_lines,
            index_col=0,
            dtype={0: str},
            chunksize=chunk_rows,
            engine="c",
            compression=None,  # never guessed from the suffix: compressed files are refused
            skip_blank_lines=False,
        )
        for chunk in reader:
            try:
                block = chunk.to_numpy(dtype=np.float32)
            except ValueError:  # before: "cannot parse ... could not convert 'x'", no line
                row = next(i for i, r in enumerate(chunk.itertuples()) if not _numbers(r[1:]))
                cells = [str(c) for c in chunk.iloc[row]]
                line = start + row + first
                raise _not_numbers_error(path, line, chunk.index[row], cells) from None
            if block.shape[1] == n_samples + 1 and np.isnan(block[:, -1]).all():
                block = block[:, :-1]  # trailing space at line ends
            if block.shape[1] != n_samples:
                raise _column_count_error(path, block.shape[1], n_samples)
            # an empty first cell: pandas makes the id NaN, which became a feature named 'nan'
            bad = ~np.isfinite(block).all(axis=1) | chunk.index.isna()
            if bad.any():
                row = int(np.argmax(bad))
                line, unitig = start + row + first, chunk.index[row]
                raise _bad_value_error(path, line, block[row], n_samples, unitig)
            _check_range(path, block, start + first, high)
            out[:, start : start + len(block)] = block.T
            feature_ids.extend(chunk.index.astype(str))
            start += len(block)
            log.info("  parsed %d / %d unitigs (%.0f%%)", start, n_unitigs, 100 * start / n_unitigs)
    except ValueError as exc:
        raise DataError(
            f"{path}: cannot parse as a MUSET unitig matrix ({exc}). Expected space-separated "
            "'<unitig_id> <v_1> ... <v_N>' lines with numeric values (and no header, or one "
            "naming the fof's ids in order)."
        ) from exc
    if start != n_unitigs:
        raise DataError(
            f"{path}: read {start} unitig rows but the file has {n_unitigs} lines after the "
            f"{header_lines} header line(s)."
        )
    _check_unique_ids(path, feature_ids, first)
    return feature_ids


def _check_unique_ids(path: Path, feature_ids: list[str], first_line: int) -> None:
    """Refuse a unitig id on two rows: MUSET writes each unitig once.

    Its ids are GGCAT's unitig numbers, or with -s the sequences themselves, unique in one run.
    A repeat means rows of two matrices were joined (`cat run1.mat run2.mat`): both runs number
    their unitigs from 0, so the same id names two different unitigs, and their columns may be
    other samples. Runs once per parse, not on cache hits: a set of 10 million ids took 3 s on
    a loaded 2-core machine (pandas' Index.duplicated, 8.8 s), next to minutes of parsing.
    """
    if len(set(feature_ids)) == len(feature_ids):
        return
    import pandas as pd

    ids = pd.Index(feature_ids)
    repeated = ids.duplicated()
    example = ids[int(np.argmax(repeated))]
    lines = [first_line + int(i) for i in np.flatnonzero(ids == example)[:2]]
    n_ids = ids[repeated].nunique()
    raise DataError(
        f"{path}: {n_ids} unitig ids are on more than one row ({int(repeated.sum())} repeated "
        f"rows), e.g. {example!r} on lines {lines[0]} and {lines[1]}. MUSET writes each unitig "
        "once; repeated ids mean rows of two matrices were joined (two runs number their "
        "unitigs alike, and their columns may be other samples). Use the matrix of one MUSET "
        "run over all the samples."
    )


def _separator(path: Path) -> str:
    """Single spaces as MUSET writes them, or tabs; refuse runs of spaces and mixtures.

    A run of spaces is not squeezed: in a space-separated file it is also how an empty
    cell looks, and reading it either way could shift values into other samples' columns.
    Commas are read too: muset_pa's `kmat_tools convert` writes a CSV (with a header line).
    """
    with path.open("rb") as handle:
        line = handle.readline().rstrip()
        second = handle.readline().rstrip()
    if not line:  # before: pandas' EmptyDataError traceback
        raise _blank_line_error(path, 1)
    if b"\r" in line:  # CRLF ends were stripped: a CR inside is a line end of its own
        raise DataError(
            f"{path}: lines end in a carriage return alone (an old Mac export); the line count "
            f"and the parser disagree on such files. Convert the line ends (`tr '\\r' '\\n' "
            f"< {path.name} > {path.stem}.unix{path.suffix}`) and point data.matrix_path at it."
        )
    if b"\t" in line and b" " not in line:
        return "\t"
    if b"\t" in line and b"\t" in second and b" " not in second:
        return "\t"  # a header naming samples whose ids hold spaces ('S 1'), tab-separated rows
    if b"," in line and b" " not in line and b"\t" not in line:
        return ","
    if b"\t" in line or b"  " in line:
        what = "mixes tabs and spaces" if b"\t" in line else "has two spaces in a row"
        raise DataError(
            f"{path}:1: the line {what}; MUSET separates values by single spaces (tabs are "
            "read too, one per value). Squeeze padded columns (`tr -s ' '`) or fill the empty "
            "cell, then point data.matrix_path at the fixed file."
        )
    return " "


# First cells of header lines other tools write (case ignored): MUSET's compressed TSV output
# (`--output-format tsv`) writes `unitig_id`, kmat_tools convert (muset_pa) `Unitigs_id`.
HEADER_CORNERS = ("unitig_id", "unitigs_id", "unitig", "unitigs", "id", "kmer", "k-mer", "feature")
# what pandas reads as a missing value: a data row holding one is not a header
_MISSING_CELLS = {"", "na", "nan", "n/a", "null", "none", "<na>", "#n/a", "-nan"}


def _header_lines(path: Path, sep: str, sample_ids: list[str]) -> int:
    """1 when line 1 names the samples (a header), 0 when it is a unitig row.

    MUSET's text matrices (`unitigs.{abundance,frac}.mat`) have no header; its compressed TSV
    output has one, `unitig_id<TAB>sample_0<TAB>...<TAB>sample_<N-1><TAB>` (placeholders in fof
    order, a trailing tab), and other tools write one of sample names, R without the first
    cell. A header of numeric names (`unitig_id 1 2 3`, the ids `awk '{print ++count" : "$1}'`
    gives, as MUSET's README builds its fof) parses as numbers: before, it became a unitig row
    of garbage. A header is read when it names the fof's ids in the fof's order, or holds only
    placeholders (`sample_<i>`, column numbers) that carry no order; one naming other samples
    or the same in another order is refused, since its columns cannot be matched to the fof.
    """
    with path.open("rb") as handle:
        raw, second = handle.readline(), handle.readline()
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n")
    if text.startswith("#"):
        return _comment_header_lines(path, sep, sample_ids, text, second)
    return _first_line_header(path, sep, sample_ids, text, second)


def _first_line_header(
    path: Path, sep: str, sample_ids: list[str], text: str, second: bytes
) -> int:
    """`_header_lines` of line 1's text (`second`: line 2, whose first cell it may need)."""
    cells = text.split(sep)
    while len(cells) > 1 and not cells[-1].strip():
        cells.pop()  # a trailing separator, as MUSET's TSV header ends
    corner, names = cells[0], cells[1:]
    n = len(sample_ids)
    # R's write.table leaves out the corner. With numeric ids, a unitig row can spell them too
    # (GGCAT id 7 with integer counts '1 2' against fof ids 1, 2): a corner that looks like a
    # MUSET unitig id (digits, or the sequence with -s) makes the line data
    numeric_ids = all(_is_value(i) for i in sample_ids)
    unitig_like = re.fullmatch(r"\d+|[ACGTNacgtn]+", corner) is not None
    if cells == sample_ids or (names == sample_ids and not (numeric_ids and unitig_like)):
        log.info("%s: line 1 is a header naming the fof's %d samples in order: skipped", path, n)
        return 1
    if any(";" in cell for cell in names):
        raise DataError(
            f"{path}:1: cells such as {next(c for c in names if ';' in c)!r} hold two numbers: "
            "this is the combined 'abundance;fraction' unitigs.mat of MUSET before 0.5. Use "
            "unitigs.frac.mat (or unitigs.abundance.mat) of a current MUSET, or keep one number "
            "per cell."
        )
    placeholders = (
        [f"sample_{i}" for i in range(len(names))],
        [str(i) for i in range(len(names))],
        [str(i) for i in range(1, len(names) + 1)],
    )
    numeric = [_is_value(cell) for cell in names]
    if names in placeholders and (not all(numeric) or _is_header_corner(corner)):
        if len(names) != n:
            raise _column_count_error(path, len(names), n)
        log.info(
            "%s: line 1 is a header of placeholder names (%s ... %s), columns in fof order: "
            "skipped",
            path,
            names[0],
            names[-1],
        )
        return 1
    next_corner = second.decode("utf-8", errors="replace").split(sep)[0].strip()
    if all(numeric) and _word_before_unitig_rows(corner, next_corner):
        raise _numeric_header_error(path, corner, names, sample_ids)
    if any(numeric) and not (all(numeric) and _is_header_corner(corner)):
        return 0  # a unitig row (a bad cell in it is named by the parser, with its line)
    if not _is_header_corner(corner) and not set(cells) & set(sample_ids):
        raise _not_numbers_error(path, 1, corner, names)
    if not names or (all(numeric) and corner == ""):
        return 0  # a row without its id: the parser names it
    if sorted(names) == sorted(sample_ids):
        column = next(i for i, (a, b) in enumerate(zip(names, sample_ids, strict=True)) if a != b)
        raise DataError(
            f"{path}:1: the header names the fof's samples in another order (column "
            f"{column + 1} is {names[column]!r}, the fof's sample {column + 1} is "
            f"{sample_ids[column]!r}), so the columns do not follow this fof. Use the fof of "
            "the run that wrote the matrix (data.fof_path=...)."
        )
    unknown = [name for name in names if name not in set(sample_ids)]
    raise DataError(
        f"{path}:1: a header line naming {len(names)} samples, {len(unknown)} of them not in "
        f"the fof (e.g. {unknown[0]!r}; the fof's first ids are {sample_ids[:3]}): which "
        "column holds which sample cannot be checked. Write the header with the fof's ids in "
        "the fof's order, or delete it (`sed -i 1d`) if the columns follow the fof, or use the "
        "fof of the run that wrote the matrix (data.fof_path=...)."
    )


def _comment_header_lines(
    path: Path, sep: str, sample_ids: list[str], text: str, second: bytes
) -> int:
    """A first line starting with `#`: a header behind a comment sign (`#unitig_id A B C`,
    `# A B C`) is judged as one; any other comment is refused with its text.

    Before, `# unitig_id A B C` and free text (`# MUSET v0.6`) stopped with "a header line
    naming N samples, N of them not in the fof", which blamed the fof for a comment line.
    """
    rest = text[1:].lstrip(" ")
    cells = rest.split(sep)
    known = set(sample_ids) | {f"sample_{i}" for i in range(len(sample_ids))}
    names_samples = set(cells[1:]) & known or set(cells) & set(sample_ids)
    if names_samples and _first_line_header(path, sep, sample_ids, rest, second):
        return 1
    raise DataError(
        f"{path}:1: a comment line ({text[:60]!r}). A MUSET matrix has no comment lines, and "
        "a header line is read only when it names the fof's samples in order, e.g. "
        f"'unitig_id {' '.join(sample_ids[:2])} ...'. Delete the line (`sed -i 1d {path}`) "
        "and point data.matrix_path at the file again."
    )


def _word_before_unitig_rows(corner: str, next_corner: str) -> bool:
    """Line 1 starts with a word that is no unitig id, line 2 with a MUSET unitig id.

    MUSET starts every row with GGCAT's unitig number, or its sequence with -s; a first line
    `sample 5 9 12` above such rows is a header of numeric names, not a unitig 'sample'.
    """
    if _is_header_corner(corner) or corner.strip().casefold() in _MISSING_CELLS:
        return False
    return not _UNITIG_ID.fullmatch(corner) and bool(_UNITIG_ID.fullmatch(next_corner))


_UNITIG_ID = re.compile(r"\d+|[ACGTNacgtn]+")


def _numeric_header_error(
    path: Path, corner: str, names: list[str], sample_ids: list[str]
) -> DataError:
    # before: read as a unitig named `corner` (or, in a fraction matrix, refused for its
    # values above 1, which blamed the numbers instead of the line)
    shown = " ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    return DataError(
        f"{path}:1: the line starts with {corner!r}, which is not a unitig id (MUSET starts "
        f"every row with the unitig's number, or its sequence with -s, as line 2 does), then "
        f"{len(names)} numbers ({shown}): a header naming samples by number, but not the "
        f"fof's ids in order (the fof's first ids are {sample_ids[:3]}). If the columns follow "
        f"the fof, delete the line (`sed -i 1d {path}`) or write the fof's ids in it; "
        "otherwise use the fof of the run that wrote the matrix (data.fof_path=...)."
    )


def _not_numbers_error(path: Path, line: int, unitig: str, cells: list[str]) -> DataError:
    column = next(i for i, cell in enumerate(cells) if not _is_value(cell))
    return DataError(
        f"{path}:{line}: unitig {unitig!r} holds {cells[column]!r} in sample column "
        f"{column + 1}, which is not a number (MUSET writes a number in every cell after the "
        "unitig id; a header line would name the fof's samples). Fix or drop the row, or "
        "regenerate the matrix."
    )


def _is_value(cell: str) -> bool:
    """A number, or a missing value as pandas reads it: what a data row holds."""
    try:
        float(cell)
    except ValueError:
        return cell.strip().casefold() in _MISSING_CELLS
    return True


def _numbers(cells: tuple) -> bool:
    return all(not isinstance(c, str) or _is_value(c) for c in cells)


def _is_header_corner(cell: str) -> bool:
    return cell == "" or cell.startswith("#") or cell.strip().casefold() in HEADER_CORNERS


def _check_range(path: Path, block: np.ndarray, first_line: int, high: float) -> None:
    """Refuse a value MUSET cannot write: below 0, or above 1 in a fraction matrix."""
    outside = (block < 0) | (block > high)
    if not outside.any():
        return
    row, column = (int(i) for i in np.argwhere(outside)[0])
    value = block[row, column]
    if value < 0:
        why = "a MUSET matrix holds no negative values. Use the matrix MUSET wrote"
    else:
        why = (
            f"a fraction matrix ({path.name}) holds values in [0, 1]. Use the fractions MUSET "
            "wrote (--out-frac), or if these are abundances, name the file unitigs.abundance.mat"
        )
    raise DataError(
        f"{path}:{first_line + row}: {value:g} in sample column {column + 1}, but {why}."
    )


def _bad_value_error(
    path: Path, line: int, values: np.ndarray, n_samples: int, unitig: object
) -> DataError:
    """NaN, inf, a missing cell, a short row or a blank line, named as what it is."""
    fix = (
        f"Every row must be '<unitig_id>' followed by {n_samples} finite numbers separated by "
        "single spaces: fix or drop the row, or regenerate the matrix."
    )
    finite = np.isfinite(values)
    if not isinstance(unitig, str) and np.isnan(values).all():  # pandas: no id, no values
        return _blank_line_error(path, line)
    if not isinstance(unitig, str):
        return DataError(
            f"{path}:{line}: the row has no unitig id (the line starts with a separator). "
            "MUSET starts every row with the unitig's id or sequence; if this line names the "
            "samples (a header written with an empty first cell), its names must be the fof's ids."
        )
    column = int(np.argmax(~finite))
    if np.isnan(values[column:]).all():
        return DataError(
            f"{path}:{line}: unitig {unitig!r} holds {column} values, {n_samples} needed (or "
            f"its last {n_samples - column} are NaN/NA). {fix}"
        )
    what = (
        "an infinite value (inf)"
        if np.isinf(values[column])
        else "a NaN or missing value (the cell is 'nan'/'NA' or empty)"
    )
    return DataError(
        f"{path}:{line}: {what} in sample column {column + 1} of this unitig row. {fix}"
    )


def _blank_line_error(path: Path, line: int) -> DataError:
    return DataError(
        f"{path}:{line}: the line is blank. A MUSET matrix has one unitig per line and no "
        f"blank lines: delete it (e.g. `sed -i '/^[[:space:]]*$/d' {path}`)."
    )


def _column_count_error(path: Path, got: int, expected: int) -> DataError:
    return DataError(
        f"{path} has {got} sample columns but the fof lists {expected} samples. "
        "Use the kmtricks.fof of the run that produced this matrix (data.fof_path=...)."
    )
