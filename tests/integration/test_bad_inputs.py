"""Every bad input a new user tried, through the real CLI: exit status 2, a message naming the
key/file, the value and the fix (never a traceback), and an existing run folder left untouched.

docs/errors.md lists these cases with their messages; rewrite it from this table with
``TRAINLAB_ERRORS_DOC=docs/errors.md pytest tests/integration/test_bad_inputs.py``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format
from tests.conftest import FAST, subprocess_env, train_args

QUIET = "extras.print_config=false"
KMER = ["experiment=kmer/diana", "data.synthetic=null", "data.tasks=[sample_type]", *FAST]


def kmer_args(files: Path, matrix: str = "matrix.npz", meta: str = "meta.tsv") -> list[str]:
    return [
        "train",
        *KMER,
        f"data.matrix_path={files / matrix}",
        f"data.metadata_path={files / meta}",
    ]


# (id, arguments (with {digits} and {files} filled in), substrings the message must hold)
CASES: list[tuple[str, list[str], list[str]]] = [
    # sizes and counts
    ("batch_size_0", ["data.batch_size=0"], ["`data.batch_size=0` must be >= 1", "batch_size=64"]),
    ("batch_size_negative", ["data.batch_size=-8"], ["`data.batch_size=-8` must be >= 1"]),
    ("batch_size_text", ["data.batch_size=many"], ["data.batch_size='many'", "expected int"]),
    ("image_size_0", ["data.image_size=0"], ["`data.image_size=0` must be >= 1", "pixels"]),
    ("image_size_float", ["data.image_size=1.5"], ["data.image_size=1.5", "expected int"]),
    (
        "num_workers_negative",
        ["data.loader.num_workers=-1"],
        ["`data.loader.num_workers=-1` must be >= 0"],
    ),
    (
        "num_workers_old_key",
        ["data.num_workers=2"],
        ["`data.num_workers` is now `data.loader.num_workers`", "data.loader.num_workers=2"],
    ),
    (
        "loader_key_typo",
        ["+data.loader.num_worker=2"],
        ["unknown key `data.loader.num_worker`", "LoaderSettings", "`num_workers`"],
    ),
    (
        "loader_start_method",
        ["data.loader.multiprocessing_context=forked"],
        ["data.loader.multiprocessing_context='forked'", "fork or spawn or forkserver"],
    ),
    ("channels_0", ["data.channels=0"], ["`data.channels=0` must be >= 1"]),
    ("max_pixels_0", ["data.max_pixels=0"], ["`data.max_pixels=0` must be >= 1", "89478485"]),
    # optimizer settings
    ("lr_text", ["model.optimizer.lr=fast"], ["`model.optimizer.lr='fast'` must be a number"]),
    ("lr_negative", ["model.optimizer.lr=-0.01"], ["model.optimizer.lr=-0.01", "[0, inf)"]),
    ("lr_nan", ["model.optimizer.lr=nan"], ["model.optimizer.lr=nan", "finite number"]),
    ("lr_inf", ["model.optimizer.lr=inf"], ["model.optimizer.lr=inf", "finite number"]),
    ("weight_decay_negative", ["model.optimizer.weight_decay=-1"], ["weight_decay=-1", "[0,"]),
    ("weight_decay_text", ["model.optimizer.weight_decay=lots"], ["weight_decay='lots'"]),
    ("label_smoothing_1", ["model.label_smoothing=1.0"], ["model.label_smoothing=1.0", "[0, 1)"]),
    # folds and splits
    ("fold_missing", ["data.fold=7"], ["`data.fold=7` does not exist", "folds [0, 1, 2]"]),
    ("fold_negative", ["data.fold=-1"], ["`data.fold=-1` must be >= 0"]),
    ("data_dir_missing", ["data.data_dir=/no/such/dir"], ["does not hold raw/ or splits/"]),
    ("accelerator_unknown", ["trainer.accelerator=gpux"], ["trainer.accelerator='gpux'"]),
    ("precision_unknown", ["trainer.precision=8"], ["`trainer.precision=8` must be one of"]),
    # trainer
    ("max_epochs_below_minus_1", ["trainer.max_epochs=-2"], ["`trainer.max_epochs=-2` must be"]),
    ("max_epochs_text", ["trainer.max_epochs=ten"], ["trainer.max_epochs='ten'", "expected int"]),
    ("max_steps_below_minus_1", ["+trainer.max_steps=-5"], ["`trainer.max_steps=-5` must be"]),
    (
        "limit_batches_share",
        ["+trainer.limit_val_batches=1.5"],
        ["limit_val_batches=1.5", "[0, 1]"],
    ),
    ("accumulate_0", ["trainer.accumulate_grad_batches=0"], ["accumulate_grad_batches=0"]),
    ("devices_0", ["trainer.devices=0"], ["`trainer.devices=0` must be >= 1 or -1"]),
    (
        "ddp_rerun",
        ["trainer=ddp_sim", "trainer.strategy=ddp"],
        ["trainer.strategy='ddp' with trainer.devices=2", "re-running", "ddp_spawn"],
    ),
    ("gradient_clip_negative", ["trainer.gradient_clip_val=-1"], ["gradient_clip_val=-1"]),
    ("patience_negative", ["callbacks.early_stopping.patience=-1"], ["patience=-1", ">= 0"]),
    ("max_epochs_float", ["trainer.max_epochs=1.5"], ["trainer.max_epochs=1.5", "expected int"]),
    ("seed_text", ["seed=abc"], ["`seed='abc'` has type str, expected int"]),
    # modes and keys
    ("mode_unknown", ["mode=maximum"], ["`mode='maximum'` is not one of ['min', 'max']", "max"]),
    (
        "monitor_mode_reversed",
        ["monitor=val/loss", "mode=max"],
        ["`monitor=val/loss` improves as it falls", "Set mode to min"],
    ),
    (
        "callback_mode_reversed",
        ["callbacks.early_stopping.monitor=val/loss"],
        ["`callbacks.early_stopping.monitor=val/loss` improves", "early_stopping.mode to min"],
    ),
    (
        "monitor_not_logged",
        ["monitor=val/auroc"],
        ["monitor `val/auroc` is never logged by MultiHeadClassifier", "val/acc, val/balanced"],
    ),
    ("top_key_typo", ["mointor=val/acc"], ["unknown key `mointor`", "`monitor`", "+mointor="]),
    ("top_key_unknown", ["+learning_rate=0.1"], ["unknown key `learning_rate`", "remove it"]),
    ("trainer_key_typo", ["+trainer.max_epoch=3"], ["trainer.max_epoch", "`max_epochs`"]),
    ("model_key_typo", ["+model.label_smothing=0.1"], ["model.label_smothing", "label_smoothing"]),
    ("run_name_number", ["run_name=1e3"], ["run_name=1000.0 as float", "run_name=\"'2024'\""]),
    # k-mer data files
    ("kmer_metadata_latin1", ["{kmer:meta_latin1.tsv}"], ["is not UTF-8", "byte offset", "line 3"]),
    ("kmer_fof_latin1", ["{kmer_text:fof_latin1}"], ["kmtricks.fof is not UTF-8", "line 2"]),
    ("kmer_matrix_nan", ["{kmer:nan}"], ["NaN at sample row 3", "feature column 2"]),
    ("kmer_matrix_inf", ["{kmer:inf}"], ["inf at sample row 1", "feature column 0"]),
    ("kmer_text_inf", ["{kmer_text:inf}"], ["unitigs.frac.mat:2: an infinite value (inf)"]),
    ("kmer_text_nan", ["{kmer_text:nan}"], ["unitigs.frac.mat:3: a NaN or missing value"]),
    ("kmer_matrix_missing", ["{kmer:missing}"], ["missing.npz` does not exist"]),
    ("kmer_dropout", ["{kmer}", "model.net.dropout=1.5"], ["model.net.dropout=1.5", "[0, 1)"]),
    ("kmer_test_fraction", ["{kmer}", "data.test_fraction=1.2"], ["data.test_fraction=1.2"]),
    ("kmer_eval_batch_0", ["{kmer}", "data.eval_batch_size=0"], ["data.eval_batch_size=0"]),
    # k-mer data files, what the reader checks since the first real files arrived
    ("kmer_text_empty", ["{kmer_text:text_empty}"], ["unitigs.frac.mat is empty"]),
    ("kmer_text_gzip", ["{kmer_text:text_gzip}"], ["is gzip-compressed", "gunzip -k"]),
    ("kmer_text_blank_line", ["{kmer_text:text_blank}"], ["unitigs.frac.mat:3: the line is blank"]),
    (
        "kmer_text_short_row",
        ["{kmer_text:text_short}"],
        ["unitigs.frac.mat:2: unitig 'u1' holds 11 values, 12 needed"],
    ),
    (
        "kmer_text_double_space",
        ["{kmer_text:text_spaces}"],
        ["unitigs.frac.mat:1: the line has two spaces in a row", "tr -s"],
    ),
    (
        "kmer_text_word_cell",
        ["{kmer_text:text_word}"],
        ["unitigs.frac.mat:3: unitig 'u2' holds 'abc' in sample column 4, which is not a number"],
    ),
    (
        "kmer_text_comment_line",
        ["{kmer_text:text_comment}"],
        ["unitigs.frac.mat:1: a comment line ('# MUSET output')", "sed -i 1d"],
    ),
    (
        "kmer_text_negative",
        ["{kmer_text:text_negative}"],
        ["unitigs.frac.mat:2: -0.2 in sample column 4", "no negative values"],
    ),
    (
        "kmer_text_fraction_above_1",
        ["{kmer_text:text_above_1}"],
        ["unitigs.frac.mat:3: 1.5 in sample column 4", "holds values in [0, 1]"],
    ),
    (
        "kmer_text_header_other_order",
        ["{kmer_text:text_header_order}"],
        ["unitigs.frac.mat:1: the header names the fof's samples in another order", "'S01'"],
    ),
    (
        "kmer_text_header_other_samples",
        ["{kmer_text:text_header_other}"],
        ["unitigs.frac.mat:1: a header line naming 12 samples, 12 of them not in the fof"],
    ),
    (
        "kmer_text_no_unitig_id",
        ["{kmer_text:text_no_id}"],
        ["unitigs.frac.mat:2: the row has no unitig id"],
    ),
    (
        "kmer_text_duplicated_ids",
        ["{kmer_text:text_joined}"],
        ["5 unitig ids are on more than one row", "'u0' on lines 1 and 6"],
    ),
    (
        "kmer_text_muset_combined",
        ["{kmer_text:text_combined}"],
        ["unitigs.frac.mat:1: cells such as", "'abundance;fraction' unitigs.mat"],
    ),
    (
        "kmer_text_header_only",
        ["{kmer_text:text_header_only}"],
        ["unitigs.frac.mat holds a header line and no unitig row"],
    ),
    (
        "kmer_text_carriage_returns",
        ["{kmer_text:text_mac}"],
        ["unitigs.frac.mat: lines end in a carriage return alone", "tr '\\r' '\\n'"],
    ),
    (
        "kmer_text_unitigs_not_fasta",
        ["{kmer_text:unitigs_not_fasta}", "data.group_column=null"],
        ["unitigs.fa is not a FASTA file", "the unitigs.fa of the MUSET run"],
    ),
    ("kmer_metadata_empty", ["{kmer:meta_empty.tsv}"], ["meta_empty.tsv is empty"]),
    (
        "kmer_metadata_longer_row",
        ["{kmer:meta_longer.tsv}"],
        ["meta_longer.tsv:4: 4 tab-separated fields", "header (line 1) has 3 columns"],
    ),
    ("kmer_metadata_empty_id", ["{kmer:meta_empty_id.tsv}"], ["meta_empty_id.tsv:4: empty Run"]),
    (
        "kmer_metadata_case_clash",
        ["{kmer:meta_case.tsv}"],
        ["task 'sample_type' has labels that differ only in case or spacing: ['Soil', 'soil']"],
    ),
    (
        "kmer_metadata_one_class",
        ["{kmer:meta_one_class.tsv}"],
        ["task 'sample_type' has one class ['soil']", "Drop it from data.tasks"],
    ),
    (
        "kmer_metadata_no_labels",
        ["{kmer:meta_no_labels.tsv}"],
        ["task 'sample_type' has no label (all 12 rows are blank or NA)"],
    ),
    (
        "kmer_npz_object_ids",
        ["{kmer:npz_object_ids}"],
        ["'sample_ids' is an array of Python objects", "dtype=str"],
    ),
    (
        "kmer_npz_duplicated_ids",
        ["{kmer:npz_duplicated_ids}"],
        ["npz_duplicated_ids.npz: sample ids are duplicated: ['S01']"],
    ),
    (
        "kmer_npz_declares_more",
        ["{kmer:npz_cut_short}"],
        ["npz_cut_short.npz cannot be read as a numpy array", "declares more data than it holds"],
    ),
    (
        "kmer_npz_duplicated_feature_ids",
        ["{kmer:npz_joined_features}"],
        ["npz_joined_features.npz: 5 feature ids are on more than one column", "'u0' on columns"],
    ),
    # cross-validation
    ("cv_mode_unknown", ["{cv}", "mode=bogus"], ["`mode='bogus'` is not one of", "optimize"]),
    ("cv_mode_typo", ["{cv}", "mode=optimise"], ["did you mean `mode=optimize`"]),
    ("cv_n_trials_0", ["{cv}", "cv.n_trials=0"], ["`cv.n_trials=0` must be >= 1"]),
    (
        "cv_monitor_mode_reversed",
        ["{cv}", "monitor=val/loss"],
        [
            "`monitor=val/loss` improves as it falls, but `cv.monitor_mode`",
            "cv.monitor_mode to min",
        ],
    ),
    ("cv_n_folds_1", ["{cv}", "cv.n_folds=1"], ["`cv.n_folds=1` must be >= 2"]),
    ("cv_max_epochs_0", ["{cv}", "cv.max_epochs=0"], ["`cv.max_epochs=0` must be >= 1"]),
    ("cv_validation_split", ["{cv}", "cv.validation_split=0"], ["cv.validation_split=0"]),
    ("cv_inner_splits_1", ["{cv}", "cv.n_inner_splits=1"], ["`cv.n_inner_splits=1` must be"]),
    ("cv_patience_negative", ["{cv}", "cv.patience=-1"], ["`cv.patience=-1` must be >= 0"]),
    ("final_max_epochs_0", ["{cv}", "final.max_epochs=0"], ["`final.max_epochs=0` must be"]),
    ("cv_key_typo", ["{cv}", "n_trials=3"], ["unknown key `n_trials`", "+n_trials=3"]),
    # sweeps: the sweeper's own settings are refused before any trial, without a traceback
    (
        "sweep_n_trials_0",
        ["{sweep}", "hparams_search=images_optuna", "hydra.sweeper.n_trials=0"],
        ["hydra.sweeper.n_trials=0 must be a positive integer", "hydra.sweeper.n_trials=20"],
    ),
    (
        "sweep_direction_reversed",
        ["{sweep}", "hparams_search=images_optuna", "monitor=val/loss"],
        ["`optimized_metric=val/loss` improves as it falls", "direction` asks for its largest"],
    ),
    # spectra
    ("spectra_polarity_2", ["{spectra}", "data.polarity=2"], ["`data.polarity=2`", "0 or 1"]),
    ("spectra_synthetic_rows_0", ["{spectra}", "data.synthetic.n_train=0"], ["n_train=0"]),
    ("nnpu_prior_above_1", ["{spectra}", "model.priors.positive=1.5"], ["priors.positive=1.5"]),
    ("nnpu_no_priors_measured", ["{measured}"], ["no prior for ['positive', 'negative']"]),
    ("nnpu_beta_negative", ["{spectra}", "model.beta=-0.5"], ["`model.beta=-0.5`", "[0, inf)"]),
    ("nnpu_gamma_0", ["{spectra}", "model.gamma=0"], ["`model.gamma=0`", "(0, 1]"]),
    ("synthetic_prior_1", ["{spectra}", "data.synthetic.priors.positive=1.5"], ["(0, 1]"]),
    (
        "nnpu_priors_file_missing",
        ["{measured}", "model.priors_file=/no/priors.json"],
        ["cannot read"],
    ),
    # spectra tables written by the researchers' own pipelines (not by `trainlab convert`)
    (
        "foreign_table_settings_24",
        ["{foreign:settings_24}"],
        ["train_data: ", "row 0, column 'instrument_settings': has 24 values, expected 22"],
    ),
    (
        "foreign_table_mz_1e30",
        ["{foreign:mz_1e30}"],
        ["train_data: ", "row 4, column 'mz_array': goes up to 1e+30; expected m/z <= 1e+06"],
    ),
    (
        "foreign_table_all_unlabeled",
        ["{foreign:all_unlabeled}"],
        ["positive-mode rows are unlabeled (label 0)", "Check the label column"],
    ),
    (
        "foreign_table_named_test1",
        ["{foreign:named_test1}"],
        ["no Lance table at", "other Lance tables there: test1", "test_1, not test1"],
    ),
    (
        "foreign_root_without_test_table",
        ["{foreign:no_test}"],
        ["has no test table test_1", "train_data, validation_data", "test=false"],
    ),
    ("prior_force_text", ["{prior}", "force=maybe"], ["`force='maybe'` has type str"]),
    ("prior_no_checkpoints", ["{prior}", "checkpoints=[]"], ["checkpoints=[] is empty"]),
    ("convert_empty_mgf", ["{convert:empty.mgf}"], ["empty.mgf is empty (no spectra)"]),
    ("convert_ms1_only", ["{convert:ms1.mgf}"], ["ms1.mgf has 2 spectra, none MS2"]),
    ("convert_no_inputs", ["{convert:nothing_here}"], ["no .mgf or .mzML files found"]),
    (
        "convert_idxml_no_score_direction",
        ["{convert:run.mzML}", "identifications=[{files}/no_direction.idXML]"],
        [
            "no_direction.idXML, line 10: PeptideIdentification #1 (score_type='OMSSA')",
            "has no higher_score_better",
            'higher_score_better="true" or "false"',
        ],
    ),
    (
        "convert_standardization_zero_std",
        ["{convert:run.mzML}", "standardization={files}/zero_std.json"],
        [
            "zero_std.json: std of 'ms1_retention_time_min' is 0.0, not a finite number > 0",
            "Delete the file to refit",
        ],
    ),
    (
        "convert_idxml_several_files_no_merge_index",
        ["{convert:run.mzML}", "identifications=[{files}/merged.idXML]"],
        ["merged.idXML, line ", "has no id_merge_index", "lists 2 spectra files", "IDRipper"],
    ),
    (
        "convert_profile_ms1",
        ["{convert:profile.mzML}"],
        ["profile.mzML: 4 of the 4 MS1 spectra", "peakPicking vendor", "on_profile=keep"],
    ),
    (
        "convert_run_in_two_tables",
        ["{convert:run.mzML}", "root={files}/shared_root", "table=test_1"],
        ["its run is already in train_data", "run.mzML (same spectra: 12 of 12", "one table"],
    ),
    (
        "train_shared_run_in_validation",
        ["{leaky}"],
        ["leaky/train_data and ", "leaky/validation_data hold the same mass-spec run(s)"],
    ),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small bad (and good) input files."""
    folder = tmp_path_factory.mktemp("bad-files")
    ids = [f"S{i:02d}" for i in range(12)]
    values = np.random.default_rng(0).random((12, 5)).astype(np.float32)
    np.savez(folder / "matrix.npz", values=values, sample_ids=np.array(ids))
    nan, inf = values.copy(), values.copy()
    nan[3, 2], inf[1, 0] = np.nan, np.inf
    np.savez(folder / "nan.npz", values=nan, sample_ids=np.array(ids))
    np.savez(folder / "inf.npz", values=inf, sample_ids=np.array(ids))
    rows = ["Run_accession\tsample_type"] + [f"{s}\t{'soil' if i % 2 else 'gut'}" for i, s in
                                               enumerate(ids)]  # fmt: skip
    (folder / "meta.tsv").write_text("\n".join(rows) + "\n")
    latin = list(rows)
    latin[2] = latin[2].replace("soil", "sol brûlé")
    (folder / "meta_latin1.tsv").write_bytes(("\n".join(latin) + "\n").encode("latin1"))
    for name, bad in (("text_inf", (1, "inf")), ("text_nan", (2, "nan")), ("text_ok", None)):
        run = folder / name
        run.mkdir()
        lines = [f"u{j} " + " ".join(f"{v:.3f}" for v in values[:, j]) for j in range(5)]
        if bad:
            parts = lines[bad[0]].split()
            parts[3] = bad[1]
            lines[bad[0]] = " ".join(parts)
        (run / "unitigs.frac.mat").write_text("\n".join(lines) + "\n")
        fof = "".join(f"{s} : /reads/{s}.fq.gz\n" for s in ids)
        (run / "kmtricks.fof").write_text(fof)
    text_cases(folder, values, ids, fof)
    meta_cases(folder, rows)
    np.savez(folder / "npz_object_ids.npz", values=values, sample_ids=np.array(ids, dtype=object))
    twice = [*ids[:2], "S01", *ids[3:]]
    np.savez(folder / "npz_duplicated_ids.npz", values=values, sample_ids=np.array(twice))
    joined = np.hstack([values, values])  # two runs' matrices side by side, same unitig ids
    features = np.array([f"u{j}" for j in range(5)] * 2)
    np.savez(folder / "npz_joined_features.npz", values=joined, sample_ids=np.array(ids),
             feature_ids=features)  # fmt: skip
    fof_latin = folder / "fof_latin1"
    shutil.copytree(folder / "text_ok", fof_latin)
    (fof_latin / "kmtricks.fof").write_bytes(fof.replace("S01", "S01é").encode("latin1"))
    not_fasta = folder / "unitigs_not_fasta"
    shutil.copytree(folder / "text_ok", not_fasta)
    # a matrix saved under the name of MUSET's unitig FASTA beside it
    (not_fasta / "unitigs.fa").write_text("0 0.1 0.2\n1 0.3 0.4\n")
    (folder / "empty.mgf").write_text("")
    scan = "BEGIN IONS\nTITLE=s{n}\nMSLEVEL=1\nPEPMASS=500.0\nSCANS={n}\n100.0 10.0\nEND IONS\n"
    (folder / "ms1.mgf").write_text(scan.format(n=1) + scan.format(n=2))
    (folder / "nothing_here").mkdir()
    with zipfile.ZipFile(folder / "npz_cut_short.npz", "w") as archive:  # 12 x 10^6 declared
        header = io.BytesIO()
        npy_format.write_array_header_1_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (12, 10**6)}
        )
        archive.writestr("values.npy", header.getvalue() + bytes(16))
    _spectra_files(folder)
    return folder


