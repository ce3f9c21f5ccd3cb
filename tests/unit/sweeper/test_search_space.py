"""Hydra's override grammar -> Optuna distributions -> job overrides."""

from __future__ import annotations

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from trainlab.core.optuna_study import build_pruner, spec_from_config
from trainlab.core.search.samplers import SAMPLERS, build_sampler
from trainlab.core.search.space import parse_search_space
from trainlab.errors import ConfigError


@pytest.fixture
def parser() -> OverridesParser:
    return OverridesParser.create()


def test_grammar_maps_to_distributions(parser):
    space = parse_search_space(
        {
            "model.lr": "tag(log, interval(1e-5, 1e-1))",
            "model.dropout": "interval(0, 0.5)",
            "data.batch_size": "choice(32, 64, 128)",
            "model.layers": "range(1, 8, 2)",
            "model.width": "tag(log, range(16, 257))",
            "model.heads": "tag(int, interval(1, 8))",
            "model.alpha": "range(0.1, 0.5, 0.1)",
            "model.order": "shuffle(range(0, 3))",
            "trainer.max_epochs": 3,
        },
        ["optimizer=adam,sgd", "+extra@pkg=choice(a,b)", "seed=1"],
        parser,
    )
    d = space.distributions
    assert d["model.lr"] == FloatDistribution(1e-5, 1e-1, log=True)
    assert d["model.dropout"] == FloatDistribution(0.0, 0.5)
    assert d["data.batch_size"] == CategoricalDistribution([32, 64, 128])
    assert d["model.layers"] == IntDistribution(1, 7, step=2)  # Hydra's stop is exclusive
    assert d["model.width"] == IntDistribution(16, 256, log=True)
    assert d["model.heads"] == IntDistribution(1, 8)
    assert d["model.alpha"].step == pytest.approx(0.1)
    assert d["model.alpha"].high == pytest.approx(0.4)
    assert d["model.order"] == CategoricalDistribution([0, 1, 2])
    assert d["optimizer"] == CategoricalDistribution(["adam", "sgd"])
    assert d["extra@pkg"] == CategoricalDistribution(["a", "b"])
    assert space.fixed == ["trainer.max_epochs=3", "seed=1"]
    assert space.key_elements["extra@pkg"] == "+extra@pkg"


def test_a_float_range_excludes_its_stop(parser):
    # Hydra's float range gives [0.1, 0.4, 0.7, 1.0] for range(0.1, 1.0, 0.3): its rounding
    # keeps 0.1 + 3 x 0.3 = 0.9999999999999999 and makes it 1.0, the stop. Trials ran with
    # x=0.9999999999999999.
    space = parse_search_space(
        {"a": "range(0.1, 1.0, 0.3)", "b": "shuffle(range(0.1, 1.0, 0.3))"}, [], parser
    )
    assert space.distributions["a"].high == pytest.approx(0.7)
    assert space.grid()["a"] == pytest.approx([0.1, 0.4, 0.7])
    assert space.distributions["b"].choices == pytest.approx((0.1, 0.4, 0.7))
    # a stop that the steps do not reach stays out as before
    assert parse_search_space({"c": "range(0, 1, 0.1)"}, [], parser).size() == 10


def test_command_line_replaces_config_params(parser):
    space = parse_search_space({"lr": "interval(0, 1)"}, ["lr=0.5"], parser)
    assert space.distributions == {} and space.fixed == ["lr=0.5"]


def test_overrides_render_values_hydra_can_read_back(parser):
    space = parse_search_space(
        {"a": "choice('x y', [1,2], {k: v}, plain)", "b": "interval(0, 1)"}, [], parser
    )
    assert space.distributions["a"].choices == ("x y", "[1,2]", "{k:v}", "plain")
    overrides = space.overrides({"a": "[1,2]", "b": 0.25})
    assert overrides == ["a=[1,2]", "b=0.25"]
    assert space.overrides({"a": "x y"}) == ["a=x\\ y"]
    for line in (*overrides, *space.overrides({"a": "x y"}), *space.overrides({"a": "{k:v}"})):
        parsed = parser.parse_override(line)
        assert not parsed.is_sweep_override()
    assert parser.parse_override("a=[1,2]").value() == [1, 2]


def test_suggest_uses_the_trial(parser):
    space = parse_search_space(
        {"lr": "tag(log, interval(1e-4, 1))", "n": "range(1, 4)", "c": "choice(a, b)"},
        [],
        parser,
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = space.suggest(trial)
    assert trial.params == values
    assert 1e-4 <= values["lr"] <= 1 and values["n"] in (1, 2, 3) and values["c"] in "ab"


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("x=tag(log, choice(1, 2))", "does not apply to choice"),
        ("x=tag(log, range(1, 10, 2))", "needs step 1"),
        ("x=tag(log, range(0.1, 1.0, 0.1))", "cannot be log scale"),
        ("x=tag(int, interval(0.5, 3))", "whole-number bounds"),
        ("hydra.job.name=choice(a, b)", "Hydra's own settings"),
    ],
)
def test_unsupported_sweeps_say_how_to_fix_them(parser, line, match):
    with pytest.raises(ConfigError, match=match):
        parse_search_space(None, [line], parser)


