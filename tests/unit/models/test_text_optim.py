import math
from functools import partial

import pytest
import torch
from torch import nn

from trainlab.errors import ConfigError
from trainlab.models.text_optim import decay_param_groups, warmup_lambda


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(4, 4)
        self.LayerNorm = nn.LayerNorm(4)  # HF naming
        self.norm = nn.LayerNorm(4)  # plain naming
        self.emb = nn.Embedding(10, 4)


def test_no_decay_on_bias_and_layernorm():
    block = Block()
    decay, no_decay = decay_param_groups(block, 0.01)
    names = {id(p): n for n, p in block.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert sorted(names[id(p)] for p in decay["params"]) == ["dense.weight", "emb.weight"]
    assert sorted(names[id(p)] for p in no_decay["params"]) == [
        "LayerNorm.bias",
        "LayerNorm.weight",
        "dense.bias",
        "norm.bias",
        "norm.weight",
    ]
    opt = partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.5)(params=[decay, no_decay])
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_warmup_then_schedule(schedule):
    f = warmup_lambda(schedule, warmup_steps=10, total_steps=110)
    warm = [f(s) for s in range(10)]
    assert warm == sorted(warm) and warm[0] < 0.2 and f(10) == pytest.approx(1.0)
    end = f(109)
    expected = {"constant": 1.0, "linear": 1 / 100, "cosine": 0.5 * (1 + math.cos(math.pi * 0.99))}
    assert end == pytest.approx(expected[schedule])


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="lr_schedule='step'"):
        warmup_lambda("step", 0, 10)