def _spectra_files(folder: Path) -> None:
    """A small mzML run, its profile-mode twin, an idXML without score direction, one of two
    spectra files without id_merge_index, a root whose train_data holds the run, and a root
    whose validation table repeats its training rows."""
    from tests.unit.data.spectra.id_files import psms_of, write_idxml
    from tests.unit.data.spectra.spectra_files import dda_run, write_mzml

    from trainlab.data.spectra.convert import convert_files
    from trainlab.data.spectra.instrument import NUMERIC_SETTINGS
    from trainlab.data.spectra.store import read_spectra, write_spectra

    scans = dda_run(4, per_cycle=3, seed=1)
    run = write_mzml(folder / "run.mzML", scans)
    profile = run.read_text().replace(
        'accession="MS:1000127" name="centroid spectrum"',
        'accession="MS:1000128" name="profile spectrum"',
    )
    (folder / "profile.mzML").write_text(profile)
    ids = write_idxml(folder / "no_direction.idXML", psms_of(scans), None, refs=False)
    text = ids.read_text().replace(' higher_score_better="false"', "")
    ids.write_text(text.replace('score_type="q-value"', 'score_type="OMSSA"'))
    write_idxml(folder / "merged.idXML", psms_of(scans), f"{run}, file://{folder}/b.mzML", True)
    convert_files([run], folder / "shared_root")
    names = list(NUMERIC_SETTINGS)
    zero_std = {"settings": names, "mean": [1.0] * len(names), "std": [0.0] * len(names)}
    (folder / "zero_std.json").write_text(json.dumps(zero_std))
    rows = read_spectra(folder / "shared_root", "train_data")
    for table in ("train_data", "validation_data"):
        write_spectra(rows, folder / "leaky", table, mode="create")
    _foreign_roots(folder)


