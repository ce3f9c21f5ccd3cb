"""The outer-fold plan of `trainlab cv`: written once, and classes a fold never trains on named."""

import json
from pathlib import Path

from omegaconf import OmegaConf

from trainlab.data.kmer.datamodule import KmerMatrixDataModule
from trainlab.data.kmer.folds import classes_unseen_in_training
from trainlab.pipelines.kmer_cv.fold import fold_rows, write_fold_plan


def test_the_fold_plan_names_classes_a_fold_never_trained_on(tmp_path: Path, caplog) -> None:
    """The synthetic set (10 projects, rare hosts and materials) has classes of one sample and
    classes kept in one project: 5 group-disjoint folds test some of them untrained."""
    dm = KmerMatrixDataModule(
        matrix_path=str(tmp_path / "unitigs.frac.mat"),
        metadata_path=str(tmp_path / "metadata.tsv"),
        group_column="project",
        synthetic={"n_samples": 90, "n_unitigs": 50, "n_projects": 10},
    )
    dm.prepare_data()
    cfg = OmegaConf.create({"cv": {"n_folds": 5, "seed": 42}})
    data = dm.load()
    unseen = classes_unseen_in_training(fold_rows(cfg, dm), data.y, data.tasks)
    assert unseen, "the synthetic set no longer has a class some fold never trains on"
    for entry in unseen:  # each named class really is absent from that fold's training rows
        fold = int(entry.split(",")[0].removeprefix("fold "))
        task = entry.split("task ")[1].split(":")[0]
        train, _ = fold_rows(cfg, dm)[fold]
        t = list(data.tasks).index(task)
        trained = {data.tasks[task][c] for c in data.y[train, t] if c >= 0}
        for name in entry.split(": ", 1)[1].split(", "):
            assert name.rsplit(" (", 1)[0] not in trained
    with caplog.at_level("WARNING"):
        write_fold_plan(cfg, dm, tmp_path)
    assert f"outer folds: {len(unseen)} test part(s) hold classes" in caplog.text
    assert unseen[0] in caplog.text
    assert len(json.loads((tmp_path / "cv_results" / "folds.json").read_text())) == 5
