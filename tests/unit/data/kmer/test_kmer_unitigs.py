"""A model records its MUSET run's unitigs (digest of unitigs.fa); prediction compares them.

GGCAT numbers every run's unitigs from 0, so another run's matrix with as many unitigs has the
model's ids for other sequences; it was predicted from with only a warning.
"""

from pathlib import Path

import numpy as np
import pytest

from trainlab.data.kmer.datamodule import KmerMatrixDataModule
from trainlab.errors import DataError

SAMPLES = [f"S{i}" for i in range(12)]
RNG = np.random.default_rng(0)
RUN_1 = ["".join(RNG.choice(list("ACGT"), 40)) for _ in range(8)]
RUN_2 = ["".join(RNG.choice(list("ACGT"), 40)) for _ in range(8)]


def muset_run(folder: Path, seqs: list[str], n_samples: int = 12, **fasta) -> Path:
    """unitigs.frac.mat (ids 0..N-1), kmtricks.fof and unitigs.fa, as MUSET writes them."""
    folder.mkdir()
    values = np.random.default_rng(1).random((len(seqs), n_samples)).round(3)
    rows = [f"{i} " + " ".join(map(str, v)) + "\n" for i, v in enumerate(values)]
    (folder / "unitigs.frac.mat").write_text("".join(rows))
    fof = "".join(f"{s} : /reads/{s}.fq.gz\n" for s in SAMPLES[:n_samples])
    (folder / "kmtricks.fof").write_text(fof)
    (folder / "unitigs.fa").write_bytes(fasta_text(seqs, **fasta).encode())
    return folder / "unitigs.frac.mat"


def fasta_text(seqs: list[str], annotation: str = "", eol: str = "\n", wrap: int = 0) -> str:
    def body(s: str) -> str:
        return eol.join(s[j : j + wrap] for j in range(0, len(s), wrap)) if wrap else s

    return "".join(f">{i}{annotation}{eol}{body(s)}{eol}" for i, s in enumerate(seqs))


@pytest.fixture()
def trained(tmp_path: Path) -> tuple[KmerMatrixDataModule, dict]:
    matrix = muset_run(tmp_path / "train", RUN_1)
    labels = "".join(f"{s}\t{'ab'[i % 2]}\n" for i, s in enumerate(SAMPLES))
    (tmp_path / "train" / "meta.tsv").write_text("Run_accession\tsample_type\n" + labels)
    dm = KmerMatrixDataModule(str(matrix), str(tmp_path / "train" / "meta.tsv"),
                              tasks=["sample_type"], test_fraction=0.0)  # fmt: skip
    return dm, dm.spec()


def test_another_muset_runs_matrix_is_refused_naming_both_unitig_files(
    trained, tmp_path: Path
) -> None:
    dm, spec = trained
    other = muset_run(tmp_path / "run2", RUN_2, n_samples=3)
    with pytest.raises(DataError) as err:
        dm.setup_predict(str(other), spec)
    message = str(err.value)
    assert "its unitigs are not the model's" in message
    assert str(tmp_path / "run2" / "unitigs.fa") in message
    assert str(tmp_path / "train" / "unitigs.fa") in message


def test_the_same_unitigs_written_otherwise_are_accepted(trained, tmp_path: Path, caplog) -> None:
    # GGCAT's header annotations (counts of other samples), CRLF and re-wrapped sequences
    dm, spec = trained
    same = muset_run(tmp_path / "new", RUN_1, 3, annotation=" LN:i:40 KC:i:77", eol="\r\n", wrap=15)
    with caplog.at_level("INFO"):
        dm.setup_predict(str(same), spec)
    assert tuple(dm._predict["x"].shape) == (3, 8)
    assert "are the training run's (same sha256" in caplog.text
    assert "plain unitig numbers" not in caplog.text  # checked: no warning that it cannot be


def test_no_unitigs_file_beside_the_new_matrix_warns_naming_the_training_one(
    trained, tmp_path: Path, caplog
) -> None:
    dm, spec = trained
    new = muset_run(tmp_path / "new", RUN_2, n_samples=3)
    (tmp_path / "new" / "unitigs.fa").unlink()
    with caplog.at_level("WARNING"):
        dm.setup_predict(str(new), spec)
    assert "there is no unitigs.fa" in caplog.text
    assert str(tmp_path / "train" / "unitigs.fa") in caplog.text


def test_a_unitigs_file_that_is_no_fasta_is_refused(tmp_path: Path) -> None:
    from trainlab.data.kmer.unitigs import unitigs_digest

    path = tmp_path / "unitigs.fa"
    path.write_text("0 0.1 0.2\n")
    with pytest.raises(DataError, match="is not a FASTA file"):
        unitigs_digest(path)
    path.write_text("")
    with pytest.raises(DataError, match="holds no unitig"):
        unitigs_digest(path)
