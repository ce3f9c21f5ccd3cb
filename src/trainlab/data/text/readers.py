"""Readers of the posts and sentence-annotation CSV files (the layout of the public data set).

posts.csv:        post_id, text
annotations.csv:  post_id, sentence_id, sentence_text, DSM5_symptom, status, explanation
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from trainlab.data.text.normalise import canonical_criterion, visible
from trainlab.data.utf8 import check_utf8, nul_error
from trainlab.errors import DataError

POST_COLUMNS = ("post_id", "text")
ANNOTATION_COLUMNS = (
    "post_id",
    "sentence_id",
    "sentence_text",
    "DSM5_symptom",
    "status",
    "explanation",
)
# `explanation` is free text that many exports leave out; everything else is required.
OPTIONAL_ANNOTATION_COLUMNS = ("explanation",)

log = logging.getLogger(__name__)

POSITIVE_STATUS = frozenset({"1", "1.0", "true", "t", "yes", "y", "positive", "pos", "present"})
NEGATIVE_STATUS = frozenset({"0", "0.0", "false", "f", "no", "n", "negative", "neg", "absent"})


@dataclass(frozen=True)
class Annotation:
    """One annotated sentence of a post: does it express `criterion` (status 1) or not (0)."""

    post_id: str
    sentence_id: str
    sentence_text: str
    criterion: str
    status: int
    explanation: str = ""


def normalise_status(value: object, *, where: str = "status") -> int:
    """Map a status cell to 0/1 (positive/present/true/yes/1 -> 1; negative/absent/... -> 0).

    Raises:
        DataError: the value is none of the known spellings; `where` names the file and row.
    """
    text = str(value).strip().lower()
    if text in POSITIVE_STATUS:
        return 1
    if text in NEGATIVE_STATUS:
        return 0
    try:  # `1.00`, `0e0`: a spreadsheet's way of writing 1 and 0
        number = float(text)
    except ValueError:
        number = None
    if number in (0.0, 1.0):
        return int(number)
    raise DataError(
        f"{where}: status value {value!r} is not understood. Use one of "
        f"{sorted(POSITIVE_STATUS)} for 1 or {sorted(NEGATIVE_STATUS)} for 0."
    )


def _parse_rows(path: Path):
    """The CSV as strings, its first line the header; a row longer than the header stops.

    pandas' own header handling reads a file whose first data row has one field more than
    the header (an unquoted comma in a post, trailing commas) with the first column as the
    index: every column shifts by one, post ids become text, without a word. Read headerless,
    a longer row is an error instead; empty extra fields (trailing commas) are dropped.
    """
    import pandas as pd

    options = {"dtype": str, "keep_default_na": False, "header": None}
    try:
        frame = pd.read_csv(path, **options)
    except pd.errors.ParserError as err:
        where = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if where is None:
            raise
        width = int(where.group(1))
        longer: list[list[str]] = []

        def trim(fields: list[str]) -> list[str] | None:
            if any(f.strip() for f in fields[width:]):
                longer.append(fields)
                return None
            return fields[:width]

        frame = pd.read_csv(path, engine="python", on_bad_lines=trim, **options)
        if longer:
            raise DataError(
                f"{path}: {len(longer)} row(s) have more fields than the header's {width}, the "
                f"first at line {where.group(2)}: {[f[:60] for f in longer[0]]}. A text with a "
                'comma must be quoted ("..."); re-export the file as CSV with quoting.'
            ) from None
    if frame.empty:
        return pd.DataFrame()
    header = [str(c) for c in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame


def _refuse_utf16(path: Path) -> None:
    """UTF-16 (Excel's "Unicode Text", Notepad's "Unicode"): named as such, with its fix.

    Before, a BOM-marked file was called "not UTF-8" with a cp1252 fix that garbles it, and
    one without a BOM was "missing columns" with a NUL byte after every letter of the header.
    """
    with path.open("rb") as handle:
        head = handle.read(16)
    # ASCII letters of UTF-16 without a mark (the header's): NUL after (LE) or before each
    # one. A lone NUL in a UTF-8 file is not that: it was called UTF-16, with a fix that garbles
    odd, even = head[1::2], head[0::2]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # the byte-order mark tells iconv the order
    elif len(head) >= 4 and not odd.strip(b"\x00") and even.strip(b"\x00"):
        encoding = "utf-16le"
    elif len(head) >= 4 and not even.strip(b"\x00") and odd.strip(b"\x00"):
        encoding = "utf-16be"
    else:
        return
    raise DataError(
        f"{path} is UTF-16 text (a byte-order mark or NUL bytes at its start), as Excel's "
        f"'Unicode Text' saves it; trainlab reads UTF-8 CSV. Convert it, e.g. `iconv -f "
        f"{encoding} -t utf-8 {path} > {path.stem}.utf8{path.suffix}` (Excel: save as 'CSV "
        "UTF-8 (comma delimited)')."
    )


def _refuse_nul(path: Path) -> None:
    """Refuse a NUL byte, naming its line (read in chunks: posts files can be large). pandas
    kept it inside the field (``'p\\x001'`` is not the post ``p1``), or, near the start, the
    file was called UTF-16."""
    offset, lines = 0, 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            found = chunk.find(b"\x00")
            if found >= 0:
                raise nul_error(path, offset + found, lines + chunk.count(b"\n", 0, found) + 1)
            offset, lines = offset + len(chunk), lines + chunk.count(b"\n")


def _read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. Point the data config at an existing CSV file.")
    _refuse_utf16(path)
    _refuse_nul(path)
    try:
        frame = _parse_rows(path)
    except UnicodeDecodeError as err:
        check_utf8(path)  # raises with the file's real byte offset and line
        raise DataError(f"{path}: cannot be parsed as CSV ({err}).") from err
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot be parsed as CSV ({err}).") from err
    # Headers are matched case-insensitively so `Post_ID` or ` text ` still work.
    keys = [str(col).strip().lower() for col in frame.columns]
    twice = sorted({k for k in keys if k and keys.count(k) > 1})
    if twice:
        raise DataError(
            f"{path}: the header names {twice} more than once ({list(frame.columns)}); which "
            "column holds the data is ambiguous. Keep one column of each name."
        )
    by_key = {key: col for key, col in zip(keys, frame.columns, strict=True)}
    missing = [c for c in required if c.lower() not in by_key and c not in optional]
    if missing:
        needed = [c for c in required if c not in optional]
        also = [c for c in required if c in optional]
        hint = ""
        if len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ";\t|"):
            sep = next(sep for sep in ";\t|" if sep in str(frame.columns[0]))
            hint = (
                f" The header looks separated by {sep!r}, not commas: save the file as "
                "comma-separated CSV."
            )
        raise DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. "
            f"The file needs the columns {needed}"
            + (f" (and may have {also})" if also else "")
            + f".{hint}"
        )
    rename = {by_key[c.lower()]: c for c in required if c.lower() in by_key}
    frame = frame.rename(columns=rename)
    for col in optional:
        if col not in frame.columns:
            frame[col] = ""
    return frame


def read_posts(path: str | Path) -> dict[str, str]:
    """Read posts.csv into {post_id: text}, preserving file order.

    Raises:
        DataError: missing file or columns, empty or duplicated post ids.
    """
    frame = _read_csv(Path(path), POST_COLUMNS)
    posts: dict[str, str] = {}
    for row, (post_id, text) in enumerate(zip(frame["post_id"], frame["text"], strict=True)):
        post_id = post_id.strip()
        line = row + 2  # header is line 1
        if not post_id:
            raise DataError(f"{path}, line {line}: empty post_id. Every post needs an id.")
        if post_id in posts:
            raise DataError(
                f"{path}, line {line}: duplicate post_id {post_id!r}. Post ids must be unique; "
                "merge or rename the duplicated posts."
            )
        posts[post_id] = text
    if not posts:
        raise DataError(f"{path}: no posts. The file has a header but no rows.")
    return posts


def _numeric_id(post_id: str) -> str | None:
    """`007`, `7`, `7.0` -> `7`: the id a spreadsheet or pandas leaves of a numeric id."""
    found = re.fullmatch(r"0*(\d+?)(?:\.0*)?", post_id)
    return found.group(1) if found else None


def _unknown_posts_error(path: Path, unknown: list[str], posts: dict[str, str]) -> DataError:
    numeric = {_numeric_id(p): p for p in posts if _numeric_id(p) is not None}
    near = [(u, numeric[_numeric_id(u)]) for u in unknown if _numeric_id(u) in numeric]
    hint = ""
    if near:
        pairs = ", ".join(f"{a!r} ~ {b!r}" for a, b in near[:3])
        hint = (
            f" {len(near)} of them match a post id once leading zeros or a trailing '.0' are "
            f"ignored ({pairs}, annotations ~ posts): one file was saved by a program that read "
            "the ids as numbers (Excel, or pandas without dtype=str). Re-export it with the ids "
            "as text, exactly as in the other file."
        )
    return DataError(
        f"{path}: {len(unknown)} post_id(s) are not in the posts file, e.g. {unknown[:5]}. "
        f"Use the posts CSV that belongs to these annotations.{hint}"
    )


def read_annotations(path: str | Path, posts: dict[str, str] | None = None) -> list[Annotation]:
    """Read annotations.csv; statuses are normalised to 0/1 and symptom names to one spelling.

    `DSM5_symptom` spellings that differ only in case, spaces, hyphens or underscores
    (`Depressed Mood`, `depressed_mood`) are one criterion (`DEPRESSED_MOOD`), with a warning
    that lists them. A row repeated exactly (same post, sentence and symptom, same status) is
    read once, with a warning.

    Args:
        path: the annotations CSV.
        posts: when given, every annotation's post_id must be one of its keys.

    Raises:
        DataError: missing file/columns, unknown status values, unknown post ids, or one
            (post, sentence, symptom) annotated with both statuses.
    """
    frame = _read_csv(Path(path), ANNOTATION_COLUMNS, OPTIONAL_ANNOTATION_COLUMNS)
    rows: list[Annotation] = []
    spellings: dict[str, dict[str, int]] = {}
    seen: dict[tuple[str, str, str, str], tuple[int, int]] = {}  # -> (line, status)
    repeats: list[int] = []
    conflicts: list[str] = []
    for i, rec in enumerate(frame.to_dict("records")):
        line = i + 2
        where = f"{path}, line {line}"
        post_id = rec["post_id"].strip()
        criterion = canonical_criterion(rec["DSM5_symptom"])
        if not post_id or not visible(rec["sentence_text"]) or not criterion:
            raise DataError(
                f"{where}: post_id, sentence_text and DSM5_symptom must not be empty "
                f"(got {post_id!r}, {rec['sentence_text']!r}, {rec['DSM5_symptom']!r})."
            )
        raw = rec["DSM5_symptom"].strip()
        spellings.setdefault(criterion, {})
        spellings[criterion][raw] = spellings[criterion].get(raw, 0) + 1
        status = normalise_status(rec["status"], where=where)
        sentence_id = rec["sentence_id"].strip()
        key = (post_id, sentence_id, " ".join(rec["sentence_text"].split()), criterion)
        if key in seen:
            first_line, first_status = seen[key]
            if first_status == status:
                repeats.append(line)
                continue
            conflicts.append(
                f"lines {first_line} and {line} (post {post_id!r}, sentence "
                f"{sentence_id or rec['sentence_text'][:40]!r}, {criterion}: status "
                f"{first_status} and {status})"
            )
            continue
        seen[key] = (line, status)
        rows.append(
            Annotation(
                post_id=post_id,
                sentence_id=sentence_id,
                sentence_text=rec["sentence_text"],
                criterion=criterion,
                status=status,
                explanation=rec["explanation"],
            )
        )
    if conflicts:
        raise DataError(
            f"{path}: {len(conflicts)} sentence(s) are annotated with both statuses for the same "
            f"symptom, e.g. {'; '.join(conflicts[:3])}. Keep one row per (post_id, sentence_id, "
            "DSM5_symptom) with the status you mean."
        )
    if repeats:
        log.warning(
            "%s: %d row(s) repeat an earlier row exactly (same post, sentence, symptom and "
            "status) and are read once, e.g. lines %s",
            path,
            len(repeats),
            repeats[:5],
        )
    merged = {c: names for c, names in spellings.items() if set(names) != {c}}
    if merged:
        log.warning(
            "%s: DSM5_symptom spellings read as one criterion: %s",
            path,
            "; ".join(
                f"{', '.join(f'{n!r} ({k} rows)' for n, k in names.items())} -> {c}"
                for c, names in sorted(merged.items())
            ),
        )
    if posts is not None:
        unknown = sorted({a.post_id for a in rows} - posts.keys())
        if unknown:
            raise _unknown_posts_error(Path(path), unknown, posts)
    return rows


def read_table(
    path: str | Path, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Rows of a CSV as dicts of strings; optional columns absent from the file read as "".

    Raises:
        DataError: missing file, unparseable CSV, or a required column is missing.
    """
    frame = _read_csv(Path(path), (*required, *optional), optional)
    return frame.to_dict("records")
