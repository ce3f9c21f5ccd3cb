"""Secrets never reach a file: written copies show `***` where a secret was; the run uses it.

Two kinds of secret are recognised:

- the value of an environment variable whose name looks secret (`*KEY*`, `*TOKEN*`,
  `*SECRET*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`), wherever it appears: a config value
  resolved from `${oc.env:WANDB_API_KEY}`, or that value inside a longer string or message;
- the `user:password@` part of a URI (`postgresql://me:pw@db/optuna`, a credentialed
  `MLFLOW_TRACKING_URI`), whatever its source.

Values shorter than `MIN_SECRET_LENGTH` are not treated as secrets: replacing `1` or `true`
everywhere would garble every file while protecting nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 6
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# scheme://user:password@  (the password part may not hold '@' or '/', as in RFC 3986)
URI_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@:]*:[^\s/@]*@")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables, longest first."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with URI credentials and secret environment values replaced by `***`."""
    text = URI_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    for value in secret_values(environ):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A copy of plain data (dicts, lists, tuples, strings ...) with every string redacted."""
    if isinstance(value, str):
        return redact_text(value, environ)
    if isinstance(value, Mapping):
        return {redact(k, environ): redact(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, environ) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v, environ) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and traceback) before any handler
    writes it: the run's log file and a SLURM job's output file are files too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            clean = redact_text(text)
            if clean != text:  # else the handler keeps rendering the traceback its own way
                record.exc_text, record.exc_info = clean, None
        return True
