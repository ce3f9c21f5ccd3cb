"""The instantiation allowlist: what passes, what is refused, and why (core.allowlist)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from trainlab.core import allowlist
from trainlab.errors import ConfigError

ALLOWED = allowlist.DEFAULT_ALLOWED


@pytest.mark.parametrize(
    "target",
    [
        "trainlab.nets.mlp.MultitaskMLP",
        "trainlab.nets.backbones.create_backbone",
        "torch.optim.AdamW",
        "torch.optim.lr_scheduler.CosineAnnealingLR",
        "torch.nn.Linear",
        "lightning.pytorch.Trainer",
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "lightning.pytorch.loggers.MLFlowLogger",
        "lightning.pytorch.plugins.environments.SLURMEnvironment",
        "optuna.samplers.TPESampler",
        "optuna.pruners.MedianPruner",
        "hydra_plugins.trainlab_sweeper.sweeper.TrainlabOptunaSweeper",
    ],
)
def test_the_project_targets_pass(target: str) -> None:
    assert allowlist.text_refusal(target, ALLOWED) is None
    assert allowlist.object_refusal(target, allowlist.locate(target), ALLOWED) is None


@pytest.mark.parametrize(
    "target",
    [
        "builtins.open",
        "builtins.exec",
        "os.system",
        "subprocess.run",
        "subprocess.Popen",
        "shutil.copyfile",
        "pathlib.Path.write_text",
        "pickle.loads",
        "torch.load",
        "torch.save",
        "torch.hub.load",
        "torch.nn.Module.load_state_dict",  # a method: namespace entries admit classes only
        "trainlab.io.atomic_write_text",  # trainlab's own file writer
        "trainlab.nets.weights.torch.load",  # torch.load reached through a module attribute
        "trainlab.core.build.L.Trainer",
        "trainlab.nets.weights._find_state_dict",
        "torch.optim.Adam.__init__.__globals__",
        "functools.partial",
        "not a name",
        42,
    ],
)
def test_dangerous_targets_are_refused_by_their_text(target) -> None:
    assert allowlist.text_refusal(target, ALLOWED) is not None


@pytest.mark.parametrize(
    ("target", "where"),
    [
        ("trainlab.core.checkpoint.Path", "pathlib"),  # a class re-exported by a trainlab module
        ("torch.nn.Parameter", None),  # defined under torch.nn: passes
    ],
)
def test_the_check_after_import_sees_where_a_class_is_defined(target: str, where) -> None:
    assert allowlist.text_refusal(target, ALLOWED) is None  # the text looks like a class
    reason = allowlist.object_refusal(target, allowlist.locate(target), ALLOWED)
    assert (reason is None) if where is None else (where in reason)


def test_nested_targets_are_found_at_any_depth_and_through_interpolations() -> None:
    cfg = OmegaConf.create(
        {
            "model": {
                "_target_": "trainlab.models.classification.MultiHeadClassifier",
                "net": {"_target_": "torch.nn.Linear", "_args_": [{"_target_": "builtins.open"}]},
                "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True},
                "layers": [{"x": {"_target_": "pickle.loads"}}],
            },
            "alias": "${model.layers}",
            "decoded": "${oc.decode:'{_target_: shutil.copyfile}'}",
        }
    )
    found = dict(allowlist.find_targets(cfg))
    assert found["model.net._args_[0]._target_"] == "builtins.open"
    assert found["model.layers[0].x._target_"] == "pickle.loads"
    assert found["decoded._target_"] == "shutil.copyfile"
    problems = allowlist.config_problems(cfg, ALLOWED)
    assert len(problems) == 4  # open, loads (twice: own place and alias), copyfile
    assert all("is not an allowed target" in p and "+allowed_targets=" in p for p in problems)


def test_instantiate_refuses_before_calling_and_accepts_user_entries(tmp_path) -> None:
    marker = tmp_path / "PWNED"
    node = OmegaConf.create({"_target_": "builtins.open", "file": str(marker), "mode": "w"})
    with pytest.raises(ConfigError, match=r"`builtins\.open` is not an allowed target"):
        allowlist.instantiate(node)
    assert not marker.exists()
    try:
        allowlist.use_extension(["builtins.open"])
        allowlist.instantiate(node).close()
        assert marker.exists()
    finally:
        allowlist.use_extension([])


def test_user_entries_come_only_from_the_command_line_or_configs_local(tmp_path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "default.yaml").write_text("allowed_targets: ['mylab.*']\n")
    cfg = OmegaConf.create({"allowed_targets": ["mylab.*"]})
    assert allowlist.trusted_extension(cfg, [], tmp_path, "default") == ["mylab.*"]
    cfg = OmegaConf.create({"allowed_targets": ["mylab.*", "evil.*"]})
    assert allowlist.trusted_extension(cfg, ["+allowed_targets=[mylab.*,evil.*]"], None, None)
    with pytest.raises(ConfigError, match=r"holds \['evil.\*'\].*may not widen"):
        allowlist.trusted_extension(cfg, ["model.lr=1"], tmp_path, "default")
    with pytest.raises(ConfigError, match="must be a list of names"):
        allowlist.trusted_extension(
            OmegaConf.create({"allowed_targets": [1]}), ["allowed_targets=[1]"], None, None
        )


def test_sampler_and_pruner_targets_pass_the_allowlist(tmp_path) -> None:
    from trainlab.core.optuna_study import build_from_spec, build_pruner

    marker = tmp_path / "PWNED"
    # a pruner spec is read back from the study storage, which others may write
    with pytest.raises(ConfigError, match=r"`builtins\.open` is not an allowed target"):
        build_pruner({"_target_": "builtins.open", "file": str(marker), "mode": "w"})
    assert not marker.exists()
    assert type(build_pruner({"name": "median"})).__name__ == "MedianPruner"
    sampler = build_from_spec({"_target_": "optuna.samplers.RandomSampler"}, {}, "sampler")
    assert type(sampler).__name__ == "RandomSampler"


def test_values_bound_for_a_job_script_are_checked() -> None:
    from trainlab.core.shell_values import shell_value_problems

    slurm = OmegaConf.create({"partition": "gpu", "additional": {"mail-user": "me@lab.org"}})
    assert shell_value_problems(slurm, "cv.slurm", ("additional",)) == []
    slurm.partition = "gpu\ntouch x #"
    slurm.additional = {"x y": "1", "qos": "a\x1bb"}
    problems = shell_value_problems(slurm, "cv.slurm", ("additional",))
    assert len(problems) == 3, problems
    assert "cv.slurm.partition" in problems[0] and "control character" in problems[0]
