"""`routesql score` under hostile predictions, as a user runs it (a subprocess): bounded memory,
every giant result recorded as that query's error, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support import write_spider_benchmark

ROUTESQL = str(Path(sys.executable).with_name("routesql"))

# (prediction, the error kind its result must be recorded with)
GIANT_PREDICTIONS = [
    ("SELECT zeroblob(300000000), * FROM pet", "too_large"),
    ("SELECT zeroblob(900000000) FROM pet", "too_large"),
    ("SELECT printf('%.*c', 400000000, 'x')", None),  # SQLite caps it; memory must stay bounded
    ("SELECT randomblob(50000000) FROM pet", "too_large"),
    ("WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT v, randomblob(900) FROM c", "too_large"),
    ("WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT v FROM c", "too_many_rows"),
    ("WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT count(*) FROM c", "timeout"),
    ("SELECT count(*) FROM pet", None),
]

# Reads the peak RSS of the command and all its processes (children that were waited for).
MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(done.returncode)"
)


def _benchmark(tmp_path: Path, predictions: list[str]) -> tuple[Path, Path]:
    bench = write_spider_benchmark(
        tmp_path / "bench", [("How many pets?", "SELECT count(*) FROM pet")] * len(predictions)
    )
    pred = tmp_path / "pred.sql"
    pred.write_text("".join(p + "\n" for p in predictions))
    return bench, pred


def test_giant_results_are_errors_and_score_stays_under_1_gb(tmp_path: Path) -> None:
    bench, pred = _benchmark(tmp_path, [sql for sql, _ in GIANT_PREDICTIONS])
    out = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURE,
            ROUTESQL,
            "score",
            "--data",
            str(bench),
            "--pred",
            str(pred),
            "--out",
            str(out),
            "--timeout",
            "2",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    assert peak_kb < 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    report = json.loads(out.read_text())
    kinds = [e["error_kind"] for e in report["examples"]]
    for (sql, expected), kind in zip(GIANT_PREDICTIONS, kinds):
        if expected is not None:
            assert kind == expected, (sql, kind)
    assert report["examples"][-1]["exec_match"] is True
    assert report["summary"]["n_scored"] == len(GIANT_PREDICTIONS)


def _session_processes(session: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def test_sigterm_during_runaway_queries_leaves_no_process_and_no_report(tmp_path: Path) -> None:
    runaway = "WITH RECURSIVE c(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM c) SELECT count(*) FROM c"
    bench, pred = _benchmark(tmp_path, [runaway] * 6)
    out = tmp_path / "report.json"
    command = subprocess.Popen(
        [
            ROUTESQL,
            "score",
            "--data",
            str(bench),
            "--pred",
            str(pred),
            "--out",
            str(out),
            "--timeout",
            "120",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both workers busy in a runaway query
            busy = [p for p in psutil.Process(command.pid).children(recursive=True) if p.cpu_percent(0.2) > 20]
            if len(busy) >= 2:
                break
        else:
            pytest.fail("the workers never started")
        command.send_signal(signal.SIGTERM)
        _, stderr = command.communicate(timeout=3)
        time.sleep(0.2)
        assert _session_processes(command.pid) == []
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
    assert command.returncode == 143 and stderr.strip().splitlines()[-1] == "error: stopped by SIGTERM"
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bench", "pred.sql"]


def test_scoring_a_wal_benchmark_leaves_its_database_folder_as_it_was(tmp_path: Path) -> None:
    import hashlib
    import sqlite3

    bench, pred = _benchmark(tmp_path, ["SELECT count(*) FROM pet", "SELECT 1"])
    db_folder = bench / "database" / "pets"
    conn = sqlite3.connect(db_folder / "pets.sqlite")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()

    def state() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db_folder.iterdir()}

    before = state()
    assert list(before) == ["pets.sqlite"]
    done = subprocess.run(
        [
            ROUTESQL,
            "score",
            "--data",
            str(bench),
            "--pred",
            str(pred),
            "--out",
            str(tmp_path / "r.json"),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["n_scored"] == 2
    assert state() == before
