"""Search space grammar -> Optuna, and hyperparameters applied to a config."""

import json

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import FloatDistribution, IntDistribution

from trainlab.errors import ConfigError
from trainlab.pipelines.kmer_cv.params import apply_params, load_hyperparams
from trainlab.pipelines.kmer_cv.rules import versions
from trainlab.pipelines.kmer_cv.search_space import parse_search_space, suggest

SPACE = {
    "model.net.n_layers": "range(2, 5)",
    "model.net.hidden_dim_0": "range(64, 576, 64)",
    "model.net.dropout": "interval(0.1, 0.5)",
    "model.optimizer.lr": "tag(log, interval(1e-5, 1e-2))",
    "model.net.activation": "choice(relu, gelu, leaky_relu)",
    "model.net.batch_norm": "choice(true, false)",
    "data.batch_size": 64,
}


def test_grammar_to_distributions() -> None:
    space = parse_search_space(SPACE)
    dists = space.searched.distributions
    assert dists["model.net.n_layers"] == IntDistribution(2, 4, step=1)
    assert dists["model.net.hidden_dim_0"] == IntDistribution(64, 512, step=64)
    assert dists["model.optimizer.lr"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert list(dists["model.net.batch_norm"].choices) == [True, False]
    assert space.fixed == {"data.batch_size": 64}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = suggest(study.ask(), space)
        assert values["model.net.n_layers"] in (2, 3, 4)
        width = values["model.net.hidden_dim_0"]
        assert width % 64 == 0 and width <= 512
        assert 1e-5 <= values["model.optimizer.lr"] <= 1e-2
        assert values["model.net.activation"] in ("relu", "gelu", "leaky_relu")
        assert values["data.batch_size"] == 64


def test_bad_grammar() -> None:
    with pytest.raises(ConfigError, match="cannot be parsed"):
        parse_search_space({"model.net.dropout": "interval(0.1,"})
    with pytest.raises(ConfigError, match="low < high"):
        parse_search_space({"model.net.dropout": "interval(0.5, 0.1)"})


def test_apply_params_and_flat_widths() -> None:
    cfg = OmegaConf.create({"model": {"net": {"n_layers": 2, "hidden_dims": [8, 8]}}, "data": {}})
    out = apply_params(cfg, {"model.net.hidden_dim_0": 64, "model.task_weights.a": 2.0})
    assert out.model.net.hidden_dims is None and out.model.net.hidden_dim_0 == 64
    assert out.model.task_weights.a == 2.0
    assert cfg.model.net.hidden_dims == [8, 8]  # the original is untouched
    with pytest.raises(ConfigError, match="config paths"):
        apply_params(cfg, {"lr": 0.1})


def test_load_hyperparams(tmp_path) -> None:
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"model.optimizer.lr": 0.01}))
    assert load_hyperparams(str(path)) == {"model.optimizer.lr": 0.01}
    assert load_hyperparams('{"a.b": 1}') == {"a.b": 1}
    assert load_hyperparams(OmegaConf.create({"a.b": 2})) == {"a.b": 2}
    assert load_hyperparams(None) == {}
    with pytest.raises(ConfigError, match="neither a JSON file"):
        load_hyperparams("not json")


def test_trial_parameters_in_one_short_line() -> None:
    from trainlab.pipelines.kmer_cv.params import describe_params

    params = {
        "model.net.n_layers": 3,
        "model.net.hidden_dim_0": 512,
        "model.net.hidden_dim_1": 384,
        "model.net.hidden_dim_2": 320,
        "model.net.hidden_dim_3": 128,  # unused with 3 layers: not shown
        "model.net.dropout": 0.16239780813448107,
        "model.net.batch_norm": False,
        "model.optimizer.lr": 0.008123245085588688,
        "data.batch_size": 32,
        "model.task_weights.sample_type": 0.9563633644393066,
    }
    assert describe_params(params) == (
        "n_layers=3 hidden=[512, 384, 320] dropout=0.162 batch_norm=False lr=0.00812 "
        "batch_size=32 w.sample_type=0.956"
    )


def test_nested_keys_and_one_task_weight_per_task() -> None:
    space = parse_search_space(
        {
            "model": {
                "net": {"dropout": "interval(0.1, 0.5)"},
                "task_weights": {"for_each": ["host", "site"], "search": "interval(0.5, 2.0)"},
            },
            "data.batch_size": 64,  # dotted keys still work
        }
    )
    assert sorted(space.searched.distributions) == [
        "model.net.dropout",
        "model.task_weights.host",
        "model.task_weights.site",
    ]
    assert space.fixed == {"data.batch_size": 64}
    with pytest.raises(ConfigError, match="must be a non-empty list"):
        parse_search_space({"model.task_weights": {"for_each": [], "search": "interval(0, 1)"}})
    with pytest.raises(ConfigError, match="exactly `for_each`"):
        parse_search_space({"model": {"task_weights": {"for_each": ["a"]}}})


def test_widths_aggregate_over_the_folds_that_had_the_layer(tmp_path, capsys) -> None:
    # folds with 2, 4 and 2 layers: the 3-layer final model's third width came from the two
    # folds without a third layer (64, 64 -> 64) instead of the fold that had one (128)
    from trainlab.pipelines.kmer_cv.final import aggregate

    widths = "range(64, 576, 64)"
    cfg = OmegaConf.create(
        {
            "monitor": "val/f1_weighted",
            "cv": {
                "n_folds": 3,
                "monitor_mode": "max",
                "n_trials": 1,
                "search_space": {
                    "model": {
                        "net": {"n_layers": "range(2, 5)"}
                        | {f"hidden_dim_{i}": widths for i in range(4)}
                    }
                },
            },
        }
    )
    folds = [(2, [64, 64, 64, 512]), (4, [128, 128, 128, 64]), (2, [64, 64, 64, 512])]
    for k, (n_layers, dims) in enumerate(folds):
        params = {"model.net.n_layers": n_layers}
        params |= {f"model.net.hidden_dim_{i}": w for i, w in enumerate(dims)}
        record = {
            "fold_id": k,
            "best_params": params,
            "test_metrics": {"overall": {"f1_weighted": 0.5}, "a": {"f1_weighted": 0.5}},
            "search": {"n_trials": 1},
            **versions(),  # computed under this trainlab's rules (kmer_cv/rules.py)
        }
        folder = tmp_path / "cv_results" / f"fold_{k}"
        folder.mkdir(parents=True)
        (folder / f"multitask_fold_{k}_results_20260101_000000.json").write_text(json.dumps(record))
    best = aggregate(cfg, tmp_path)["best_hyperparameters"]
    assert best["model.net.n_layers"] == 3  # mean 2.67, snapped
    assert best["model.net.hidden_dim_2"] == 128  # fold 1 alone had a third layer
    assert best["model.net.hidden_dim_0"] == 64  # mean 85.3 of all three, snapped
    assert best["model.net.hidden_dim_3"] == 64  # unused by the final model; fold 1's value
    rules = json.loads((tmp_path / "cv_results" / "aggregated_results.json").read_text())
    assert rules["hyperparameters"]["model.net.hidden_dim_2"]["folds"] == [1]
    assert "model.net.hidden_dim_2 = 128  (mean, snapped to step and bounds; folds 1: 128)" in (
        capsys.readouterr().out
    )
