"""`dvc repro` end to end on the embedded demo, in a temporary git + DVC repository.

Small settings keep it to a few minutes on 2 cores; the stages, files, MLflow store and registry
are the real ones. Checked: a full run registers a champion; a second run does nothing; a
changed task ratio reruns only tune/train/evaluate/register; a run killed during training resumes
from its checkpoint; the stores stay consistent; `mlflow models serve` answers a request.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from support import params_leaf_keys

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

PARAMS = {
    "seed": 0,
    "data": {"benchmark": "demo"},
    "schema": {"sample_rows": 0, "token_budget": 1024},
    "execution": {"workers": 2},
    "synthesize": {
        "max_examples": 120,
        "noise_per_example": 1,
        "strong": {"per_db": 1},
        "weak": {"enabled": True, "questions": 2, "samples": 2, "max_new_tokens": 8},
    },
    "model": {
        "base": "tiny",
        "tiny": {
            "vocab_size": 600,
            "hidden_size": 32,
            "num_layers": 2,
            "num_heads": 2,
            "num_kv_heads": 1,
            "intermediate_size": 64,
            "pretrain_steps": 4,
            "pretrain_batch_size": 2,
            "pretrain_seq_len": 128,
        },
    },
    "tasks": {
        "mix": {
            "text_to_sql": 1.0,
            "schema_linking": 0.5,
            "noise_correction": 0.5,
            "continuation": 0.5,
            "slice_linking": 0.0,
        }
    },
    "train": {
        "max_steps": 8,
        "batch_size": 2,
        "grad_accumulation": 1,
        "freeze_layers": 0,
        "max_seq_len": 512,
        "checkpoint_every_n_steps": 1,
        "warmup_steps": 1,
        "lr": 1e-3,
        "lora": {"enabled": True, "r": 4, "alpha": 8},
    },
    "tune": {"enabled": True, "n_trials": 2, "max_steps": 1, "eval_limit": 2, "tasks": ["noise_correction"]},
    # every MCP step, in ROUTE's order with voting after the linking
    "mcp": {
        "max_new_tokens": 24,
        "steps": ["schema_linking", "self_consistency", "noise_correction", "continuation"],
        "self_consistency": 2,
    },
    "evaluate": {"limit": 4},
}


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    env.pop("ROUTESQL_BENCHMARKS", None)
    return env


def _run(
    project: Path, *args: str, timeout: int = 600, ok_codes: tuple[int, ...] = (0,), env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        list(args), cwd=project, env=env or _env(project), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode in ok_codes, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if name.startswith(("src/", ".dvc/")) or name in ("dvc.yaml", ".dvcignore", ".gitignore"):
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
    (root / "params.yaml").write_text(
        yaml.safe_dump(_merged(yaml.safe_load((REPO / "params.yaml").read_text()), PARAMS))
    )
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "t@example.com"],
        ["git", "config", "user.name", "test"],
        ["dvc", "config", "core.analytics", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "project"],
    ):
        _run(root, *command)
    return root


@pytest.fixture(scope="module")
def params_reads(tmp_path_factory) -> Path:
    """Where each command of the first run writes the params keys it read (routesql.settings_reads)."""
    return tmp_path_factory.mktemp("params-reads")


@pytest.fixture(scope="module")
def first_run(project: Path, params_reads: Path) -> str:
    return _run(project, "dvc", "repro", env=_env(project, ROUTESQL_TRACE_PARAMS=str(params_reads)))


def test_full_run_registers_a_champion(project: Path, first_run: str) -> None:
    assert _stages_run(first_run) == {"data", "base", "synthesize", "tune", "train", "evaluate", "register"}
    registered = json.loads((project / "reports/registered.json").read_text())
    assert registered["promoted"] and registered["version"] == "1"
    metrics = json.loads((project / "reports/eval/metrics.json").read_text())
    assert list(metrics["by_step"]) == ["draft", "reduced", "voted", "corrected", "continued"]
    assert json.loads((project / "data/tune/best_mix.json").read_text())["tuned"] is True
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    champion = MlflowClient().get_model_version_by_alias("routesql", "champion")
    assert str(champion.version) == "1" and champion.tags["prompt_template_version"]
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    outputs = {Path(out["path"]).name for stage in lock["stages"].values() for out in stage.get("outs", [])}
    assert not outputs & {"mlflow.db", "optuna.db"}


# Keys this run cannot read, each with why; a key listed here that the run does read fails the test.
NOT_READ_IN_THIS_RUN = {
    **{f"dpo.{key}": "dpo.enabled is false" for key in ("beta", "lr", "max_steps", "batch_size", "max_seq_len")},
    **{
        f"generator.{key}": "the local backend serves the model itself"
        for key in ("base_url", "model", "timeout_s", "concurrency")
    },
}
# Keys a stage reads that are no dependency of its outputs: changing them must not rerun it.
NOT_DEPENDENCIES = {
    "tracking.uri": "where runs are logged, not what a stage computes",
    "tracking.experiment": "likewise",
    "generator.api_key_env": "the name of the variable holding a secret (synthesize reads it for strong.endpoint)",
}


def test_every_params_key_is_read_and_each_stage_declares_what_it_reads(
    project: Path, first_run: str, params_reads: Path
) -> None:
    """Every setting does something (some stage reads it), and `dvc repro` reruns a stage when
    one it reads changes (dvc.yaml lists it under the stage's params)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    declared = {stage["cmd"].split()[1]: stage.get("params", []) for stage in stages.values()}
    reads: dict[str, set[str]] = {}
    for trace in params_reads.glob("*.json"):
        record = json.loads(trace.read_text())
        reads.setdefault(record["command"], set()).update(record["keys"])
    assert set(reads) == set(declared), "every stage's command wrote what it read"
    leaves = set(params_leaf_keys(yaml.safe_load((project / "params.yaml").read_text())))
    undeclared = {
        f"{command}: {key}"
        for command, keys in reads.items()
        for key in keys & leaves
        if key not in NOT_DEPENDENCIES and not any(key == d or key.startswith(f"{d}.") for d in declared[command])
    }
    assert not undeclared, f"read but not in the stage's dvc.yaml params: {sorted(undeclared)}"
    read_anywhere = set().union(*reads.values())
    assert not read_anywhere & set(NOT_READ_IN_THIS_RUN), "NOT_READ_IN_THIS_RUN lists keys that are read"
    unread = leaves - read_anywhere - set(NOT_READ_IN_THIS_RUN)
    assert not unread, f"params keys no stage reads (knobs that do nothing): {sorted(unread)}"


def test_second_run_does_nothing(project: Path, first_run: str) -> None:
    output = _run(project, "dvc", "repro")
    assert _stages_run(output) == set()
    assert "up to date" in _run(project, "dvc", "status")


def test_metrics_and_plots_are_visible_to_dvc(project: Path, first_run: str) -> None:
    shown = _run(project, "dvc", "metrics", "show")
    assert "reports/eval/metrics.json" in shown and "ex" in shown


ABLATIONS = {
    "reference": "draft",
    "variants": {
        "as_run": {"about": "the project's own params", "set": {"evaluate.limit": 4}},
        "no_mcp": {"about": "the draft alone", "set": {"mcp.steps": [], "mcp.self_consistency": 1}},
        "with_dpo": {
            "about": "the same SFT, then DPO: train runs, in the experiment's temporary copy",
            "set": {
                "evaluate.limit": 4,
                "dpo.enabled": True,
                "dpo.max_steps": 1,
                "dpo.batch_size": 2,
                "dpo.grad_accumulation": 1,
                "dpo.freeze_layers": 0,
                "dpo.lora.r": 4,
                "dpo.lora.alpha": 8,
            },
        },
    },
    "rows": [
        {"label": "draft", "variant": "as_run", "step": "draft"},
        {"label": "all MCP steps", "variant": "as_run", "step": "final"},
        {"label": "no MCP", "variant": "no_mcp", "step": "draft"},
        {"label": "DPO", "variant": "with_dpo", "step": "draft"},
    ],
}


def test_ablations_run_variants_as_dvc_experiments_under_one_mlflow_parent(project: Path, first_run: str) -> None:
    (project / "ablations.yaml").write_text(yaml.safe_dump(ABLATIONS))
    sft_runs = set((project / "checkpoints/train").iterdir())  # the first run's SFT, in the project
    output = _run(project, "routesql", "ablations", timeout=900)
    assert "table → reports/ablations.md" in output
    listed = _run(project, "dvc", "exp", "list", "--name-only")
    assert {"ablation-as_run", "ablation-no_mcp", "ablation-with_dpo"} <= set(listed.split())
    # with_dpo's train ran in a temporary copy, yet resumed the first run's finished SFT from the
    # project's checkpoints (no SFT step, no new SFT folder) and trained only its DPO there
    assert set((project / "checkpoints/train").iterdir()) == sft_runs
    (sft,) = [run for run in sft_runs if (run / "dpo").is_dir()]
    assert json.loads((sft / "routesql.json").read_text())["resumed_from"]
    assert [json.loads(path.read_text())["kind"] for path in (sft / "dpo").glob("*/routesql.json")] == ["dpo"]
    table = {row["row"]: row for row in json.loads((project / "reports/ablations.json").read_text())}
    assert set(table) == {"draft", "all MCP steps", "no MCP", "DPO"}
    assert table["no MCP"]["delta"] == table["no MCP"]["ex"] - table["draft"]["ex"]
    assert table["draft"]["train_tokens"] and table["draft"]["peak_memory_mb"]
    assert "| all MCP steps |" in (project / "reports/ablations.md").read_text()
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name("routesql")
    parents = client.search_runs([experiment.experiment_id], "attributes.run_name = 'ablations'")
    assert len(parents) == 1
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'")
    assert sorted(run.info.run_name for run in children) == ["as_run", "no_mcp", "with_dpo"]
    assert all(run.data.tags["dvc_experiment"].startswith("ablation-") for run in children)
    # the same trained model (train came from the run cache): each question's draft answer scores
    # the same with or without the steps after it
    drafts = {
        run.info.run_name: json.loads(
            _run(project, "git", "show", f"{run.data.tags['dvc_rev']}:reports/eval/outcomes.json")
        )
        for run in children
    }
    assert drafts["as_run"]["ids"] == drafts["no_mcp"]["ids"] and drafts["as_run"]["draft"] == drafts["no_mcp"]["draft"]
    assert "continued" in drafts["as_run"] and "continued" not in drafts["no_mcp"]
    # nothing changed: the experiments are reused, no stage runs again
    again = _run(project, "routesql", "ablations", "--no-track", timeout=900)
    assert again.count("reused") == 3 and "dvc exp run" not in again


def test_changed_ratio_reruns_only_downstream_and_a_killed_training_resumes(project: Path, first_run: str) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["tasks"]["mix"]["continuation"] = 0.25  # not tuned: tune reruns on tasks, train on the mix
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert set(_stale(project)) == {"tune", "train"}  # the stages whose own params changed
    before = set((project / "checkpoints/train").iterdir())
    log = project / "killed-run.log"
    with log.open("w") as sink:
        killed = subprocess.Popen(
            ["dvc", "repro"],
            cwd=project,
            env=_env(project),
            start_new_session=True,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and killed.poll() is None and not _fresh_checkpoints(project, before):
            time.sleep(0.05)
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    assert _fresh_checkpoints(project, before), f"training never wrote a checkpoint:\n{log.read_text()[-3000:]}"
    output = _run(project, "dvc", "repro")
    # tune finished before the kill (DVC recorded it), so the restart picks up at train
    assert _stages_run(output) == {"train", "evaluate", "register"}
    manifest = json.loads((project / "models/trained/routesql.json").read_text())
    assert manifest["resumed_from"], "the restarted training did not resume from its checkpoint"
    for store in ("mlflow.db", "optuna.db"):
        with sqlite3.connect(project / store) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    import optuna

    storage = f"sqlite:///{project / 'optuna.db'}"
    studies = optuna.get_all_study_summaries(storage)
    assert len(studies) == 2, "the changed mix should have started a study of its own"
    for summary in studies:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.trials)


def test_an_added_evaluation_benchmark_reruns_only_data_evaluate_and_register(
    project: Path, first_run: str, tmp_path: Path
) -> None:
    from support import make_minidev

    _run(project, "dvc", "repro")  # whatever an earlier test left changed
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["benchmarks"] = [{"name": "mini", "path": str(make_minidev(tmp_path / "MINIDEV"))}]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    output = _run(project, "dvc", "repro")
    # The demo is regenerated byte for byte, so nothing trained is redone.
    assert _stages_run(output) == {"data", "evaluate", "register"}
    metrics = json.loads((project / "reports/eval/metrics.json").read_text())
    assert list(metrics["benchmarks"]) == ["demo", "mini"]
    assert metrics["benchmarks"]["mini"]["breakdown"] == "difficulty"
    assert metrics["benchmarks"]["mini"]["semantics"] == "bird"
    assert (project / "reports/eval/benchmarks/mini/predictions.sql").is_file()
    assert "mini.jsonl" in {p.name for p in (project / "data/eval").iterdir()}
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    run = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("routesql").experiment_id],
        filter_string="attributes.run_name = 'evaluate'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert {"dev_ex/demo", "dev_ex/mini", "dev_ex/mini/simple"} <= set(run.data.metrics)


