"""The parsed-matrix cache: damaged entries, and entries an older reader wrote."""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from trainlab.data.kmer import cache
from trainlab.data.kmer.matrix import load_matrix
from trainlab.errors import DataError


def test_a_damaged_cached_values_file_is_parsed_again(tmp_path: Path) -> None:
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = tmp_path / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 0.3 0.4\n")
    first = np.asarray(load_matrix(matrix, cache_dir=tmp_path / "cache").values).copy()
    (entry,) = (tmp_path / "cache").iterdir()
    values = entry / "values.npy"
    values.write_bytes(values.read_bytes()[:-4])  # truncated (a partial copy, a full disk)
    # before: "ValueError: mmap length is greater than file size" traceback
    again = load_matrix(matrix, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(again.values), first)
    values.write_bytes(b"not an npy file")
    np.testing.assert_array_equal(
        np.asarray(load_matrix(matrix, cache_dir=tmp_path / "cache").values), first
    )


def _old_entry(matrix: Path, cache_dir: Path, values: np.ndarray, ids: list[str]) -> Path:
    """The entry trainlab wrote before the cache was keyed on the reader (cache format 1)."""
    fp = cache.fingerprint(matrix)
    entry = cache.cache_entry(cache_dir, matrix, fp)
    entry.mkdir(parents=True)
    np.save(entry / "values.npy", values.astype(np.float32))
    meta = {"version": 1, "size": fp.size, "sha256": fp.sha256, "shape": list(values.shape)}
    (entry / "meta.json").write_text(json.dumps({**meta, "feature_ids": ids}))
    return entry


def _why_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cached parse is not used" in r.getMessage()]


def test_an_entry_an_older_trainlab_wrote_is_parsed_again_by_the_current_checks(
    tmp_path: Path, caplog
) -> None:
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = tmp_path / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 -0.3 0.4\n")  # a negative fraction: refused since 7f2eda6
    # what the reader of cache format 1 stored for it: no range check, so it was accepted
    _old_entry(matrix, tmp_path / "cache", np.array([[0.1, -0.3], [0.2, 0.4]]), ["0", "1"])
    caplog.set_level(logging.INFO, logger="trainlab.data.kmer")
    # before: the cached -0.3 was used without a word, and trained on
    with pytest.raises(DataError, match=r"unitigs\.frac\.mat:2: -0\.3 in sample column 1"):
        load_matrix(matrix, cache_dir=tmp_path / "cache")
    (why,) = _why_lines(caplog)
    assert f"older trainlab (cache format 1, now {cache.CACHE_VERSION})" in why
    assert str(matrix) in why