def _foreign_roots(folder: Path) -> None:
    """Roots whose train_data another pipeline wrote with ``lance.write_dataset``."""
    import lance
    import pyarrow as pa

    from trainlab.data.spectra.synthetic import SyntheticSpec, generate_spectra

    source = folder / "foreign_source"
    generate_spectra(source, SyntheticSpec(n_train=60, n_validation=20, n_test=10))
    train = lance.dataset(str(source / "train_data")).to_table()
    settings = [[*row, 0.0, 0.0] for row in train.column("instrument_settings").to_pylist()]
    index = train.schema.get_field_index("instrument_settings")
    labels = pa.array([0.0] * train.num_rows, pa.float32())
    mz = train.column("mz_array").to_pylist()
    huge = [[*m[:-1], 1e30] if i == 4 else m for i, m in enumerate(mz)]
    mz_index = train.schema.get_field_index("mz_array")
    variants = {
        "settings_24": train.set_column(index, "instrument_settings", pa.array(settings)),
        "mz_1e30": train.set_column(mz_index, "mz_array", pa.array(huge, pa.list_(pa.float32()))),
        "all_unlabeled": train.set_column(train.schema.get_field_index("label"), "label", labels),
        "named_test1": train,
        "no_test": train,
    }
    for name, table in variants.items():
        root = folder / f"foreign_{name}"
        root.mkdir()
        lance.write_dataset(table, str(root / "train_data"))
        test = "test1" if name == "named_test1" else "test_1"
        shutil.copytree(source / "validation_data", root / "validation_data")
        if name != "no_test":
            shutil.copytree(source / "test_1", root / test)


