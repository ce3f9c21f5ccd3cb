import pytest

from trainlab.errors import ConfigError
from trainlab.pipelines.staged_search import best_config_from_results

RESULTS = {
    "best_params": {"model.optimizer.lr": 3e-5, "data.batch_size": 16, "model": "text_shared"},
    "best_value": 0.81,
    "best_trial": 4,
    "best_job_dir": "/sweep/4",
}


def test_best_config_nests_params_and_separates_group_choices():
    best = best_config_from_results(RESULTS, None, {"model", "data"}, {"stage": "s1"})
    assert best["model"] == {"optimizer": {"lr": 3e-5}}
    assert best["data"] == {"batch_size": 16}
    assert best["_choices"] == {"model": "text_shared"}
    assert best["_search"]["best_value"] == 0.81 and best["_search"]["stage"] == "s1"


def test_previous_stage_values_carry_forward_and_are_overridden():
    previous = {
        "model": {"optimizer": {"lr": 1e-4, "weight_decay": 0.01}},
        "_search": {"stage": "s0"},
        "_choices": {"model": "text_joint"},
    }
    best = best_config_from_results(RESULTS, previous, {"model", "data"}, {"stage": "s1"})
    assert best["model"]["optimizer"] == {"lr": 3e-5, "weight_decay": 0.01}
    assert best["_choices"] == {"model": "text_shared"}
    assert best["_search"]["stage"] == "s1"


def test_no_best_trial_is_an_error():
    with pytest.raises(ConfigError, match="without a best trial"):
        best_config_from_results({"best_params": None}, None, set(), {})


def test_a_carried_value_the_best_trial_did_not_train_with_is_written_as_trained(tmp_path):
    # stage 2 started from stage 1's best config (weight_decay 0.00635) with the fixed override
    # model.optimizer.weight_decay=0.0: every trial trained with 0.0, and best_config.yaml said
    # 0.00635 (a configuration no trial evaluated)
    from omegaconf import OmegaConf

    from trainlab.pipelines.staged_search import _trained_config

    job_dir = tmp_path / "0"
    job_dir.mkdir()
    run_config = {
        "model": {"optimizer": {"lr": 3e-5, "weight_decay": 0.0}},
        "data": {"batch_size": 16},
    }
    OmegaConf.save(OmegaConf.create(run_config), job_dir / "config.yaml")
    results = {**RESULTS, "best_params": {"model.optimizer.lr": 3e-5}, "best_job_dir": job_dir}
    previous = {"model": {"optimizer": {"lr": 1e-4, "weight_decay": 0.00635}}}
    trained = _trained_config(results)
    best = best_config_from_results(results, previous, {"model", "data"}, {}, trained)
    assert best["model"]["optimizer"] == {"lr": 3e-5, "weight_decay": 0.0}
    assert "data" not in best  # only the keys a best config holds, as trained