def test_an_entry_of_other_reader_code_is_not_reused(tmp_path: Path, caplog) -> None:
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = tmp_path / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 0.3 0.4\n")
    load_matrix(matrix, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    meta = json.loads((entry / "meta.json").read_text())
    np.save(entry / "values.npy", np.zeros((2, 2), dtype=np.float32))  # not what the file holds
    (entry / "meta.json").write_text(json.dumps({**meta, "reader": "0123456789abcdef"}))
    caplog.set_level(logging.INFO, logger="trainlab.data.kmer")
    again = load_matrix(matrix, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(np.asarray(again.values), [[0.1, 0.3], [0.2, 0.4]])
    (why,) = _why_lines(caplog)
    assert f"other matrix-reader code (0123456789abcdef, now {cache.reader_key()})" in why
    caplog.clear()
    load_matrix(matrix, cache_dir=tmp_path / "cache")  # the new entry is used, silently
    assert not _why_lines(caplog)


def test_comments_do_not_change_the_reader_key_code_does() -> None:
    code = b"def f(x):\n    return x + 1\n"
    assert cache.code_digest(code) == cache.code_digest(b"# why\ndef f(x):  # note\n\n"
                                                        b"    return x + 1\n")  # fmt: skip
    assert cache.code_digest(code) != cache.code_digest(code.replace(b"+ 1", b"+ 2"))
    assert cache.code_digest(code) != cache.code_digest(code.replace(b"x + 1", b"max(x, 0)"))


def _trainlab_functions_run(action) -> set[tuple[str, str]]:
    """(file, function) of the trainlab functions that run during `action()`."""
    package = trainlab_root()
    seen: set[tuple[str, str]] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(package):
            seen.add((frame.f_code.co_filename, frame.f_code.co_qualname))

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return {(str(Path(f).relative_to(package)), name) for f, name in seen}


def test_the_code_a_cache_hit_skips_is_in_the_reader_key(tmp_path: Path) -> None:
    """A check added outside `READER_MODULES` would be skipped by cached entries of old parses:
    every trainlab file that runs when parsing but not when the cached parse is used must be one
    the reader key digests (or write files without deciding their content)."""
    import importlib.util

    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = tmp_path / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 0.3 0.4\n")
    parse = _trainlab_functions_run(lambda: load_matrix(matrix, cache_dir=tmp_path / "cache"))
    hit = _trainlab_functions_run(lambda: load_matrix(matrix, cache_dir=tmp_path / "cache"))
    keyed = {
        str(Path(importlib.util.find_spec(m).origin).relative_to(trainlab_root()))
        for m in cache.READER_MODULES
    }
    # io.py: the atomic writes of the entry, which decide nothing about its content
    only_when_parsing = {file for file, _ in parse - hit} - {"io.py"}
    assert ("data/kmer/text_matrix.py", "_check_range") in parse - hit
    assert only_when_parsing <= keyed, (
        f"{sorted(only_when_parsing - keyed)} run only when a matrix is parsed: add the "
        "module to cache.READER_MODULES so that editing it invalidates cached parses"
    )


def trainlab_root() -> str:
    import trainlab

    return str(Path(trainlab.__file__).parent)


def test_the_reader_key_of_an_install_without_source_files(monkeypatch) -> None:
    import importlib.util
    from types import SimpleNamespace

    from_files = cache.reader_key()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: SimpleNamespace(origin=None))
    cache.reader_key.cache_clear()
    try:
        # before: TypeError (Path(None)) on the first text matrix a frozen install read
        frozen = cache.reader_key()
    finally:
        cache.reader_key.cache_clear()
    assert len(frozen) == 16 and frozen != from_files


def _stat(path: Path) -> list[int]:
    found = path.stat()
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def test_a_cache_that_came_with_a_copied_folder_is_parsed_again(tmp_path: Path, caplog) -> None:
    # the cache sits beside the matrix by default and travels with the folder; its meta.json
    # needs only the matrix's SHA-256, so a values.npy shipped there replaced every value
    import shutil

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = shared / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 0.3 0.4\n")
    load_matrix(matrix)
    (entry,) = (shared / ".trainlab_cache").iterdir()
    np.save(entry / "values.npy", np.full((2, 2), 0.999, dtype=np.float32))
    meta = json.loads((entry / "meta.json").read_text())
    (entry / "meta.json").write_text(
        json.dumps({**meta, "values_stat": _stat(entry / "values.npy")})
    )
    mine = tmp_path / "mine"
    shutil.copytree(shared, mine, copy_function=shutil.copy2)  # cp -a: time stamps kept
    caplog.set_level(logging.INFO, logger="trainlab.data.kmer")
    copied = load_matrix(mine / "unitigs.frac.mat")
    np.testing.assert_allclose(np.asarray(copied.values), [[0.1, 0.3], [0.2, 0.4]])
    (why,) = _why_lines(caplog)
    assert "a cache that came with a copied folder is not trusted" in why


def test_a_values_file_replaced_after_the_parse_is_parsed_again(tmp_path: Path) -> None:
    (tmp_path / "kmtricks.fof").write_text("A : a\nB : b\n")
    matrix = tmp_path / "unitigs.frac.mat"
    matrix.write_text("0 0.1 0.2\n1 0.3 0.4\n")
    load_matrix(matrix, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    np.save(entry / "values.npy", np.full((2, 2), 0.999, dtype=np.float32))  # same shape
    again = load_matrix(matrix, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(np.asarray(again.values), [[0.1, 0.3], [0.2, 0.4]])
