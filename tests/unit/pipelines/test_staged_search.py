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
