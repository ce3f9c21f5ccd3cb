"""A searched key nothing uses stops a search before its first trial (issue 11)."""

from __future__ import annotations

from omegaconf import OmegaConf

from trainlab.core.search.consumed import unconsumed_keys

MODEL = "trainlab.models.classification.MultiHeadClassifier"


def _cfg(task_weights=None):
    return OmegaConf.create(
        {
            "data": {"tasks": ["sample_type", "material"]},
            "model": {"_target_": MODEL, "task_weights": task_weights, "optimizer": {"lr": 1e-3}},
        }
    )


def test_task_weights_must_name_tasks_of_the_data() -> None:
    keys = ["model.task_weights.sample_type", "model.task_weights.host", "model.optimizer.lr"]
    found = unconsumed_keys(_cfg(), keys)
    assert list(found) == ["model.task_weights.host"]
    assert "data.tasks" in found["model.task_weights.host"]
    assert "'host' is not one of them" in found["model.task_weights.host"]


def test_a_default_weight_for_a_task_the_data_lacks_is_flagged_too() -> None:
    # the config holds the key (the synthetic data's default), the data does not have the task
    cfg = _cfg({"host": 1.0, "sample_type": 1.0})
    assert list(unconsumed_keys(cfg, ["model.task_weights.host"])) == ["model.task_weights.host"]
    assert unconsumed_keys(cfg, ["model.task_weights.sample_type"]) == {}


def test_without_a_task_list_the_component_judges_the_names() -> None:
    cfg = _cfg()
    cfg.data.tasks = None
    assert unconsumed_keys(cfg, ["model.task_weights.anything"]) == {}
    assert (
        "takes no argument"
        in unconsumed_keys(cfg, ["model.task_weightz.x"])["model.task_weightz.x"]
    )
