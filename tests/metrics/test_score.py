"""The scorer against the official Spider test-suite evaluator, example by example."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routesql.bench.loaders import load_benchmark
from routesql.cli import app
from routesql.metrics.predictions import read_predictions
from routesql.metrics.score import score_predictions

PEER = "route_qwen2.5_14b_sft"


@pytest.fixture(scope="module")
def spider_dev(spider_dir: Path):
    return load_benchmark(spider_dir, "dev")


def test_gold_against_itself_is_perfect_where_scorable(spider_dev) -> None:
    report = score_predictions(spider_dev, [ex.sql for ex in spider_dev.examples], workers=2, progress=False)
    summary = report["summary"]
    assert (summary["ex"], summary["n_scored"], summary["n_unscorable"]) == (1.0, 972, 62)
    unscorable = {e["db_id"] for e in report["examples"] if e["exec_match"] is None}
    assert unscorable == {"wta_1"}


def test_agrees_with_official_verdicts_on_every_example(spider_dev, peers_dir: Path) -> None:
    predictions = read_predictions(peers_dir / PEER / "spider_dev_predictions.csv", len(spider_dev.examples))
    official = json.loads((peers_dir / PEER / "official_verdicts.json").read_text())
    report = score_predictions(spider_dev, predictions, workers=2, progress=False)
    ours = report["examples"]
    verdict_mismatch = [
        o["index"]
        for o, e in zip(official, ours)
        if o["exec_match"] != (None if e["exec_match"] is None else int(e["exec_match"]))
    ]
    # the official file leaves hardness empty where the database is missing (the 62 wta_1 examples)
    hardness_mismatch = [o["index"] for o, e in zip(official, ours) if o["hardness"] and o["hardness"] != e["hardness"]]
    assert sum(1 for o in official if o["hardness"]) == 972
    assert verdict_mismatch == []
    assert hardness_mismatch == []
    summary = report["summary"]
    assert summary["n_scored"] == 972
    assert round(summary["ex"] * 972) == 844
    assert {k: v["n"] for k, v in summary["by_hardness"].items()} == {
        "easy": 232,
        "medium": 416,
        "hard": 160,
        "extra": 164,
    }


def test_hardness_counts_on_all_1034(spider_dev) -> None:
    from collections import Counter

    from routesql.metrics.score import example_hardness

    counts = Counter(example_hardness(ex.sql) for ex in spider_dev.examples)
    assert counts == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}


@pytest.fixture()
def small_spider_copy(spider_dir: Path, tmp_path: Path) -> Path:
    """A Spider-format folder with 4 dev examples over the real concert_singer database."""
    root = tmp_path / "spider_small"
    (root / "database" / "concert_singer").mkdir(parents=True)
    shutil.copy(spider_dir / "database/concert_singer/concert_singer.sqlite", root / "database/concert_singer/")
    dev = [e for e in json.loads((spider_dir / "dev.json").read_text()) if e["db_id"] == "concert_singer"][:3]
    dev.append({**dev[0], "db_id": "wta_1"})  # a database that is missing, as in the real Spider
    (root / "dev.json").write_text(json.dumps(dev))
    tables = [t for t in json.loads((spider_dir / "tables.json").read_text()) if t["db_id"] == "concert_singer"]
    (root / "tables.json").write_text(json.dumps(tables))
    return root


def test_score_cli_end_to_end_with_a_slow_query_and_a_missing_database(small_spider_copy: Path, tmp_path: Path) -> None:
    db = small_spider_copy / "database/concert_singer/concert_singer.sqlite"
    before = db.read_bytes()
    dev = json.loads((small_spider_copy / "dev.json").read_text())
    # 6 singers joined 13 times: 1.3e10 rows, minutes of work on any CPU (10 times, 6e7 rows,
    # finished within the 1 s timeout on a fast machine)
    slow = "SELECT count(*) FROM " + ", ".join(f"singer AS s{i}" for i in range(13))
    lines = [dev[0]["query"], slow, "DELETE FROM singer", dev[3]["query"]]
    pred = tmp_path / "pred.sql"
    pred.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--data",
            str(small_spider_copy),
            "--split",
            "dev",
            "--pred",
            str(pred),
            "--out",
            str(out),
            "--timeout",
            "1",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    verdicts = [(e["exec_match"], e["error_kind"]) for e in report["examples"]]
    assert verdicts == [(True, None), (False, "timeout"), (False, "refused"), (None, "missing_database")]
    assert report["summary"]["n_scored"] == 3 and report["summary"]["n_unscorable"] == 1
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--data", "{root}/nope"], ["nope", "not found"]),
        (["--pred", "{tmp}/short.sql"], ["short.sql", "1 predictions for 4 examples"]),
    ],
)
def test_score_cli_bad_input_is_one_line(small_spider_copy: Path, tmp_path: Path, args, words) -> None:
    (tmp_path / "short.sql").write_text("SELECT 1\n")
    (tmp_path / "ok.sql").write_text("SELECT 1\n" * 4)
    base = {"--data": str(small_spider_copy), "--pred": str(tmp_path / "ok.sql"), "--out": str(tmp_path / "r.json")}
    for key, value in zip(args[::2], args[1::2]):
        base[key] = value.format(root=tmp_path, tmp=tmp_path)
    argv = ["score"] + [item for pair in base.items() for item in pair]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    for word in words:
        assert word in error_lines[0]
    assert not (tmp_path / "r.json").exists()


def test_database_folder_without_its_sqlite_is_unscorable(small_spider_copy: Path) -> None:
    (small_spider_copy / "database/concert_singer/concert_singer.sqlite").rename(small_spider_copy / "moved.sqlite")
    bench = load_benchmark(small_spider_copy, "dev")
    report = score_predictions(bench, [ex.sql for ex in bench.examples], progress=False)
    assert report["summary"]["n_scored"] == 0 and report["summary"]["n_unscorable"] == 4
    assert all("database not found" in e["error"] for e in report["examples"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty (0 bytes)"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n", "git lfs pull"),
        (b"\x00" * 512, "not a SQLite database"),
    ],
)
def test_nothing_scorable_is_n_a_with_the_reason_never_a_zero(tmp_path: Path, content: bytes, reason: str) -> None:
    from support import write_spider_benchmark

    bench = write_spider_benchmark(tmp_path / "bench", [("How many pets?", "SELECT count(*) FROM pet")] * 3)
    (bench / "database" / "pets" / "pets.sqlite").write_bytes(content)
    (tmp_path / "pred.sql").write_text("SELECT count(*) FROM pet\n" * 3)
    result = CliRunner().invoke(
        app, ["score", "--data", str(bench), "--pred", str(tmp_path / "pred.sql"), "--out", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert "EX n/a" in result.output and "3 bad_database" in result.output and reason in result.output
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["ex"] is None and summary["n_scored"] == 0
    assert summary["unscorable_reasons"]["bad_database"]["n"] == 3
