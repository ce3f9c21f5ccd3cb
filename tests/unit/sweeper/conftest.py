"""A tiny standalone Hydra app with a toy objective, run through the real sweeper plugin."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"

APP = '''
import json, math, os, time
from pathlib import Path

import hydra
from omegaconf import DictConfig


def _report_steps(cfg, value):
    """Plays a training run: reports a falling curve ending at value, prunes when told."""
    import optuna
    from trainlab.core.optuna_study import PRUNED_ATTR, TrialRef, load_trial

    trial = load_trial(TrialRef.from_config(cfg.trainlab_trial))
    for step in range(cfg.steps):
        trial.report(value + (cfg.steps - 1 - step) * 0.1, step)
        if trial.should_prune():
            trial.set_user_attr(PRUNED_ATTR, step)
            raise optuna.TrialPruned(f"pruned at step {step}")


@hydra.main(version_base="1.3", config_path=str(Path(__file__).parent), config_name="config")
def main(cfg: DictConfig):
    number = cfg.trainlab_trial.number
    if cfg.calls_file:
        with open(cfg.calls_file, "a") as f:
            call = {"number": number, "x": cfg.x, "y": cfg.y, "pid": os.getpid(), "test": cfg.test}
            f.write(json.dumps(call) + "\\n")
    marker = Path(cfg.calls_file or "calls").with_suffix(f".once{number}")
    if cfg.crash_on_trial == number and not marker.exists():
        marker.touch()
        os._exit(3)  # a hard crash: the sweeper process dies with the trial RUNNING
    slept = Path(cfg.calls_file or "calls").with_suffix(".slept")
    if cfg.sleep_on_trial is not None and number >= cfg.sleep_on_trial and not slept.exists():
        slept.write_text(str(number))
        time.sleep(300)  # the test kills the sweep (SIGKILL) while this trial "trains"
    if cfg.duration:
        time.sleep(cfg.duration)  # trials of different lengths (async sweeps)
    if cfg.interrupt_on_trial == number and not marker.exists():
        marker.touch()
        raise KeyboardInterrupt
    if cfg.fail_when is not None and cfg.x > cfg.fail_when:
        raise ValueError(f"x={cfg.x} is above fail_when={cfg.fail_when}")
    value = (cfg.x - 2) ** 2 + (1.0 if cfg.y == "b" else 0.0)
    if cfg.steps:
        _report_steps(cfg, value)
    if cfg.return_nan:
        return math.nan
    if cfg.objectives == 2:
        return [value, (cfg.x + 1) ** 2]
    return value


if __name__ == "__main__":
    main()
'''

CONFIG = """
defaults:
  - override hydra/sweeper: trainlab_optuna
  - _self_
x: 0.0
y: a
steps: 0
objectives: 1
fail_when: null
crash_on_trial: null
interrupt_on_trial: null
sleep_on_trial: null
test: true
return_nan: false
duration: 0.0
calls_file: null
trainlab_trial:
  storage: null
  study_name: null
  number: null
hydra:
  sweeper:
    study_name: toy
    n_trials: 4
    plots: false
    sampler: {name: random, seed: 7}
    params:
      x: interval(-5, 5)
      y: choice(a, b)
"""


class ToyApp:
    """The app's folder, its sweep folder, and ways to run it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sweep_dir = root / "sweep"
        self.calls_file = root / "calls.jsonl"
        (root / "app.py").write_text(textwrap.dedent(APP))
        (root / "config.yaml").write_text(CONFIG)
        self._main: Callable[[], None] | None = None

    def argv(self, overrides: tuple[str, ...]) -> list[str]:
        return [
            "-m",
            f"hydra.sweep.dir={self.sweep_dir}",
            f"calls_file={self.calls_file}",
            *overrides,
        ]

    def run(self, *overrides: str) -> None:
        """Runs the sweep in this process (HYDRA_FULL_ERROR: errors propagate)."""
        if self._main is None:
            name = f"toy_app_{uuid.uuid4().hex}"
            spec = importlib.util.spec_from_file_location(name, self.root / "app.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            self._main = module.main
        old_argv = sys.argv
        sys.argv = ["app.py", *self.argv(overrides)]
        try:
            self._main()
        finally:
            sys.argv = old_argv

    def run_subprocess(
        self, *overrides: str, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Runs the sweep as `python app.py -m ...` in a child process."""
        return subprocess.run(
            [sys.executable, str(self.root / "app.py"), *self.argv(overrides)],
            cwd=self.root,
            env={**os.environ, **(env_extra or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def calls(self) -> list[dict]:
        import json

        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    def study(self, name: str = "toy"):
        import optuna

        from trainlab.core.optuna_study import default_storage_spec, open_storage

        storage = open_storage(default_storage_spec(self.sweep_dir, "sqlite"))
        return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture
def toy_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToyApp:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    # Jobs in child processes (submitit) must import this checkout, whatever the cwd.
    paths = [str(SRC), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p and p != "src"))
    monkeypatch.chdir(tmp_path)
    return ToyApp(tmp_path)