def text_cases(folder: Path, values: np.ndarray, ids: list[str], fof: str) -> None:
    """One folder per bad MUSET text matrix (unitigs.frac.mat beside its kmtricks.fof)."""
    import gzip

    lines = [f"u{j} " + " ".join(f"{v:.3f}" for v in values[:, j]) for j in range(5)]

    def cell(line: str, column: int, value: str) -> str:
        parts = line.split()
        parts[column] = value
        return " ".join(parts)

    text = "\n".join(lines) + "\n"
    bad = {
        "text_empty": "",
        "text_gzip": gzip.compress(text.encode()),
        "text_blank": "\n".join([*lines[:2], "", *lines[2:]]) + "\n",
        "text_short": text.replace(lines[1], lines[1].rsplit(" ", 1)[0]),
        "text_spaces": text.replace(" ", "  ", 1),
        "text_negative": text.replace(lines[1], cell(lines[1], 4, "-0.2")),
        "text_above_1": text.replace(lines[2], cell(lines[2], 4, "1.5")),
        "text_word": text.replace(lines[2], cell(lines[2], 4, "abc")),
        "text_comment": "# MUSET output\n" + text,
        "text_header_order": "unitig_id " + " ".join([ids[1], ids[0], *ids[2:]]) + "\n" + text,
        "text_header_other": "unitig_id " + " ".join(f"X{i}" for i in range(12)) + "\n" + text,
        "text_no_id": text.replace(lines[1], lines[1].replace("u1", "", 1)),
        "text_joined": text + text,  # `cat run1.mat run2.mat`
        "text_header_only": "unitig_id\t" + "\t".join(f"sample_{i}" for i in range(12)) + "\t\n",
        "text_mac": text.replace("\n", "\r"),
        "text_combined": "".join(
            f"u{j} " + " ".join(f"1.00;{v:.2f}" for v in values[:, j]) + "\n" for j in range(5)
        ),
    }
    for name, content in bad.items():
        run = folder / name
        run.mkdir()
        data = content if isinstance(content, bytes) else content.encode()
        (run / "unitigs.frac.mat").write_bytes(data)
        (run / "kmtricks.fof").write_text(fof)


