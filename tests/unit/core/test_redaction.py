"""Secrets are written as *** (core.redaction), in text, data and log records."""

from __future__ import annotations

import logging

from trainlab.core.redaction import RedactingFilter, redact, redact_text, secret_values

ENV = {
    "WANDB_API_KEY": "0123456789abcdef",
    "HF_TOKEN": "hf_planted_token",
    "DB_PASSWORD": "correct-horse",
    "AWS_SECRET_ACCESS_KEY": "aws/secret+value",
    "SHORT_KEY": "abc",  # too short to be worth hiding
    "HOME": "/home/me",
}


def test_secret_looking_names_and_uri_credentials_are_masked() -> None:
    assert set(secret_values(ENV)) == {
        "0123456789abcdef",
        "hf_planted_token",
        "correct-horse",
        "aws/secret+value",
    }
    text = (
        "key=0123456789abcdef tok hf_planted_token home /home/me abc "
        "uri https://alice:correct-horse@mlflow.lab.org/x and postgresql://u:p@db/optuna "
        "and https://host/path@not-credentials"
    )
    clean = redact_text(text, ENV)
    assert "0123456789abcdef" not in clean and "hf_planted_token" not in clean
    assert "https://***@mlflow.lab.org/x" in clean and "postgresql://***@db/optuna" in clean
    assert "/home/me abc" in clean and "https://host/path@not-credentials" in clean


def test_data_is_redacted_recursively_without_changing_its_shape() -> None:
    data = {"a": ["x-hf_planted_token", ("correct-horse", 3)], "b": 1.5, "c": None}
    assert redact(data, ENV) == {"a": ["x-***", ("***", 3)], "b": 1.5, "c": None}


def test_log_records_and_tracebacks_are_redacted(monkeypatch) -> None:
    monkeypatch.setenv("TRAINLAB_TEST_TOKEN", "planted-log-secret")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "uri %s", ("x:planted-log-secret",), None
    )
    try:
        raise RuntimeError("failed with planted-log-secret")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "planted-log-secret" not in formatted and "x:***" in formatted
    assert "RuntimeError: failed with ***" in formatted
