"""A task labelled only in a fold's test part is left out of that fold's test metrics.

Its head never saw a label; the baselines leave it out (they cannot be fitted without one),
so the model's mean over tasks covered one task more than the baselines' beside it.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from trainlab.cli.app import register_resolvers
from trainlab.pipelines.kmer_cv.fold import build_data, fold_rows, run_fold

CONFIGS = Path(__file__).resolve().parents[4] / "configs"


def _files(root: Path) -> None:
    # 4 projects of 10 samples; `material` is labelled in project P1 only
    ids = [f"S{i:02d}" for i in range(40)]
    values = np.random.default_rng(0).random((12, 40)) * 0.5
    rows = "".join(f"{j} " + " ".join(f"{v:.3f}" for v in values[j]) + "\n" for j in range(12))
    (root / "unitigs.frac.mat").write_text(rows)
    (root / "kmtricks.fof").write_text("".join(f"{s} : /r/{s}.fq\n" for s in ids))
    lines = ["Run_accession\tsample_type\tmaterial\tproject"]
    for i, sample in enumerate(ids):
        material = ("bone", "skin")[i % 2] if i // 10 == 1 else "NA"
        lines.append(f"{sample}\t{('gut', 'soil')[i % 2]}\t{material}\tP{i // 10}")
    (root / "meta.tsv").write_text("\n".join(lines) + "\n")


# 17 s on the loaded 2-core machine (a real fold fit and its baselines)
@pytest.mark.slow
def test_a_task_without_training_labels_is_left_out_of_the_fold(tmp_path: Path, caplog) -> None:
    _files(tmp_path)
    (tmp_path / "params.json").write_text(json.dumps({"model.optimizer.lr": 0.01}))
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "cv",
            overrides=[
                "experiment=kmer/diana",
                "data.synthetic=null",
                f"data.matrix_path={tmp_path / 'unitigs.frac.mat'}",
                f"data.metadata_path={tmp_path / 'meta.tsv'}",
                "data.tasks=[sample_type,material]",
                "data.group_column=project",
                f"paths.output_dir={tmp_path / 'run'}",
                f"paths.root_dir={tmp_path}",
                f"paths.work_dir={tmp_path}",
                f"paths.data_dir={tmp_path}",
                "trainer.accelerator=cpu",
                "cv.n_folds=2",
                "cv.max_epochs=2",
                "cv.patience=1",
                "cv.validation_split=0.5",
                f"hyperparams={tmp_path / 'params.json'}",
            ],
        )
    datamodule = build_data(cfg)
    # the fold whose test part holds project P1 (rows 10-19): no `material` label to fit on
    fold = next(k for k, (_, test) in enumerate(fold_rows(cfg, datamodule)) if 10 in test)
    with caplog.at_level("WARNING"):
        record = run_fold(cfg, fold, tmp_path / "run", datamodule)
    metrics = record["test_metrics"]
    # before: a `material` entry (an untrained head's figures) in the fold's mean over tasks
    assert set(metrics) == {"sample_type", "overall"}
    assert metrics["overall"] == metrics["sample_type"]
    assert record["untrained_tasks"] == ["material"]
    assert "material have no labelled row among" in caplog.text
    baselines = record["baselines"]["scores"]["majority"]
    assert set(baselines) == set(metrics)
    saved = json.loads(
        next((tmp_path / "run" / "cv_results").rglob("multitask_*.json")).read_text()
    )
    assert saved["test_metrics"] == metrics
