"""One outer fold: Optuna search with inner CV, retrain on the fold, one test on its test part."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from trainlab.core.allowlist import instantiate  # Hydra's, after the allowlist check
from trainlab.core.console import StepProgress
from trainlab.core.fault_injection import point_hook
from trainlab.core.lean_fit import LeanCheckpoint, freeze_long_lived_objects
from trainlab.core.search.trials import (
    SearchSpaceExhausted,
    ask_new,
    counted,
    end_all_interrupted,
    params_key,
    tell_quietly,
)
from trainlab.data.kmer.folds import (
    classes_unseen_in_training,
    kfold_splits,
    outer_folds,
    validation_split,
)
from trainlab.errors import ConfigError, DataError, TrainingDiverged
from trainlab.io import atomic_write_json
from trainlab.pipelines.kmer_cv.aggregate import drop_untrained_tasks, nest_metrics
from trainlab.pipelines.kmer_cv.baselines import fold_baselines
from trainlab.pipelines.kmer_cv.fit import fit_rows, fit_seed, monitor_of, trial_config
from trainlab.pipelines.kmer_cv.params import apply_params, describe_params, load_hyperparams
from trainlab.pipelines.kmer_cv.rules import other_rules, versions
from trainlab.pipelines.kmer_cv.search_space import parse_search_space, suggest

log = logging.getLogger(__name__)
#: Trial user attribute: the trial's index, the number of trials that ran before it.
INDEX_ATTR = "trainlab_index"


def fold_dir(out_dir: Path, fold: int) -> Path:
    """`<out>/cv_results/fold_<k>`."""
    return Path(out_dir) / "cv_results" / f"fold_{fold}"


def fold_result(
    out_dir: Path, fold: int, cfg: DictConfig | None = None
) -> tuple[Path | None, str | None]:
    """The newest result file of a fold (None before one), and why it is not this run's answer.

    A result computed under other k-mer CV rules (`rules.py`) never is. With `cfg`, neither
    is one of another request (`other_request`) or one whose search ran fewer trials than
    `cv.n_trials` asks for now: its search goes on from its journal (`cv.n_trials` may grow).
    Before, such a fold was skipped and the run reported the smaller search as if it were the
    one asked for.
    """
    found = sorted(fold_dir(out_dir, fold).glob(f"multitask_fold_{fold}_results_*.json"))
    if not found:
        return None, None
    record = json.loads(found[-1].read_text())
    why = other_rules(record)
    if why is None and cfg is not None:
        why = other_request(record, cfg)
        if why is None and searched_fewer(record, cfg) is not None:
            why = f"its search ran fewer trials than cv.n_trials={cfg.cv.n_trials}"
    return found[-1], why


def set_aside_earlier_result(folder: Path, fold: int, why: str | None = None) -> Path | None:
    """Move a result `fold_result` set aside, with its checkpoints, out of the fold's way, and
    log it once: which file, why and where (before, the run's plan and the fold each logged
    the set-aside, then a third line said where it went).

    The fold runs again into the same folder, and its retrain writes `checkpoints/best.ckpt`:
    the earlier record then pointed at the new model and the earlier model was lost. Its
    result files and `checkpoints/` now go to `set_aside/<time>/` (the record's
    `best_model_path` follows them). The search journal stays: a search that ran fewer trials
    goes on from it; a result of other rules takes its journal along (its search runs again).
    """
    records = sorted(folder.glob(f"multitask_fold_{fold}_results_*.json"))
    if not records:
        return None
    target = folder / "set_aside" / time.strftime("%Y%m%d_%H%M%S")
    while target.exists():  # two set-asides within one second
        target = target.with_name(target.name + "_")
    target.mkdir(parents=True)
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir():
        checkpoints.rename(target / "checkpoints")
    if other_rules(json.loads(records[-1].read_text())) is not None:
        for name in ("optuna.journal", "trial_states"):
            if (folder / name).exists():
                (folder / name).rename(target / name)
    for path in records:
        record = json.loads(path.read_text())
        if record.get("best_model_path"):
            old = Path(record["best_model_path"])
            if old.parent == checkpoints:
                record["best_model_path"] = str(target / "checkpoints" / old.name)
        atomic_write_json(target / path.name, record)
        path.unlink()
    log.info(
        "fold %d: %s is set aside (%s); it and its checkpoints are kept in %s, the fold runs again",
        fold,
        records[-1].name,
        why or "it does not answer this run",
        target,
    )
    return target


def other_request(record: dict, cfg: DictConfig) -> str | None:
    """Why a fold's result answers another request than `cfg`'s (search vs `hyperparams`).

    Before, a finished fold was kept either way: `mode=optimize hyperparams=<file>` on a
    searched folder printed `outer folds to run: []` and reported the search's scores as those
    of the given parameters (and a search asked for after a run with `hyperparams` reported
    the given ones as the search's).
    """
    given = load_hyperparams(cfg.get("hyperparams"))
    skipped = bool((record.get("search") or {}).get("skipped"))
    if not given:
        return (
            "it was trained with given hyperparams, a search is asked for now" if skipped else None
        )
    if not skipped:
        return "it comes from a search, hyperparams are given now"
    if record.get("best_params") != json.loads(json.dumps(given)):
        return "it was trained with other hyperparams than those given now"
    return None


def searched_fewer(record: dict, cfg: DictConfig) -> int | None:
    """The trials a fold's search was run for, when fewer than `cv.n_trials` (else None).

    A fold trained with given `hyperparams` (no search) never counts as short.
    """
    search = record.get("search") or {}
    if search.get("skipped") or cfg.get("hyperparams"):
        return None
    # records written before `n_trials` was recorded: the trials that ended
    asked = search.get("n_trials", search.get("n_complete", 0) + search.get("n_pruned", 0))
    return int(asked) if int(asked) < int(cfg.cv.n_trials) else None


def build_data(cfg: DictConfig) -> Any:
    """The k-mer DataModule of `cfg.data`, with its data loaded."""
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    datamodule.load()
    return datamodule


def fold_rows(cfg: DictConfig, datamodule: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Outer folds (stratified; group-disjoint when data.group_column is set)."""
    data = datamodule.load()
    return outer_folds(datamodule.strata(), cfg.cv.n_folds, cfg.cv.seed, data.groups)


def write_fold_plan(cfg: DictConfig, datamodule: Any, out_dir: Path) -> None:
    """Record each fold's test samples; refuse a folder that holds other folds."""
    data = datamodule.load()
    splits = fold_rows(cfg, datamodule)
    plan = {str(k): sorted(data.sample_ids[i] for i in test) for k, (_, test) in enumerate(splits)}
    if unseen := classes_unseen_in_training(splits, data.y, data.tasks):
        log.warning(
            "outer folds: %d test part(s) hold classes their training part lacks (%s). Those "
            "folds' models never saw these classes, so their recall on them is 0 by "
            "construction: a class of a single sample, or whose samples all share one group "
            "(data.group_column), is tested only where none of it is trained on. Read those "
            "folds' per-class figures with that in mind (fewer folds or another group column "
            "spread a grouped class).",
            len(unseen),
            "; ".join(unseen[:5]) + (f"; and {len(unseen) - 5} more" if len(unseen) > 5 else ""),
        )
    path = Path(out_dir) / "cv_results" / "folds.json"
    if path.is_file():
        if json.loads(path.read_text()) != plan:
            raise DataError(
                f"{path} lists other outer folds than this config makes (data, n_folds, seed or "
                "group column changed). Start a new run folder (run_name=...) for new folds."
            )
        return
    atomic_write_json(path, plan)


def run_fold(cfg: DictConfig, fold: int, out_dir: Path, datamodule: Any = None) -> dict:
    """Search, retrain and test outer fold `fold`; a finished fold is read back, not redone."""
    done, why = fold_result(out_dir, fold, cfg)
    if done is not None and why is None:
        log.info("fold %d already finished (%s)", fold, done.name)
        return json.loads(done.read_text())
    datamodule = datamodule or build_data(cfg)
    data = datamodule.load()
    strata, groups = datamodule.strata(), data.groups
    train, test = fold_rows(cfg, datamodule)[fold]
    folder = fold_dir(out_dir, fold)
    folder.mkdir(parents=True, exist_ok=True)
    set_aside_earlier_result(folder, fold, why)
    seed = int(cfg.cv.seed) + fold

    best_params = load_hyperparams(cfg.get("hyperparams"))
    search: dict[str, Any] = {"skipped": True, "reason": "hyperparams given"}
    if not best_params:
        best_params, search = optimize_fold(cfg, datamodule, train, strata, groups, folder, seed)

    fold_cfg = apply_params(cfg, best_params)
    fit, val = validation_split(train, strata, cfg.cv.validation_split, seed, groups)
    log.info("fold %d: retraining on %d rows, epoch chosen on %d", fold, len(fit), len(val))
    untrained = _untrained_tasks(fold, data, fit, test)
    result = fit_rows(
        fold_cfg,
        datamodule,
        fit,
        val,
        test,
        max_epochs=cfg.cv.max_epochs,
        patience=cfg.cv.patience,
        checkpoint_dir=folder / "checkpoints",
        seed=fit_seed(seed),
    )
    test_metrics, _ = drop_untrained_tasks(nest_metrics(result.test_metrics, "test"), untrained)
    stamp = time.strftime("%Y%m%d_%H%M%S")
    record = {
        "fold_id": fold,
        "total_folds": int(cfg.cv.n_folds),
        "n_train": len(train),
        "n_test": len(test),
        "num_classes": {task: len(classes) for task, classes in data.tasks.items()},
        "best_params": best_params,
        "test_metrics": test_metrics,
        "untrained_tasks": untrained,
        "best_model_path": str(result.checkpoint) if result.checkpoint else None,
        "timestamp": stamp,
        "n_fit": len(fit),
        "n_validation": len(val),
        "best_epoch": result.best_epoch,
        "best_validation_score": result.best_score,
        "monitor": monitor_of(cfg).key,
        "search": search,
        **versions(),  # the k-mer CV rules and trainlab that computed it (rules.py)
        # majority and logistic regression on the same fit/test rows as the model
        "baselines": fold_baselines(cfg.get("baselines"), datamodule, fit, test),
    }
    atomic_write_json(folder / f"multitask_fold_{fold}_results_{stamp}.json", record)
    test_key = "test/" + monitor_of(cfg).key.split("/", 1)[1]
    log.info("fold %d: %s %.4f", fold, test_key, result.test_metrics.get(test_key, float("nan")))
    return record


def _untrained_tasks(fold: int, data: Any, fit: np.ndarray, test: np.ndarray) -> list[str]:
    """Tasks labelled in the test part but not among the rows the fold's model is fitted on.

    Their heads never see a label: the model leaves them out of its test metrics (as it does
    in a single run) and the baselines cannot be fitted on them. A fold with no task left is
    refused here, before its fit.
    """
    y = np.asarray(data.y)
    labelled, tested = (y[fit] >= 0).any(axis=0), (y[test] >= 0).any(axis=0)
    untrained = [task for j, task in enumerate(data.tasks) if tested[j] and not labelled[j]]
    if untrained and not (labelled & tested).any():
        raise DataError(
            f"fold {fold}: no task has labelled rows both where its model was fitted and "
            f"in its test part ({', '.join(untrained)} only in the test part): the fold has "
            "no test figure of a trained head. Fix: fewer outer folds (cv.n_folds), or "
            "another data.group_column, so that each task's labels reach every side."
        )
    if untrained:
        log.warning(
            "fold %d: task(s) %s have no labelled row among the %d rows the model is fitted "
            "on, so their heads never see a label: their test metrics are left out of the "
            "fold's results (its means over tasks cover the other tasks, as the baselines' "
            "do; `untrained_tasks` in the fold record).",
            fold,
            ", ".join(untrained),
            len(fit),
        )
    return untrained


def optimize_fold(
    cfg: DictConfig,
    datamodule: Any,
    train: np.ndarray,
    strata: np.ndarray,
    groups: np.ndarray | None,
    folder: Path,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optuna search on the fold's training rows; objective = mean over inner splits of the
    best `monitor` value, reported split by split for median pruning.

    Resumes the fold's journal: trials an interrupted run left RUNNING run again, and no
    finished parameter set is proposed again (trainlab.core.search.trials). A resumed fold
    ends as the uninterrupted one would have (docs/reliability.md): a trial's place in the
    search (its index: the trials that ran before it) decides the sampler's seed and the
    trial's fit seeds, and a retried trial takes the index of the one it repeats; lean trial
    fits save their state under `trial_states/` (cv.trial_checkpoint_s) and continue from it.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_search_space(cfg.cv.search_space)
    monitor = monitor_of(cfg)
    inner = kfold_splits(train, strata, cfg.cv.n_inner_splits, seed, groups)
    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    study = optuna.create_study(
        study_name=folder.name,
        storage=storage,
        direction=monitor.direction,
        sampler=_trial_sampler(cfg, seed, 0),  # replaced before every trial
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=cfg.cv.pruner.n_startup_trials,
            n_warmup_steps=cfg.cv.pruner.n_warmup_steps,
        ),
        load_if_exists=True,
    )
    freeze_long_lived_objects()  # many short fits follow
    end_all_interrupted(study, storage, "left RUNNING by an interrupted cv run")
    remaining = max(0, int(cfg.cv.n_trials) - counted(study))
    log.info("%s: %d trials done, %d to run", folder.name, counted(study), remaining)

    states = TrialStates(folder / "trial_states", cfg.cv.get("trial_checkpoint_s", 60))
    hook = point_hook()

    def objective(trial: optuna.Trial, params: dict[str, Any], index: int) -> float:
        trial_cfg = trial_config(cfg, params)
        scores = []
        for step, (inner_train, inner_val) in enumerate(inner):
            fit = fit_seed(seed, index, step)
            result = fit_rows(
                trial_cfg,
                datamodule,
                inner_train,
                inner_val,
                max_epochs=cfg.cv.max_epochs,
                patience=cfg.cv.patience,
                lean=bool(cfg.cv.lean_trials),
                seed=fit,
                lean_checkpoint=states.checkpoint(index, step, f"{params_key(params)}|{fit}"),
                name=f"{folder.name}_trial{index}_split{step}",
            )
            scores.append(result.best_score)
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"after split {step}")
        return float(np.mean(scores))

    size = space.searched.size()
    progress = StepProgress(f"{folder.name} trial", remaining, log)  # i/N, ETA, best so far
    for _ in range(remaining):
        # the trials that ran before this one; the same for a trial and its retry after a kill
        index = counted(study)
        states.drop_others(index)
        study.sampler = _trial_sampler(cfg, seed, index)
        try:
            trial, params = ask_new(
                study,
                lambda t: suggest(t, space),
                size=size,
                redraw_seed=fit_seed(seed, index) + 1,  # kept by a retry, unlike trial.number
            )
        except SearchSpaceExhausted as err:
            log.warning("%s: %s", folder.name, err)
            break
        trial.set_user_attr(INDEX_ATTR, index)
        try:
            value = objective(trial, params, index)
        except optuna.TrialPruned as pruned:
            tell_quietly(study, trial, state=TrialState.PRUNED)
            progress.step(f"#{index} pruned {pruned}{best_so_far(study, monitor.key)}")
        except TrainingDiverged as err:
            # the hyperparameters' answer (a rate too high), not a broken run: pruned, so the
            # search goes on; before, the NaN network's scores (argmax = class 0) counted
            trial.set_user_attr("diverged", str(err)[:2000])
            tell_quietly(study, trial, state=TrialState.PRUNED)
            progress.step(f"#{index} diverged (pruned){best_so_far(study, monitor.key)}")
        except Exception:
            tell_quietly(study, trial, state=TrialState.FAIL)
            raise
        else:
            tell_quietly(study, trial, value)
            detail = f"#{index} {value:.4f} {describe_params(params)}"
            progress.step(detail + best_so_far(study, monitor.key))
        states.drop_others(None)
        if hook is not None:
            hook(f"cv_trial_end:{folder.name}:{index}")
    states.remove_folder()
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        diverged = [t for t in study.get_trials(deepcopy=False) if "diverged" in t.user_attrs]
        hint = (
            f" {len(diverged)} diverged (NaN weights), e.g. trial {diverged[0].number}: "
            f"{describe_params(diverged[0].params)}; lower the learning rates searched "
            "(cv.search_space.model.optimizer.lr)."
            if diverged
            else ""
        )
        raise DataError(
            f"{folder.name}: no trial completed; raise cv.n_trials or check the data.{hint}"
        )
    best = study.best_trial
    params = {**space.fixed, **best.params}
    search = {
        # the index (trials run before it): the same in a resumed fold; Optuna's number is not
        "best_trial": best.user_attrs.get(INDEX_ATTR, best.number),
        "best_optuna_trial": best.number,
        "best_inner_score": best.value,
        "monitor": monitor.key,
        "n_complete": len(complete),
        "n_pruned": len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))),
        "n_inner_splits": len(inner),
        "n_trials": int(cfg.cv.n_trials),  # asked for; a larger cv.n_trials resumes the search
    }
    return params, search


