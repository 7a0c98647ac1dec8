"""The `data` stage: materialise the benchmark, load its splits, check every gold query; the same
for each evaluation-only benchmark (`evaluate.benchmarks`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from routesql.atomic import folder_atomic, write_json_atomic, write_jsonl_atomic
from routesql.bench.example import Benchmark
from routesql.bench.loaders import detect_format, is_dev_only, load_benchmark
from routesql.config import Params
from routesql.db.limits import QueryLimits
from routesql.errors import InputError
from routesql.metrics.gold import check_gold
from routesql.metrics.score import example_hardness


@dataclass(frozen=True)
class BenchmarkSource:
    """Where one benchmark comes from and how the pipeline reads it."""

    name: str  # in reports and MLflow (dev_ex/<name>)
    root: Path
    format: str | None
    spider_root: Path | None
    evidence: bool

    def load(self, split: str) -> Benchmark:
        return load_benchmark(self.root, split, self.format, self.spider_root, self.evidence)

    def splits(self) -> tuple[str, ...]:
        return ("dev",) if is_dev_only(self.root, self.format) else ("train", "dev")


def benchmark_root(params: Params) -> Path:
    """The folder the pipeline reads: the generated demo, or the user's benchmark."""
    if params.data.benchmark == "demo":
        return Path(params.data.out)
    root = Path(params.data.benchmark).expanduser()
    if not root.is_dir():
        raise InputError("params.yaml: data.benchmark", f"benchmark folder {root} does not exist")
    return root


def main_source(params: Params) -> BenchmarkSource:
    """data.benchmark: the benchmark trained on (when it has a train split) and evaluated first."""
    root = benchmark_root(params)
    name = "demo" if params.data.benchmark == "demo" else (params.data.format or detect_format(root)).replace("-", "_")
    return BenchmarkSource(name, root, params.data.format, params.data.spider_root_path(), params.data.evidence)


def eval_sources(params: Params) -> list[BenchmarkSource]:
    """The main benchmark, then each of evaluate.benchmarks: every dev set evaluate scores."""
    main = main_source(params)
    sources = [main]
    for entry in params.evaluate.benchmarks:
        if entry.name == main.name:
            raise InputError(
                "params.yaml: evaluate.benchmarks",
                f"name {entry.name!r} is the main benchmark's (data.benchmark); pick another",
            )
        root = Path(entry.path).expanduser()
        if not root.is_dir():
            raise InputError(
                f"params.yaml: evaluate.benchmarks ({entry.name})", f"benchmark folder {root} does not exist"
            )
        spider_root = Path(entry.spider_root).expanduser() if entry.spider_root else params.data.spider_root_path()
        sources.append(BenchmarkSource(entry.name, root, entry.format, spider_root, params.data.evidence))
    return sources


def prepare_data(
    params: Params,
    examples_dir: Path = Path("data/examples"),
    check_path: Path = Path("data/data_check.json"),
    eval_dir: Path = Path("data/eval"),
    progress: bool = True,
) -> dict:
    """Generate the demo if asked; write canonical examples per split of the main benchmark (dev
    only for an evaluation-only one) and the dev examples of each evaluation benchmark to
    `eval_dir/<name>.jsonl`; check every gold query; write the report."""
    main, *extra = eval_sources(params)  # a bad entry stops here, before any work
    if params.data.benchmark == "demo":
        from routesql.bench.demo import write_demo_benchmark

        write_demo_benchmark(main.root, seed=params.data.demo_seed)
    limits = QueryLimits.of(params.execution)
    summary: dict = {"benchmark": str(main.root), "splits": {}, "evaluate": {}}
    # Each folder is replaced as a set: no file of a split or benchmark since dropped lingers.
    with folder_atomic(examples_dir) as examples_staging, folder_atomic(eval_dir) as eval_staging:
        for split in main.splits():
            bench, summary["splits"][split] = _write_checked(
                main, split, examples_staging / f"{split}.jsonl", params.execution.workers, limits, progress
            )
        summary["format"] = bench.name
        summary["evaluation_only"] = main.splits() == ("dev",)
        for source in extra:
            extra_bench, cell = _write_checked(
                source, "dev", eval_staging / f"{source.name}.jsonl", params.execution.workers, limits, progress
            )
            summary["evaluate"][source.name] = {"path": str(source.root), "format": extra_bench.name, **cell}
        # Always written, so the stage's eval_dir output exists with no evaluation benchmarks too.
        write_json_atomic(
            eval_staging / "index.json", {name: cell["format"] for name, cell in summary["evaluate"].items()}
        )
    write_json_atomic(check_path, summary)
    return summary


def _write_checked(
    source: BenchmarkSource, split: str, out: Path, workers: int, limits: QueryLimits, progress: bool
) -> tuple[Benchmark, dict]:
    bench = source.load(split)
    write_jsonl_atomic(out, [{**ex.to_dict(), "hardness": example_hardness(ex.sql)} for ex in bench.examples])
    check = check_gold(bench, workers, limits, progress)  # the split just loaded, not read again
    cell = {key: check[key] for key in ("n_examples", "n_executed", "n_missing_database", "missing_databases")}
    cell["failures"] = [{k: f[k] for k in ("id", "db_id", "error")} for f in check["failures"]]
    return bench, cell
