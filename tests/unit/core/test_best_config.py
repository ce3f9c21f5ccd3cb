import pytest
import yaml
from omegaconf import OmegaConf

from trainlab.core.best_config import apply_best_config, flatten, override_keys, unflatten
from trainlab.errors import ConfigError


def base():
    return OmegaConf.create(
        {
            "best_config": None,
            "data": {"batch_size": 32},
            "model": {"optimizer": {"lr": 1e-3, "weight_decay": 0.0}, "net": {"dropout": 0.1}},
        }
    )


def write(tmp_path, values):
    path = tmp_path / "best_config.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_flatten_roundtrip_and_metadata_skipped():
    nested = {"a": {"b": 1, "c": {"d": [1, 2]}}, "_search": {"trial": 3}}
    assert flatten(nested) == {"a.b": 1, "a.c.d": [1, 2]}
    assert unflatten(flatten(nested)) == {"a": {"b": 1, "c": {"d": [1, 2]}}}


def test_override_keys():
    assert override_keys(["+a.b=1", "~c", "d=x", "hydra.run.dir=y"]) == {"a.b", "c", "d"}


def test_best_values_merge_below_the_command_line(tmp_path):
    cfg = base()
    cfg.best_config = write(
        tmp_path, {"model": {"optimizer": {"lr": 3e-5}, "net": {"dropout": 0.3}}, "_search": {}}
    )
    applied = apply_best_config(cfg, ["model.net.dropout=0.05"])
    assert applied == ["model.optimizer.lr"]
    assert cfg.model.optimizer.lr == 3e-5  # from the best config
    assert cfg.model.net.dropout == 0.1  # the command line (already composed) wins
    assert cfg.model.optimizer.weight_decay == 0.0  # untouched


def test_nothing_to_do_without_best_config():
    cfg = base()
    assert apply_best_config(cfg, []) == [] and cfg == base()


def test_unknown_key_missing_file_and_group_choice(tmp_path):
    cfg = base()
    cfg.best_config = write(tmp_path, {"model": {"optimizer": {"momentum": 0.9}}})
    with pytest.raises(ConfigError, match=r"`model\.optimizer\.momentum` is not a key"):
        apply_best_config(cfg, [])
    cfg.best_config = str(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no such file"):
        apply_best_config(cfg, [])
    cfg.best_config = write(tmp_path, {"_choices": {"model": "text_shared"}})
    with pytest.raises(ConfigError, match="Add `model=text_shared`"):
        apply_best_config(cfg, [], choices={"model": "text_joint"})
    assert apply_best_config(cfg, [], choices={"model": "text_shared"}) == []
