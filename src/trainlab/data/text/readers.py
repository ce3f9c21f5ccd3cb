"""Readers of the posts and sentence-annotation CSV files (the layout of the public data set).

posts.csv:        post_id, text
annotations.csv:  post_id, sentence_id, sentence_text, DSM5_symptom, status, explanation
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainlab.data.utf8 import check_utf8
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
    raise DataError(
        f"{where}: status value {value!r} is not understood. Use one of "
        f"{sorted(POSITIVE_STATUS)} for 1 or {sorted(NEGATIVE_STATUS)} for 0."
    )


def _read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. Point the data config at an existing CSV file.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as err:
        check_utf8(path)  # raises with the file's real byte offset and line
        raise DataError(f"{path}: cannot be parsed as CSV ({err}).") from err
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot be parsed as CSV ({err}).") from err
    # Headers are matched case-insensitively so `Post_ID` or ` text ` still work.
    by_key = {str(col).strip().lower(): col for col in frame.columns}
    missing = [c for c in required if c.lower() not in by_key and c not in optional]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. "
            f"The file needs the columns {list(required)}."
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


def read_annotations(path: str | Path, posts: dict[str, str] | None = None) -> list[Annotation]:
    """Read annotations.csv; statuses are normalised to 0/1.

    Args:
        path: the annotations CSV.
        posts: when given, every annotation's post_id must be one of its keys.

    Raises:
        DataError: missing file/columns, unknown status values, or unknown post ids.
    """
    frame = _read_csv(Path(path), ANNOTATION_COLUMNS, OPTIONAL_ANNOTATION_COLUMNS)
    rows: list[Annotation] = []
    for i, rec in enumerate(frame.to_dict("records")):
        where = f"{path}, line {i + 2}"
        post_id = rec["post_id"].strip()
        if not post_id or not rec["sentence_text"].strip() or not rec["DSM5_symptom"].strip():
            raise DataError(
                f"{where}: post_id, sentence_text and DSM5_symptom must not be empty "
                f"(got {post_id!r}, {rec['sentence_text']!r}, {rec['DSM5_symptom']!r})."
            )
        rows.append(
            Annotation(
                post_id=post_id,
                sentence_id=rec["sentence_id"].strip(),
                sentence_text=rec["sentence_text"],
                criterion=rec["DSM5_symptom"].strip(),
                status=normalise_status(rec["status"], where=where),
                explanation=rec["explanation"],
            )
        )
    if posts is not None:
        unknown = sorted({a.post_id for a in rows} - posts.keys())
        if unknown:
            raise DataError(
                f"{path}: {len(unknown)} post_id(s) are not in the posts file, e.g. {unknown[:5]}. "
                "Use the posts CSV that belongs to these annotations."
            )
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
