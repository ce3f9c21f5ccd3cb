"""hydra.sweeper.mode=async on the real digits model: two worker processes, real pruning."""

from __future__ import annotations

import json
import time

import yaml
from optuna.trial import TrialState

from trainlab.core.optuna_study import PRUNED_ATTR

from .conftest import digits_args
from .test_digits_sweep import load_study, queue_good_then_useless, sweep_dir


def test_async_workers_train_and_prune_real_digits_trials(train_cli, sweep_digits_dir, sweep_env):
    # lr=0.01 learns; lr=0 stays at chance (~0.1), below the threshold at its first report.
    # The two trials run at once, one per worker: the threshold pruner decides from the
    # trial's own report (a median pruner would depend on which trial reports first).
    queue_good_then_useless(sweep_env)
    started = time.monotonic()
    code = train_cli(
        "-m",
        "hparams_search=images_optuna",
        "hydra.sweeper.params=null",
        "model.optimizer.lr=choice(0.0, 0.01)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.pruner=null",
        "hydra.sweeper.pruner={name: threshold, lower: 0.2}",
        "hydra.sweeper.plots=false",
        "hydra.sweeper.mode=async",
        "hydra.sweeper.workers=2",
        "hydra.sweeper.heartbeat_s=2",
        *digits_args(sweep_digits_dir),
    )
    assert code == 0
    study = load_study(sweep_env)
    good, useless = study.trials
    assert good.params == {"model.optimizer.lr": 0.01} and good.state == TrialState.COMPLETE
    assert useless.params == {"model.optimizer.lr": 0.0} and useless.state == TrialState.PRUNED
    # stopped before its last epoch (chance accuracy on 2 batches may pass 0.2 once)
    assert useless.user_attrs[PRUNED_ATTR] < 2
    assert max(useless.intermediate_values) == useless.user_attrs[PRUNED_ATTR]
    assert sorted(good.intermediate_values) == [0, 1, 2]  # one report per epoch
    # each trial trained in its own worker process, in job folder N
    assert good.user_attrs["trainlab_worker"] != useless.user_attrs["trainlab_worker"]
    assert (sweep_dir(sweep_env) / "0" / "metrics.json").is_file()
    status = json.loads((sweep_dir(sweep_env) / "1" / "status.json").read_text())
    assert status["status"] == "failed" and "TrialPruned" in json.dumps(status)
    results = yaml.safe_load((sweep_dir(sweep_env) / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 1, "pruned": 1, "fail": 0}
    assert results["best_params"] == {"model.optimizer.lr": 0.01}
    print(f"async digits sweep, 2 workers x 1 trial: {time.monotonic() - started:.0f} s")
