"""Benchmark folders (Spider and its variants, BIRD, BIRD mini-dev) → `Benchmark` records, read
in the layout each was released in.

Each format keeps its examples in one JSON list per split and its databases as
``<database_dir>/<db_id>/<db_id>.sqlite``. Loading never opens a database: a db_id whose file
is missing is still loaded (scoring reports it as unscorable); `missing_databases` lists them.

Spider-Syn and Spider-Realistic ship no databases and Spider-DK only the three it changed: they
use a Spider folder, passed as `spider_root` (`--spider-root`), else a sibling ``spider/``.

Detection (`detect_format`), when no format is given: a folder holding its own main files wins
over stray files of another benchmark beside them —
  1. Spider's ``dev.json`` / ``train_spider*.json`` next to ``database/``: Spider (Spider-Syn when
     its records carry ``SpiderSynQuestion``), whatever variant files lie beside them;
  2. BIRD's ``dev.json`` / ``train.json`` next to ``dev_databases/`` / ``train_databases/``: BIRD;
  3. otherwise the one of ``Spider-DK.json``, ``spider-realistic.json``, ``mini_dev_sqlite.json``
     (BIRD mini-dev), Spider's files, BIRD's files that is present; two or more is an error that
     lists them (pass the format).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routesql.bench.example import Benchmark, Example
from routesql.errors import InputError

FORMATS = ("spider", "spider-syn", "spider-dk", "spider-realistic", "bird", "bird-minidev", "demo")
SPLITS = ("train", "dev")
DEV_ONLY_FORMATS = ("spider-dk", "spider-realistic", "bird-minidev")

# The files whose presence identifies each format (what detect_format looks for).
_BIRD_MARKERS = ("dev_tables.json", "train_tables.json", "dev_databases", "train_databases")
_SPIDER_FILES = ("dev.json", "train_spider.json", "train_spider_min.json")
_BIRD_FILES = ("dev.json", "train.json")
_DK_FILE = "Spider-DK.json"
_REALISTIC_FILE = "spider-realistic.json"
_MINIDEV_FILE = "mini_dev_sqlite.json"
_SYN_MARKER = b'"SpiderSynQuestion"'
SPIDER_ROOT_HINT = "pass the Spider folder (tables.json and database/) with --spider-root"


def detect_format(root: Path) -> str:
    """Name the benchmark format of `root` from the files it holds (precedence: module docstring)."""
    root = Path(root)
    _require_folder(root)
    spider_files = [root / name for name in _SPIDER_FILES if (root / name).is_file()]
    bird_files = [root / name for name in _BIRD_FILES if (root / name).is_file()]
    bird_folders = any((root / name).exists() for name in _BIRD_MARKERS)
    if spider_files and (root / "database").is_dir():
        return _spider_or_syn(spider_files[0])
    if bird_files and bird_folders:
        return "bird"
    candidates = {
        "spider-dk": (root / _DK_FILE).is_file(),
        "spider-realistic": (root / _REALISTIC_FILE).is_file(),
        "bird-minidev": (root / _MINIDEV_FILE).is_file(),
        _spider_or_syn(spider_files[0]) if spider_files else "spider": bool(spider_files) and not bird_folders,
        "bird": bird_folders and not (root / _MINIDEV_FILE).is_file(),
    }
    found = [name for name, present in candidates.items() if present]
    if len(found) == 1:
        return found[0]
    if found:
        raise InputError(
            root,
            f"holds files of several benchmarks ({', '.join(found)}); "
            "name the one to load with --format (or data.format)",
        )
    looked_for = ", ".join((*_SPIDER_FILES, _DK_FILE, _REALISTIC_FILE, _MINIDEV_FILE, *_BIRD_MARKERS))
    raise InputError(root, f"no benchmark files found (looked for {looked_for})")


def _spider_or_syn(path: Path) -> str:
    # Spider-Syn reuses Spider's file names; its records carry SpiderSynQuestion up front.
    return "spider-syn" if _head_mentions(path, _SYN_MARKER) else "spider"


def load_benchmark(
    root: Path, split: str, fmt: str | None = None, spider_root: Path | None = None, evidence: bool = True
) -> Benchmark:
    """Load one split of the benchmark in `root`.

    `fmt` names the format (detected from the files when None). Spider-Syn, Spider-Realistic and
    Spider-DK use the Spider folder `spider_root` (else ``root/../spider``) for the databases they
    do not ship; a variant's own ``database/`` wins for the same db_id. With `evidence` off, BIRD's
    evidence is dropped (prompts then hold the question alone).
    """
    root = Path(root)
    if split not in SPLITS:
        raise InputError("split", f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    _require_folder(root)
    fmt = fmt or detect_format(root)
    loader = _LOADERS.get(fmt)
    if loader is None:
        known = ", ".join(FORMATS)
        raise InputError("format", f"unknown benchmark format {fmt!r} (known: {known})")
    bench = loader(root, split, None if spider_root is None else Path(spider_root))
    if evidence:
        return bench
    return dataclasses.replace(bench, examples=[dataclasses.replace(ex, evidence="") for ex in bench.examples])


def is_dev_only(root: Path, fmt: str | None = None) -> bool:
    """Whether the benchmark in `root` has only a dev split (Spider-DK, Spider-Realistic, BIRD mini-dev)."""
    return (fmt or detect_format(root)) in DEV_ONLY_FORMATS


def missing_databases(bench: Benchmark) -> set[str]:
    """The db_ids used by `bench` whose SQLite file is absent (their examples are unscorable)."""
    db_ids = {example.db_id for example in bench.examples}
    return {db_id for db_id in db_ids if not bench.db_path(db_id).is_file()}


# --- one loader per format -------------------------------------------------------------------


def _load_spider_like(root: Path, split: str, name: str) -> Benchmark:
    """Spider itself and the project's demo benchmark (same layout)."""
    if split == "dev":
        path = root / "dev.json"
    else:
        # The full train_spider.json wins; the minimal file has the same 7000 examples.
        full, minimal = root / "train_spider.json", root / "train_spider_min.json"
        path = full if full.is_file() or not minimal.is_file() else minimal
    examples = _spider_examples(path, name, split, question_key="question")
    return Benchmark(name, split, examples, root / "database", _existing(root / "tables.json"))


