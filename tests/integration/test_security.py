"""Attacks through checkpoints, configs and launcher settings run no code (docs/security.md).

Each attack would create a marker file if it ran; every test checks the marker never appears
and that the refusal names what was refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.conftest import subprocess_env, train_args

PLANTED_TARGETS = [
    "builtins.open",
    "pathlib.Path.write_text",
    "shutil.copyfile",
    "torch.load",
    "pickle.loads",
]


class Payload:
    """Unpickling this object calls open(marker, "w"): the file appears iff code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _config_with_target(target: str, marker: Path) -> dict:
    return {
        "data": {"_target_": "trainlab.data.images.datamodule.ImageFolderDataModule"},
        "model": {
            "_target_": "trainlab.models.classification.MultiHeadClassifier",
            "net": {"_target_": target, "file": str(marker), "mode": "w"},
        },
    }


def pickle_checkpoint(folder: Path, marker: Path) -> Path:
    """A checkpoint whose unpickling runs code (`weights_only=False` would create `marker`)."""
    path = folder / "pickled" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    config = _config_with_target("trainlab.nets.mlp.MultitaskMLP", marker)
    torch.save(
        {"state_dict": {}, "trainlab": {"config": config, "spec": {}}, "x": Payload(marker)}, path
    )
    return path


def planted_checkpoint(folder: Path, marker: Path) -> Path:
    """Plain data (loads with weights_only=True) whose config names a file-opening target."""
    path = folder / "planted" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    config = _config_with_target("builtins.open", marker)
    # with training state ("loops"), so the resume rules reach the check of its config
    torch.save({"state_dict": {}, "loops": {}, "trainlab": {"config": config, "spec": {}}}, path)
    return path


@pytest.fixture
def attack(tmp_path: Path) -> dict[str, Path]:
    marker = tmp_path / "PWNED"
    return {
        "marker": marker,
        "pickle": pickle_checkpoint(tmp_path, marker),
        "planted": planted_checkpoint(tmp_path, marker),
    }


def test_the_pickle_payload_really_runs_code_when_fully_unpickled(attack, tmp_path) -> None:
    # the attack file is real: a plain torch.load would have created the marker
    torch.load(attack["pickle"], weights_only=False)
    assert attack["marker"].exists()


@pytest.mark.parametrize("kind", ["pickle", "planted"])
def test_eval_and_predict_refuse_hostile_checkpoints(
    run_cli, attack, kind: str, tmp_path: Path, capsys
) -> None:
    ckpt = attack[kind]
    assert run_cli("eval", f"ckpt_path={ckpt}", "extras.print_config=false") == 2
    err = capsys.readouterr().err
    assert run_cli("predict", f"ckpt_path={ckpt}", f"input={tmp_path}") == 2
    err += capsys.readouterr().err
    assert not attack["marker"].exists()
    if kind == "pickle":
        assert err.count("not plain data (it calls io.open)") == 2, err
    else:
        assert err.count("`builtins.open` is not an allowed target") == 2, err
        assert "the config embedded in checkpoint" in err


