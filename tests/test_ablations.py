"""`routesql ablations` without running DVC: the variant list is checked against params.yaml, the
paired bootstrap and the table are computed from per-question outcomes. The run through real
`dvc exp run` on the tiny model is in tests/test_pipeline.py (slow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from routesql.ablations import (
    AblationPlan,
    Row,
    Variant,
    VariantResult,
    build_table,
    existing_experiments,
    experiment_env,
    load_plan,
    paired_bootstrap,
    render_html,
    render_markdown,
    set_param_args,
    tracking_override,
    train_cost,
    with_overrides,
)
from routesql.config import Params, read_yaml_mapping
from routesql.errors import InputError

REPO = Path(__file__).resolve().parents[1]
PARAMS_FILE = read_yaml_mapping(REPO / "params.yaml")

GOOD = {
    "reference": "multitask",
    "common": {"evaluate.zero_shot": False},
    "variants": {
        "plain": {"about": "text-to-SQL only", "set": {"tasks.mix.continuation": 0.0}},
        "route": {"set": {"tasks.mix.schema_linking": 0.1, "mcp.steps": ["schema_linking", "continuation"]}},
    },
    "rows": [
        {"label": "plain", "variant": "plain", "step": "draft"},
        {"label": "multitask", "variant": "route", "step": "draft"},
        {"label": "+ SL", "variant": "route", "step": "reduced"},
    ],
}


def _write(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "ablations.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_the_checked_in_variant_list_is_valid() -> None:
    plan = load_plan(REPO / "ablations.yaml", PARAMS_FILE)
    assert plan.reference in {row.label for row in plan.rows}
    assert {row.variant for row in plan.rows} == {variant.name for variant in plan.variants}


def test_a_good_plan_loads_with_common_overrides_under_each_variant(tmp_path: Path) -> None:
    plan = load_plan(_write(tmp_path, GOOD), PARAMS_FILE)
    assert [v.name for v in plan.variants] == ["plain", "route"]
    assert plan.variants[0].overrides == {"evaluate.zero_shot": False, "tasks.mix.continuation": 0.0}
    assert plan.rows[2] == Row("+ SL", "route", "reduced")


def _changed(path: tuple, value: object) -> dict:
    plan = yaml.safe_load(yaml.safe_dump(GOOD))
    node = plan
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return plan


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("variants", "plain", "set"), {"train.lrr": 0.1}, "variants.plain: train.lrr: unknown key"),
        (("variants", "plain", "set"), {"dpo.lora.rr": 4}, "variants.plain: dpo.lora.rr: unknown key"),
        (("variants", "plain", "set"), {"tasks.mix.sql_magic": 0.1}, "variants.plain: tasks.mix"),
        (("variants", "plain", "set"), {"train..lr": 0.1}, "variants.plain.set: 'train..lr' is not a dotted"),
        (("variants", "plain", "set"), {"train.max_steps": "many"}, "variants.plain: train.max_steps"),
        (("variants", "plain", "set"), {"mcp.steps": ["telepathy"]}, "variants.plain: mcp.steps"),
        (("common",), {"evaluate.zero_shot": False, "seeed": 1}, "common: seeed: unknown key"),
        (("variants", "plain", "sett"), {}, "variants.plain.sett: unknown key"),
        (("rows",), [{"label": "x", "variant": "nope", "step": "draft"}], "rows[0]: needs label, variant"),
        (("rows", 2, "step"), "corrected", "rows[2] (+ SL): step 'corrected' is not one of"),
        (("reference",), "nobody", "reference: 'nobody' is not the label of a row"),
        (("variants",), {}, "variants: at least one variant"),
        (("variants",), {"Bad Name": {}}, "variants.Bad Name: a variant's name is lowercase"),
        (("rows", 1, "label"), "plain", "rows[1]: the label 'plain' is used twice"),
        (("rows", 2, "step"), "draft", "rows[2]: variant 'route' step 'draft' already has a row"),
        (("bootstrap_samples",), 5, "bootstrap_samples: an integer of at least 100"),
    ],
)
def test_a_bad_plan_stops_with_one_line_naming_the_key(
    tmp_path: Path, path: tuple, value: object, message: str
) -> None:
    with pytest.raises(InputError) as error:
        load_plan(_write(tmp_path, _changed(path, value)), PARAMS_FILE)
    assert message in str(error.value) and "ablations.yaml" in str(error.value)
    assert "\n" not in str(error.value)


def test_overrides_become_dvc_set_param_arguments_dvc_parses() -> None:
    params_file = {"mcp": {"steps": []}, "evaluate": {"zero_shot_questions": 110}, "dpo": {"enabled": False}}
    overrides = {"mcp.steps": ["schema_linking"], "evaluate.zero_shot_questions": None, "dpo.lora.enabled": True}
    assert set_param_args(overrides, params_file) == [
        "-S",
        'mcp.steps=["schema_linking"]',
        "-S",
        "evaluate.zero_shot_questions=null",
        "-S",
        "+dpo.lora.enabled=true",  # a key params.yaml leaves to its default is added
    ]
    assert with_overrides({"a": {"b": 1}}, {"a.b": 2, "a.c": [1]}) == {"a": {"b": 2, "c": [1]}}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///mlflow.db", "sqlite:///{repo}/mlflow.db"),
        ("mlruns", "{repo}/mlruns"),
        ("sqlite:////abs/mlflow.db", None),
        ("http://127.0.0.1:5000", None),
    ],
)
def test_a_relative_tracking_store_is_made_absolute(tmp_path: Path, uri: str, expected: str | None) -> None:
    params = Params.model_validate({"tracking": {"uri": uri}})
    found = tracking_override(params, tmp_path)
    assert found == ({} if expected is None else {"tracking.uri": expected.format(repo=tmp_path.resolve())})


def _dvc_repo(root: Path, stage_command: str) -> None:
    """A git repo with DVC and one stage that runs stage_command (reading params.yaml's `wait`)."""
    (root / "params.yaml").write_text("wait: 0\n")
    (root / "dvc.yaml").write_text(
        yaml.safe_dump({"stages": {"work": {"cmd": stage_command, "params": ["wait"], "outs": ["out.txt"]}}})
    )
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "t@example.com"],
        ["git", "config", "user.name", "test"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "project"],
    ):
        subprocess.run(command, cwd=root, check=True, capture_output=True)