def test_grid_needs_finite_values(parser):
    space = parse_search_space({"a": "choice(1, 2)", "b": "range(0, 6, 2)"}, [], parser)
    assert space.grid() == {"a": [1, 2], "b": [0, 2, 4]}
    space = parse_search_space({"a": "interval(0, 1)"}, [], parser)
    with pytest.raises(ConfigError, match="grid sampler needs a finite set"):
        space.grid()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_named_sampler_builds(parser, name):
    space = parse_search_space({"a": "choice(1, 2)"}, [], parser)
    sampler = build_sampler({"name": name, "seed": 3}, space, n_existing=0)
    assert type(sampler).__name__.lower().startswith(name.replace("nsgaii", "nsgaii"))


def test_sampler_by_target_and_seed_shift_on_resume(parser):
    space = parse_search_space({"a": "interval(0, 1)"}, [], parser)
    spec = {"_target_": "optuna.samplers.TPESampler", "seed": 5, "n_startup_trials": 3}

    def first_value(n_existing: int) -> float:
        sampler = build_sampler(spec, space, n_existing=n_existing)
        assert isinstance(sampler, optuna.samplers.TPESampler)
        return space.suggest(optuna.create_study(sampler=sampler).ask())["a"]

    assert first_value(0) == first_value(0)  # seeded
    assert first_value(4) != first_value(0)  # a resumed study does not replay trial 0


def test_bad_sampler_and_pruner_configs_name_the_key():
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.pruner\.name='sometimes' is unknown"):
        build_pruner(spec_from_config("sometimes", "hydra.sweeper.pruner", "none"))
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.pruner: .*unexpected keyword"):
        build_pruner({"name": "median", "patience": 3})
    with pytest.raises(ConfigError, match="both name"):
        spec_from_config({"name": "tpe", "_target_": "x.Y"}, "hydra.sweeper.sampler", "tpe")
    assert isinstance(build_pruner({"name": "hyperband"}), optuna.pruners.HyperbandPruner)
    assert isinstance(build_pruner(None), optuna.pruners.NopPruner)


def test_nested_params_of_a_search_file_are_dropped_and_replaced_from_the_command_line(parser):
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    configs = Path(__file__).resolve().parents[3] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "hparams_search=images_optuna",
                "~hydra.sweeper.params.model.label_smoothing",
                "hydra.sweeper.params.data.batch_size=64",
                "hydra.sweeper.params.model.optimizer.lr='interval(0.001, 0.01)'",
            ],
            return_hydra_config=True,
        )
    space = parse_search_space(cfg.hydra.sweeper.params, [], parser)
    assert sorted(space.distributions) == ["model.optimizer.lr", "model.optimizer.weight_decay"]
    assert space.distributions["model.optimizer.lr"] == FloatDistribution(0.001, 0.01)
    assert space.fixed == ["data.batch_size=64"]


def test_dropping_the_only_entry_of_a_group_leaves_no_override_of_the_group(parser):
    # `data: {}` was left, a fixed override `data={}` that every trial got: `best_config`
    # then took `data` as set on the command line and skipped its data.batch_size
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from trainlab.cli.app import register_resolvers
    from trainlab.core.best_config import override_keys

    register_resolvers()
    configs = Path(__file__).resolve().parents[3] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hparams_search=images_optuna", "~hydra.sweeper.params.data.batch_size"],
            return_hydra_config=True,
        )
    space = parse_search_space(cfg.hydra.sweeper.params, [], parser)
    assert "data.batch_size" not in space.distributions
    assert space.fixed == []
    assert "data" not in override_keys(space.overrides(space.first_point()))


@pytest.mark.parametrize(
    ("search", "dropped"),
    [
        ("text/stage0_sanity", "model.optimizer.lr"),
        ("text/stage1_coarse", "model.net.dropout"),
        ("text/stage2_fine", "trainer.accumulate_grad_batches"),
    ],
)
def test_every_text_search_stage_can_drop_an_entry_from_the_command_line(
    parser, search: str, dropped: str
) -> None:
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from trainlab.cli.app import register_resolvers

    register_resolvers()
    configs = Path(__file__).resolve().parents[3] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        composed = [
            compose(
                "train",
                overrides=["experiment=text/criteria", f"hparams_search={search}", *extra],
                return_hydra_config=True,
            )
            for extra in ([], [f"~hydra.sweeper.params.{dropped}"])
        ]
    full, less = (parse_search_space(c.hydra.sweeper.params, [], parser) for c in composed)
    assert dropped in full.distributions
    assert sorted(less.distributions) == sorted(set(full.distributions) - {dropped})
    assert less.fixed == full.fixed  # no `trainer={}` left where the group's one entry was
