"""MultitaskMLP: shapes per task, widths from every config form, options and errors."""

import pytest
import torch
from torch import nn

from trainlab.errors import ConfigError
from trainlab.nets.mlp import MultitaskMLP

TASKS = {"sample_type": ["ancient", "modern"], "material": [f"m{i}" for i in range(14)]}


def test_forward_returns_logits_per_task() -> None:
    net = MultitaskMLP(32, TASKS, n_layers=2, hidden_dims=[64, 16])
    out = net(torch.randn(5, 32))
    assert set(out) == set(TASKS)
    assert out["sample_type"].shape == (5, 2) and out["material"].shape == (5, 14)
    out["material"].sum().backward()
    assert net.trunk[0].weight.grad is not None


def test_int_tasks_and_head_structure() -> None:
    net = MultitaskMLP(8, {"a": 3}, n_layers=1, hidden_dims=12, dropout=0.3, activation="gelu")
    head = net.heads["a"]
    assert [type(m) for m in head] == [nn.Linear, nn.GELU, nn.Dropout, nn.Linear]
    assert head[0].in_features == 12 and head[-1].out_features == 3 and head[2].p == 0.3


def test_flat_hidden_dims_and_extras_ignored() -> None:
    net = MultitaskMLP(10, TASKS, n_layers=2, hidden_dim_0=64, hidden_dim_1=32, hidden_dim_2=8)
    linears = [m for m in net.trunk if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [64, 32]


@pytest.mark.parametrize("batch_norm", [True, False])
def test_batch_norm_switch_and_activations(batch_norm: bool) -> None:
    for name, cls in [("relu", nn.ReLU), ("gelu", nn.GELU), ("leaky_relu", nn.LeakyReLU)]:
        net = MultitaskMLP(
            10, TASKS, n_layers=3, hidden_dims=16, batch_norm=batch_norm, activation=name
        )
        kinds = [type(m) for m in net.trunk]
        assert (nn.BatchNorm1d in kinds) is batch_norm
        assert kinds.count(cls) == 3
    net.eval()
    assert net(torch.randn(1, 10))["material"].shape == (1, 14)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="activation"):
        MultitaskMLP(4, TASKS, activation="tanh")
    with pytest.raises(ConfigError, match="hidden_dim_1"):
        MultitaskMLP(4, TASKS, n_layers=2, hidden_dim_0=8)
    with pytest.raises(ConfigError, match="one width per layer"):
        MultitaskMLP(4, TASKS, n_layers=3, hidden_dims=[8, 8])
    with pytest.raises(ConfigError, match="unknown arguments"):
        MultitaskMLP(4, TASKS, hiden=3)