def test_an_experiment_killed_mid_run_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call killed while DVC ran a variant leaves that experiment shown as running, for good: it
    must not count as run (its results were never written), and running it again must count."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = tmp_path / "started"
    repo = tmp_path / "repo"
    repo.mkdir()
    stage = (
        f"{sys.executable} -c \"import pathlib, time, yaml; w = yaml.safe_load(open('params.yaml'))['wait']; "
        f"pathlib.Path('{started}').touch(); time.sleep(w); pathlib.Path('out.txt').write_text('done')\""
    )
    _dvc_repo(repo, stage)
    run = ["dvc", "exp", "run", "--temp", "-n", "ablation-a"]
    killed = subprocess.Popen([*run, "-S", "wait=60"], cwd=repo, start_new_session=True)
    deadline = time.monotonic() + 60
    while not started.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the stage never started"
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    stopped = existing_experiments(repo)
    assert (stopped.finished, stopped.unfinished) == ({}, {"ablation-a"})

    subprocess.run([*run, "-S", "wait=0"], cwd=repo, check=True, capture_output=True)
    found = existing_experiments(repo)
    assert list(found.finished) == ["ablation-a"]
    assert found.finished["ablation-a"][1] == {"wait": 0}
    assert found.unfinished == {"ablation-a"}  # DVC keeps listing the killed run


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"PATH": "/bin"}, {"PATH": "/bin", "ROUTESQL_CHECKPOINTS": "{repo}/checkpoints"}),
        ({"ROUTESQL_CHECKPOINTS": ""}, {"ROUTESQL_CHECKPOINTS": "{repo}/checkpoints"}),  # empty is unset
        ({"ROUTESQL_CHECKPOINTS": "/scratch"}, {"ROUTESQL_CHECKPOINTS": "/scratch"}),  # the user's choice stays
    ],
)
def test_experiments_keep_their_checkpoints_in_the_project(tmp_path: Path, given: dict, expected: dict) -> None:
    """Experiments run in temporary copies: their training checkpoints must outlive them, so that a
    variant with another's SFT resumes it finished and a killed call resumes its training."""
    before = dict(given)
    found = experiment_env(tmp_path, given)
    assert found == {key: value.format(repo=tmp_path.resolve()) for key, value in expected.items()}
    assert given == before  # the caller's environment is not changed


@pytest.mark.parametrize(
    ("row", "reference", "delta", "interval"),
    [
        ("1100", "1100", 0.0, (0.0, 0.0)),  # the same answers: no difference, no spread
        ("1111", "0000", 1.0, (1.0, 1.0)),
        ("11-1", "0000", 1.0, (1.0, 1.0)),  # an unscorable question counts for neither
        ("1" * 60 + "0" * 40, "1" * 50 + "0" * 50, 0.1, (0.04, 0.17)),  # 10 gains, no losses
    ],
)
def test_paired_bootstrap(row: str, reference: str, delta: float, interval: tuple[float, float]) -> None:
    ids = [f"q{i}" for i in range(len(row))]
    found, low, high = paired_bootstrap(dict(zip(ids, row)), dict(zip(ids, reference)), 2000, seed=0)
    assert found == pytest.approx(delta)
    assert low <= found <= high
    assert low == pytest.approx(interval[0], abs=0.021) and high == pytest.approx(interval[1], abs=0.021)


def _result(name: str, outcomes: dict, metrics: dict | None = None, train: dict | None = None) -> VariantResult:
    return VariantResult(Variant(name, "", {}), "abc123", metrics or {}, outcomes, train, reused=False)


