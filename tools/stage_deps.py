"""The source files each DVC stage depends on, derived from what its stage module imports.

Stage S runs `routesql S`, whose work is `routesql.stages.S.run`: the stage's code is that module
and everything it imports in turn (imports inside functions included), within the routesql
package. cli.py is left out: it parses options and prints, so a new help text does not rerun a
training. A package whose every module is needed is listed as its folder.

    python tools/stage_deps.py            # print each stage's source deps
    python tools/stage_deps.py --check    # exit 1 when dvc.yaml differs (what the test checks)
    python tools/stage_deps.py --write    # rewrite the src/ lines of each stage's deps in dvc.yaml
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "routesql"
CLI = SRC / PACKAGE / "cli.py"


def module_file(module: str) -> Path | None:
    path = SRC.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imported_names(tree: ast.AST, package: str) -> set[str]:
    """Every routesql module named by an import anywhere in `tree` (relative imports resolved)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    found = set()
    for name in names:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            while name and module_file(name) is None:  # `from pkg.mod import function` → pkg.mod
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def module_imports(module: str) -> set[str]:
    path = module_file(module)
    assert path is not None, module
    return set(_file_imports(path, path.read_text(encoding="utf-8"), module))


@functools.lru_cache(maxsize=1024)
def _file_imports(path: Path, text: str, module: str) -> frozenset[str]:
    # keyed by the file's text too: a test edits copies of the sources
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return frozenset(_imported_names(ast.parse(text), package))


def closure(modules: set[str]) -> set[str]:
    """`modules`, what they import, transitively, and the packages that contain them."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(module_imports(module))
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b.c runs a/__init__
    return seen


def stage_module(stage: str) -> str:
    """The module of stage `stage`: `routesql.stages.<stage>`."""
    module = f"{PACKAGE}.stages.{stage}"
    if module_file(module) is None:
        raise KeyError(f"stage {stage!r} has no module {module} under {SRC}")
    return module


def command_imports(command: str) -> set[str]:
    """The routesql modules the CLI function of `routesql <command>` imports."""
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and _command_name(node) == command:
            return _imported_names(node, PACKAGE) - {f"{PACKAGE}.cli"}
    raise KeyError(f"no CLI command {command!r} in {CLI}")


def _command_name(node: ast.FunctionDef) -> str | None:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", None) == "command":
            if decorator.args and isinstance(decorator.args[0], ast.Constant):
                return str(decorator.args[0].value)
            return node.name
    return None


def source_deps(stage: str) -> list[str]:
    """The stage's source deps as dvc.yaml lists them: folders for whole packages, else files."""
    files = {path for m in closure({stage_module(stage)}) if (path := module_file(m)) is not None}
    files.discard(CLI)
    listed: set[Path] = set()
    for path in sorted(files):
        folder = path.parent
        package_files = set(folder.rglob("*.py"))
        whole = folder != SRC / PACKAGE and package_files <= files
        listed.add(folder if whole else path)
    # a folder inside a listed folder is already covered
    kept = {p for p in listed if not any(other != p and other in p.parents for other in listed)}
    return sorted(str(p.relative_to(REPO)) for p in kept)


def stage_commands(dvc_yaml: Path = REPO / "dvc.yaml") -> dict[str, str]:
    """Stage name → the routesql command its cmd runs."""
    stages = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]
    return {name: stage["cmd"].split()[1] for name, stage in stages.items() if stage["cmd"].startswith("routesql ")}


def declared_source_deps(stage: str, dvc_yaml: Path = REPO / "dvc.yaml") -> list[str]:
    deps = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"][stage].get("deps", [])
    return sorted(d for d in deps if d.startswith("src/"))


def differences(dvc_yaml: Path = REPO / "dvc.yaml") -> dict[str, dict[str, list[str]]]:
    """Per stage: source deps dvc.yaml lacks ('missing') and lists needlessly ('extra')."""
    out = {}
    for stage in stage_commands(dvc_yaml):
        derived, declared = set(source_deps(stage)), set(declared_source_deps(stage, dvc_yaml))
        if derived != declared:
            out[stage] = {"missing": sorted(derived - declared), "extra": sorted(declared - derived)}
    return out


def write(dvc_yaml: Path = REPO / "dvc.yaml") -> None:
    """Replace each stage's `- src/...` dep lines by the derived ones, after its other deps (other
    lines untouched)."""
    out: list[str] = []
    stage, block = "", None  # block: the current deps list's indent, while inside one
    for line in dvc_yaml.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if block is not None and not stripped.startswith("- "):
            out.extend(f"{block}- {dep}" for dep in source_deps(stage))
            block = None
        if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            stage = stripped[:-1]
        if stripped == "deps:":
            block = line[: len(line) - len(line.lstrip())] + "  "
        elif block is not None and stripped.startswith("- src/"):
            continue
        out.append(line)
    dvc_yaml.write_text("\n".join(out) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--write" in argv:
        write()
        return 0
    if "--check" in argv:
        diff = differences()
        for stage, cell in diff.items():
            print(f"dvc.yaml stage {stage}: missing {cell['missing']}, extra {cell['extra']}")
        return 1 if diff else 0
    for stage in stage_commands():
        print(f"{stage}: {' '.join(source_deps(stage))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
