"""Layers point one way: import-linter checks the contract in pyproject.toml ([tool.importlinter]),
counting imports inside functions too. The contract is run on the package itself and on copies
broken on purpose, so a contract that could not fail would show here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the routesql package under root/src, with root/pyproject.toml's contract."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}  # before the editable install on sys.path
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """src/ and pyproject.toml copied, to break on purpose."""
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_layers() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import", "reported"),
    [
        # the three cycles the contract replaced: db <-> tasks, llm <-> train, bench <-> metrics
        ("db/limits.py", "from routesql.tasks import templates", "routesql.db.limits -> routesql.tasks.templates"),
        (
            "llm/prompting.py",
            "from routesql.train import settings",
            "routesql.llm.prompting -> routesql.train.settings",
        ),
        ("bench/example.py", "from routesql.metrics import score", "routesql.bench.example -> routesql.metrics.score"),
        # a stage reached from below it; siblings of one layer reaching each other
        ("config.py", "from routesql import evaluate", "routesql.config -> routesql.evaluate"),
        (
            "tasks/record.py",
            "from routesql.metrics import matcher",
            "routesql.tasks.record -> routesql.metrics.matcher",
        ),
    ],
)
def test_an_upward_import_inside_a_function_breaks_the_contract(
    copy: Path, module: str, upward_import: str, reported: str
) -> None:
    path = copy / "src" / "routesql" / module
    path.write_text(path.read_text() + f"\n\ndef _reach_up():\n    {upward_import}\n")
    result = _lint_imports(copy)
    assert result.returncode == 1
    assert "1 broken" in result.stdout
    assert reported in result.stdout


def test_a_module_with_no_layer_breaks_the_contract(copy: Path) -> None:
    (copy / "src" / "routesql" / "orphan.py").write_text('"""A new module nobody placed in a layer."""\n')
    result = _lint_imports(copy)
    assert result.returncode == 1
    assert "routesql.orphan" in result.stdout
