"""Credentials in URL settings are masked before they reach MLflow or a message."""

from __future__ import annotations

import pytest

from routesql.redact import MASK, redact_message, redact_params, redact_url, url_secrets

# (case, text, expected)
REDACT_URL_CASES = [
    (
        "postgres with driver",
        "postgresql+psycopg2://user:s3cr3t@host:5432/db",
        "postgresql+psycopg2://user:***@host:5432/db",
    ),
    ("postgres plain", "postgresql://user:s3cr3t@host/db", "postgresql://user:***@host/db"),
    ("user only", "postgresql://user@host/db", "postgresql://user@host/db"),
    ("no userinfo", "postgresql://host:5432/db", "postgresql://host:5432/db"),
    ("empty user", "redis://:s3cr3t@host:6379/0", "redis://:***@host:6379/0"),
    ("empty password", "postgresql://user:@host/db", "postgresql://user:***@host/db"),
    ("percent-encoded password", "postgresql://user:p%40ss%2Fw%3Ad@host/db", "postgresql://user:***@host/db"),
    ("unencoded @ and / in password", "postgresql://user:pa/s@s@host/db", "postgresql://user:***@host/db"),
    (
        "mysql",
        "mysql+pymysql://root:hunter2@db.internal:3306/optuna",
        "mysql+pymysql://root:***@db.internal:3306/optuna",
    ),
    ("http basic auth", "http://admin:s3cr3t@mlflow:5000", "http://admin:***@mlflow:5000"),
    ("https token as user", "https://ghp_0123456789abcdefghij@github.com/org/repo", "https://***@github.com/org/repo"),
    ("https short user kept", "https://alice@example.com/x", "https://alice@example.com/x"),
    (
        "query api_key",
        "https://api.example.com/v1?api_key=sk-123&model=m",
        "https://api.example.com/v1?api_key=***&model=m",
    ),
    (
        "query token before fragment",
        "https://h/v1?model=m&access_token=abc#top",
        "https://h/v1?model=m&access_token=***#top",
    ),
    (
        "query password in a db url",
        "postgresql://host/db?sslmode=require&password=abc",
        "postgresql://host/db?sslmode=require&password=***",
    ),
    ("query harmless", "https://h/v1?model=m&limit=3", "https://h/v1?model=m&limit=3"),
    ("query and userinfo", "https://u:p@h/v1?token=t", "https://u:***@h/v1?token=***"),
    ("http endpoint", "http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ("sqlite relative", "sqlite:///mlflow.db", "sqlite:///mlflow.db"),
    ("sqlite absolute", "sqlite:////var/lib/optuna/optuna.db", "sqlite:////var/lib/optuna/optuna.db"),
    ("file uri", "file:///tmp/mlruns", "file:///tmp/mlruns"),
    ("plain path", "/tmp/models/trained", "/tmp/models/trained"),
    ("not a url", "user:pass@host is not a URL", "user:pass@host is not a URL"),
    ("e-mail", "write to me@example.com", "write to me@example.com"),
    ("empty", "", ""),
    (
        "in a message",
        "MLflow server http://u:pw@h:5000 cannot be reached; also postgresql://a:b@c/d.",
        "MLflow server http://u:***@h:5000 cannot be reached; also postgresql://a:***@c/d.",
    ),
    (
        "in yaml",
        "    storage: postgresql://user:s3cr3t@host/db   # shared\n",
        "    storage: postgresql://user:***@host/db   # shared\n",
    ),
    (
        "in json",
        '{"uri": "postgresql://user:s3cr3t@host/db", "n": 1}',
        '{"uri": "postgresql://user:***@host/db", "n": 1}',
    ),
    ("in html", '<a href="https://u:s3cr3t@h/x">link</a>', '<a href="https://u:***@h/x">link</a>'),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in REDACT_URL_CASES], ids=[c[0] for c in REDACT_URL_CASES])
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected
    assert redact_url(expected) == expected  # idempotent


def test_redact_params_walks_nested_values() -> None:
    secret = "s3cr3t-PaSS"
    params = {
        "seed": 0,
        "tune": {"storage": f"postgresql://optuna:{secret}@db:5432/optuna", "n_trials": 4, "ratio_range": (0.0, 1.0)},
        "synthesize": {"strong": {"endpoint": f"https://writer:{secret}@llm.example.com/v1", "per_db": 20}},
        "generator": {
            "base_url": f"http://vllm:8000/v1?api_key={secret}",
            "api_key_env": "OPENAI_API_KEY",
            "max_new_tokens": 64,
        },
        "hosts": [f"redis://:{secret}@cache/0", "plain"],
        "api_key": secret,
        "tracking": {"uri": "sqlite:///mlflow.db"},
    }
    redacted = redact_params(params)
    assert secret not in repr(redacted)
    assert redacted["tune"] == {
        "storage": "postgresql://optuna:***@db:5432/optuna",
        "n_trials": 4,
        "ratio_range": (0.0, 1.0),
    }
    assert redacted["synthesize"]["strong"]["endpoint"] == "https://writer:***@llm.example.com/v1"
    assert redacted["generator"] == {
        "base_url": "http://vllm:8000/v1?api_key=***",
        "api_key_env": "OPENAI_API_KEY",
        "max_new_tokens": 64,
    }
    assert redacted["hosts"] == ["redis://:***@cache/0", "plain"]
    assert redacted["api_key"] == MASK
    assert redacted["tracking"] == {"uri": "sqlite:///mlflow.db"}
    assert params["api_key"] == secret  # the input is not changed


def test_the_shipped_params_are_unchanged_by_redaction() -> None:
    """No setting name or default looks like a secret: redaction only touches credentials."""
    from routesql.config import Params

    dumped = Params().model_dump(mode="json", by_alias=True)
    assert redact_params(dumped) == dumped


def test_redact_message_scrubs_a_quoted_password() -> None:
    url = "postgresql://user:p%40ss@host/db"
    assert url_secrets(url) == ["p%40ss", "p@ss"]
    message = f'password "p@ss" rejected for {url}'
    assert redact_message(message, url) == 'password "***" rejected for postgresql://user:***@host/db'