def _stale(project: Path) -> list[str]:
    status = json.loads(_run(project, "dvc", "status", "--json"))
    return sorted(status)


def _fresh_checkpoints(project: Path, before: set[Path]) -> list[Path]:
    """Checkpoints written by a training run that did not exist before."""
    runs = [p for p in (project / "checkpoints/train").iterdir() if p not in before]
    return [c for run in runs for c in (run / "checkpoints").glob("*.ckpt")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ask_and_mlflow_models_serve_answer_with_the_champion(project: Path, first_run: str) -> None:
    db = next((project / "data/benchmark/database").glob("*/*.sqlite"))
    # A model trained for 8 steps may write no SQL: then ask exits 1, still printing its trace.
    answer = _run(
        project,
        "routesql",
        "ask",
        "--db",
        str(db),
        "--model",
        "models:/routesql@champion",
        "How many rows are there?",
        ok_codes=(0, 1),
    )
    assert answer.startswith("SQL:") and "MCP trace:" in answer
    port = _free_port()
    server = subprocess.Popen(
        [
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/routesql@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=project,
        env=_env(project),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = json.dumps({"dataframe_records": [{"question": "How many rows are there?", "db_path": str(db)}]})
        reply = _post_when_up(f"http://127.0.0.1:{port}/invocations", body.encode(), deadline_s=180)
        predictions = json.loads(reply)["predictions"]
        assert len(predictions) == 1 and "sql" in predictions[0]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _post_when_up(url: str, body: bytes, deadline_s: float) -> str:
    deadline = time.monotonic() + deadline_s
    while True:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
