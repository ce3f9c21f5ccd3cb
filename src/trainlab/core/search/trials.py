"""Resume rules of a study: interrupted trials run again, finished parameter sets never do.

A sampler re-created over a resumed study may propose a parameter set the study already
finished (a seeded sampler replays its start-up draws; TPE on a small discrete space proposes
its favourite again). `ask_new` asks until the proposal is new: a repeat is recorded as a FAIL
trial with `trainlab_duplicate_of` (Optuna cannot delete a trial; samplers skip FAIL trials)
and does not count towards `n_trials`; the next attempts draw at random.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trainlab.errors import TrainlabError

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

#: Trial user attribute: the trial was left RUNNING by a dead or interrupted search.
INTERRUPTED_ATTR = "trainlab_interrupted"
#: Trial user attribute: the trial repeated the parameters of this finished trial; not run.
DUPLICATE_ATTR = "trainlab_duplicate_of"
#: Trial user attribute of a retry: the number of the interrupted trial it repeats.
RETRY_ATTR = "retry_of"
# Random draws after a repeat; a space with fewer new points than this is nearly exhausted.
MAX_ATTEMPTS = 20


class SearchSpaceExhausted(TrainlabError):
    """Every parameter set of a finite search space has finished."""


def params_key(params: Mapping[str, Any]) -> str:
    """A parameter set as a comparable string (order-free; floats exact)."""
    return json.dumps({k: params[k] for k in sorted(params)}, default=repr)


def not_run(trial: optuna.trial.FrozenTrial) -> bool:
    """Trials that never trained: interrupted ones (run again) and skipped repeats."""
    return bool(trial.user_attrs.get(INTERRUPTED_ATTR) or DUPLICATE_ATTR in trial.user_attrs)


def finished_params(study: optuna.Study) -> dict[str, int]:
    """Parameter sets of trials that ran to an end (complete, pruned or failed) -> trial."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    done = {}
    for trial in study.get_trials(deepcopy=False, states=states):
        if not not_run(trial):
            done.setdefault(params_key(trial.params), trial.number)
    return done


def counted(study: optuna.Study) -> int:
    """Trials that count towards n_trials: finished ones, except interrupted and repeats."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(not not_run(t) for t in study.get_trials(deepcopy=False, states=states))


def end_interrupted(
    study: optuna.Study, storage: optuna.storages.BaseStorage, number: int, why: str
) -> None:
    """Ends a trial a dead or interrupted search left RUNNING; queues its parameters again.

    Goes through the storage, which can end a trial another (dead) process owned.
    """
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    frozen = storage.get_trial(trial_id)
    if frozen.state != TrialState.RUNNING:
        return
    storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
    storage.set_trial_user_attr(trial_id, "error", f"{why}; its parameters run again")
    storage.set_trial_state_values(trial_id, TrialState.FAIL)
    if frozen.params:
        study.enqueue_trial(frozen.params, user_attrs={RETRY_ATTR: number})
    log.warning("trial %d %s; queued again", number, why)


def end_all_interrupted(
    study: optuna.Study, storage: optuna.storages.BaseStorage, why: str
) -> list[int]:
    """`end_interrupted` for every RUNNING trial of the study; returns their numbers."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in running:
        end_interrupted(study, storage, trial.number, why)
    return [t.number for t in running]


def ask_new(
    study: optuna.Study,
    propose: Callable[[optuna.trial.Trial], Any],
    size: int | None = None,
    taken: Iterable[Mapping[str, Any]] = (),
    redraw_seed: int | None = None,
) -> tuple[optuna.trial.Trial, Any]:
    """A new trial whose parameters no finished trial (nor `taken`) has; with `propose`'s result.

    Args:
        study: the study to ask.
        propose: draws every parameter of the trial (`trial.suggest_*`); its return value
            is handed back (e.g. the job's overrides).
        size: how many parameter sets the space holds (None: continuous); with it, an
            exhausted space is reported at once instead of after `MAX_ATTEMPTS` repeats.
        taken: parameter sets of trials asked but not finished yet (one launch batch).
        redraw_seed: seeds the random redraws after a repeat (None: the Optuna trial number,
            which differs when a killed trial is retried; a resumable caller passes a seed
            of its own that a retry keeps).

    Raises:
        SearchSpaceExhausted: no new parameter set was found.
    """
    import optuna

    seen = finished_params(study)
    seen.update({params_key(p): -1 for p in taken})
    if size is not None and len(seen) >= size:
        raise SearchSpaceExhausted(
            f"study {study.study_name!r}: all {size} parameter sets of the search space have "
            "been tried. Fix: widen the search space, or lower n_trials."
        )
    sampler = study.sampler
    try:
        for attempt in range(MAX_ATTEMPTS + 1):
            trial = study.ask()
            try:
                result = propose(trial)
            except BaseException as err:
                # e.g. a stored distribution the space no longer matches: end the trial
                trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:2000])
                tell_quietly(study, trial, state=optuna.trial.TrialState.FAIL)
                raise
            key = params_key(trial.params)
            if key not in seen or trial.user_attrs.get(RETRY_ATTR) is not None:
                return trial, result
            first = seen[key]
            trial.set_user_attr(DUPLICATE_ATTR, first)
            trial.set_user_attr("error", f"repeats the parameters of trial {first}; not run")
            tell_quietly(study, trial, state=optuna.trial.TrialState.FAIL)
            log.info("trial %d repeats trial %d's parameters: skipped", trial.number, first)
            # Draw at random from here on: the sampler would likely propose the same again.
            base = trial.number if redraw_seed is None else redraw_seed
            study.sampler = optuna.samplers.RandomSampler(seed=base + attempt)
    finally:
        study.sampler = sampler
    raise SearchSpaceExhausted(
        f"study {study.study_name!r}: {MAX_ATTEMPTS} random draws all repeated finished "
        "trials; the search space is (nearly) exhausted. Fix: widen it, or lower n_trials."
    )


def tell_quietly(study: optuna.Study, trial: Any, *args: Any, **kwargs: Any) -> None:
    """study.tell, minus GridSampler's `study.stop()`, which only works inside optimize().

    The trial is stored before the sampler's hook raises; callers cap n_trials at the grid.
    """
    try:
        study.tell(trial, *args, **kwargs)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise
