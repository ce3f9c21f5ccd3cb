"""The search loop: open or resume the study, ask, launch, tell, write results."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from trainlab.core.console import StepProgress
from trainlab.core.optuna_study import (
    PRUNED_ATTR,
    PRUNER_ATTR,
    TrialRef,
    absolute_storage_spec,
    build_pruner,
    default_storage_spec,
    import_target,
    open_storage,
    spec_from_config,
)
from trainlab.core.redaction import redact, redact_text
from trainlab.core.search.samplers import build_sampler
from trainlab.core.search.settings import (
    check_study_settings,
    override_settings,
    space_settings,
)
from trainlab.core.search.space import SearchSpace, parse_search_space
from trainlab.core.search.trials import (
    SearchSpaceExhausted,
    ask_new,
    counted,
    end_interrupted,
    not_run,
    tell_quietly,
)
from trainlab.errors import ConfigError, TrainingDiverged, TrainlabError
from trainlab.io import atomic_write_text

from ._results import write_plots, write_results
from ._task import TRACEBACK_ATTR

if TYPE_CHECKING:
    import optuna
    from hydra.core.utils import JobReturn
    from hydra.plugins.launcher import Launcher
    from hydra.types import HydraContext
    from omegaconf import DictConfig

log = logging.getLogger("hydra_plugins.trainlab_sweeper")

DIRECTIONS = ("minimize", "maximize")
MODES = ("batch", "async")
# Seed offset between async workers, far above any study's trial count: worker seeds shifted
# by the trials already there (a resume) must not meet another worker's (measured: worker 0
# starting after one trial and worker 1 before any both drew with seed+1).
WORKER_SEED_STRIDE = 100_003


ALLOW_KEY = "hydra.sweeper.allow_changed_settings"


class SweepFailedError(TrainlabError):
    """More trials failed than `hydra.sweeper.max_failure_rate` allows."""


class OptunaSearch:
    """One run of the sweeper over a (possibly resumed) study."""

    def __init__(
        self,
        settings: dict[str, Any],
        config: DictConfig,
        launcher: Launcher,
        hydra_context: HydraContext,
        validate_batch: Callable[[Sequence[Sequence[str]]], None],
    ) -> None:
        self.settings = settings
        self.config = config
        self.launcher = launcher
        self.hydra_context = hydra_context
        self.validate_batch = validate_batch
        self.sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        self.directions = _directions(settings.get("direction", "minimize"))
        _check_direction(config, self.directions)
        self.n_trials = _positive_int(settings.get("n_trials", 20), "n_trials")
        self.n_jobs = _positive_int(settings.get("n_jobs", 1), "n_jobs")
        self.max_failure_rate = float(settings.get("max_failure_rate", 0.0))
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise ConfigError(
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate} must lie in [0, 1]."
            )
        self.pruner_spec = spec_from_config(settings.get("pruner"), "hydra.sweeper.pruner", "none")
        if self.pruner_spec.get("name") != "none" and len(self.directions) > 1:
            raise ConfigError(
                "hydra.sweeper.pruner is set but direction lists several objectives; Optuna "
                "cannot prune multi-objective studies. Fix: pruner=null or one direction."
            )
        storage = settings.get("storage")
        self.storage_spec = (
            absolute_storage_spec(str(storage))
            if storage
            else default_storage_spec(self.sweep_dir, str(settings.get("storage_kind", "sqlite")))
        )
        self.study_name = str(settings.get("study_name") or config.hydra.job.name)
        self.allow_changed_settings = bool(settings.get("allow_changed_settings", False))
        self.test_in_trials = bool(settings.get("test_in_trials", False))
        custom = settings.get("custom_search_space")
        self.custom_search_space = (
            import_target(str(custom), "hydra.sweeper.custom_search_space") if custom else None
        )
        self.progress: StepProgress | None = None
        self.mode = str(settings.get("mode") or "batch")
        if self.mode not in MODES:
            raise ConfigError(
                f"hydra.sweeper.mode={self.mode!r} is unknown. Fix: one of {MODES} (async: "
                "workers that each ask, run and tell trials, no barrier; docs/sweeps.md)."
            )
        if self.mode == "batch" and settings.get("detach"):
            raise ConfigError(
                "hydra.sweeper.detach=true needs hydra.sweeper.mode=async: in batch mode this "
                "process asks every batch itself and cannot leave. Fix: add "
                "hydra.sweeper.mode=async, or drop detach."
            )

    def run(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        """Runs trials until the study holds `n_trials` finished ones (or too many failed)."""
        from trainlab.core.search.sweep_lock import claim_sweep, release_sweep

        space, settings = self.prepare(arguments)
        claim_sweep(self.sweep_dir)  # one sweeper per folder (core/search/sweep_lock.py)
        try:
            if self.mode == "async":
                from ._async import AsyncSweep

                return AsyncSweep(self, arguments).run(space, settings)
            return self._run_batch_mode(space, settings)
        finally:
            release_sweep(self.sweep_dir)

    def _run_batch_mode(
        self, space: SearchSpace, settings: dict[str, str]
    ) -> list[Sequence[JobReturn]]:
        from ._async import heartbeat_interval, refuse_live_workers

        # a detached async sweep's workers on this folder: their RUNNING trials are not lost
        refuse_live_workers(self.sweep_dir, heartbeat_interval(self.settings))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        save_multirun_config(self.config, self.sweep_dir)
        study = self._open_study(space, settings)
        self._write_state(study, mode="batch", status="running", error=None)
        # one line per finished trial: i/N, ETA and the best so far
        self.progress = StepProgress("trial", max(self.n_trials - counted(study), 0), log)
        returns: list[Sequence[JobReturn]] = []
        try:
            while (remaining := self.n_trials - counted(study)) > 0:
                self._check_failure_rate(study)
                try:
                    returns.append(self._run_batch(study, space, min(self.n_jobs, remaining)))
                except SearchSpaceExhausted as err:
                    log.warning("%s The search stops here.", err)
                    break
                write_results(study, self.sweep_dir, self.storage_spec)
            self._check_failure_rate(study)
        except BaseException as err:
            self._write_state(study, status="failed", error=f"{type(err).__name__}: {err}")
            raise
        finally:
            write_results(study, self.sweep_dir, self.storage_spec)
            if self.settings.get("plots", True):
                write_plots(study, self.sweep_dir, metric_names(self.config, self.directions))
        self._write_state(study, status="finished")
        _log_summary(study, self.sweep_dir)
        return returns

    def _write_state(self, study: optuna.Study, **fields: Any) -> None:
        """sweep.json, which `trainlab sweep status|wait` reads (core/search/sweep_state.py)."""
        import time

        from trainlab.core.redaction import redact_text
        from trainlab.core.search.sweep_state import write_state

        from ._results import RESULTS_FILE, TRIALS_FILE

        if fields.get("status") == "running":
            fields.update(
                study_name=study.study_name,
                storage=redact_text(self.storage_spec),
                n_trials=self.n_trials,
                n_jobs=self.n_jobs,  # trials per batch: the ETA of `trainlab sweep status`
                metrics=metric_names(self.config, self.directions),
                directions=list(self.directions),
                started=time.time(),
            )
        else:
            fields.update(
                ended=time.time(),
                results=[str(self.sweep_dir / RESULTS_FILE), str(self.sweep_dir / TRIALS_FILE)],
            )
        write_state(self.sweep_dir, **fields)

    def prepare(self, arguments: list[str], check: bool = True) -> tuple[SearchSpace, dict]:
        """The search space and the fixed settings; `check` stops on an unused searched key."""
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.settings.get("params"), arguments, parser)
        if not space.distributions and self.custom_search_space is None:
            raise ConfigError(
                "the sweep has nothing to search: no sweep in hydra.sweeper.params nor on the "
                "command line. Fix: e.g. hydra.sweeper.params.lr='interval(1e-4, 1e-1)'."
            )
        settings = self._fixed_settings(arguments, parser, space)
        settings.update(space_settings(space.distributions))  # a resume keeps the space too
        if check:
            self._check_consumed(space)
        return space, settings

    def _fixed_settings(
        self, arguments: list[str], parser: Any, space: SearchSpace
    ) -> dict[str, str]:
        """Experiment and every override that is not searched (fixed params included)."""
        overrides = parser.parse_overrides(list(arguments))
        settings = {}
        choices = OmegaConf.select(self.config, "hydra.runtime.choices") or {}
        if "experiment" in choices:
            settings["experiment"] = str(choices.get("experiment"))
        settings.update(override_settings(overrides, space.distributions))
        for line in space.fixed:  # fixed entries of hydra.sweeper.params
            fixed = parser.parse_override(line)
            settings.update(override_settings([fixed], space.distributions))
        # recorded in the study (optuna.db): a secret typed on the command line stays out
        return redact(settings)

    def _check_consumed(self, space: SearchSpace) -> None:
        """Stops before the first trial when the task config does not use a searched key."""
        from trainlab.core.search.consumed import check_consumed

        groups = set(OmegaConf.select(self.config, "hydra.runtime.choices") or {})
        keys = [k for k in space.distributions if "@" not in k and k not in groups]
        task_cfg = OmegaConf.masked_copy(self.config, [k for k in self.config if k != "hydra"])
        check_consumed(task_cfg, keys, "hydra.sweeper.params")

    def _sampler(self, space: SearchSpace, n_existing: int) -> optuna.samplers.BaseSampler:
        """The configured sampler (seed moved on by `n_existing`); caps n_trials at a grid."""
        import optuna

        sampler_spec = spec_from_config(
            self.settings.get("sampler"), "hydra.sweeper.sampler", "tpe"
        )
        sampler = build_sampler(sampler_spec, space, n_existing)
        if isinstance(sampler, optuna.samplers.GridSampler):
            size = math.prod(len(v) for v in space.grid().values())
            if size < self.n_trials:
                log.info("grid of %d points: n_trials %d -> %d", size, self.n_trials, size)
                self.n_trials = size
        return sampler

    def worker_study(self, space: SearchSpace, worker: int) -> optuna.Study:
        """The study as an async worker sees it: created and checked by the sweeper already.

        Each worker's sampler seed moves on by its index too: seeded samplers in every worker
        would otherwise propose the same start-up trials, each a duplicate of the other's.
        """
        import optuna

        self.storage = storage = open_storage(self.storage_spec)
        self.study_id = storage.get_study_id_from_name(self.study_name)
        n_existing = len(storage.get_all_trials(self.study_id, deepcopy=False))
        return optuna.load_study(
            study_name=self.study_name,
            storage=storage,
            sampler=self._sampler(space, n_existing + WORKER_SEED_STRIDE * worker),
            pruner=build_pruner(self.pruner_spec),
        )

    def _open_study(self, space: SearchSpace, settings: dict[str, str]) -> optuna.Study:
        import optuna

        # Our own handle on the storage: the public storage API can end trials other
        # processes left RUNNING, which the Study API cannot.
        self.storage = storage = open_storage(self.storage_spec)
        n_existing = 0
        try:
            study_id = storage.get_study_id_from_name(self.study_name)
            n_existing = len(storage.get_all_trials(study_id, deepcopy=False))
        except KeyError:
            pass
        sampler = self._sampler(space, n_existing)
        study = optuna.create_study(
            storage=storage,
            study_name=self.study_name,
            sampler=sampler,
            pruner=build_pruner(self.pruner_spec),
            directions=list(self.directions),
            load_if_exists=True,
        )
        stored = [d.name.lower() for d in study.directions]
        if stored != list(self.directions):
            raise ConfigError(
                f"study {self.study_name!r} in {self.storage_spec} optimises {stored}, but "
                f"hydra.sweeper.direction is {list(self.directions)}. Fix: use the study's "
                "direction, or another study_name / sweep folder for a new search."
            )
        # Before anything launches, and before the study is changed in any way.
        changes = check_study_settings(study, settings, self.allow_changed_settings, ALLOW_KEY)
        if changes:
            log.warning("fixed settings changed, allowed by %s=true: %s", ALLOW_KEY, changes)
        study.set_user_attr(PRUNER_ATTR, self.pruner_spec)
        self.study_id = storage.get_study_id_from_name(self.study_name)
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            end_interrupted(study, storage, trial.number, "left RUNNING by an interrupted sweep")
        done = counted(study)
        if n_existing:
            log.info(
                "resuming study %r (%s): %d of %d trials finished",
                self.study_name,
                self.storage_spec,
                done,
                self.n_trials,
            )
        else:
            log.info("new study %r in %s", self.study_name, self.storage_spec)
        return study

    def _run_batch(self, study: optuna.Study, space: SearchSpace, size: int) -> Sequence[JobReturn]:
        trials: list[optuna.trial.Trial] = []
        batch: list[list[str]] = []
        n_points = space.size() if self.custom_search_space is None else None
        try:
            for _ in range(size):
                try:
                    trial, overrides = ask_new(
                        study,
                        lambda t: self._job_overrides(study, space, t),
                        size=n_points,
                        taken=[t.params for t in trials],
                    )
                except SearchSpaceExhausted:
                    if not trials:
                        raise
                    break
                trials.append(trial)
                batch.append(overrides)
            # Composing every job's config here catches an unknown key before any job runs.
            self.validate_batch(batch)
        except SearchSpaceExhausted:
            raise
        except Exception as err:
            for trial in trials:
                _fail(trial, err, study, reason="no job config for this trial")
            raise ConfigError(
                f"study {study.study_name!r} ({self.storage_spec}): the trial's parameters do "
                f"not make a job config: {type(err).__name__}: {err}. If the study was created "
                "with another search space, keep that one or start a new search (another "
                "run_name or study_name); otherwise fix the key in hydra.sweeper.params."
            ) from err
        try:
            results = self._launch(trials, batch)
        except KeyboardInterrupt:
            for trial in trials:
                end_interrupted(study, self.storage, trial.number, "the sweep was interrupted")
            raise
        except Exception as err:
            # The launcher lost the whole batch (e.g. a SLURM job killed outside Python).
            for trial in trials:
                _fail(trial, err, study, reason="the launcher failed for this batch")
            log.error("launching trials %s failed: %s", [t.number for t in trials], err)
            return []
        for trial, result in zip(trials, results, strict=True):
            self._tell(study, trial, result)
        return results

    def _job_overrides(
        self, study: optuna.Study, space: SearchSpace, trial: optuna.trial.Trial
    ) -> list[str]:
        overrides = space.overrides(space.suggest(trial))
        if self.custom_search_space is not None:
            extra = self.custom_search_space(self.config, trial) or {}
            derived = {k: v for k, v in trial.params.items() if k not in space.distributions}
            derived.update(extra)
            overrides += SearchSpace().overrides(derived)
        if not self.test_in_trials and isinstance(OmegaConf.select(self.config, "test"), bool):
            # Trials are compared on validation; the test split is for the chosen model
            # (trainlab refit / trainlab eval), not for every candidate.
            overrides.append("test=false")
        trial.set_user_attr("overrides", overrides)
        ref = TrialRef(self.storage_spec, study.study_name, trial.number)
        return overrides + ref.as_overrides()

    def _launch(
        self, trials: list[optuna.trial.Trial], batch: list[list[str]]
    ) -> Sequence[JobReturn]:
        numbers = [t.number for t in trials]
        # Job folder N holds trial N; only consecutive numbers fit one launch call.
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            return self.launcher.launch(batch, initial_job_idx=numbers[0])
        results: list[JobReturn] = []
        for number, overrides in zip(numbers, batch, strict=True):
            results.extend(self.launcher.launch([overrides], initial_job_idx=number))
        return results

    def _check_failure_rate(self, study: optuna.Study) -> None:
        from optuna.trial import TrialState

        failed = [
            t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if not not_run(t)
        ]
        if len(failed) <= self.max_failure_rate * self.n_trials:
            return
        first = failed[0]
        raise SweepFailedError(
            f"{len(failed)} of {self.n_trials} trials failed, more than "
            f"hydra.sweeper.max_failure_rate={self.max_failure_rate} allows. First failure, "
            f"trial {first.number} ({first.user_attrs.get('job_dir', '?')}): "
            f"{first.user_attrs.get('error', '?')}. Fix the cause (tracebacks are in "
            f"{self.sweep_dir / 'trials.csv'} and the study's user_attrs), or raise "
            "max_failure_rate; re-running the same command resumes the study."
        )

    def _trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def _tell(self, study: optuna.Study, trial: optuna.trial.Trial, result: JobReturn) -> None:
        """Records a job's outcome: COMPLETE with its value(s), PRUNED, or FAIL with traceback."""
        import optuna
        from hydra.core.utils import JobStatus
        from optuna.trial import TrialState

        output_dir = OmegaConf.select(result.hydra_cfg or {}, "hydra.runtime.output_dir")
        if output_dir:
            trial.set_user_attr("job_dir", str(output_dir))
        # The pruning callback marks the trial itself, which also covers tasks that catch
        # TrialPruned or launchers that lose the exception.
        pruned_at = self.storage.get_trial(self._trial_id(trial.number)).user_attrs.get(PRUNED_ATTR)
        err = None if result.status == JobStatus.COMPLETED else result._return_value
        if pruned_at is not None or isinstance(err, optuna.TrialPruned):
            tell_quietly(study, trial, state=TrialState.PRUNED)
            self._step(study, f"#{trial.number} pruned at step {pruned_at}")
            return
        if isinstance(err, TrainingDiverged):
            # A learning rate too high for the network is an answer of the search space, not a
            # broken sweep: pruned (Optuna's samplers then steer away from it), with the reason
            # in trials.csv. As a failure it stopped the sweep at max_failure_rate=0.
            trial.set_user_attr("diverged", str(err)[:2000])
            tell_quietly(study, trial, state=TrialState.PRUNED)
            log.warning("trial %d pruned: %s", trial.number, err)
            self._step(study, f"#{trial.number} diverged (pruned)")
            return
        if err is not None:
            _fail(trial, err, study)
            self._step(study, f"#{trial.number} failed")
            return
        try:
            values = _objective_values(result.return_value, len(self.directions))
        except ValueError as value_err:
            _fail(trial, value_err, study)
            self._step(study, f"#{trial.number} failed")
            return
        tell_quietly(study, trial, values)
        shown = ", ".join(f"{v:.4g}" for v in (values if isinstance(values, list) else [values]))
        self._step(study, f"#{trial.number} {shown} {trial.params}")

    def _step(self, study: optuna.Study, detail: str) -> None:
        if self.progress is not None:
            self.progress.step(
                detail + best_so_far(study, metric_names(self.config, self.directions))
            )


