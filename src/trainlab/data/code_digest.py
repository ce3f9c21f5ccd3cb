"""A digest of Python source that ignores comments: the key of caches and check records.

Shared by the k-mer parse cache (`data/kmer/cache.py`) and the spectra table-check records
(`data/spectra/table_checks.py`): a record made by other checking or parsing code is not used.
"""

from __future__ import annotations

import hashlib
import io
import tokenize


def code_digest(source: bytes) -> str:
    """SHA-256 of Python source without its comments and blank lines.

    Comments and layout cannot change what the code does, so editing them does not make every
    user's cached matrices be parsed again; any other edit does (docstrings and messages too:
    deciding which edits are harmless is what a hand-bumped version got wrong).
    """
    digest = hashlib.sha256()
    try:
        tokens = tokenize.tokenize(io.BytesIO(source).readline)
        for token in tokens:
            if token.type not in (tokenize.COMMENT, tokenize.NL):
                digest.update(f"{token.type}:{token.string}\x00".encode())
    except (tokenize.TokenError, SyntaxError):  # not Python source (a .pyc-only install)
        return hashlib.sha256(source).hexdigest()
    return digest.hexdigest()
