"""Where the Hydra configs are: trainlab's own tree and the user's folder in front of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def config_dir() -> str:
    """trainlab's own Hydra config tree: the copy inside the installed package, else the
    checkout's ``configs/``.

    A wheel carries the tree as ``trainlab/configs`` (copied in at build time, setup.py); an
    editable install or a checkout on PYTHONPATH uses ``configs/`` beside ``src/``. The user's
    own folder, ``$TRAINLAB_CONFIG_DIR``, is not this tree: it is searched before it
    (hydra_plugins.trainlab_searchpath), so it adds and overrides files.
    """
    here = Path(__file__).resolve().parents[1]  # the trainlab package
    if (here / "configs" / "train.yaml").is_file():
        return str(here / "configs")
    for parent in here.parents:
        if (parent / "configs" / "train.yaml").is_file():
            return str(parent / "configs")
    raise SystemExit(
        f"trainlab: no config tree in the package ({here / 'configs'}) nor in a checkout above "
        "it: reinstall trainlab from a wheel or a checkout (`pip install trainlab-*.whl` or "
        "`pip install -e .`)"
    )


def user_config_dir() -> Path | None:
    """``$TRAINLAB_CONFIG_DIR``, the user's own config folder, when set.

    Raises:
        ConfigError: it is set to something that is not a folder.
    """
    from trainlab.errors import ConfigError

    value = os.environ.get("TRAINLAB_CONFIG_DIR")
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(
            f"TRAINLAB_CONFIG_DIR={value} is not a folder: point it at your own config folder "
            "(groups and experiments laid out as trainlab's configs/, e.g. "
            "<folder>/experiment/mine.yaml) or unset it"
        )
    return folder


def trusted_config_dir(local: Any) -> str:
    """The folder whose ``local/<local>.yaml`` Hydra composed: the user's own when it has one,
    else trainlab's tree (the user's folder comes first on the search path)."""
    user = os.environ.get("TRAINLAB_CONFIG_DIR")
    if user and local and (Path(user).expanduser() / "local" / f"{local}.yaml").is_file():
        return str(Path(user).expanduser().resolve())
    return config_dir()
