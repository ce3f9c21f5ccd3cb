"""Translate a pip.conf into uv's environment, for the image's dependency install.

    python3 uv_settings.py PIP_CONF [EXTRA_INDEX_URL] > uv.env     (`. uv.env` in the build)

The build reads its package sources from a pip.conf (a build secret: docker/build.sh
--pip-conf/--host-pip) and installs with uv, which reads no pip.conf: why uv, measured here
on a loaded 2-core machine, the ~110 dependencies took pip 23 374 s to resolve, download and
install (serial downloads, serial bytecode compilation). Indexes, find-links, constraints,
trusted hosts and the timeout carry over; the CA bundle goes through SSL_CERT_FILE; constraint
files given as URLs are fetched to local files (uv reads constraints from files only). uv resolves
across all indexes as pip does (unsafe-best-match): the local torch 2.13.0+cpu wheel beats
PyPI's 2.13.0 in both. A missing PIP_CONF leaves uv on its defaults (PyPI).
"""

from __future__ import annotations

import configparser
import shlex
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path

# pip.conf key -> (uv variable, separator between several values)
KEYS = {
    "index-url": ("UV_DEFAULT_INDEX", None),
    "extra-index-url": ("UV_INDEX", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "constraint": ("UV_CONSTRAINT", " "),
    "trusted-host": ("UV_INSECURE_HOST", " "),
    "default-timeout": ("UV_HTTP_TIMEOUT", None),
}


def uv_environment(pip_conf: Path | None, extra_index: str = "") -> dict[str, str]:
    parser = configparser.ConfigParser()
    if pip_conf is not None and pip_conf.is_file():
        parser.read(pip_conf)
    settings: dict[str, str] = {}
    for section in ("global", "install"):  # [install] wins, as in pip
        if parser.has_section(section):
            settings.update(parser.items(section))
    if extra_index:
        settings["extra-index-url"] = f"{settings.get('extra-index-url', '')} {extra_index}"
    env = {"UV_INDEX_STRATEGY": "unsafe-best-match"}
    for key, (variable, separator) in KEYS.items():
        values = settings.get(key, "").split()
        if values:
            env[variable] = separator.join(values) if separator else values[0]
    if settings.get("cert"):
        env["SSL_CERT_FILE"] = settings["cert"]
    if "UV_CONSTRAINT" in env:
        env["UV_CONSTRAINT"] = " ".join(
            local_copy(location, settings.get("cert")) for location in env["UV_CONSTRAINT"].split()
        )
    return env


def local_copy(location: str, cafile: str | None) -> str:
    """A constraint file's local path: fetched to a temporary file when it is a URL."""
    if "://" not in location or location.startswith("file://"):
        return location.removeprefix("file://")
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    with urllib.request.urlopen(location, timeout=60, context=context) as response:
        body = response.read()
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
        handle.write(body)
    return handle.name


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    pip_conf = Path(argv[0]) if argv[0] else None
    extra = argv[1] if len(argv) == 2 and argv[1] != "none" else ""
    for name, value in uv_environment(pip_conf, extra).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
