"""One `trainlab train` k-mer run where a task has labels in val/test rows only.

Its head never sees a label: val/test figures, reports, eval and predict leave it out, so the
model's means are over the same tasks as the baselines' beside them (before: test/f1_weighted
0.5256 = mean of sample_type 0.6011 and the untrained material head's 0.4500, against
baselines over sample_type alone).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from trainlab.cli.main import main


def _files(root: Path) -> None:
    # 10 projects of 10 samples; `material` is labelled in P1, P2 and P8, which the default
    # group-disjoint split (split_seed 42) puts in the val (P1) and test (P2, P8) parts
    ids = [f"S{i:03d}" for i in range(100)]
    kind = np.arange(100) % 2
    values = np.random.default_rng(0).random((12, 100)) * 0.5
    values[0] += kind * 0.5
    rows = "".join(f"{j} " + " ".join(f"{v:.3f}" for v in values[j]) + "\n" for j in range(12))
    (root / "unitigs.frac.mat").write_text(rows)
    (root / "kmtricks.fof").write_text("".join(f"{s} : /r/{s}.fq\n" for s in ids))
    lines = ["Run_accession\tsample_type\tmaterial\tproject"]
    for i, sample in enumerate(ids):
        project = f"P{i // 10}"
        material = ("bone", "skin")[(i // 2) % 2] if project in ("P1", "P2", "P8") else "NA"
        lines.append(f"{sample}\t{('gut', 'soil')[kind[i]]}\t{material}\t{project}")
    (root / "meta.tsv").write_text("\n".join(lines) + "\n")


# 40 s on the loaded 2-core machine: a train, an eval and a predict run
@pytest.mark.slow
def test_a_task_without_training_labels_leaves_every_figure(tmp_path: Path, capfd) -> None:
    _files(tmp_path)
    run = tmp_path / "run"
    common = ["trainer.accelerator=cpu", "extras.print_config=false", "logger=[]"]
    main(
        [
            "train",
            "experiment=kmer/diana",
            "data.synthetic=null",
            f"data.matrix_path={tmp_path / 'unitigs.frac.mat'}",
            f"data.metadata_path={tmp_path / 'meta.tsv'}",
            "data.tasks=[sample_type,material]",
            "trainer.max_epochs=3",
            f"paths.output_dir={run}",
            *common,
        ]
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert not [k for k in metrics if "/material/" in k], metrics
    for stage in ("val", "test"):
        assert metrics[f"{stage}/f1_weighted"] == metrics[f"{stage}/sample_type/f1_weighted"]
    assert "material had no labelled row in the train split" in capfd.readouterr().out
    assert not list((run / "reports").glob("*material*"))
    baselines = json.loads((run / "baselines.json").read_text())
    assert "material: no labelled training rows" in baselines["notes"]

    ckpt = run / "checkpoints" / "best.ckpt"
    main(["eval", f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'eval'}", *common[:2]])
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert evaluated["test/f1_weighted"] == metrics["test/f1_weighted"]
    report = json.loads((tmp_path / "eval" / "evaluation_report.json").read_text())
    assert list(report["tasks"]) == ["sample_type"]

    out = tmp_path / "predicted"
    main(
        [
            "predict",
            f"ckpt_path={ckpt}",
            f"input={tmp_path / 'unitigs.frac.mat'}",
            f"output_dir={out}",
            *common[:2],
        ]
    )
    predicted = json.loads((out / "S000_predictions.json").read_text())
    assert list(predicted["predictions"]) == ["sample_type"]
    assert "their predictions are left out of the files" in capfd.readouterr().out
