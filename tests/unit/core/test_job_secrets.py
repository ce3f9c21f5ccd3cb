"""core/job_secrets.py: sealing for job pickles, redacted job output and failures."""

from __future__ import annotations

import io
import json
import pickle

import pytest

from trainlab.core.job_secrets import (
    RedactingStream,
    carried,
    redact_exception,
    redacted_failure,
    seal,
    unseal,
)
from trainlab.errors import ConfigError, DataError

SECRET_KEY = "sk-planted-4f9c2a7e1b"
SECRET_PASSWORD = "pl4nted-db-pw"
DB_URL = f"postgresql://alice:{SECRET_PASSWORD}@db.lab.org/x"


def test_seal_round_trip_reads_secrets_from_the_environment() -> None:
    env = {"LAB_API_KEY": SECRET_KEY}
    plain = {"a": f"x-{SECRET_KEY}", "b": [DB_URL], "c": 3, DB_URL: "key"}
    sealed, carriers = seal(plain, env)
    text = json.dumps(sealed)
    assert SECRET_KEY not in text and SECRET_PASSWORD not in text, text
    assert sorted(carriers.values()) == sorted([SECRET_KEY, f"alice:{SECRET_PASSWORD}"])
    assert unseal(sealed, carriers) == plain
    with carried(carriers):
        assert unseal(sealed) == plain
    with pytest.raises(ConfigError, match=r"`a` holds a secret .* --export=ALL"):
        unseal(sealed, {})


def test_job_output_and_failures_are_redacted(monkeypatch) -> None:
    monkeypatch.setenv("LAB_API_KEY", SECRET_KEY)
    out = io.StringIO()
    print(f"using {SECRET_KEY} and {DB_URL}", file=RedactingStream(out))
    assert out.getvalue() == "using *** and postgresql://***@db.lab.org/x\n"
    try:
        try:
            raise OSError(f"cannot open /data/{SECRET_KEY}")
        except OSError as cause:
            raise DataError("data folder missing") from cause
    except DataError as err:
        failure = redacted_failure(err)
    assert SECRET_KEY not in str(failure) and "cannot open /data/***" in str(failure)
    err = DataError(f"no {DB_URL}")
    err.trainlab_traceback = f"Traceback ... {SECRET_KEY}"
    data = pickle.dumps(redact_exception(err))
    assert SECRET_KEY.encode() not in data and SECRET_PASSWORD.encode() not in data
    assert str(pickle.loads(data)) == "no postgresql://***@db.lab.org/x"
