"""The `base` stage: the model every later stage starts from.

Three kinds of `model.base`:
- a packaged model (`smollm2-135m-instruct`, the default): the GGUF file an installed package
  ships is checked (sha256) and written as a standard Hugging Face folder, with `base.json`
  saying where it came from;
- `tiny`: a tokenizer and a small Qwen2 built offline and pretrained on the training split's
  schemas, questions and SQL (fast tests);
- a hub id or local path: the stage only records which one (`routesql_base.json`), so `dvc repro`
  tracks the choice without copying gigabytes of weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from routesql.atomic import write_json_atomic
from routesql.bench.example import Example
from routesql.bench.loaders import load_benchmark, missing_databases
from routesql.db.schema import read_schema, render_schema
from routesql.errors import InputError
from routesql.tasks.templates import text_to_sql_prompt

POINTER_FILE = "routesql_base.json"
PROVENANCE_FILE = "base.json"


def pretraining_texts(
    root: Path,
    fmt: str | None,
    sample_rows: int,
    schema_style: str = "ddl",
    spider_root: Path | None = None,
    evidence: bool = True,
) -> list[str]:
    """One text per training example: its text-to-SQL prompt (schema + question) and the gold SQL."""
    bench = load_benchmark(root, "train", fmt, spider_root, evidence)
    missing = missing_databases(bench)
    schema_text: dict[str, str] = {}
    texts = []
    for ex in bench.examples:
        if ex.db_id in missing:
            continue
        if ex.db_id not in schema_text:
            schema = read_schema(bench.db_path(ex.db_id), sample_rows)
            schema_text[ex.db_id] = render_schema(schema, sample_rows, style=schema_style)
        texts.append(_example_text(ex, schema_text[ex.db_id]))
    return texts


def _example_text(ex: Example, schema_text: str) -> str:
    return text_to_sql_prompt(schema_text, ex.question, ex.evidence).text + " ".join(ex.sql.split())


def build_base_model(params, root: Path, out_dir: Path) -> Path:  # params: routesql.config.Params
    """Build (tiny) or point at (real model) the base; returns the folder later stages read."""
    from routesql.llm.loading import load_tokenizer
    from routesql.llm.packaged import export_packaged_model, is_packaged
    from routesql.train.tiny import build_tiny_base

    if is_packaged(params.model.base):
        provenance = export_packaged_model(params.model.base, out_dir)
        write_json_atomic(out_dir / PROVENANCE_FILE, provenance)
        return out_dir
    if params.model.base != "tiny":
        load_tokenizer(params.model.base)  # fail now, with one line, if it has no usable tokenizer
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out_dir / POINTER_FILE, {"base": params.model.base})
        return out_dir
    texts = pretraining_texts(
        root,
        params.data.format,
        params.schema_.sample_rows,
        params.schema_.style,
        params.data.spider_root_path(),
        params.data.evidence,
    )
    return build_tiny_base(texts, out_dir, params.model.tiny, seed=params.seed)


def resolve_base(base_dir: Path) -> str:
    """The model the base stage stands for: the built folder, or the real model it points at."""
    if not base_dir.is_dir():
        raise InputError(base_dir, "base model folder not found (run the base stage: `routesql base`)")
    pointer = base_dir / POINTER_FILE
    if pointer.is_file():
        try:
            return str(json.loads(pointer.read_text())["base"])
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            raise InputError(pointer, "not a base-stage pointer (expected JSON with a 'base' key)") from None
    if not any(base_dir.iterdir()):
        raise InputError(base_dir, "is empty: not a model folder (run the base stage: `routesql base`)")
    return str(base_dir)
