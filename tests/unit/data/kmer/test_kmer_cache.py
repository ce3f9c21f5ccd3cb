"""The parsed-matrix cache when its files are damaged."""

from pathlib import Path

import numpy as np

from trainlab.data.kmer.matrix import load_matrix


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