def save_multirun_config(config: DictConfig, sweep_dir: Path) -> None:
    """`<sweep>/multirun.yaml`, with secrets typed on the command line redacted."""
    atomic_write_text(sweep_dir / "multirun.yaml", redact_text(OmegaConf.to_yaml(config)))


def metric_names(config: DictConfig, directions: Sequence[str]) -> list[str]:
    """The objectives' names: the task's ``optimized_metric`` (``val/acc``), else objective i."""
    metric = OmegaConf.select(config, "optimized_metric", default=None)
    if isinstance(metric, str) and len(directions) == 1:
        return [metric]
    if OmegaConf.is_list(metric) and len(metric) == len(directions):
        return [str(m) for m in metric]
    return [
        "objective" if len(directions) == 1 else f"objective {i}" for i in range(len(directions))
    ]


def best_so_far(study: optuna.Study, names: list[str]) -> str:
    """`` | best val/acc 0.9812 (#3)``; the Pareto front's size with several objectives."""
    if len(study.directions) > 1:
        return f" | Pareto front: {len(study.best_trials)} trials"
    try:
        best = study.best_trial
    except ValueError:
        return ""
    return f" | best {names[0]} {best.value:.4g} (#{best.number})"


def _directions(value: Any) -> tuple[str, ...]:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    values = [value] if isinstance(value, str) else list(value)
    out = tuple(str(v).lower() for v in values)
    if not out or any(v not in DIRECTIONS for v in out):
        raise ConfigError(
            f"hydra.sweeper.direction={value!r}: each entry must be one of {DIRECTIONS}."
        )
    return out


