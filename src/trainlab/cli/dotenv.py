"""``.env`` in the working folder, read by every ``trainlab`` command before Hydra starts.

The environment wins: a variable already set (``export WANDB_MODE=online``, a SLURM job's
environment, ``docker run -e``) is never replaced by the file. An empty value
(``TRAINLAB_DATA_DIR=``, as in .env.example) leaves the variable unset, so a copied template
does not turn defaults into empty paths.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from trainlab.errors import ConfigError

FILE = ".env"


def parse_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefix, quotes and ``#`` comments allowed) of ``path``.

    Raises:
        ConfigError: a line that is not ``KEY=VALUE``, naming the file, the line and the fix.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").lstrip()
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(
                f"{path}:{number}: {line.strip()!r} is not KEY=VALUE; fix the line or comment it "
                "out with # (trainlab reads .env of the working folder at every start)"
            )
        try:
            # shell rules: quotes kept together, an unquoted # starts a comment
            words = shlex.split(raw, comments=True)
        except ValueError as err:
            raise ConfigError(
                f"{path}:{number}: the value of {key} does not parse ({err}); close its quotes"
            ) from err
        values[key] = " ".join(words)
    return values


def load_dotenv(folder: Path | None = None) -> list[str]:
    """Set the variables of ``<folder or cwd>/.env`` that the environment does not have.

    Returns:
        The names set from the file.
    """
    path = (folder or Path.cwd()) / FILE
    if not path.is_file():
        return []
    added = []
    for key, value in parse_dotenv(path).items():
        if value and key not in os.environ:
            os.environ[key] = value
            added.append(key)
    return added