def meta_cases(folder: Path, rows: list[str]) -> None:
    """Bad metadata TSVs for matrix.npz (S00 gut, S01 soil, ...; the experiment's group column
    `project` too, since these are read to the end)."""
    labels = [row.split("\t")[1] for row in rows[1:]]
    ids = [row.split("\t")[0] for row in rows[1:]]

    def tsv(cells: list[str], extra: dict[int, str] | None = None) -> str:
        body = [f"{i}\t{c}\tP{n % 3}" for n, (i, c) in enumerate(zip(ids, cells, strict=True))]
        for index, row in (extra or {}).items():
            body[index] = row
        return "\n".join([f"{rows[0]}\tproject", *body]) + "\n"

    bad = {
        "meta_empty.tsv": "",
        "meta_longer.tsv": tsv(labels, {2: f"{ids[2]}\tgut\tP2\textra"}),
        "meta_empty_id.tsv": tsv(labels, {2: "\tgut\tP2"}),
        "meta_case.tsv": tsv(
            [c.replace("soil", "Soil") if i < 2 else c for i, c in enumerate(labels)]
        ),
        "meta_one_class.tsv": tsv(["soil"] * len(ids)),
        "meta_no_labels.tsv": tsv(["NA"] * len(ids)),
    }
    for name, content in bad.items():
        (folder / name).write_text(content)