def _check_direction(config: DictConfig, directions: tuple[str, ...]) -> None:
    """A single objective named by ``optimized_metric`` must be optimised the way it improves."""
    from trainlab.core.metric_sense import mode_problem

    if len(directions) != 1:
        return
    try:
        metric = config.get("optimized_metric")
    except Exception:  # an interpolation the task resolves itself: not judged here
        return
    problem = mode_problem(metric, directions[0][:3], "optimized_metric", "hydra.sweeper.direction")
    if problem:
        raise ConfigError(
            f"{problem} (or mode={'min' if directions[0] == 'maximize' else 'max'} where the "
            "search config reads its direction from `mode`, as configs/hparams_search/ do)"
        )


def _positive_int(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f"hydra.sweeper.{key}={value!r} must be a positive integer, e.g. hydra.sweeper.{key}=20"
        )
    return value


def _objective_values(value: Any, n_obj: int) -> float | list[float]:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    values = list(value) if isinstance(value, list | tuple) else [value]
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        floats = []
    if len(floats) != n_obj or any(math.isnan(v) for v in floats):
        raise ValueError(
            f"the task returned {value!r}; the sweeper needs {n_obj} number(s), not NaN, "
            "one per hydra.sweeper.direction"
        )
    return floats[0] if n_obj == 1 else floats


def _fail(
    trial: optuna.trial.Trial, err: BaseException, study: optuna.Study, reason: str = ""
) -> None:
    import traceback

    from optuna.trial import TrialState

    message = f"{type(err).__name__}: {err}"
    if reason:
        message = f"{reason}: {message}"
    trial.set_user_attr("error", message[:2000])
    text = getattr(err, TRACEBACK_ATTR, None) or "".join(traceback.format_exception(err))
    trial.set_user_attr("traceback", text[-20000:])
    tell_quietly(study, trial, state=TrialState.FAIL)
    log.warning("trial %d FAIL %s", trial.number, message)


def _log_summary(study: optuna.Study, sweep_dir: Path) -> None:
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = {s.name: states.count(s) for s in TrialState if states.count(s)}
    if len(study.directions) == 1:
        try:
            best = study.best_trial
            log.info("best trial %d: value %s, params %s", best.number, best.value, best.params)
        except ValueError:
            log.info("no trial completed")
    else:
        log.info("%d Pareto-optimal trials", len(study.best_trials))
    log.info("trials %s; results in %s", counts, sweep_dir)
