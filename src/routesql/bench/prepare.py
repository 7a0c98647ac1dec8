"""The `data` stage: materialise the benchmark, load both splits, check every gold query."""

from __future__ import annotations

from pathlib import Path

from routesql.atomic import write_json_atomic, write_jsonl_atomic
from routesql.bench.check import check_gold_queries
from routesql.bench.loaders import load_benchmark
from routesql.config import Params
from routesql.db.limits import QueryLimits
from routesql.errors import InputError
from routesql.metrics.score import example_hardness


def benchmark_root(params: Params) -> Path:
    """The folder the pipeline reads: the generated demo, or the user's benchmark."""
    if params.data.benchmark == "demo":
        return Path(params.data.out)
    root = Path(params.data.benchmark).expanduser()
    if not root.is_dir():
        raise InputError("params.yaml: data.benchmark", f"benchmark folder {root} does not exist")
    return root


def prepare_data(params: Params, examples_dir: Path = Path("data/examples"),
                 check_path: Path = Path("data/data_check.json"), progress: bool = True) -> dict:
    """Generate the demo if asked, write canonical examples per split, and a gold-check report."""
    root = benchmark_root(params)
    if params.data.benchmark == "demo":
        from routesql.bench.demo import write_demo_benchmark

        write_demo_benchmark(root, seed=params.data.demo_seed)
    summary: dict = {"benchmark": str(root), "splits": {}}
    for split in ("train", "dev"):
        bench = load_benchmark(root, split, params.data.format)
        records = [{**ex.to_dict(), "hardness": example_hardness(ex.sql)} for ex in bench.examples]
        write_jsonl_atomic(examples_dir / f"{split}.jsonl", records)
        check = check_gold_queries(root, split, params.data.format, workers=params.execution.workers,
                                   limits=QueryLimits.of(params.execution), progress=progress)
        summary["splits"][split] = {key: check[key] for key in
                                    ("n_examples", "n_executed", "n_missing_database", "missing_databases")}
        summary["splits"][split]["failures"] = [
            {k: f[k] for k in ("id", "db_id", "error")} for f in check["failures"]]
    summary["format"] = bench.name
    write_json_atomic(check_path, summary)
    return summary
