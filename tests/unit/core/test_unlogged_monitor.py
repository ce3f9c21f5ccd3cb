"""A validation monitor the model never logs is refused after the sanity check, not after the
first whole epoch; names a short sanity check may leave out are not refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lightning.pytorch.callbacks import EarlyStopping

from trainlab.core.callbacks import refuse_unlogged_monitors
from trainlab.errors import ConfigError


class PUModel:  # only its class name is read
    pass


def _trainer(logged: list[str], callbacks=()) -> SimpleNamespace:
    return SimpleNamespace(callback_metrics={n: 0.5 for n in logged}, callbacks=list(callbacks))


PU_LOGS = ["val/loss", "val/auroc", "val/average_precision", "val/recall"]


def test_a_metric_kind_the_model_does_not_log_is_refused_with_what_it_logs() -> None:
    with pytest.raises(ConfigError) as err:
        refuse_unlogged_monitors(_trainer(PU_LOGS), PUModel(), "val/acc")
    assert "monitor `val/acc` is never logged by PUModel" in str(err.value)
    assert "val/auroc, val/average_precision" in str(err.value)


def test_a_callback_of_its_own_monitor_is_named_by_its_class() -> None:
    stopper = EarlyStopping(monitor="val/f1")
    with pytest.raises(ConfigError, match="the monitor of EarlyStopping `val/f1`"):
        refuse_unlogged_monitors(_trainer(PU_LOGS, [stopper]), PUModel(), "val/auroc")


@pytest.mark.parametrize(
    ("logged", "monitor"),
    [
        (PU_LOGS, "val/auroc"),  # logged
        # a task without a label in the two sanity batches: its figures are left out there
        (["val/loss", "val/f1_weighted", "val/host/f1_weighted"], "val/material/f1_weighted"),
        (["val/loss"], "val/acc"),  # only the loss: nothing to judge by
        (PU_LOGS, "train/acc"),  # training figures do not exist yet
        (PU_LOGS, None),
    ],
)
def test_names_a_sanity_check_may_leave_out_are_not_refused(logged, monitor) -> None:
    refuse_unlogged_monitors(_trainer(logged), PUModel(), monitor)