@pytest.fixture(scope="module")
def measured_spectra(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spectra tables without the generator's truth file: measured data to trainlab."""
    from trainlab.data.spectra.synthetic import TRUTH_FILE, SyntheticSpec, generate_spectra

    root = tmp_path_factory.mktemp("measured") / "spectra"
    generate_spectra(root, SyntheticSpec(n_train=60, n_validation=20, n_test=10))
    (root / TRUTH_FILE).unlink()
    return root


def expand(args: list[str], digits: Path, files: Path, spectra: Path, tmp: Path) -> list[str]:
    """The full command line of a case."""
    first, rest = args[0], args[1:]
    if first == "{cv}":
        return ["cv", QUIET, *rest]
    if first == "{sweep}":  # Hydra's -m must come before the overrides
        train, *overrides = train_args(digits, *rest)
        return [train, "-m", *overrides]
    if first == "{prior}":
        defaults = [] if any(a.startswith("checkpoints=") for a in rest) else ["checkpoints=[a]"]
        return ["prior", QUIET, *defaults, *rest]
    if first == "{spectra}":
        return ["train", "experiment=spectra/nnpu", f"paths.data_dir={tmp}", *FAST, *rest]
    if first == "{measured}":
        root = f"data.root={spectra}"
        return ["train", "experiment=spectra/nnpu", root, "data.synthetic=null", *FAST, *rest]
    if first.startswith("{convert:"):
        name = first[len("{convert:") : -1]
        rest = [a.format(files=files) for a in rest]
        root = [] if any(a.startswith("root=") for a in rest) else [f"root={tmp / 'converted'}"]
        return ["convert", f"inputs=[{files / name}]", *root, QUIET, *rest]
    if first == "{leaky}" or first.startswith("{foreign:"):
        folder = "leaky" if first == "{leaky}" else f"foreign_{first[len('{foreign:') : -1]}"
        root = f"data.root={files / folder}"
        return ["train", "experiment=spectra/bce_pos", root, "data.synthetic=null", *FAST, *rest]
    if first.startswith("{kmer"):
        kind = first.strip("{}").split(":")
        if kind[0] == "kmer_text":
            folder = files / f"text_{kind[1]}" if kind[1] in ("inf", "nan") else files / kind[1]
            return kmer_args(folder, "unitigs.frac.mat", "../meta.tsv") + rest
        if len(kind) == 1:
            return kmer_args(files) + rest
        if kind[1].endswith(".tsv"):
            return kmer_args(files, meta=kind[1]) + rest
        return kmer_args(files, matrix=f"{kind[1]}.npz") + rest
    return train_args(digits, *args)


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory: pytest.TempPathFactory, digits_dir: Path) -> Path:
    """A finished run folder (made once), copied into each case's log folder."""
    logs = tmp_path_factory.mktemp("existing") / "logs"
    args = [sys.executable, "-m", "trainlab.cli.main", *train_args(digits_dir, "run_name=keep")]
    args = [a for a in args if not a.startswith("trainer.max_epochs")] + ["trainer.max_epochs=1"]
    done = subprocess.run(args, env=subprocess_env(logs), capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return logs / "train" / "runs" / "keep"


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_stops_early_with_a_clear_message(
    case, run_cli, capsys, log_dir, tmp_path, digits_dir, files, measured_spectra, existing_run
) -> None:
    name, args, expected = case
    kept = log_dir / "train" / "runs" / "keep"
    shutil.copytree(existing_run, kept)
    before = _snapshot(kept)
    argv = expand(args, digits_dir, files, measured_spectra, tmp_path)
    capsys.readouterr()
    status = run_cli(*argv)
    captured = capsys.readouterr()
    message = captured.err.split("error: ", 1)[-1].strip()
    assert status == 2, captured.err[-3000:]
    assert "Traceback" not in captured.err + captured.out
    for text in expected:
        assert text in message, f"{text!r} not in:\n{message}"
    assert _snapshot(kept) == before
    # a config problem stops the run before it writes its config (which precedes data loading)
    read_errors = (
        "latin1",
        "nan",
        "inf",
        "convert",
        "shared_run",
        "kmer_text_",
        "kmer_metadata_",
        "kmer_npz_",
        "foreign",
        "not_logged",  # known after the sanity check's validation, before any training step
    )
    if not any(k in name for k in read_errors):
        started = [p for p in log_dir.glob("*/runs/*/config.yaml") if p.parent != kept]
        assert not started, "the run got past the config checks"
    record = os.environ.get("TRAINLAB_ERRORS_DOC")
    if record:
        with open(Path(record).with_suffix(".jsonl"), "a") as handle:
            handle.write(json.dumps({"id": name, "args": args, "message": message}) + "\n")
