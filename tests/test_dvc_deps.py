"""dvc.yaml cannot drift from the code: each stage's src/ deps are exactly what its command imports
(tools/stage_deps.py derives them), so `dvc repro` never reuses a result the code has changed."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("stage_deps", REPO / "tools" / "stage_deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stage_deps = _load_tool()


def test_every_stage_lists_exactly_what_its_command_imports() -> None:
    assert stage_deps.differences() == {}, "run `python tools/stage_deps.py --write`"


def test_stage_names_are_their_command_names() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert {name: stage["cmd"].split()[:2] for name, stage in stages.items()} == {
        name: ["routesql", name] for name in stages
    }


@pytest.mark.parametrize("stage", list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]))
def test_each_stage_is_the_module_of_its_name_and_its_command_calls_it(stage: str) -> None:
    """One scheme: DVC stage S runs `routesql S`, whose CLI function calls `routesql.stages.S.run`."""
    module = importlib.import_module(f"routesql.stages.{stage}")
    assert callable(module.run)
    assert f"routesql.stages.{stage}" in stage_deps.command_imports(stage)


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tool pointed at a copy of src/ and dvc.yaml, to break on purpose."""
    shutil.copytree(REPO / "src", tmp_path / "src")
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.setattr(stage_deps, "REPO", tmp_path)
    monkeypatch.setattr(stage_deps, "SRC", tmp_path / "src")
    monkeypatch.setattr(stage_deps, "CLI", tmp_path / "src/routesql/cli.py")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "old", "new", "stage", "kind", "expected"),
    [
        # a function-level import added to the evaluate stage's library module
        (
            "evaluate.py",
            "import time\n",
            "import time\n\nimport routesql.study\n",
            "evaluate",
            "missing",
            ["src/routesql/study.py"],
        ),
        # train starts importing the MCP pipeline (and with it everything MCP imports)
        (
            "train/records.py",
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nimport routesql.mcp.pipeline\n",
            "train",
            "missing",
            ["src/routesql/mcp"],  # all of the package: named as the folder
        ),
        # the report module is no longer imported by evaluate: a needless dep (a rerun for nothing)
        (
            "evaluate.py",
            "from routesql.metrics.report_html import render_report\n",
            "",
            "evaluate",
            "extra",
            ["src/routesql/metrics/report_html.py"],
        ),
    ],
)
def test_a_changed_import_is_caught_and_write_mends_it(
    copy: Path, module: str, old: str, new: str, stage: str, kind: str, expected: list[str]
) -> None:
    path = copy / "src/routesql" / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    found = stage_deps.differences(copy / "dvc.yaml")
    assert set(expected) <= set(found[stage][kind]), found
    stage_deps.write(copy / "dvc.yaml")
    assert stage_deps.differences(copy / "dvc.yaml") == {}