def _load_spider(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    return _load_spider_like(root, split, "spider")


def _load_demo(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    return _load_spider_like(root, split, "demo")


def _load_spider_syn(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    spider = _resolve_spider_root(root, spider_root, "spider-syn")
    path = root / ("dev.json" if split == "dev" else "train_spider.json")
    examples = _spider_examples(path, "spider-syn", split, question_key="SpiderSynQuestion")
    tables = _existing(spider / "tables.json")
    return Benchmark("spider-syn", split, examples, spider / "database", tables)


def _load_spider_dk(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    """Spider-DK as released: its tables.json (all 169 schemas) and database/ with only the three
    databases it changed; every other db_id is Spider's."""
    _require_dev_only(root, split, "spider-dk")
    examples = _spider_examples(root / _DK_FILE, "spider-dk", split, question_key="question")
    tables = _existing(root / "tables.json")
    own = root / "database"
    needs_spider = any(not (own / ex.db_id / f"{ex.db_id}.sqlite").is_file() for ex in examples)
    spider = _resolve_spider_root(root, spider_root, "spider-dk") if needs_spider else None
    return Benchmark(
        "spider-dk", split, examples, own, tables, fallback_database_dir=None if spider is None else spider / "database"
    )


def _load_spider_realistic(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    _require_dev_only(root, split, "spider-realistic")
    spider = _resolve_spider_root(root, spider_root, "spider-realistic")
    path = root / _REALISTIC_FILE
    examples = _spider_examples(path, "spider-realistic", split, question_key="question")
    tables = _existing(spider / "tables.json")
    return Benchmark("spider-realistic", split, examples, spider / "database", tables)


def _load_bird(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    path = root / f"{split}.json"
    examples = [_bird_example(record, path, index, "bird", split) for index, record in enumerate(_read_records(path))]
    tables = _existing(root / f"{split}_tables.json")
    return Benchmark("bird", split, examples, root / f"{split}_databases", tables)


def _load_bird_minidev(root: Path, split: str, spider_root: Path | None) -> Benchmark:
    """BIRD mini-dev as released (the MINIDEV folder): mini_dev_sqlite.json (500 examples with
    question_id and difficulty simple / moderate / challenging), dev_tables.json, dev_databases/."""
    _require_dev_only(root, split, "bird-minidev")
    path = root / _MINIDEV_FILE
    examples = [
        _bird_example(record, path, index, "bird-minidev", split) for index, record in enumerate(_read_records(path))
    ]
    return Benchmark("bird-minidev", split, examples, root / "dev_databases", _existing(root / "dev_tables.json"))


def _bird_example(record: dict[str, Any], path: Path, index: int, name: str, split: str) -> Example:
    # BIRD's train.json has no question_id or difficulty; dev.json and mini-dev have both.
    question_id = _optional(record, "question_id", (int, str), path, index)
    return Example(
        id=f"{name}/{split}/{index if question_id is None else question_id}",
        db_id=_db_id(record, path, index),
        question=_required(record, "question", path, index),
        sql=_required(record, "SQL", path, index),
        evidence=_optional(record, "evidence", str, path, index) or "",
        difficulty=_optional(record, "difficulty", str, path, index),
        source=name,
    )


_LOADERS: dict[str, Callable[[Path, str, Path | None], Benchmark]] = {
    "spider": _load_spider,
    "demo": _load_demo,
    "spider-syn": _load_spider_syn,
    "spider-dk": _load_spider_dk,
    "spider-realistic": _load_spider_realistic,
    "bird": _load_bird,
    "bird-minidev": _load_bird_minidev,
}


# --- helpers ---------------------------------------------------------------------------------


def _spider_examples(path: Path, name: str, split: str, question_key: str) -> list[Example]:
    """Records with Spider's fields (db_id, query and the question under `question_key`)."""
    return [
        Example(
            id=f"{name}/{split}/{index}",
            db_id=_db_id(record, path, index),
            question=_required(record, question_key, path, index),
            sql=_required(record, "query", path, index),
            source=name,
        )
        for index, record in enumerate(_read_records(path))
    ]


def _read_records(path: Path) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects, with errors that name the file and the place."""
    if not path.is_file():
        raise InputError(path, "file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bad = f"byte 0x{raw[err.start]:02x} at offset {err.start}"
        raise InputError(path, f"not valid UTF-8 ({bad})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno}"
        raise InputError(path, f"malformed JSON at {where}: {err.msg}") from None
    if not isinstance(data, list):
        got = type(data).__name__
        raise InputError(path, f"expected a JSON list of examples, got {got}")
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            got = type(record).__name__
            raise InputError(path, f"record {index} is a {got}, expected an object")
    return data


def _required(record: dict[str, Any], key: str, path: Path, index: int) -> str:
    if key not in record:
        raise InputError(path, f"record {index} is missing required key '{key}'")
    value = record[key]
    if not isinstance(value, str):
        got = type(value).__name__
        raise InputError(path, f"record {index} key '{key}' must be a string, got {got}")
    return value


def _db_id(record: dict[str, Any], path: Path, index: int) -> str:
    """A db_id names a folder and a file under the database folder: a plain name, nothing else."""
    db_id = _required(record, "db_id", path, index)
    if db_id in ("", ".") or ".." in db_id or any(c in db_id for c in "/\\\0") or Path(db_id).is_absolute():
        raise InputError(
            path, f"record {index} db_id {db_id!r} must be a plain name (no '/', '\\', '..', NUL, nor an absolute path)"
        )
    return db_id


def _optional(record: dict[str, Any], key: str, types: type | tuple[type, ...], path: Path, index: int) -> Any:
    value = record.get(key)
    if value is not None and not isinstance(value, types):
        got = type(value).__name__
        raise InputError(path, f"record {index} key '{key}' has the wrong type {got}")
    return value


def _resolve_spider_root(root: Path, spider_root: Path | None, fmt: str) -> Path:
    """The Spider folder whose databases a database-less variant uses."""
    if spider_root is not None:
        if not (spider_root / "database").is_dir():
            problem = f"not a Spider folder (no database/ inside), needed by {fmt} (--spider-root)"
            raise InputError(spider_root, problem)
        return spider_root
    sibling = root.parent / "spider"
    if (sibling / "database").is_dir():
        return sibling
    raise InputError(root, f"{fmt} uses Spider's databases and {sibling} does not exist; {SPIDER_ROOT_HINT}")


def _require_dev_only(root: Path, split: str, fmt: str) -> None:
    if split != "dev":
        raise InputError(
            root,
            f"{fmt} has only a dev split, not {split!r}: it is for evaluation only "
            "(list it under evaluate.benchmarks and train on another benchmark)",
        )


def _require_folder(root: Path) -> None:
    if not root.is_dir():
        raise InputError(root, "benchmark folder not found")


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _head_mentions(path: Path, marker: bytes, head_bytes: int = 4096) -> bool:
    with path.open("rb") as handle:
        return marker in handle.read(head_bytes)
