"""MLflow registry: the trained model leaves the project as a pyfunc model with its prompt version.

`register_model` logs the exported model (input: question + database path, output: SQL) with
its prompt template version, params, dvc.lock hashes, git commit and the evaluation files, adds
a version of the registered model, and moves the alias (default `champion`) to it only when its
dev EX beats the current holder's; a tie keeps the current one. `promote` moves it by hand.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from routesql.errors import InputError
from routesql.redact import redact_params, redact_url

PIP_REQUIREMENTS = [
    "torch==2.13.0",
    "transformers>=5,<6",
    "peft",
    "sqlglot",
    "pydantic>=2",
    "pyyaml",
    "tqdm",
    "pandas",
    "mlflow>=3,<4",
]


class RouteSQLModel(PythonModel):
    """pyfunc: a DataFrame with `question` and `db_path` columns → a DataFrame with `sql` (and `error`)."""

    def load_context(self, context) -> None:
        from routesql.evaluate import check_prompt_version
        from routesql.llm.local import TransformersGenerator
        from routesql.mcp.pipeline import MCPPipeline
        from routesql.mcp.settings import MCPSettings

        model_dir = Path(context.artifacts["model_dir"])
        settings = json.loads(Path(context.artifacts["mcp_settings"]).read_text())
        check_prompt_version(model_dir, settings.get("schema_style", "ddl"))
        generator = TransformersGenerator.load(model_dir / "merged", batch_size=16)
        self.pipeline = MCPPipeline(generator, MCPSettings.from_saved(settings))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from routesql.mcp.work import MCPQuestion

        questions = [
            MCPQuestion(str(i), str(row["question"]), Path(str(row["db_path"])))
            for i, row in model_input.reset_index(drop=True).iterrows()
        ]
        traces = self.pipeline.run(questions)
        return pd.DataFrame({"sql": [t.final for t in traces], "error": [t.error or "" for t in traces]})


def git_commit(cwd: Path = Path(".")) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def log_redacted_text(path: Path, artifact_dir: str) -> None:
    """Log a text file to the active run as `<artifact_dir>/<name>`, its URLs' credentials masked."""
    text = path.read_text(encoding="utf-8", errors="replace")
    mlflow.log_text(redact_url(text), f"{artifact_dir}/{path.name}")


def current_champion(client: MlflowClient, name: str, alias: str) -> tuple[str, float] | None:
    """(version, dev EX) of the alias holder, or None when the alias is unset."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    return version.version, float(version.tags.get("dev_ex", "nan"))


def register_model(
    params, model_dir: Path, eval_dir: Path, out_path: Path, dvc_lock: Path = Path("dvc.lock")
) -> dict:  # params: routesql.config.Params
    from routesql.atomic import write_json_atomic
    from routesql.evaluate import check_prompt_version, load_metrics, log_eval_metrics
    from routesql.mcp.settings import MCPSettings

    version_tag = check_prompt_version(model_dir, params.schema_.style)
    metrics = load_metrics(eval_dir)
    # Written beside the summary, never into models/trained: that folder is another stage's output.
    mcp_settings = out_path.with_name("mcp_settings.json")
    write_json_atomic(mcp_settings, MCPSettings.from_params(params).__dict__)
    name, alias = params.registry.model_name, params.registry.alias
    mlflow.set_tracking_uri(params.tracking.uri)
    mlflow.set_experiment(params.tracking.experiment)
    client = MlflowClient()
    commit = git_commit()
    with mlflow.start_run(run_name="register") as run:
        log_eval_metrics(metrics)  # the registered version's run: zero-shot, fine-tuned, each MCP step
        mlflow.set_tags(
            {"prompt_template_version": version_tag, "git_commit": commit, "dvc_lock_sha256": file_digest(dvc_lock)}
        )
        # Credentials in URL settings (tune.storage, tracking.uri, endpoints) are masked in every
        # file logged: params.json, dvc.lock (it records the stages' params) and the evaluation files.
        mlflow.log_dict(redact_params(params.model_dump(mode="json", by_alias=True)), "params.json")
        if dvc_lock.is_file():
            log_redacted_text(dvc_lock, "dvc")
        for name_ in ("predictions.sql", "predictions.jsonl", "metrics.json", "report.html"):
            if (eval_dir / name_).is_file():
                log_redacted_text(eval_dir / name_, "evaluation")
        example = pd.DataFrame({"question": ["How many rows are there?"], "db_path": ["/path/to/db.sqlite"]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RouteSQLModel(),
            artifacts={"model_dir": str(model_dir), "mcp_settings": str(mcp_settings)},
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=name,
            input_example=example,
        )
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    client.set_model_version_tag(name, version, "dev_ex", str(metrics["ex"]))
    client.set_model_version_tag(name, version, "prompt_template_version", version_tag)
    client.set_model_version_tag(name, version, "git_commit", commit)
    previous = current_champion(client, name, alias)
    promoted = previous is None or metrics["ex"] > previous[1]
    if promoted:
        client.set_registered_model_alias(name, alias, version)
    result = {
        "model_name": name,
        "version": version,
        "dev_ex": metrics["ex"],
        "run_id": run_id,
        "alias": alias,
        "promoted": promoted,
        "previous_champion": None if previous is None else {"version": previous[0], "dev_ex": previous[1]},
    }
    write_json_atomic(out_path, result)
    return result


def promote(params, version: str) -> None:
    mlflow.set_tracking_uri(params.tracking.uri)
    client = MlflowClient()
    name, alias = params.registry.model_name, params.registry.alias
    try:
        client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException:
        raise InputError(f"{name} version {version}", "no such registered model version") from None
    client.set_registered_model_alias(name, alias, version)


def download_registered_model(uri: str) -> Path:
    """The model folder inside a registered pyfunc model (downloaded from the tracking store)."""
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except mlflow.exceptions.MlflowException as error:
        first_line = (str(error).splitlines() or [""])[0]
        raise InputError(redact_url(uri), f"cannot load the registered model: {redact_url(first_line)}") from None
    found = list(local.rglob("routesql.json"))
    if not found:
        raise InputError(redact_url(uri), "the registered model holds no routesql model folder")
    return found[0].parent
