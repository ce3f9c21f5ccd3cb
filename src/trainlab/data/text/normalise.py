"""Normalised text for matching a sentence against its post, with offsets into the original.

Real exports differ between the posts file and the annotators' sentences in ways a reader does
not see: NFC vs NFD accents, curly vs straight quotes and apostrophes, dashes, "..." vs the
ellipsis character, non-breaking and zero-width spaces, HTML entities (`&amp;`, `&gt;` in Reddit
dumps) in one file but not the other. `canonical` folds all of these, so a match found in the
folded post can be mapped back to the characters of the post as it is.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

# Folded to their ASCII look-alike; NFKC leaves these distinct.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u0060\u00b4\u02bc", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    }
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _chunks(text: str) -> list[tuple[int, int]]:
    """[start, end) pieces folded as one: an HTML entity, or a character with the combining
    marks that follow it (so NFD "e" + U+0301 folds like NFC "é")."""
    out: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "&":
            entity = _ENTITY.match(text, i)
            if entity and html.unescape(entity.group()) != entity.group():
                out.append((i, entity.end()))
                i = entity.end()
                continue
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        out.append((i, j))
        i = j
    return out


def _fold(piece: str) -> str:
    piece = unicodedata.normalize("NFKC", html.unescape(piece)).translate(_FOLD).casefold()
    # zero-width spaces/joiners, soft hyphens, BOMs (category Cf) are invisible: dropped
    return "".join(" " if ch.isspace() else ch for ch in piece if unicodedata.category(ch) != "Cf")


@lru_cache(maxsize=256)
def canonical(text: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The folded text and, per folded character, the [start, end) of its source in `text`.

    Folding: HTML entities unescaped, NFKC, curly quotes/apostrophes and dashes to ASCII,
    casefolded, invisible format characters dropped, every run of white space one space.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for start, end in _chunks(text):
        for ch in _fold(text[start:end]):
            if ch == " " and chars and chars[-1] == " ":
                ends[-1] = end  # a run of white space is one space
                continue
            chars.append(ch)
            starts.append(start)
            ends.append(end)
    return "".join(chars), tuple(starts), tuple(ends)


_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def fold(text: str) -> str:
    """`text` folded as `canonical` folds it, without the offsets (fast: a key to compare
    whole posts by)."""
    text = unicodedata.normalize("NFKC", html.unescape(text)).translate(_FOLD).casefold()
    return " ".join(_INVISIBLE.sub("", text).split())


def visible(text: str) -> str:
    """`text` folded and stripped: empty when it holds only white space and invisible marks."""
    return canonical(text)[0].strip()


def canonical_criterion(name: str) -> str:
    """One spelling per criterion: `Depressed Mood`, `depressed-mood`, ` DEPRESSED_MOOD ` ->
    `DEPRESSED_MOOD` (runs of anything but letters and digits become one `_`, upper case)."""
    return re.sub(r"[\W_]+", "_", unicodedata.normalize("NFKC", name)).strip("_").upper()