def test_the_table_from_outcomes() -> None:
    ids, hardness = ["a", "b", "c", "d"], ["easy", "easy", "medium", "hard"]
    plan = AblationPlan(
        Path("ablations.yaml"),
        [Variant("plain", "", {}), Variant("route", "", {})],
        [
            Row("zero-shot", "plain", "zero_shot"),
            Row("plain", "plain", "draft"),
            Row("multitask", "route", "draft"),
            Row("+ SL", "route", "reduced"),
        ],
        "multitask",
        500,
    )
    train = {
        "steps": 10,
        "settings": {"batch_size": 1, "grad_accumulation": 4, "max_seq_len": 1000},
        "final_metrics": {"train/non_padding_share": 0.5, "train/peak_memory_mb": 3600.4},
        "wall_seconds_last_session": 600.0,
    }
    results = {
        "plain": _result(
            "plain",
            {
                "ids": ids,
                "hardness": hardness,
                "draft": "1000",
                "final": "1000",
                "zero_shot": {"ids": ["a", "c"], "exec_match": "00"},
            },
            train=train,
        ),
        "route": _result(
            "route",
            {"ids": ids, "hardness": hardness, "draft": "1100", "reduced": "1110", "final": "1110"},
            metrics={"schema_linking": {"table_recall": 0.875, "n": 4}},
        ),
    }
    table = {r["row"]: r for r in build_table(plan, results, seed=0)}
    assert table["multitask"]["delta"] is None and table["multitask"]["ex"] == 0.5
    assert table["plain"]["delta"] == -0.25 and table["+ SL"]["delta"] == 0.25
    assert table["zero-shot"]["n"] == 2 and table["zero-shot"]["delta"] == -0.5  # on a and c only
    assert table["+ SL"]["by_hardness"] == {"easy": 1.0, "medium": 1.0, "hard": 0.0, "extra": None}
    assert table["+ SL"]["table_recall"] == 0.875 and table["multitask"]["table_recall"] is None
    assert table["plain"]["train_tokens"] == 20000 and table["plain"]["train_minutes"] == 10.0
    assert table["plain"]["peak_memory_mb"] == 3600 and table["zero-shot"]["train_tokens"] is None
    markdown = render_markdown(list(table.values()), plan, "abc123", "2026-12-03")
    assert "| + SL | 0.7500 (n=4) | +0.250 [" in markdown and "| multitask | 0.5000 (n=4) | reference |" in markdown
    page = render_html(list(table.values()), markdown)
    assert page.count("<rect") == 4 and "+ SL" in page


@pytest.mark.parametrize(
    ("rows", "outcomes", "message"),
    [
        ([Row("r", "v", "zero_shot")], {"ids": ["a"], "draft": "1"}, "no zero-shot outcomes"),
        ([Row("r", "v", "draft")], {"ids": ["a", "b"], "draft": "--"}, "row 'r': no question was scored"),
        (
            [Row("r", "v", "draft"), Row("z", "v", "zero_shot")],
            {"ids": ["a", "b"], "draft": "1-", "zero_shot": {"ids": ["b"], "exec_match": "0"}},
            "row 'z' shares no scored question with 'r'",
        ),
    ],
)
def test_rows_that_cannot_be_scored_or_compared_are_errors(rows: list[Row], outcomes: dict, message: str) -> None:
    plan = AblationPlan(Path("a.yaml"), [Variant("v", "", {})], rows, "r", 500)
    with pytest.raises(InputError, match=message):
        build_table(plan, {"v": _result("v", outcomes)}, seed=0)


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (None, {"train_tokens": None, "train_minutes": None, "peak_memory_mb": None}),
        (  # SFT: tokens are the packed slots times the share that was not padding
            {
                "kind": "sft",
                "steps": 10,
                "settings": {"batch_size": 1, "grad_accumulation": 4, "max_seq_len": 1000},
                "final_metrics": {"train/non_padding_share": 0.5, "train/peak_memory_mb": 3600.4},
                "wall_seconds_last_session": 30.0,
                "resumed_from": "step-000008.ckpt",
                "training_seconds": 600.0,  # every session's training, not the last session's
            },
            {"train_tokens": 20000, "train_minutes": 10.0, "peak_memory_mb": 3600},
        ),
        (  # a manifest from before training_seconds: its one session's wall time
            {"kind": "sft", "resumed_from": None, "wall_seconds_last_session": 600.0},
            {"train_tokens": None, "train_minutes": 10.0, "peak_memory_mb": None},
        ),
        (  # ... or no minutes at all when it was resumed: its earlier sessions are unknown
            {"kind": "sft", "resumed_from": "step-000008.ckpt", "wall_seconds_last_session": 600.0},
            {"train_tokens": None, "train_minutes": None, "peak_memory_mb": None},
        ),
        (  # DPO logs under dpo/ (it shares the train stage's MLflow run with SFT)
            {
                "kind": "dpo",
                "steps": 5,
                "settings": {"batch_size": 4, "max_seq_len": 512},
                "final_metrics": {"dpo/peak_memory_mb": 2100.6},
                "training_seconds": 90.0,
            },
            {"train_tokens": 10240, "train_minutes": 1.5, "peak_memory_mb": 2101},
        ),
    ],
)
def test_train_cost_reads_the_manifest_of_its_kind(manifest: dict | None, expected: dict) -> None:
    assert train_cost(manifest) == expected
