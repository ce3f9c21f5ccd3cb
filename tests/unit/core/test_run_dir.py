"""Run folders are never shared with an earlier run unless resuming; writes are atomic."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from trainlab.core import resume as rs
from trainlab.core import run_dir as rd
from trainlab.core import run_lock
from trainlab.errors import RunFolderError
from trainlab.io import atomic_write_json, write_new


def _run(folder: Path, status: str, experiment: str | None = "images/digits") -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    torch.save({"loops": {}, "state_dict": {}}, folder / "checkpoints" / "last.ckpt")
    atomic_write_json(folder / "status.json", {"status": status, "experiment": experiment})
    return folder


def test_new_folders_never_collide(tmp_path: Path) -> None:
    first = rd.new_run_dir(tmp_path)
    second = rd.new_run_dir(tmp_path)
    assert first.is_dir() and second.is_dir() and second != first
    assert second.name.startswith(first.name)


def test_named_folder_with_checkpoints_needs_resume(tmp_path: Path) -> None:
    (tmp_path / "exp" / "checkpoints").mkdir(parents=True)
    with pytest.raises(RunFolderError, match="resume=auto"):
        rs.resume_folder(tmp_path, "exp", None, None)
    assert rs.resume_folder(tmp_path, "exp", "auto", None) == tmp_path / "exp"


@pytest.mark.parametrize("result", ["metrics.json", "evaluation_report.json", "predictions.csv"])
def test_named_folder_with_results_is_not_written_over(tmp_path: Path, result: str) -> None:
    # before: a second `trainlab eval run_name=ev` replaced the first one's metrics.json
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / result).write_text("{}")
    with pytest.raises(RunFolderError, match=f"results of an earlier run \\({result}\\)"):
        rs.resume_folder(tmp_path, "ev", None, None)
    (tmp_path / "failed").mkdir()  # an attempt that wrote no results is reused, as before
    (tmp_path / "failed" / "status.json").write_text('{"status": "failed"}')
    assert rs.resume_folder(tmp_path, "failed", None, None) == tmp_path / "failed"


def test_auto_picks_the_newest_unfinished_run_of_the_same_experiment(tmp_path: Path) -> None:
    _run(tmp_path / "a", "finished")
    _run(tmp_path / "b", "interrupted")
    _run(tmp_path / "c", "interrupted", experiment="images/other")
    assert rs.resume_folder(tmp_path, None, "auto", "images/digits") == tmp_path / "b"
    assert rs.resume_folder(tmp_path, None, "auto", "images/other") == tmp_path / "c"
    assert rs.resume_folder(tmp_path, None, "auto", "text/criteria") is None
    assert rs.run_dir_of(tmp_path / "b" / "checkpoints" / "last.ckpt") == tmp_path / "b"


def test_auto_passes_over_a_run_held_by_a_live_process(tmp_path: Path) -> None:
    _run(tmp_path / "busy", "running")
    run_lock.claim(tmp_path / "busy")
    try:
        assert rs.resume_folder(tmp_path, None, "auto", "images/digits") is None
    finally:
        run_lock.release(tmp_path / "busy")
    assert rs.resume_folder(tmp_path, None, "auto", "images/digits") == tmp_path / "busy"


@pytest.mark.parametrize("name", ["../../..", "a/b", "/abs", "..", ".", " x"])
def test_run_name_is_one_path_component(tmp_path: Path, name: str) -> None:
    with pytest.raises(RunFolderError, match="run_name"):
        rs.resume_folder(tmp_path, name, None, None)


def test_resume_path_must_be_a_run_folder_or_a_checkpoint_in_one(tmp_path: Path) -> None:
    stray = tmp_path / "downloads" / "model.ckpt"
    stray.parent.mkdir()
    torch.save({"state_dict": {}}, stray)
    with pytest.raises(RunFolderError, match="not inside a run folder"):
        rs.resume_folder(tmp_path, None, str(stray), None)
    with pytest.raises(RunFolderError, match="no such run folder"):
        rs.resume_folder(tmp_path, None, str(tmp_path / "downloads"), None)
    run = _run(tmp_path / "runs" / "r1", "interrupted")
    assert rs.resume_folder(tmp_path, None, str(run), None) == run
    assert rs.resume_folder(tmp_path, None, str(run / "checkpoints" / "last.ckpt"), None) == run


def test_torn_last_checkpoint_falls_back_to_the_newest_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _run(tmp_path / "r", "interrupted")
    good = run / "checkpoints" / "best.ckpt"
    torch.save({"loops": {}, "state_dict": {"w": torch.ones(1000)}}, good)
    whole = good.read_bytes()
    (run / "checkpoints" / "last.ckpt").write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING):
        assert rs.resume_checkpoint(run, "auto")[0] == str(good)
    assert "last.ckpt cannot be resumed from" in caplog.text
    good.write_bytes(whole[:100])
    with pytest.raises(RunFolderError, match="no checkpoint in"):
        rs.resume_checkpoint(run, "auto")


def test_finished_run_is_not_resumed(tmp_path: Path) -> None:
    run = _run(tmp_path / "done", "finished")
    with pytest.raises(RunFolderError, match="resume_finished=true"):
        rs.resume_checkpoint(run, "auto")
    assert rs.resume_checkpoint(run, "auto", resume_finished=True)[0].endswith("last.ckpt")


def test_live_lock_is_refused_naming_the_process(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from trainlab.core import run_lock; "
            f"run_lock.claim(__import__('pathlib').Path({str(folder)!r})); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderError, match=f"in use by PID {holder.pid} on host"):
            run_lock.claim(folder)
        assert run_lock.holder(folder).startswith(f"PID {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    # the holder died (SIGKILL): its lock is stale and taken over, with a note
    run_lock.claim(folder)
    try:
        assert f"pid={os.getpid()}" in (folder / "run.lock").read_text()
    finally:
        run_lock.release(folder)


def test_stale_lock_is_taken_over_with_a_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.lock").write_text(f"host=elsewhere\npid=999999\nstarted={time.time()}\n")
    with caplog.at_level(logging.WARNING):
        run_lock.claim(folder)
    try:
        assert "took over the lock" in caplog.text and "PID 999999" in caplog.text
    finally:
        run_lock.release(folder)


def test_write_new_refuses_to_replace(tmp_path: Path) -> None:
    write_new(tmp_path / "x.txt", "one")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "x.txt", "two")
    assert (tmp_path / "x.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temporary left behind


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    # before: claim() followed the link, truncated the target and wrote host/pid into it
    victim = tmp_path / "thesis.tex"
    victim.write_text("years of work")
    run = tmp_path / "unpacked_run"
    run.mkdir()
    (run / run_lock.LOCK_FILE).symlink_to(victim)
    with pytest.raises(RunFolderError, match=r"is a symbolic link .*thesis\.tex.*Remove the link"):
        run_lock.claim(run)
    assert victim.read_text() == "years of work"


def test_links_in_a_reused_run_folder_are_refused(tmp_path: Path) -> None:
    # before: Hydra appended train.log to the linked file and replaced .hydra/config.yaml's
    # target; Lightning's CSV logger wrote metrics.csv into a linked csv/ folder
    victim = tmp_path / "thesis.tex"
    victim.write_text("years of work")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for linked in ("train.log", ".hydra/config.yaml", "csv", "gone.txt"):
        run = tmp_path / "runs" / linked.replace("/", "_")
        (run / ".hydra").mkdir(parents=True)
        target = {"csv": elsewhere, "gone.txt": tmp_path / "nowhere"}.get(linked, victim)
        (run / linked).symlink_to(target)
        with pytest.raises(RunFolderError, match=f"{linked} is a symbolic link .*rm "):
            rd.refuse_links(run)
    assert victim.read_text() == "years of work" and not any(elsewhere.iterdir())
    # W&B's own links (wandb/latest-run, wandb/debug.log) are allowed
    run = tmp_path / "runs" / "wandb_run"
    (run / "wandb" / "run-1").mkdir(parents=True)
    (run / "wandb" / "latest-run").symlink_to(run / "wandb" / "run-1")
    rd.refuse_links(run)


def test_a_named_run_over_a_linked_train_log_stops_before_writing(
    run_cli, log_dir: Path, tmp_path: Path, capsys
) -> None:
    from tests.conftest import train_args

    digits_dir = tmp_path / "data"  # never read: the folder is refused while Hydra picks it
    victim = tmp_path / "notes.txt"
    victim.write_text("years of work")
    run = log_dir / "train" / "runs" / "hostile"
    (run / ".hydra").mkdir(parents=True)
    (run / "train.log").symlink_to(victim)
    (run / ".hydra" / "overrides.yaml").symlink_to(victim)
    assert run_cli(*train_args(digits_dir, "run_name=hostile")) == 2
    assert "train.log is a symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "years of work"
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "train.log"]


def _finished_run(folder: Path) -> Path:
    _run(folder, "finished")
    atomic_write_json(folder / "metrics.json", {"test/acc": 0.9})
    return folder


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"status": "finis', "it is not valid JSON"),
        ('["finished"]', "it holds a JSON list"),
        ('{"status": "done"}', "its status is 'done'"),
    ],
)
def test_an_unreadable_status_is_refused_with_its_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    # before: a truncated status.json read as "no status" (the finished run was resumed and
    # its results written over); a JSON list crashed resume=auto with an AttributeError
    run = _finished_run(tmp_path / "done")
    (run / "status.json").write_text(content)
    for attempt in (
        lambda: rs.resume_checkpoint(run, "auto"),
        lambda: rs.resume_folder(tmp_path, None, "auto", "images/digits"),
    ):
        with pytest.raises(RunFolderError, match=f"status.json cannot be read: {problem}"):
            attempt()


def test_a_finished_run_edited_to_running_is_not_resumed(tmp_path: Path) -> None:
    # before: changing "finished" to "running" in status.json made resume=auto continue the
    # run and replace its metrics.json
    run = _finished_run(tmp_path / "done")
    atomic_write_json(run / "status.json", {"status": "running", "experiment": "images/digits"})
    with pytest.raises(RunFolderError, match=r"holds its results, metrics\.json, although"):
        rs.resume_checkpoint(run, "auto")
    assert rs.resume_folder(tmp_path, None, "auto", "images/digits") is None
    assert rs.resume_checkpoint(run, "auto", resume_finished=True)[0].endswith("last.ckpt")


def _moved_checkpoint(old: Path) -> dict:
    state = {
        "dirpath": f"{old}/checkpoints",
        "best_model_path": f"{old}/checkpoints/best.ckpt",
        "kth_best_model_path": f"{old}/checkpoints/best.ckpt",
        "last_model_path": "",
        "best_model_score": torch.tensor(0.9),
        "best_k_models": {f"{old}/checkpoints/best.ckpt": torch.tensor(0.9)},
    }
    config = {
        "paths": {"output_dir": str(old)},
        "callbacks": {"model_checkpoint": {"dirpath": f"{old}/checkpoints"}},
        "trainer": {"default_root_dir": str(old)},
        "data": {"data_dir": "/disk1/digits", "batch_size": 64},
    }
    return {"trainlab": {"config": config}, "callbacks": {"ModelCheckpoint{'monitor'}": state}}


def test_a_moved_run_folder_resumes_with_its_checkpoint_state(tmp_path: Path) -> None:
    # before: the checkpoint folders that follow paths.output_dir were "changed settings", so
    # a run folder moved elsewhere could not be resumed at all
    old, new = tmp_path / "old" / "run", tmp_path / "new" / "run"
    checkpoint = _moved_checkpoint(old)
    current = _moved_checkpoint(new)["trainlab"]["config"]
    assert rs.changed_settings_on_resume(checkpoint, current) == {}
    current["callbacks"]["model_checkpoint"]["dirpath"] = str(tmp_path / "elsewhere")
    assert list(rs.changed_settings_on_resume(checkpoint, current)) == [
        "callbacks.model_checkpoint.dirpath"
    ]
    # Lightning restores best scores and top-k files only when the folder matches
    rs.relocate_checkpoint_paths(checkpoint, new)
    (state,) = checkpoint["callbacks"].values()
    assert state["dirpath"] == f"{new}/checkpoints"
    assert (
        state["best_model_path"] == state["kth_best_model_path"] == f"{new}/checkpoints/best.ckpt"
    )
    assert list(state["best_k_models"]) == [f"{new}/checkpoints/best.ckpt"]
    assert state["last_model_path"] == ""


def test_a_resume_with_moved_data_names_the_way_to_continue(tmp_path: Path) -> None:
    checkpoint = _moved_checkpoint(tmp_path / "run")
    current = _moved_checkpoint(tmp_path / "run")["trainlab"]["config"]
    current["data"]["data_dir"] = "/disk2/digits"
    with pytest.raises(RunFolderError) as refused:
        rs.refuse_changed_settings(checkpoint, current, "last.ckpt")
    message = str(refused.value)
    assert "data.data_dir: /disk1/digits -> /disk2/digits" in message
    assert "The data moved (data.data_dir)?" in message and "ln -s NEW OLD" in message
    current["data"]["data_dir"], current["data"]["batch_size"] = "/disk1/digits", 32
    with pytest.raises(RunFolderError) as refused:
        rs.refuse_changed_settings(checkpoint, current, "last.ckpt")
    assert "data moved" not in str(refused.value)


def test_resume_data_moved_lets_only_moved_data_through_to_its_digest_check(tmp_path) -> None:
    from trainlab.core.data_digest import check_moved_data

    checkpoint = _moved_checkpoint(tmp_path / "run")
    current = _moved_checkpoint(tmp_path / "run")["trainlab"]["config"]
    current["data"]["data_dir"] = "/disk2/digits"
    message = "pass resume_data_moved=true"
    with pytest.raises(RunFolderError, match=message):
        rs.refuse_changed_settings(checkpoint, current, "last.ckpt")
    moved = rs.refuse_changed_settings(checkpoint, current, "last.ckpt", data_moved=True)
    assert moved == ["data.data_dir"]
    current["data"]["batch_size"] = 32  # another change is refused, opt-in or not
    with pytest.raises(RunFolderError, match=r"data\.batch_size"):
        rs.refuse_changed_settings(checkpoint, current, "last.ckpt", data_moved=True)
    # the check itself: no digest recorded (or none given by the data set) is refused too
    with pytest.raises(RunFolderError, match="there is no digest of the data it was trained"):
        check_moved_data(checkpoint, "ab" * 32, moved, "last.ckpt")
    checkpoint["trainlab"]["data_digest"] = "ab" * 32
    with pytest.raises(RunFolderError, match=r"is not the data .* \(digest cdcd"):
        check_moved_data(checkpoint, "cd" * 32, moved, "last.ckpt")
    with pytest.raises(RunFolderError, match="this data set gives none"):
        check_moved_data(checkpoint, None, moved, "last.ckpt")
    check_moved_data(checkpoint, "ab" * 32, moved, "last.ckpt")  # the same data: goes on
