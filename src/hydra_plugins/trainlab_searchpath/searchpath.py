"""Put ``$TRAINLAB_CONFIG_DIR`` on Hydra's config search path, just before trainlab's own tree.

Hydra looks for a config file in each folder of its search path in turn and takes the first
it finds, so the user's folder both adds groups, options and experiments and overrides the
files of the same name shipped with trainlab. Hydra finds this plugin by its namespace in
every composition (``trainlab <task>``, the checks before it, the compose API in notebooks and
tests). ``hydra.searchpath=[file://...]`` folders come after trainlab's tree: they add, and
cannot replace a shipped file.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.plugins.search_path_plugin import SearchPathPlugin

ENV = "TRAINLAB_CONFIG_DIR"
PROVIDER = "trainlab-user"


class TrainlabUserConfigs(SearchPathPlugin):
    """Prepends ``file://$TRAINLAB_CONFIG_DIR`` before the primary config folder."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        folder = os.environ.get(ENV)
        if not folder:
            return
        path = f"file://{Path(folder).expanduser().resolve()}"
        if any(element.provider == "main" for element in search_path.get_path()):
            search_path.prepend(PROVIDER, path, anchor=SearchPathQuery(provider="main"))
        else:  # no primary folder (a compose without one): the user's folder still counts
            search_path.append(PROVIDER, path)
