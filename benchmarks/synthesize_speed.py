"""Time the whole `synthesize` stage on Spider train: all tasks, noise executed, no weak model.

    ROUTESQL_BENCHMARKS=../shared/benchmarks .venv/bin/python benchmarks/synthesize_speed.py [--workers 2]

Prints wall time, records per second, the per-task counts and the LR-SQL prompt-length ratio.
Target (issue: the synthesize stage): under 120 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from routesql.config import Params
from routesql.synth.stage import run_synthesize, settings_from_params


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strong-per-db", type=int, default=20)
    args = parser.parse_args()
    root = os.environ.get("ROUTESQL_BENCHMARKS")
    if not root:
        print("set ROUTESQL_BENCHMARKS to the folder holding spider/", file=sys.stderr)
        return 2
    # params.yaml's defaults on all of Spider train, without weak sampling (it needs a base model)
    defaults = settings_from_params(Params())
    settings = dataclasses.replace(
        defaults,
        workers=args.workers,
        strong_per_db=args.strong_per_db,
        max_examples=None,
        weak=dataclasses.replace(defaults.weak, enabled=False),
    )
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        manifest = run_synthesize(Path(root) / "spider", Path(out), settings, progress=False)
        seconds = time.perf_counter() - started
    n = manifest["n_records"]
    print(
        f"synthesize on Spider train ({manifest['n_examples']} examples, {args.workers} workers): "
        f"{seconds:.1f} s, {n} records, {n / seconds:.0f} records/s"
    )
    print("records per task:", manifest["records_per_task"])
    print("dropped:", manifest["dropped"])
    print("LR-SQL longest slice prompt / longest full-schema prompt:", manifest["lr_sql"])
    print(f"target: under 120 s → {'met' if seconds < 120 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
