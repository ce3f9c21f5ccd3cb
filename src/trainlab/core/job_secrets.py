"""Secrets travel to jobs in other processes through the environment, never through a file.

submitit hands a job its arguments as a pickle in the run folder (`<run>/jobs/<id>/`, a sweep's
`.submitit/<id>/`), and pickles the job's result or traceback next to it; the job's stdout and
stderr are files there too. Those folders are shared with a lab group like the rest of the run.

Why sealed-and-carried rather than sending the config unresolved: a job cannot re-resolve
`${hydra:...}` or trainlab's run-folder resolvers outside the Hydra run that composed it, and
a secret may come from a config file rather than from a `${oc.env:...}` reference. So the
submitting process resolves the config as before, replaces each secret (core.redaction's rules:
values of secret-looking environment variables, the `user:password` of URIs) by a placeholder,
and carries the values in environment variables `TRAINLAB_JOB_SECRET_<n>` of the submitting
process while it submits. submitit's local jobs are child processes, and sbatch exports the
submitting environment (`--export=ALL`, SLURM's default), so every job, a requeued one too,
finds them; the job puts the real values back before anything reads its config. The
environment already holds the original secrets, so nothing is exposed that was not before.
The carriers' names contain SECRET: redaction masks their values inside the job as well.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

from hydra.experimental.callback import Callback

from trainlab.core.redaction import URI_CREDENTIALS, redact, redact_text, secret_values
from trainlab.errors import ConfigError, TrainlabError

CARRIER_PREFIX = "TRAINLAB_JOB_SECRET_"
PLACEHOLDER = re.compile(r"<<(" + CARRIER_PREFIX + r"\d+)>>")


class JobFailedError(TrainlabError):
    """A job in another process failed; its message is the job's redacted traceback."""


class SecretSealer:
    """Replaces secrets in plain data by placeholders and remembers their values."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.values = secret_values(environ)
        self.carriers: dict[str, str] = {}  # carrier variable -> secret value
        self._names: dict[str, str] = {}  # secret value -> carrier variable

    def _placeholder(self, secret: str) -> str:
        if secret not in self._names:
            name = f"{CARRIER_PREFIX}{len(self._names)}"
            self._names[secret], self.carriers[name] = name, secret
        return f"<<{self._names[secret]}>>"

    def text(self, text: str) -> str:
        """`text` with each secret replaced by its placeholder."""

        def credentials(match: re.Match[str]) -> str:
            scheme = match.group("scheme")
            secret = match.group(0)[len(scheme) : -1]  # user:password, without the '@'
            return f"{scheme}{self._placeholder(secret)}@"

        text = URI_CREDENTIALS.sub(credentials, text)
        for value in self.values:
            if value in text:
                text = text.replace(value, self._placeholder(value))
        return text

    def seal(self, value: Any) -> Any:
        """A copy of plain data with every secret replaced by a placeholder."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.seal(k): self.seal(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.seal(v) for v in value)
        return value


def seal(plain: Any, environ: Mapping[str, str] | None = None) -> tuple[Any, dict[str, str]]:
    """`plain` with its secrets as placeholders, and the carrier variables that hold them."""
    sealer = SecretSealer(environ)
    return sealer.seal(plain), sealer.carriers


@contextlib.contextmanager
def carried(carriers: Mapping[str, str]) -> Iterator[None]:
    """Put the carrier variables in this process's environment while jobs are submitted."""
    before = {name: os.environ.get(name) for name in carriers}
    os.environ.update(carriers)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def unseal(value: Any, environ: Mapping[str, str] | None = None, path: str = "") -> Any:
    """A copy of sealed plain data with the real values read from the carrier variables.

    Raises:
        ConfigError: a carrier variable is missing from the job's environment.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def real(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    f"`{path or '<config>'}` holds a secret that this job reads from ${name}, "
                    "but the job's environment lacks it. Jobs must inherit the submitting "
                    "environment: with SLURM keep sbatch's default --export=ALL (no `export` "
                    "in cv.slurm.additional)."
                )
            return env[name]

        return PLACEHOLDER.sub(real, value)
    if isinstance(value, Mapping):
        return {
            unseal(k, env, path): unseal(v, env, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(unseal(v, env, f"{path}[{i}]") for i, v in enumerate(value))
    return value


class RedactingStream(io.TextIOBase):
    """A text stream that writes through `core.redaction` to the stream it wraps.

    A job's stdout and stderr are files in the run folder: prints, warnings and tracebacks
    that Python writes go through here (output of native code writing to the file descriptor
    directly does not).
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact_text(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        # anything else a library asks of sys.stdout (errors, buffer ...) is the real stream's;
        # bytes written to `buffer` bypass the redaction, as native output does
        return getattr(self.stream, name)


def protect_job_output() -> None:
    """Redact this job process's stdout, stderr and every root logging handler (idempotent)."""
    from trainlab.core.redaction import RedactingFilter

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def redacted_failure(err: BaseException) -> JobFailedError:
    """The job's failure as an error whose text (the whole chained traceback) is redacted.

    submitit pickles the traceback text of a failed job into the jobs folder and prints it to
    the job's log file; the original exception may hold a secret in its message or its cause.
    """
    return JobFailedError(redact_text("".join(traceback.format_exception(err))))


def redact_exception(err: BaseException) -> BaseException:
    """Redact an exception in place: its args, plain attributes and notes.

    Pickling keeps exactly these (`__reduce__` is type, args and `__dict__`); the traceback
    and the chained causes are dropped, so nothing else of it reaches a pickle.
    """
    err.args = tuple(redact(a) if _plain(a) else a for a in err.args)
    for key, value in list(vars(err).items()):
        if _plain(value):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(err, key, redact(value))
    return err


def _plain(value: Any) -> bool:
    if isinstance(value, str | int | float | bool | type(None)):
        return True
    if isinstance(value, Mapping):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return False


class RedactJobReturn(Callback):
    """Hydra callback (`hydra.callbacks`): a job's result is redacted before it leaves the job.

    Hydra's submitit launchers pickle each job's JobReturn into the sweep's `.submitit/`
    folder; a failed job's exception carries its message, and trainlab's sweeper adds the
    formatted traceback to it (`trainlab_traceback`), so a message naming a secret (a data
    path, a database URL) would land there in clear. `on_job_end` runs in the job, after the
    task and before the launcher pickles the result, for every launcher and sweeper.
    """

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        value = getattr(job_return, "_return_value", None)
        if isinstance(value, BaseException):
            redact_exception(value)
        elif _plain(value):
            job_return._return_value = redact(value)
