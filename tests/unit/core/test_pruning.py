"""The Optuna pruning callback on a real (tiny) Lightning fit, in and out of process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import optuna
import pytest
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from trainlab.core.optuna_study import (
    PRUNED_ATTR,
    PRUNER_ATTR,
    default_storage_spec,
    open_storage,
)
from trainlab.core.pruning import OptunaPruning
from trainlab.errors import ConfigError, TrainlabError

SRC = Path(__file__).resolve().parents[3] / "src"


class ConstantLoss(L.LightningModule):
    """Logs a fixed `val/loss` (and trains a scalar), so pruning decisions are predictable."""

    def __init__(self, val_loss: float) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.val_loss = val_loss

    def training_step(self, batch, batch_idx):
        return (self.w - batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.val_loss + 0 * self.w.sum(), on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 1)))

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(2, 1)))


def fit(callback: OptunaPruning, val_loss: float, epochs: int = 3) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,
        callbacks=[callback],
    )
    trainer.fit(ConstantLoss(val_loss))
    return trainer


def make_study(folder: Path, kind: str, pruner: dict) -> tuple[str, optuna.Study]:
    """A study with one finished trial whose loss was 1.0 at every epoch."""
    spec = default_storage_spec(folder, kind)
    study = optuna.create_study(study_name="s", storage=open_storage(spec))
    study.set_user_attr(PRUNER_ATTR, pruner)
    study.add_trial(
        optuna.trial.create_trial(
            params={"lr": 0.1},
            distributions={"lr": FloatDistribution(0.0, 1.0)},
            value=1.0,
            intermediate_values={0: 1.0, 1: 1.0, 2: 1.0},
        )
    )
    return spec, study


def running_trial(spec: str, study: optuna.Study) -> dict:
    trial = study.ask({"lr": FloatDistribution(0.0, 1.0)})
    return {"storage": spec, "study_name": study.study_name, "number": trial.number}


def test_worse_run_is_pruned_at_its_first_validation(tmp_path):
    spec, study = make_study(tmp_path, "sqlite", {"name": "median", "n_startup_trials": 1})
    ref = running_trial(spec, study)
    with pytest.raises(optuna.TrialPruned, match=r"pruned at epoch 0 \(val/loss=5\)"):
        fit(OptunaPruning("val/loss", trial=ref), val_loss=5.0)
    trial = study.trials[ref["number"]]
    assert trial.intermediate_values == {0: 5.0}  # the sanity check was not reported
    assert trial.user_attrs[PRUNED_ATTR] == 0


def test_better_run_reports_every_epoch_and_is_not_pruned(tmp_path):
    spec, study = make_study(tmp_path, "journal", {"name": "median", "n_startup_trials": 1})
    ref = running_trial(spec, study)
    trainer = fit(OptunaPruning("val/loss", trial=ref), val_loss=0.5)
    assert trainer.current_epoch == 3
    trial = study.trials[ref["number"]]
    assert trial.intermediate_values == {0: 0.5, 1: 0.5, 2: 0.5}
    assert trial.state == TrialState.RUNNING  # the sweeper, not the job, ends the trial


def test_global_step_reports(tmp_path):
    spec, study = make_study(tmp_path, "sqlite", {"name": "none"})
    ref = running_trial(spec, study)
    fit(OptunaPruning("val/loss", trial=ref, step="global_step"), val_loss=0.5, epochs=2)
    assert sorted(study.trials[ref["number"]].intermediate_values) == [4, 8]


def test_without_a_trial_the_callback_does_nothing(tmp_path):
    callback = OptunaPruning("val/loss", trial=None)
    assert not callback.active
    assert fit(callback, val_loss=5.0).current_epoch == 3


def test_unlogged_monitor_names_the_logged_keys(tmp_path):
    spec, study = make_study(tmp_path, "sqlite", {"name": "none"})
    with pytest.raises(ConfigError, match=r"monitor='val/acc' was not logged.*val/loss"):
        fit(OptunaPruning("val/acc", trial=running_trial(spec, study)), val_loss=1.0)


def test_trial_that_is_not_running_is_refused(tmp_path):
    spec, _ = make_study(tmp_path, "sqlite", {"name": "none"})
    ref = {"storage": spec, "study_name": "s", "number": 0}  # the finished trial
    with pytest.raises(TrainlabError, match="trial 0 of study 's' is COMPLETE"):
        fit(OptunaPruning("val/loss", trial=ref), val_loss=1.0)
    with pytest.raises(ConfigError, match=r"lacks \['number'\]"):
        OptunaPruning("val/loss", trial={"storage": spec, "study_name": "s"})


def test_pruning_from_another_process(tmp_path):
    """The job runs in a child process and reaches its trial only through the journal file."""
    spec, study = make_study(tmp_path, "journal", {"name": "median", "n_startup_trials": 1})
    ref = running_trial(spec, study)
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            import optuna
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_pruning import OptunaPruning, fit
            try:
                fit(OptunaPruning("val/loss", trial={ref!r}), val_loss=3.0)
            except optuna.TrialPruned:
                sys.exit(42)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 42, done.stderr[-2000:]
    trial = study.trials[ref["number"]]
    assert trial.intermediate_values == {0: 3.0}
    assert trial.user_attrs[PRUNED_ATTR] == 0


@pytest.mark.parametrize(
    ("overrides", "reported"),
    [
        ([], "val/acc"),
        # checkpoints on val/loss, the study maximises val/acc: the pruner must see val/acc
        (["monitor=val/loss", "mode=min", "optimized_metric=val/acc"], "val/acc"),
        (["monitor=val/loss", "mode=min"], "val/loss"),
    ],
)
def test_the_pruning_callback_reports_the_studys_objective(overrides, reported):
    # Before, it reported `monitor`: a maximised val/acc study got val/loss as intermediate
    # values (2.28, 2.04, ...), and its median pruner stopped the trials of lowest loss.
    from hydra import compose, initialize_config_dir

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    configs = Path(__file__).resolve().parents[3] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    assert cfg.callbacks.optuna_pruning.monitor == reported