@pytest.mark.parametrize(
    "planted",
    ["${trainlab_run_dir:{folder}}", "prefix-${oc.env:TRAINLAB_PLANTED_SECRET}"],
)
def test_interpolations_in_a_checkpoint_config_are_refused_unresolved(
    run_cli, planted: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    # before: `trainlab eval` resolved them while checking the config: the first created and
    # locked `folder` (any path), the second copied the variable into the rebuilt config
    folder = tmp_path / "made_by_the_checkpoint"
    monkeypatch.setenv("TRAINLAB_PLANTED_SECRET", "s3cr3t")
    path = tmp_path / "interpolated.ckpt"
    config = _config_with_target("trainlab.nets.mlp.MultitaskMLP", tmp_path / "unused")
    config["data"]["data_dir"] = planted.replace("{folder}", str(folder))
    torch.save({"state_dict": {}, "trainlab": {"config": config, "spec": {}}}, path)
    assert run_cli("eval", f"ckpt_path={path}", "extras.print_config=false") == 2
    assert run_cli("predict", f"ckpt_path={path}", f"input={tmp_path}") == 2
    err = capsys.readouterr().err
    assert not folder.exists()
    assert err.count("holds an interpolation at `data.data_dir`") == 2, err
    assert "s3cr3t" not in err


@pytest.mark.parametrize("kind", ["pickle", "planted"])
def test_resume_refuses_hostile_checkpoints_before_any_work(
    run_cli, attack, kind: str, digits_dir: Path, capsys
) -> None:
    ckpt = attack[kind]
    # a run folder that died (the resume rules take only run folders): the load check must refuse
    (ckpt.parent.parent / "status.json").write_text('{"status": "failed"}\n')
    assert run_cli(*train_args(digits_dir, f"resume={ckpt}")) == 2
    err = capsys.readouterr().err
    assert not attack["marker"].exists()
    assert ("not plain data" if kind == "pickle" else "is not an allowed target") in err, err
    assert not (ckpt.parent.parent / "config.yaml").exists()  # refused before any work


@pytest.mark.parametrize("kind", ["pickle", "planted", "json"])
def test_cv_hyperparams_refuses_checkpoints_and_planted_targets(
    run_cli, attack, kind: str, tmp_path: Path, capsys
) -> None:
    if kind == "json":
        given = tmp_path / "best_hyperparameters.json"
        given.write_text(json.dumps({"model.net._target_": "builtins.open"}))
    else:
        given = attack[kind]
    assert run_cli("cv", f"hyperparams={given}", "mode=train") == 2
    err = capsys.readouterr().err
    assert not attack["marker"].exists()
    expected = "is not an allowed target" if kind == "json" else "neither a JSON file"
    assert expected in err, err


def test_command_line_targets_are_refused_before_torch_is_imported(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    code = (
        "import sys\n"
        "from trainlab.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit_:\n"
        "    print('exit', exit_.code, 'torch_imported', 'torch' in sys.modules)\n"
    )
    for target in PLANTED_TARGETS:
        args = ["train", f"+callbacks.x._target_={target}", f"+callbacks.x.file={marker}"]
        if target == "builtins.open":
            args.append("+callbacks.x.mode=w")
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=subprocess_env(tmp_path / "logs"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "exit 2 torch_imported False" in done.stdout, done.stdout + done.stderr
        assert f"`{target}` is not an allowed target" in done.stderr, done.stderr
        assert not marker.exists()
    assert not (tmp_path / "logs").exists()  # not even a run folder


@pytest.mark.parametrize(
    "override",
    [
        "+hydra.callbacks.x._target_=shutil.copyfile",
        "hydra.sweeper._target_=os.system",
        "+hydra.job_logging.handlers.x.class=shutil.copyfile",
        "+hydra.sweeper.custom_search_space=os.system",
        "+model.net._args_=[{_target_: builtins.open}]",
        "+data.extra={_target_: functools.partial, _args_: [builtins.exec]}",
    ],
)
def test_hydra_nodes_and_nested_targets_are_refused(run_cli, override: str, capsys) -> None:
    assert run_cli("train", override) == 2
    assert "is not an allowed target" in capsys.readouterr().err


def test_an_experiment_file_cannot_widen_the_allowlist(tmp_path: Path) -> None:
    import shutil

    configs = tmp_path / "configs"
    shutil.copytree(Path(__file__).resolve().parents[2] / "configs", configs)
    (configs / "local" / "default.yaml").unlink(missing_ok=True)
    (configs / "experiment" / "evil.yaml").write_text(
        "# @package _global_\nallowed_targets: ['builtins.open']\n"
        "callbacks:\n  x:\n    _target_: builtins.open\n"
    )
    env = {**subprocess_env(tmp_path / "logs"), "TRAINLAB_CONFIG_DIR": str(configs)}
    command = [sys.executable, "-m", "trainlab.cli.main", "train", "experiment=evil"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "may not widen what a run may instantiate" in done.stderr, done.stderr
    # the same entry in the user's own configs/local/ file is trusted
    (configs / "local" / "default.yaml").write_text(
        "# @package _global_\nallowed_targets: ['builtins.open']\n"
    )
    done = subprocess.run(
        [*command, "--cfg", "job"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "_target_: builtins.open" in done.stdout


def test_sbatch_newline_is_refused_and_values_are_quoted(tmp_path: Path, monkeypatch) -> None:
    from hydra_plugins.trainlab_launcher.launcher import make_executor
    from trainlab.errors import ConfigError

    # submitit wants `srun` on PATH to build a SLURM executor; none is run here
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    settings = {
        "submitit_folder": str(tmp_path / "jobs"),
        "partition": "gpu",
        "comment": "it's $(touch x)",
        "setup": ["module load cuda"],
        "additional_parameters": {"mail-user": "me@lab.org"},
        "container": {"image": str(tmp_path / "a b.sif"), "binds": ["/data;touch y"]},
    }
    executor, python = make_executor(settings, [str(tmp_path)])
    script = executor._executor._make_submission_file_text("CMD", "uid")
    assert "#SBATCH --partition=gpu" in script
    assert "#SBATCH --comment='it'\"'\"'s $(touch x)'" in script
    assert "'/data;touch y:/data;touch y'" in python and f"'{tmp_path}/a b.sif'" in python
    for key, value in [
        ("partition", "gpu\ntouch x #"),
        ("comment", "a\rb"),
        ("setup", ["module load x\ntouch y"]),
        ("additional_parameters", {"mail-user\ntouch z": "x"}),
        ("additional_parameters", {"mail user": "x"}),
    ]:
        with pytest.raises(ConfigError, match=r"control character|not a flag name"):
            make_executor({**settings, key: value}, [str(tmp_path)])


SECRET_KEY = "sk-planted-4f9c2a7e1b"
SECRET_PASSWORD = "pl4nted-db-pw"


def test_planted_secrets_reach_no_file_with_all_four_loggers(
    run_cli, digits_dir: Path, log_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    monkeypatch.setenv("TRAINLAB_TEST_API_KEY", SECRET_KEY)
    monkeypatch.setenv("TRAINLAB_TEST_DB_URL", f"postgresql://alice:{SECRET_PASSWORD}@db.lab.org/x")
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())  # no server needed
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    args = train_args(
        digits_dir,
        "logger=[csv,tensorboard,wandb,mlflow]",
        "experiment_name=exp-${oc.env:TRAINLAB_TEST_API_KEY}",
        "tags=[digits,'${oc.env:TRAINLAB_TEST_DB_URL}']",
        "logger.mlflow.tags={db: '${oc.env:TRAINLAB_TEST_DB_URL}'}",
    )
    assert run_cli(*[a for a in args if a != "logger=csv"]) == 0
    leaks = []
    for root in (log_dir, store):
        for path in Path(root).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in (SECRET_KEY, SECRET_PASSWORD):
                    if secret.encode() in data:
                        leaks.append(f"{path.relative_to(root)}: {secret}")
    assert not leaks, leaks
    run = next((log_dir / "train" / "runs").iterdir())
    assert "experiment_name: exp-***" in (run / "config.yaml").read_text()
    assert "postgresql://***@db.lab.org/x" in (run / "config.yaml").read_text()
    assert "experiment: exp-***" in (run / "summary.txt").read_text()
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["trainlab"]["config"]["experiment_name"] == "exp-***"
    assert list((run / "wandb").glob("offline-run-*")), "wandb wrote no offline run"
    assert list(store.rglob("meta.yaml")), "mlflow wrote no run"


def test_result_files_follow_the_umask(run_cli, digits_dir: Path, log_dir: Path) -> None:
    old = os.umask(0o002)
    try:
        assert run_cli(*train_args(digits_dir, "trainer.max_epochs=1")) == 0
    finally:
        os.umask(old)
    run = next((log_dir / "train" / "runs").iterdir())
    for name in ("config.yaml", "metrics.json", "status.json", "summary.txt"):
        assert (run / name).stat().st_mode & 0o777 == 0o664, name


def test_a_best_config_file_cannot_plant_a_target(run_cli, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "PWNED"
    best = tmp_path / "best_config.yaml"
    best.write_text(
        "model:\n  optimizer:\n    lr: 0.01\n"
        f"tags:\n  - _target_: builtins.open\n    file: {marker}\n    mode: w\n"
    )
    assert run_cli("train", f"best_config={best}") == 2
    err = capsys.readouterr().err
    assert "`builtins.open` is not an allowed target (tags[0]._target_" in err, err
    assert not marker.exists()
