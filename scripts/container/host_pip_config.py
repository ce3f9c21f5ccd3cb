"""Hand this machine's pip configuration to a container build, without baking it in.

    python3 scripts/container/host_pip_config.py OUT_DIR

Reads the effective pip settings (`pip config list`: files and PIP_* variables), writes
OUT_DIR/pip.conf for the build and copies the CA bundle pip trusts to OUT_DIR/ca_bundle;
docker/build.sh passes both as BuildKit secrets, which never enter a layer. Local package
sources (`file://` indexes, find-links folders, constraint files) do not exist inside the
build, so this process serves them read-only on 127.0.0.1 (the build runs with
--network host) and the written pip.conf points there. It writes OUT_DIR/ready when serving
and serves until it gets SIGTERM.
"""

from __future__ import annotations

import functools
import http.server
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

# pip settings that name package sources; each may hold several space-separated values
SOURCE_KEYS = ("index-url", "extra-index-url", "find-links", "constraint")
# settings copied as they are; cert is replaced by the secret's path inside the build
PLAIN_KEYS = ("default-timeout", "retries", "trusted-host", "pre", "only-binary", "prefer-binary")
CA_IN_BUILD = "/run/secrets/ca_bundle"
CA_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


def effective_settings(python: str) -> dict[str, str]:
    """`pip config list` as one dict: PIP_* variables win over [install], over [global]."""
    listed = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    rank = {":env:": 3, "install": 2, "global": 1}
    best: dict[str, tuple[int, str]] = {}
    for line in listed.splitlines():
        name, sep, value = line.partition("=")
        section, _, key = name.rpartition(".")
        if not sep or section not in rank:
            continue
        value = value.strip().strip("'\"")
        if key not in best or rank[section] >= best[key][0]:
            best[key] = (rank[section], value)
    return {key: value for key, (_, value) in best.items()}


def local_path(location: str) -> Path | None:
    """The filesystem path of a file:// URL or a plain path; None for remote URLs."""
    if location.startswith("file://"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(location).path))
    if "://" not in location:
        return Path(location).expanduser().resolve()
    return None


def served_roots(settings: dict[str, str]) -> list[Path]:
    """Folders to serve: find-links folders and constraint files as they are, an index's parent
    (its project pages link to ../../files/...)."""
    roots: list[Path] = []
    for key in SOURCE_KEYS:
        for location in settings.get(key, "").split():
            path = local_path(location)
            if path is not None:
                roots.append(path.parent if key.endswith("index-url") else path)
    return roots


def rewrite(settings: dict[str, str], base_url: str) -> dict[str, str]:
    """Settings for the build: local sources as URLs on the served address, cert as the secret."""
    out: dict[str, str] = {}
    for key in SOURCE_KEYS:
        values = []
        for location in settings.get(key, "").split():
            path = local_path(location)
            values.append(location if path is None else base_url + urllib.parse.quote(str(path)))
        if values:
            out[key] = " ".join(values)
    out.update({key: settings[key] for key in PLAIN_KEYS if key in settings})
    return out


def ca_bundle(settings: dict[str, str]) -> Path | None:
    """The CA bundle pip trusts here: its cert setting, else the usual variables."""
    candidates = [settings.get("cert")] + [os.environ.get(name) for name in CA_VARIABLES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class RestrictedHandler(http.server.SimpleHTTPRequestHandler):
    """Serves absolute paths, but only under the configured roots; quiet."""

    roots: tuple[Path, ...] = ()

    def translate_path(self, path: str) -> str:
        wanted = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        real = os.path.realpath(wanted)
        for root in self.roots:
            top = os.path.realpath(root)
            if real == top or real.startswith(top.rstrip("/") + "/"):
                return real
        return "/nonexistent/outside-the-served-roots"

    def log_message(self, format: str, *args: object) -> None:
        pass


def write_conf(path: Path, settings: dict[str, str], cert: bool) -> None:
    lines = ["[global]"] + [f"{key} = {value}" for key, value in settings.items()]
    if cert:
        lines.append(f"cert = {CA_IN_BUILD}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    settings = effective_settings(os.environ.get("TRAINLAB_HOST_PYTHON", sys.executable))
    handler = type("Handler", (RestrictedHandler,), {"roots": tuple(served_roots(settings))})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler))
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    cert = ca_bundle(settings)
    if cert is not None:
        shutil.copyfile(cert, out / "ca_bundle")
    write_conf(out / "pip.conf", rewrite(settings, base_url), cert is not None)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    (out / "ready").write_text(" ".join(shlex.quote(str(root)) for root in handler.roots) + "\n")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
