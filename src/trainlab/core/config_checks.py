"""Value checks of a composed config, run by ``schema.validate`` before any data is read.

The schema checks keys and types; these check that values make sense: sizes are positive,
optimizer settings are numbers, a fold exists, a mode is one of the modes. Each problem names
the key, the value and the fix. A rule is a dotted pattern (``fnmatch``) with a test; a key the
composed config does not have is skipped, so one table serves every entry point.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# the groups whose leaves are checked (paths and hydra hold no settings of the learning run)
CHECKED_GROUPS = ("data", "model", "trainer", "cv", "final", "callbacks", "privacy")
# `trainlab cv` modes; pipelines/kmer_cv/runner.py enforces the same (a test keeps them equal)
CV_MODES = ("optimize", "aggregate", "train", "full")
MONITOR_MODES = ("min", "max")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu")
# Lightning 2.x precision names, and trainlab's "auto" (chosen from the hardware)
PRECISIONS = (
    "auto", "32-true", "32", 32, "16-mixed", "16", 16, "bf16-mixed", "bf16", "16-true",
    "bf16-true", "64-true", "64", 64, "transformer-engine", "transformer-engine-float16",
)  # fmt: skip
# data files that must exist unless the generator named in the second entry writes them
DATA_FILES = {
    "data.matrix_path": "synthetic",
    "data.metadata_path": "synthetic",
    "data.fof_path": None,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_at_least(low: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an integer >= {low}"
        return None if value >= low else f"must be >= {low}"

    return check


def _number_in(
    low: float, high: float, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        span = f"{left}{low:g}, {high:g}{right}"
        if not _is_number(value):
            return f"must be a number in {span}, e.g. 0.001 or 1e-3"
        if not math.isfinite(value):
            return f"must be a finite number in {span}"
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        return f"must lie in {span}" if too_low or too_high else None

    return check


def _batches_limit(value: Any) -> str | None:
    if isinstance(value, bool) or not _is_number(value):
        return "must be a number of batches (int >= 0) or a share of them (float in [0, 1])"
    if isinstance(value, int):
        return None if value >= 0 else "must be >= 0"
    return None if 0.0 <= value <= 1.0 else "as a share of the batches, must lie in [0, 1]"


def _one_of(*allowed: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if any(value == a and type(value) is type(a) for a in allowed):
            return None
        names = list(dict.fromkeys(str(a) for a in allowed))
        return f"must be one of {' or '.join(names)} (or null)"

    return check


POSITIVE = _int_at_least(1)
NON_NEGATIVE = _int_at_least(0)
POSITIVE_NUMBER = _number_in(0, math.inf, low_open=True, high_open=True)
NON_NEGATIVE_NUMBER = _number_in(0, math.inf, high_open=True)
SHARE = _number_in(0, 1, low_open=True, high_open=True)
PRIOR = _number_in(0, 1, low_open=True)
DROPOUT = _number_in(0, 1, high_open=True)
# 0 is legal (torch accepts it; sweeps use it as a hopeless trial), negative or text is not
LEARNING_RATE = NON_NEGATIVE_NUMBER

# (pattern, check, fix): the first pattern that matches a leaf decides
RULES: list[tuple[str, Callable[[Any], str | None], str]] = [
    ("data.batch_size", POSITIVE, "e.g. data.batch_size=64"),
    ("data.eval_batch_size", POSITIVE, "e.g. data.eval_batch_size=1024"),
    ("data.image_size", POSITIVE, "the side in pixels images are resized to, e.g. 32"),
    ("data.channels", POSITIVE, "1 (grayscale) or 3 (RGB)"),
    ("data.max_pixels", POSITIVE, "pixels an image may declare, default 89478485 (PIL's limit)"),
    ("data.max_length", POSITIVE, "tokens per example, e.g. 256"),
    ("data.window_overlap", NON_NEGATIVE, "tokens shared by consecutive windows, e.g. 64"),
    ("data.fold", NON_NEGATIVE, "a fold number from 0"),
    ("data.polarity", _one_of(0, 1), "1 positive mode, 0 negative mode, null both"),
    ("data.loader.num_workers", NON_NEGATIVE, "0 (load in the main process) or more, or null"),
    ("data.loader.prefetch_factor", POSITIVE, "batches per worker loaded ahead, or null"),
    (
        "data.loader.multiprocessing_context",
        _one_of("fork", "spawn", "forkserver"),
        "a worker start method; null leaves the choice to the DataModule",
    ),
    ("data.test_fraction", SHARE, "a share of the rows, e.g. 0.2"),
    ("data.validation_split", SHARE, "a share of the rows, e.g. 0.1"),
    ("data.synthetic.n_*", POSITIVE, "rows of the synthetic set, e.g. 1000"),
    ("data.synthetic.m??_peaks", POSITIVE, "peaks per synthetic spectrum, e.g. 10"),
    ("data.synthetic.priors.*", PRIOR, "a class prior in (0, 1]"),
    ("data.synthetic.label_frequency.*", PRIOR, "a label frequency in (0, 1]"),
    ("model.optimizer.lr", LEARNING_RATE, "e.g. model.optimizer.lr=0.001"),
    ("model.*min_lr", NON_NEGATIVE_NUMBER, "a learning-rate floor, e.g. 0 or 1e-6"),
    ("model.*_lr", LEARNING_RATE, "a learning rate, e.g. 1e-4"),
    ("model.*.lr", LEARNING_RATE, "a learning rate, e.g. 1e-4"),
    ("model.lr", LEARNING_RATE, "a learning rate, e.g. 1e-4"),
    ("model.*learning_rate", LEARNING_RATE, "a learning rate, e.g. 1e-4"),
    ("model.*weight_decay", NON_NEGATIVE_NUMBER, "e.g. 1e-5, or 0"),
    ("model.optimizer.momentum", _number_in(0, 1), "e.g. 0.9"),
    ("model.optimizer.eps", POSITIVE_NUMBER, "e.g. 1e-8"),
    ("model.*dropout", DROPOUT, "a drop probability in [0, 1), e.g. 0.1"),
    ("model.label_smoothing", _number_in(0, 1, high_open=True), "e.g. 0.1, or 0"),
    ("model.priors.*", PRIOR, "a class prior in (0, 1], from `trainlab prior`"),
    # nnPU (Kiryo et al. 2017: 0 <= beta <= prior, 0 <= gamma <= 1). A negative beta took the
    # correction step on a positive negative risk (beta -0.5, R- 0.243: objective -0.243, gradient
    # ascent on a risk that was fine); a negative gamma descended the negative risk further.
    ("model.beta", NON_NEGATIVE_NUMBER, "nnPU's tolerated negativity of R-, e.g. 0"),
    ("model.gamma", _number_in(0, 1, low_open=True), "nnPU's correction step size, e.g. 1"),
    ("model.threshold", _number_in(0, 1), "a probability, e.g. 0.5"),
    ("model.net.n_layers", POSITIVE, "e.g. 2"),
    ("model.net.nhead", POSITIVE, "e.g. 8"),
    ("model.net.d_model", POSITIVE, "e.g. 128"),
    ("model.net.hidden_dim*", POSITIVE, "a layer width, e.g. 256"),
    ("model.net.dim_feedforward", POSITIVE, "e.g. 512"),
    ("model.histogram_bins", POSITIVE, "e.g. 20"),
    ("trainer.max_epochs", _int_at_least(-1), "a number of epochs, or -1 for no limit"),
    ("trainer.min_epochs", NON_NEGATIVE, "a number of epochs, or null"),
    ("trainer.max_steps", _int_at_least(-1), "a number of steps, or -1 for no limit"),
    ("trainer.limit_*_batches", _batches_limit, "e.g. 10 (batches) or 0.25 (a quarter)"),
    ("trainer.accumulate_grad_batches", POSITIVE, "e.g. 1"),
    ("trainer.check_val_every_n_epoch", POSITIVE, "e.g. 1"),
    ("trainer.log_every_n_steps", POSITIVE, "e.g. 10"),
    ("trainer.gradient_clip_val", NON_NEGATIVE_NUMBER, "e.g. 1.0, or null"),
    ("trainer.num_sanity_val_steps", _int_at_least(-1), "e.g. 2, 0 to skip, -1 for all"),
    ("trainer.devices", lambda v: "must be >= 1 or -1 (all)" if v == 0 else None, "e.g. 1"),
    ("trainer.accelerator", _one_of(*ACCELERATORS), "auto picks the GPU when there is one"),
    ("trainer.precision", _one_of(*PRECISIONS), "auto, 32-true, bf16-mixed or 16-mixed"),
    ("cv.n_trials", POSITIVE, "search trials per outer fold, e.g. cv.n_trials=8"),
    ("cv.n_folds", _int_at_least(2), "outer folds, e.g. cv.n_folds=5"),
    ("cv.n_inner_splits", _int_at_least(2), "inner splits, e.g. cv.n_inner_splits=3"),
    ("cv.max_epochs", POSITIVE, "e.g. cv.max_epochs=40"),
    ("cv.patience", NON_NEGATIVE, "epochs without improvement, e.g. 5"),
    ("cv.validation_split", SHARE, "a share of the rows, e.g. 0.1"),
    ("cv.local.n_parallel", POSITIVE, "parallel fold processes, e.g. 2"),
    ("cv.sampler.n_startup_trials", NON_NEGATIVE, "e.g. 4"),
    ("final.max_epochs", POSITIVE, "e.g. final.max_epochs=200"),
    ("final.patience", NON_NEGATIVE, "e.g. 20"),
    ("final.validation_split", SHARE, "a share of the rows, e.g. 0.1"),
    ("callbacks.*.patience", NON_NEGATIVE, "epochs without improvement, e.g. 10"),
]


def value_problems(cfg: DictConfig) -> list[str]:
    """Every problem with a value of ``cfg`` (key, value, what is wrong and the fix).

    The nnPU prior check reads the training table, so it runs only when the rest is sound.
    """
    problems: list[str] = []
    for group in CHECKED_GROUPS:
        node = _get(cfg, group)
        if isinstance(node, DictConfig):
            problems.extend(_leaf_problems(node, group))
    problems.extend(_mode_problems(cfg))
    problems.extend(_callback_mode_problems(cfg))
    problems.extend(_fold_problems(cfg))
    problems.extend(_file_problems(cfg))
    if not problems:
        from trainlab.core.pu_priors import pu_prior_problems

        problems.extend(pu_prior_problems(cfg))
    return problems


def _leaf_problems(node: DictConfig, path: str) -> Iterable[str]:
    for key in node:
        full = f"{path}.{key}"
        value = _get(node, key)
        if value is _SKIP or value is None:
            continue
        if isinstance(value, DictConfig):
            yield from _leaf_problems(value, full)
            continue
        if isinstance(value, ListConfig):
            continue
        for pattern, check, fix in RULES:
            if fnmatch.fnmatchcase(full, pattern):
                problem = check(value)
                if problem:
                    yield f"`{full}={value!r}` {problem}: set it to a valid value ({fix})"
                break


def _mode_problems(cfg: DictConfig) -> Iterable[str]:
    mode = _get(cfg, "mode")
    if mode is _SKIP or mode is None:
        return
    # `trainlab cv` has a `cv` node and pipeline modes; training runs have min/max
    modes = CV_MODES if "cv" in cfg else MONITOR_MODES
    if mode not in modes:
        close = difflib.get_close_matches(str(mode), modes, n=1)
        hint = f" (did you mean `mode={close[0]}`?)" if close else ""
        yield f"`mode={mode!r}` is not one of {list(modes)}{hint}: set mode={modes[-1]}"
        return
    from trainlab.core.metric_sense import mode_problem

    if modes is MONITOR_MODES:
        problem = mode_problem(_get(cfg, "monitor"), mode, "monitor", "mode")
    else:  # `trainlab cv`: the k-mer search and its epochs follow cv.monitor_mode
        cv_mode = _get(cfg.cv, "monitor_mode") if isinstance(cfg.cv, DictConfig) else None
        problem = mode_problem(_get(cfg, "monitor"), cv_mode, "monitor", "cv.monitor_mode")
    if problem:
        yield problem


def _callback_mode_problems(cfg: DictConfig) -> Iterable[str]:
    """A callback's own ``monitor``/``mode`` pair, where it is not the top-level one.

    ``callbacks.early_stopping.monitor=val/loss`` beside the default ``mode=max`` (of
    ``monitor=val/acc``) stopped a run once its loss began to fall; a checkpoint callback given
    its own ``mode`` kept the worst epoch. Pairs that are the top-level ``monitor``/``mode``
    are named once, by ``_mode_problems``.
    """
    from trainlab.core.metric_sense import mode_problem

    callbacks = _get(cfg, "callbacks")
    if not isinstance(callbacks, DictConfig):
        return
    top = (_get(cfg, "monitor"), _get(cfg, "mode"))
    for name in callbacks:
        node = _get(callbacks, name)
        if not isinstance(node, DictConfig) or "monitor" not in node or "mode" not in node:
            continue
        pair = (_get(node, "monitor"), _get(node, "mode"))
        if pair == top:
            continue
        if pair[0] == top[0] and pair[1] in ("min", "max") and top[1] in ("min", "max"):
            # the summary, the sweep and the epoch lines follow `mode`: with the checkpoint's
            # other mode they named one epoch best and best.ckpt (the tested one) held another
            yield (
                f"`callbacks.{name}.mode={pair[1]}` runs against `mode={top[1]}` for the same "
                f"monitor ({top[0]}): the summary would name another epoch best than the one "
                f"{name} keeps. Set mode and callbacks.{name}.mode alike (or drop the callback's)"
            )
            continue
        problem = mode_problem(*pair, f"callbacks.{name}.monitor", f"callbacks.{name}.mode")
        if problem:
            yield problem


def _fold_problems(cfg: DictConfig) -> Iterable[str]:
    """A split image folder must exist, and ``data.fold`` be one of the folds it holds."""
    data = _get(cfg, "data")
    if not isinstance(data, DictConfig) or "fold" not in data or "data_dir" not in data:
        return
    if not str(data.get("_target_", "")).endswith(".ImageFolderDataModule"):
        return  # the split layout below is the class-folder image one
    fold, data_dir = _get(data, "fold"), _get(data, "data_dir")
    if not isinstance(fold, int) or isinstance(fold, bool) or not isinstance(data_dir, str):
        return
    splits = Path(data_dir) / "splits"
    if splits.is_dir():
        folds = sorted(
            int(p.name.split("_")[1])
            for p in splits.glob("fold_*_train.txt")
            if p.name.split("_")[1].isdigit()
        )
        where = f"{splits} holds"
    elif _get(data, "embedded") == "digits":
        folds, where = list(range(5)), "the embedded digits are split into"
    else:
        raw = Path(data_dir) / "raw"
        found = "has raw/ but no splits/" if raw.is_dir() else "does not hold raw/ or splits/"
        yield (
            f"`data.data_dir={data_dir}` {found}: put the class folders in {raw}/<class>/ and "
            f"run `trainlab split data_dir={data_dir}`, or use data.embedded=digits"
        )
        return
    if fold < 0:
        return  # the >= 0 rule names it
    if fold not in folds:
        listed = ", ".join(map(str, folds)) or "none"
        yield (
            f"`data.fold={fold}` does not exist: {where} folds [{listed}]; "
            f"set data.fold to one of them"
        )


def _file_problems(cfg: DictConfig) -> Iterable[str]:
    """Data files that do not exist (and that no generator will write)."""
    data = _get(cfg, "data")
    if not isinstance(data, DictConfig):
        return
    for full, generator in DATA_FILES.items():
        key = full.split(".", 1)[1]
        value = _get(data, key) if key in data else None
        if not isinstance(value, str) or value == "" or Path(value).exists():
            continue
        if generator and _get(data, generator) not in (None, _SKIP):
            continue
        yield f"`{full}={value}` does not exist: set {full} to the path of the file"


_SKIP = object()


def _get(node: DictConfig, key: Any) -> Any:
    """The resolved value, or _SKIP where it is missing or does not resolve (the schema names
    those)."""
    try:
        if OmegaConf.is_missing(node, key):
            return _SKIP
        return node.get(key)
    except OmegaConfBaseException:
        return _SKIP


def unknown_override_keys(config_dir: str, config_name: str, args: list[str]) -> list[str]:
    """Problems with ``key=value`` overrides whose top-level key the composed config lacks, or
    whose key moved (``renamed_override_keys``).

    Hydra would refuse them with "Key 'x' is not in struct"; this names the closest known keys
    and the ``+key=value`` form for adding a key on purpose. It composes only when the quick
    look at the primary config file and the config groups finds a key it does not know.
    """
    import yaml

    renamed = renamed_override_keys(args)
    if renamed:
        return renamed
    plain = [a for a in args if "=" in a and not a.startswith(("-", "+", "~"))]
    folder = Path(config_dir)
    known = {"hydra"} | {p.name for p in folder.iterdir() if p.is_dir()}
    try:
        primary = yaml.safe_load((folder / f"{config_name}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    known |= set(primary)
    flagged = [a for a in plain if _top_key(a) not in known]
    if not flagged:
        return []
    composed = _compose_keys(config_dir, config_name, [a for a in args if a not in flagged])
    if composed is None:
        return []  # the other overrides do not compose: Hydra reports that its own way
    problems = []
    for arg in flagged:
        top = _top_key(arg)
        if top in composed:
            continue
        close = difflib.get_close_matches(top, sorted(composed | known), n=3)
        hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
        problems.append(
            f"unknown key `{top}` in `{arg}`: {config_name}.yaml has no such key.{hint} "
            f"To add it on purpose: `+{arg}`."
        )
    return problems


def renamed_override_keys(args: list[str]) -> list[str]:
    """Problems with overrides of keys that moved (``data.num_workers``: ``data.loader.*``)."""
    from trainlab.data.loader_settings import RENAMED_KEYS

    problems = []
    for arg in args:
        key, _, value = arg.lstrip("+~").partition("=")
        if key in RENAMED_KEYS:
            new = RENAMED_KEYS[key]
            problems.append(f"`{key}` is now `{new}`: write `{new}={value}`")
    return problems


def _top_key(arg: str) -> str:
    return arg.split("=", 1)[0].split(".", 1)[0].split("@", 1)[0].split("/", 1)[0]


def _compose_keys(config_dir: str, config_name: str, overrides: list[str]) -> set[str] | None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = [o for o in overrides if not o.startswith("-")]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            return set(compose(config_name, overrides=overrides))
    except Exception:  # any composition error is Hydra's to report
        return None
    finally:
        GlobalHydra.instance().clear()
