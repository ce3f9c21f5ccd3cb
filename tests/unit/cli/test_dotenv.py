"""`.env` of the working folder (cli.dotenv): parsed like a shell would, the environment wins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainlab.cli.dotenv import load_dotenv, parse_dotenv
from trainlab.errors import ConfigError


def test_values_comments_quotes_and_export_prefix(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n\nPLAIN=abc\nexport EXPORTED=1\nQUOTED='two words'  # trailing\n"
        'DOUBLE="x # not a comment"\nEMPTY=\n'
    )
    assert parse_dotenv(path) == {
        "PLAIN": "abc",
        "EXPORTED": "1",
        "QUOTED": "two words",
        "DOUBLE": "x # not a comment",
        "EMPTY": "",
    }


def test_environment_wins_and_empty_values_stay_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "TRAINLAB_T_NEW=from_file\nTRAINLAB_T_SET=from_file\nTRAINLAB_T_EMPTY=\n"
    )
    monkeypatch.setenv("TRAINLAB_T_SET", "from_env")
    monkeypatch.delenv("TRAINLAB_T_NEW", raising=False)
    monkeypatch.delenv("TRAINLAB_T_EMPTY", raising=False)
    try:
        assert load_dotenv(tmp_path) == ["TRAINLAB_T_NEW"]
        assert os.environ["TRAINLAB_T_NEW"] == "from_file"
        assert os.environ["TRAINLAB_T_SET"] == "from_env"
        assert "TRAINLAB_T_EMPTY" not in os.environ
    finally:
        os.environ.pop("TRAINLAB_T_NEW", None)
    assert load_dotenv(tmp_path / "no-such-folder") == []


def test_a_bad_line_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("GOOD=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"\.env:2: 'this is not an assignment' is not KEY="):
        parse_dotenv(path)
    path.write_text("OPEN='never closed\n")
    with pytest.raises(ConfigError, match=r"\.env:1: the value of OPEN .* close its quotes"):
        parse_dotenv(path)


def test_the_cli_reads_dotenv_and_stops_on_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from trainlab.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("oops\n")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 2
    assert ".env:1: 'oops' is not KEY=VALUE" in capsys.readouterr().err
