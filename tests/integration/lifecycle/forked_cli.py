"""Run ``trainlab`` commands one after another in forked processes, some SIGKILLed.

``python -m tests.integration.lifecycle.forked_cli '<plan JSON>'``: the plan is a list of
``{"args": [...], "kill_at": point or null, "env": {...}, "background": bool}``; a background
command (e.g. the uninterrupted reference) runs beside the next ones and is waited for at the
end. torch, Lightning, Optuna and the CV pipeline are
imported once here; each command then runs in a fork with ``TRAINLAB_KILL_AT`` set to its point
(``trainlab.core.fault_injection``), so it dies there with SIGKILL as a preempted job would. A
fresh interpreter per command would spend ~15 s on imports on a loaded machine. Prints one JSON
line: each command's exit status (negative: killed by that signal) and wall seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time


def start(args: list[str], kill_at: str | None, env: dict[str, str]) -> int:
    """Start ``trainlab <args>`` in a forked process; its PID."""
    from trainlab.cli.main import main
    from trainlab.core.fault_injection import KILL_ENV

    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ.update(env)
            if kill_at:
                os.environ[KILL_ENV] = kill_at
            main(args)
            code = 0
        except SystemExit as err:
            code = err.code if isinstance(err.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def wait(pid: int) -> int:
    """The exit status of a forked command (-signal when killed)."""
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


if __name__ == "__main__":
    import lightning.pytorch  # noqa: F401  (imported once, before the forks)
    import optuna  # noqa: F401
    import torch  # noqa: F401

    import trainlab.cli.cv
    import trainlab.pipelines.kmer_cv.runner  # noqa: F401

    plan = json.loads(sys.argv[1])
    exits: list[int | None] = [None] * len(plan)
    seconds: list[float | None] = [None] * len(plan)
    background = {}
    for number, step in enumerate(plan):
        started = time.monotonic()
        pid = start(step["args"], step.get("kill_at"), step.get("env") or {})
        if step.get("background"):
            background[number] = pid
            continue
        exits[number] = wait(pid)
        seconds[number] = round(time.monotonic() - started, 1)
    for number, pid in background.items():
        exits[number] = wait(pid)
    print(json.dumps({"exits": exits, "seconds": seconds}))
