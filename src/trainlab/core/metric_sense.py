"""Which way a logged metric improves, read from its name: losses and errors fall, scores rise.

Used to refuse a monitor or a sweep direction that points the wrong way (`monitor=val/loss
mode=max` keeps the worst epoch as "best", stops early when the loss starts falling, and a
sweep would report its worst trial as the best). Names it does not know are not judged.
"""

from __future__ import annotations

# the last part of a logged name (`val/loss`, `val/<task>/f1_macro`), as trainlab's modules log it
FALLING = frozenset({"loss", "error", "mae", "mse", "rmse", "nll", "brier", "ece"})
RISING = frozenset(
    {
        "acc",
        "balanced_acc",
        "f1",
        "f1_macro",
        "f1_weighted",
        "token_f1",
        "em",
        "exact_match",
        "auroc",
        "average_precision",
        "precision",
        "recall",
        "recall_at_prior",
        "precision_at_prior",
        "mcc",
    }
)


def improving_mode(name: str) -> str | None:
    """'min' for a metric that improves by falling, 'max' for one that rises, None if unknown."""
    leaf = str(name).rsplit("/", 1)[-1].strip().lower()
    if leaf in FALLING or leaf.endswith("_loss"):
        return "min"
    if leaf in RISING:
        return "max"
    return None


def mode_problem(metric: object, mode: object, metric_key: str, mode_key: str) -> str | None:
    """The message when ``mode`` ('min'/'max') runs against the way ``metric`` improves."""
    if not isinstance(metric, str) or mode not in ("min", "max"):
        return None
    wanted = improving_mode(metric)
    if wanted is None or wanted == mode:
        return None
    way = "falls" if wanted == "min" else "rises"
    return (
        f"`{metric_key}={metric}` improves as it {way}, but `{mode_key}` asks for its "
        f"{'largest' if mode == 'max' else 'smallest'} value: the best checkpoint, early stopping "
        f"and a search's best trial would all pick the worst. Set {mode_key} to "
        f"{_spelled(mode_key, wanted)}"
    )


def _spelled(mode_key: str, mode: str) -> str:
    return f"{mode}imize" if "direction" in mode_key else mode
