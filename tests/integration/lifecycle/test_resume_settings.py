"""A resumed run keeps the settings it was trained with (core.resume.RESUME_MAY_CHANGE)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from tests.conftest import train_args

ONE_EPOCH = ["run_name=cont", "trainer.max_epochs=1", "+trainer.limit_val_batches=2"]


def _step(run: Path) -> int:
    last = run / "checkpoints" / "last.ckpt"
    return torch.load(last, map_location="cpu", weights_only=True)["global_step"]


@pytest.mark.slow
def test_a_resume_with_other_settings_is_refused_and_a_longer_one_runs(
    run_cli, digits_dir: Path, log_dir: Path, capsys
) -> None:
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH)) == 0
    run = log_dir / "train" / "runs" / "cont"
    config = (run / "config.yaml").read_text()
    go_on = ["resume=auto", "resume_finished=true", "trainer.max_epochs=2"]
    # before: exit 0, the new batch size used from epoch 1 on, the new lr not at all (the
    # optimizer state restored 0.003), and config.yaml claiming both new values
    changed = ["model.optimizer.lr=0.1", "data.batch_size=16"]
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH, *go_on, *changed)) == 2
    err = capsys.readouterr().err
    assert "was trained with other settings" in err, err
    assert "model.optimizer.lr: 0.003 -> 0.1" in err and "data.batch_size: 64 -> 16" in err
    assert "trainer.max_epochs" not in err.split("Fix:")[0]  # a longer run is allowed
    assert (run / "config.yaml").read_text() == config  # refused before any work
    assert _step(run) == 6
    # the same settings, trained longer: continues
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH, *go_on)) == 0
    assert _step(run) == 12
    assert json.loads((run / "status.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_a_checkpoint_naming_files_outside_its_folder_deletes_nothing(
    run_cli, digits_dir: Path, log_dir: Path, tmp_path: Path, capsys
) -> None:
    """Before: Lightning deleted the file an edited last.ckpt named through '..' when the
    resumed run saved a better checkpoint (its "inside the folder" test keeps the '..')."""
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH)) == 0
    last = log_dir / "train" / "runs" / "cont" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    victims = []
    for key, state in checkpoint["callbacks"].items():
        if not key.startswith("ModelCheckpoint"):
            continue
        victim = tmp_path / f"thesis_{len(victims)}.txt"
        victim.write_text("years of work")
        victims.append(victim)
        planted = f"{state['dirpath']}/{os.path.relpath(victim, state['dirpath'])}"
        assert ".." in planted
        state["best_model_path"] = state["kth_best_model_path"] = planted
        if state.get("best_k_models"):  # the monitored one: the worst of its top k
            state["best_k_models"] = {planted: torch.tensor(-1.0)}
            state["kth_value"] = state["best_model_score"] = torch.tensor(-1.0)
    torch.save(checkpoint, last)
    go_on = ["resume=auto", "resume_finished=true", "trainer.max_epochs=2"]
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH, *go_on)) == 2
    assert "the '..' leads out of the run's checkpoints folder" in capsys.readouterr().err
    assert len(victims) == 2 and all(v.read_text() == "years of work" for v in victims)


@pytest.mark.slow
def test_a_moved_run_folder_resumes_with_its_best_checkpoint(
    run_cli, digits_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    """Before: a run folder moved to another disk could not be resumed: its checkpoint folders
    (which follow paths.output_dir) counted as changed settings; and Lightning restores a
    ModelCheckpoint's best score and top-k files only when its folder is unchanged."""
    import shutil

    assert run_cli(*train_args(digits_dir, *ONE_EPOCH)) == 0
    moved = tmp_path / "disk2" / "cont"
    moved.parent.mkdir()
    shutil.move(log_dir / "train" / "runs" / "cont", moved)
    go_on = [f"resume={moved}", "resume_finished=true", "trainer.max_epochs=2"]
    assert run_cli(*train_args(digits_dir, *ONE_EPOCH, *go_on)) == 0
    assert _step(moved) == 12
    last = torch.load(moved / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    monitored = [
        state
        for key, state in last["callbacks"].items()
        if key.startswith("ModelCheckpoint") and state["best_k_models"]
    ]
    assert len(monitored) == 1 and monitored[0]["dirpath"] == str(moved / "checkpoints")
    assert list(monitored[0]["best_k_models"]) == [str(moved / "checkpoints" / "best.ckpt")]
    # best.ckpt is the best epoch of both attempts: Lightning dropped the best score of a
    # checkpoint callback whose folder changed and took the first resumed epoch for the best
    history = last["callbacks"]["MonitorHistory[val/acc]"]["history"]
    best_epoch = max(history, key=lambda entry: (entry[1], -entry[0]))[0]
    best = torch.load(moved / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert best["trainlab"]["epoch"] == best_epoch, history
    assert json.loads((moved / "status.json").read_text())["status"] == "finished"


# 45 s on the loaded 2-core machine: a k-mer run, two refused resumes and one that goes on
@pytest.mark.slow
def test_moved_kmer_data_resumes_with_resume_data_moved_when_its_digest_matches(
    tmp_path: Path, capsys
) -> None:
    import shutil

    from tests.integration.test_kmer_untrained_task_run import _files

    from trainlab.cli.main import main

    old, new, other = tmp_path / "old", tmp_path / "new", tmp_path / "other"
    old.mkdir()
    _files(old)
    run = tmp_path / "run"

    def train(data: Path, *extra: str) -> int:
        args = [
            "train",
            "experiment=kmer/diana",
            "data.synthetic=null",
            f"data.matrix_path={data / 'unitigs.frac.mat'}",
            f"data.metadata_path={data / 'meta.tsv'}",
            "data.tasks=[sample_type,material]",
            "trainer.accelerator=cpu",
            "extras.print_config=false",
            "logger=[]",
            f"paths.output_dir={run}",
            *extra,
        ]
        try:
            main(args)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0

    assert train(old, "trainer.max_epochs=1") == 0
    shutil.move(old, new)
    shutil.copytree(new, other)
    (other / "meta.tsv").write_text(
        (other / "meta.tsv").read_text().replace("\tgut\t", "\tsoil\t", 1)
    )
    go_on = ["trainer.max_epochs=2", f"resume={run}", "resume_finished=true"]
    before = {name: (run / name).read_bytes() for name in ("config.yaml", "status.json")}
    # before: refused whatever the data, with `ln -s NEW OLD` as the only way on
    assert train(other, *go_on, "resume_data_moved=true") == 2
    assert "is not the data" in capsys.readouterr().err
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing written
    assert train(new, *go_on) == 2
    assert "pass resume_data_moved=true" in capsys.readouterr().err
    assert train(new, *go_on, "resume_data_moved=true") == 0
    assert _step(run) > 0 and json.loads((run / "status.json").read_text())["status"] == "finished"
    # the resumed attempt's config beside the first one, naming the new place
    assert f"matrix_path: {new / 'unitigs.frac.mat'}" in (run / "config.1.yaml").read_text()
