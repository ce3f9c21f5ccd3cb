"""What the image build is given: the host's pip settings as served secrets, uv's translation,
the dependency list, build.sh's options, the Apptainer definition. No engine needed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.container.conftest import REPO

SCRIPTS = REPO / "scripts" / "container"


def test_host_pip_settings_are_served_locally_and_nothing_else(tmp_path: Path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel")
    index = tmp_path / "pypi" / "simple" / "demo"
    index.mkdir(parents=True)
    (index / "index.html").write_text('<a href="../../files/demo-1.0.whl">demo</a>')
    (tmp_path / "pypi" / "files").mkdir()
    (tmp_path / "pypi" / "files" / "demo-1.0.whl").write_bytes(b"from the index")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("demo<=1.0\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nplanted\n")
    (tmp_path / "secret.txt").write_text("not to be served")
    conf = tmp_path / "pip.conf"
    conf.write_text(
        f"[global]\nextra-index-url = https://example.org/simple file://{tmp_path}/pypi/simple\n"
        f"constraint = {constraints}\ncert = {ca}\ndefault-timeout = 60\n"
    )
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=str(conf), PIP_FIND_LINKS=str(wheels))
    server = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "host_pip_config.py"), str(out)], env=env
    )
    try:
        for _ in range(200):
            if (out / "ready").is_file() or server.poll() is not None:
                break
            time.sleep(0.1)
        written = (out / "pip.conf").read_text()
        assert (out / "ca_bundle").read_text() == ca.read_text()
        assert "cert = /run/secrets/ca_bundle" in written and str(ca) not in written
        base = re.search(r"http://127\.0\.0\.1:\d+", written).group(0)
        assert f"https://example.org/simple {base}{tmp_path}/pypi/simple" in written
        assert f"find-links = {base}{wheels}" in written
        assert f"constraint = {base}{constraints}" in written

        def get(path: str) -> bytes:
            with urllib.request.urlopen(base + path, timeout=10) as response:
                return response.read()

        assert get(f"{wheels}/demo-1.0-py3-none-any.whl") == b"wheel"
        assert get(f"{tmp_path}/pypi/files/demo-1.0.whl") == b"from the index"  # ../../files
        assert get(str(constraints)) == b"demo<=1.0\n"
        for outside in (f"{tmp_path}/secret.txt", "/etc/passwd", f"{wheels}/../secret.txt"):
            with pytest.raises(urllib.error.HTTPError):
                get(outside)
    finally:
        server.terminate()
        assert server.wait(timeout=10) is not None


def test_uv_gets_the_pip_conf_sources(tmp_path: Path):
    constraints = tmp_path / "c.txt"
    constraints.write_text("torch==2.13.0\n")
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror/simple\nextra-index-url = http://a/s http://b/s\n"
        f"find-links = /w1 /w2\nconstraint = file://{constraints}\ncert = /run/secrets/ca\n"
        "[install]\ntrusted-host = mirror\n"
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "uv_settings.py"), str(conf), "https://torch/cu126"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    assert env["UV_DEFAULT_INDEX"] == "https://mirror/simple"
    assert env["UV_INDEX"] == "'http://a/s http://b/s https://torch/cu126'"
    assert env["UV_FIND_LINKS"] == "/w1,/w2" and env["UV_INSECURE_HOST"] == "mirror"
    assert env["UV_CONSTRAINT"] == str(constraints) and env["SSL_CERT_FILE"] == "/run/secrets/ca"
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"  # pip's choice across indexes
    bare = subprocess.run(
        [sys.executable, str(SCRIPTS / "uv_settings.py"), "", "none"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert bare.stdout == "export UV_INDEX_STRATEGY=unsafe-best-match\n"


def build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "docker" / "build.sh"), "--dry-run", *args],
        capture_output=True,
        text=True,
    )


def test_build_script_passes_network_build_args_and_secrets(tmp_path: Path):
    conf, ca = tmp_path / "pip.conf", tmp_path / "ca.pem"
    conf.write_text("[global]\n")
    ca.write_text("x")
    done = build(
        "--network",
        "host",
        "--build-arg",
        "EXTRAS=tracking",
        "--pip-conf",
        str(conf),
        "--ca-bundle",
        str(ca),
        "--torch-index",
        "none",
    )
    assert done.returncode == 0, done.stderr
    command = done.stdout.splitlines()[-1]
    for part in (
        "--network host",
        "--build-arg EXTRAS=tracking",
        f"--secret id=pip_conf\\,src={conf}",
        f"--secret id=ca_bundle\\,src={ca}",
        "--build-arg TORCH_INDEX_URL=none",
    ):
        assert part in command, part
    assert build("--build-arg", "EXTRAS").returncode == 2
    assert build("--pip-conf", str(tmp_path / "missing.conf")).returncode == 2
    host = build("--host-pip", "--network", "host")
    assert "host_pip_config.py" in host.stdout and "id=pip_conf" in host.stdout


SECTIONS = {
    "%arguments",
    "%environment",
    "%runscript",
    "%test",
    "%labels",
    "%help",
    "%post",
    "%files",
    "%setup",
    "%startscript",
    "%apprun",
    "%applabels",
    "%appinstall",
}
SHELL_SECTIONS = {"%environment", "%runscript", "%test", "%post", "%setup", "%startscript"}


def test_apptainer_definition_parses():
    """What `apptainer build` checks first, without apptainer: the header, known sections,
    shell sections that bash parses, every {{ template }} given a default in %arguments."""
    text = (REPO / "docker" / "apptainer.def").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    header, sections, current = {}, {}, None
    for line in lines:
        if line.startswith("%"):
            current = line.split()[0]
            assert current in SECTIONS, f"unknown section {current}"
            assert current not in sections, f"{current} twice"
            sections[current] = []
        elif current is None and line.strip():
            key, sep, value = line.partition(":")
            assert sep and key.strip() in {"Bootstrap", "From", "Stage"}, line
            header[key.strip()] = value.strip()
        elif current is not None:
            sections[current].append(line)
    assert header["Bootstrap"] == "docker-daemon" and header["From"]
    arguments = dict(
        line.strip().split("=", 1) for line in sections.get("%arguments", []) if line.strip()
    )
    for name in re.findall(r"{{\s*(\w+)\s*}}", text):
        assert name in arguments, f"{{{{ {name} }}}} has no default in %arguments"
    for name in SHELL_SECTIONS & sections.keys():
        body = "\n".join(sections[name])
        done = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert done.returncode == 0, f"{name}: {done.stderr}"
    for line in sections.get("%labels", []):
        assert not line.strip() or len(line.split(None, 1)) == 2, f"label without value: {line}"
    assert 'exec trainlab "$@"' in "\n".join(sections["%runscript"])
