"""Config of the trainlab Optuna sweeper, registered as `hydra/sweeper=trainlab_optuna`.

The keys are those of hydra-optuna-sweeper, so its search files work unchanged, plus
`pruner`, `storage_kind`, `plots`, `allow_changed_settings`, `test_in_trials` and the
async-mode keys (`mode`, `workers`, `gpus_per_trial`, `cpus_per_trial`, `detach`,
`heartbeat_s`).
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class TrainlabOptunaSweeperConf:
    """Settings of one search; see docs/sweeps.md."""

    _target_: str = "hydra_plugins.trainlab_sweeper.sweeper.TrainlabOptunaSweeper"
    # tpe | random | cmaes | nsgaii | grid | qmc, or {name: ..., seed: ..., <arguments>},
    # or {_target_: optuna.samplers.XSampler, <arguments>}; null means tpe.
    sampler: Any = None
    # none | median | percentile | hyperband | successive_halving | threshold, or a mapping
    # as for the sampler; null means no pruning.
    pruner: Any = None
    # minimize | maximize, or a list of them for a multi-objective search.
    direction: Any = "minimize"
    # Database URL or journal:<path>; null keeps the study in the sweep folder.
    storage: str | None = None
    # Where storage is null: sqlite (optuna.db) or journal (optuna.journal, NFS-safe).
    storage_kind: str = "sqlite"
    # Null means the job name; a stable name is what lets a re-run resume the study.
    study_name: str | None = None
    # Total number of finished trials wanted in the study (resumes count earlier ones).
    n_trials: int = 20
    # Trials launched together (one launcher batch, e.g. one SLURM job array).
    n_jobs: int = 1
    # Stop when failed trials exceed this fraction of n_trials.
    max_failure_rate: float = 0.0
    # key: Hydra override value, e.g. `model.lr: tag(log, interval(1e-5, 1e-1))`.
    params: dict[str, Any] | None = None
    # Dotted path of fn(cfg, trial) -> dict | None for conditional or derived parameters.
    custom_search_space: str | None = None
    # Draw optimisation history and parameter importance PNGs at the end.
    plots: bool = True
    # A resumed study refuses other fixed settings (experiment, non-searched overrides);
    # true accepts them and records the change in the study.
    allow_changed_settings: bool = False
    # Trials are compared on validation and get `test=false` (where the task has that key);
    # true lets every trial evaluate the test split too.
    test_in_trials: bool = False
    # batch: launch n_jobs trials, wait for all, repeat. async: workers that each ask, run and
    # tell trials against the study until n_trials have finished; no barrier (docs/sweeps.md).
    mode: str = "batch"
    # async: how many workers; null = one per slot (local: gpus_per_trial/cpus_per_trial;
    # SLURM: n_jobs array tasks, each split into slots when a share below is set).
    workers: int | None = None
    # async: GPU share of a worker (local: of this machine; SLURM: of each array task's GPUs);
    # 0.25 puts four workers on each GPU, 2 gives each worker two GPUs (CUDA_VISIBLE_DEVICES
    # per worker). 0: CPU workers. null: one GPU per worker where GPUs are visible, else CPU
    # workers (SLURM: one worker per task, with the task's devices).
    gpus_per_trial: float | None = None
    # async CPU workers: cores (torch threads) per worker, of this machine or of each SLURM
    # task's cpus_per_task; null shares them evenly (SLURM: one worker per task).
    cpus_per_trial: int | None = None
    # async: start the workers and return at once with the sweep folder; follow with
    # `trainlab sweep status|wait <folder>`; the last worker writes the results.
    detach: bool = False
    # async: seconds between a worker's heartbeats; silent for 4 of them, it loses its trial.
    heartbeat_s: float = 15.0


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="trainlab_optuna",
    node=TrainlabOptunaSweeperConf,
    provider="trainlab",
)