def _trial_sampler(cfg: DictConfig, seed: int, index: int) -> Any:
    """TPE seeded from (fold seed, trial index): a resumed fold proposes what the
    uninterrupted one did, where one sampler seeded once would be at another point of its
    stream (it drew for the trials before the kill in another process)."""
    import optuna

    return optuna.samplers.TPESampler(
        seed=fit_seed(seed, index), n_startup_trials=cfg.cv.sampler.n_startup_trials
    )


class TrialStates:
    """The state files of the lean fits of the trial in progress (one per inner split)."""

    def __init__(self, folder: Path, every_s: Any) -> None:
        self.folder = folder
        self.every_s = None if every_s is None else float(every_s)
        if self.every_s is not None and self.every_s < 0:
            raise ConfigError(
                f"cv.trial_checkpoint_s={every_s}: use seconds >= 0 (0: every epoch) or null "
                "(trial fits save no state; a killed trial starts over)"
            )

    def checkpoint(self, index: int, step: int, fingerprint: str) -> LeanCheckpoint | None:
        if self.every_s is None:
            return None
        path = self.folder / f"trial_{index}_split_{step}.pt"
        return LeanCheckpoint(path, every_s=self.every_s, fingerprint=fingerprint)

    def drop_others(self, index: int | None) -> None:
        """Remove state files of other trials (all, with None): they are finished."""
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("trial_*.pt"):
            if index is None or not path.name.startswith(f"trial_{index}_"):
                path.unlink(missing_ok=True)

    def remove_folder(self) -> None:
        self.drop_others(None)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


def best_so_far(study: Any, metric: str) -> str:
    """`` | best val/acc 0.9123 (#4)``, or nothing before a trial completed."""
    try:
        best = study.best_trial
    except ValueError:
        return ""
    return f" | best {metric} {best.value:.4f} (#{best.user_attrs.get(INDEX_ATTR, best.number)})"
