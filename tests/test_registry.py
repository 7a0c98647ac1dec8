"""register_model against a real MLflow store: credentials in URL settings reach no file of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
import pytest

from routesql.config import Params
from routesql.registry import register_model
from support_postgres import postgres_url

SECRET = "s3cr3t-PaSS"
CHAT = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"


@pytest.fixture(autouse=True)
def _fresh_tracking_uri() -> Iterator[None]:
    yield
    mlflow.set_tracking_uri(None)  # register sets it globally; the next test picks its own


def _model_dir(folder: Path) -> Path:
    """The smallest folder `check_prompt_version` accepts: routesql.json and a tokenizer."""
    from tokenizers import Tokenizer, models
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from routesql.llm.prompting import model_prompt_version
    from routesql.tasks.templates import prompt_version

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<eos>": 1}, "<unk>")),
        unk_token="<unk>",
        eos_token="<eos>",
    )
    tokenizer.chat_template = CHAT
    tokenizer.save_pretrained(folder / "merged")
    style = Params().schema_.style  # as trained with the default params
    version = model_prompt_version(prompt_version(style), AutoTokenizer.from_pretrained(str(folder / "merged")))
    (folder / "routesql.json").write_text(json.dumps({"template_version": version}))
    return folder


def _eval_dir(folder: Path, version: str) -> Path:
    """Evaluate's files; one prediction's error quotes the generator URL with its password, as an
    HTTP backend's connection error does."""
    folder.mkdir(parents=True)
    metrics = {
        "ex": 0.5,
        "template_version": version,
        "by_step": {"text_to_sql": 0.5},
        "by_hardness": {"easy": {"ex": 0.5}},
        "error_categories": {"wrong result": 1},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "predictions.sql").write_text("SELECT 1\n\n")
    errors = [
        {"id": "q1", "final": "SELECT 1", "error": None},
        {"id": "q2", "final": "", "error": f"https://gen:{SECRET}@llm.example.com/v1/completions: connection failed"},
    ]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(e) + "\n" for e in errors))
    (folder / "report.html").write_text(f"<html><p>generator https://gen:{SECRET}@llm.example.com/v1</p></html>")
    return folder


def _params(tracking_uri: str) -> Params:
    return Params.model_validate(
        {
            "tune": {"storage": f"postgresql+psycopg2://optuna:{SECRET}@db.example.com:5432/optuna"},
            "synthesize": {"strong": {"endpoint": f"https://writer:{SECRET}@llm.example.com/v1"}},
            "generator": {"backend": "openai", "base_url": f"http://vllm.example.com:8000/v1?api_key={SECRET}"},
            "tracking": {"uri": tracking_uri, "experiment": f"redact-{uuid.uuid4().hex[:8]}"},
            "register": {"model_name": "routesql-redact"},
        }
    )


def _dvc_lock(path: Path, params: Params) -> Path:
    """dvc.lock records the params each stage depends on: the tune stage's storage among them."""
    path.write_text(
        "schema: '2.0'\nstages:\n  tune:\n    params:\n      params.yaml:\n        tune:\n"
        f"          storage: {params.tune.storage}\n  synthesize:\n    params:\n      params.yaml:\n"
        f"        synthesize:\n          strong:\n            endpoint: {params.synthesize.strong.endpoint}\n"
    )
    return path


def _register(tmp_path: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, Path]:
    """register_model with credentialed params; inputs under tmp/inputs, everything MLflow writes
    (store and artifacts, relative to the working folder) under tmp/store."""
    inputs, store = tmp_path / "inputs", tmp_path / "store"
    store.mkdir()
    monkeypatch.chdir(store)  # artifacts of a database-backed store default to ./mlartifacts or ./mlruns
    model = _model_dir(inputs / "model")
    version = json.loads((model / "routesql.json").read_text())["template_version"]
    params = _params(tracking_uri)
    result = register_model(
        params,
        model,
        _eval_dir(inputs / "eval", version),
        store / "out" / "registered.json",
        dvc_lock=_dvc_lock(inputs / "dvc.lock", params),
    )
    return result, store


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return [
        str(path.relative_to(folder))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and needle in path.read_bytes()
    ]


def _assert_logged_redacted(result: dict) -> None:
    """The masked forms are there (so the files were logged and read), the password is not."""
    client = mlflow.tracking.MlflowClient()
    logged = Path(mlflow.artifacts.download_artifacts(run_id=result["run_id"], artifact_path="params.json"))
    params = json.loads(logged.read_text())
    assert params["tune"]["storage"] == "postgresql+psycopg2://optuna:***@db.example.com:5432/optuna"
    assert params["synthesize"]["strong"]["endpoint"] == "https://writer:***@llm.example.com/v1"
    assert params["generator"]["base_url"] == "http://vllm.example.com:8000/v1?api_key=***"
    lock = mlflow.artifacts.load_text(f"runs:/{result['run_id']}/dvc/dvc.lock")
    assert "storage: postgresql+psycopg2://optuna:***@db.example.com" in lock
    names = {f.path for f in client.list_artifacts(result["run_id"], "evaluation")}
    assert names == {f"evaluation/{n}" for n in ("predictions.sql", "predictions.jsonl", "metrics.json", "report.html")}


@pytest.mark.slow
def test_register_logs_no_credential_to_a_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, store = _register(tmp_path, f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}", monkeypatch)
    assert result["version"] == "1" and (store / "mlflow.db").is_file()
    _assert_logged_redacted(result)
    assert len([p for p in store.rglob("*") if p.is_file()]) > 5  # the db, params.json, the model...
    assert _files_holding(store, SECRET.encode()) == []
    assert _files_holding(tmp_path / "inputs", SECRET.encode())  # the needle is findable where it was put


@contextmanager
def _credentialed_database(server: str) -> Iterator[str]:
    """The URL, password included, of a fresh database owned by a fresh role whose password is
    SECRET, on `server`. Works under trust and password authentication alike."""
    import psycopg2

    name = f"redact_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", (SECRET,))
            cursor.execute(f"CREATE DATABASE {name} OWNER {name}")
    except psycopg2.Error as error:
        admin.close()
        pytest.skip(f"cannot create a role and a database on the test PostgreSQL server: {error}")
    parts = urlsplit(server)
    host = parts.netloc.rpartition("@")[2]
    try:
        yield urlunsplit(parts._replace(netloc=f"{name}:{SECRET}@{host}", path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            cursor.execute(f"DROP ROLE IF EXISTS {name}")
        admin.close()


@pytest.mark.slow
def test_register_logs_no_credential_to_a_postgresql_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tracking URI itself carries the password: neither a table of the store nor an artifact holds it."""
    import psycopg2

    with postgres_url() as server:
        if server is None:
            pytest.skip(
                "no PostgreSQL server here: install Debian's postgresql (.ci/run does) "
                "or set ROUTESQL_TEST_POSTGRES_URL"
            )
        with _credentialed_database(server) as tracking_uri:
            result, store = _register(tmp_path, tracking_uri, monkeypatch)
            _assert_logged_redacted(result)
            assert _files_holding(store, SECRET.encode()) == []
            with psycopg2.connect(tracking_uri) as conn, conn.cursor() as cursor:
                cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                tables = [row[0] for row in cursor.fetchall()]
                assert "runs" in tables and "registered_models" in tables
                holding = []
                for table in tables:
                    cursor.execute(
                        f'SELECT count(*) FROM "{table}" AS t WHERE CAST(t AS text) LIKE %s', (f"%{SECRET}%",)
                    )
                    if cursor.fetchone()[0]:
                        holding.append(table)
            assert holding == []
