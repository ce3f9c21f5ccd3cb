"""Multi-task MLP: a shared trunk and one classification head per task."""

import re

import torch
from torch import nn

from trainlab.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}
_HIDDEN_KEY = re.compile(r"hidden_dim_(\d+)$")


class MultitaskMLP(nn.Module):
    """Shared MLP trunk; per task a head Linear -> activation -> dropout -> Linear.

    Args:
        in_features: number of input features (unitigs).
        tasks: task name -> class names, or task name -> number of classes.
        n_layers: trunk depth.
        hidden_dims: trunk widths, one per layer, or one int for all layers.
        dropout: dropout after each trunk layer and inside each head.
        batch_norm: BatchNorm1d after each trunk Linear.
        activation: `relu`, `gelu` or `leaky_relu`.
        head_hidden_dim: width of the heads' hidden layer (default: last trunk width).
        **hidden_dim_i: per-layer widths as flat keys (`hidden_dim_0`, ...), the form search
            spaces sample; keys for layers beyond `n_layers` are ignored.
    """

    def __init__(
        self,
        in_features: int,
        tasks: dict[str, list[str]] | dict[str, int],
        n_layers: int = 2,
        hidden_dims: list[int] | int | None = None,
        dropout: float = 0.2,
        batch_norm: bool = True,
        activation: str = "relu",
        head_hidden_dim: int | None = None,
        **hidden_dim_i: int,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"model.net.activation={activation!r} is unknown; use one of {list(ACTIVATIONS)}."
            )
        if not tasks:
            raise ConfigError("MultitaskMLP needs at least one task (data.tasks is empty).")
        widths = _trunk_widths(n_layers, hidden_dims, hidden_dim_i)
        self.n_classes = {
            task: (len(spec) if not isinstance(spec, int) else spec) for task, spec in tasks.items()
        }
        layers: list[nn.Module] = []
        previous = in_features
        for width in widths:
            layers.append(nn.Linear(previous, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers += [ACTIVATIONS[activation](), nn.Dropout(dropout)]
            previous = width
        self.trunk = nn.Sequential(*layers)
        head_width = head_hidden_dim or previous
        self.heads = nn.ModuleDict(
            {
                task: nn.Sequential(
                    nn.Linear(previous, head_width),
                    ACTIVATIONS[activation](),
                    nn.Dropout(dropout),
                    nn.Linear(head_width, n),
                )
                for task, n in self.n_classes.items()
            }
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return task -> logits of shape (batch, n_classes)."""
        shared = self.trunk(x)
        return {task: head(shared) for task, head in self.heads.items()}


def _trunk_widths(
    n_layers: int, hidden_dims: list[int] | int | None, flat: dict[str, int]
) -> list[int]:
    if n_layers < 1:
        raise ConfigError(f"model.net.n_layers must be at least 1, got {n_layers}.")
    unknown = [key for key in flat if not _HIDDEN_KEY.match(key)]
    if unknown:
        raise ConfigError(
            f"MultitaskMLP got unknown arguments {unknown}; expected hidden_dims or hidden_dim_<i>."
        )
    if flat:
        if hidden_dims is not None:
            raise ConfigError("Give either model.net.hidden_dims or hidden_dim_<i>, not both.")
        given = {int(_HIDDEN_KEY.match(k).group(1)): int(v) for k, v in flat.items()}
        missing = [f"hidden_dim_{i}" for i in range(n_layers) if i not in given]
        if missing:
            raise ConfigError(f"n_layers={n_layers} needs {missing} (or set hidden_dims).")
        return [given[i] for i in range(n_layers)]
    if hidden_dims is None:
        hidden_dims = 256
    if isinstance(hidden_dims, int):
        return [hidden_dims] * n_layers
    widths = [int(w) for w in hidden_dims]
    if len(widths) != n_layers:
        raise ConfigError(
            f"model.net.hidden_dims has {len(widths)} widths but n_layers={n_layers}; "
            "give one width per layer or a single int."
        )
    return widths
