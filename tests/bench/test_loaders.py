"""Benchmark loaders: the real Spider and Spider-Syn folders, and small fixture folders built in
tmp_path in the exact Spider-DK, Spider-Realistic and BIRD formats."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from routesql.bench.loaders import detect_format, load_benchmark, missing_databases
from routesql.errors import InputError
from support import make_bird, make_db, make_dk, make_minidev, make_spider, spider_record, write_json


@pytest.fixture
def benchmarks(benchmarks_dir: Path) -> Path:
    return benchmarks_dir  # conftest: skips with the reason when ROUTESQL_BENCHMARKS is unset or absent


# --- fixture folders -------------------------------------------------------------------------


# --- real data -------------------------------------------------------------------------------


@pytest.mark.benchmarks
@pytest.mark.parametrize(
    ("split", "count", "missing"),
    [("dev", 1034, {"wta_1"}), ("train", 7000, {"baseball_1", "soccer_1"})],
)
def test_real_spider(benchmarks: Path, split: str, count: int, missing: set[str]) -> None:
    root = benchmarks / "spider"
    assert detect_format(root) == "spider"
    bench = load_benchmark(root, split)
    assert (bench.name, bench.split, len(bench.examples)) == ("spider", split, count)
    assert bench.examples[0].id == f"spider/{split}/0"
    assert {e.source for e in bench.examples} == {"spider"}
    assert bench.tables_json == root / "tables.json"
    assert missing_databases(bench) == missing


@pytest.mark.benchmarks
def test_real_spider_dev_first_example(benchmarks: Path) -> None:
    first = load_benchmark(benchmarks / "spider", "dev").examples[0]
    assert (first.db_id, first.question, first.sql) == (
        "concert_singer",
        "How many singers do we have?",
        "SELECT count(*) FROM singer",
    )


@pytest.mark.benchmarks
@pytest.mark.parametrize(("split", "count"), [("dev", 1034), ("train", 7000)])
def test_real_spider_syn(benchmarks: Path, split: str, count: int) -> None:
    root = benchmarks / "spider_syn"
    assert detect_format(root) == "spider-syn"
    bench = load_benchmark(root, split)  # databases from the sibling ../spider
    assert (bench.name, len(bench.examples)) == ("spider-syn", count)
    assert bench.database_dir == benchmarks / "spider" / "database"
    records = json.loads((root / f"{'dev' if split == 'dev' else 'train_spider'}.json").read_text())
    assert [e.question for e in bench.examples] == [r["SpiderSynQuestion"] for r in records]
    assert bench.examples[0].id == f"spider-syn/{split}/0"


@pytest.mark.benchmarks
def test_real_spider_syn_missing_databases(benchmarks: Path) -> None:
    bench = load_benchmark(benchmarks / "spider_syn", "dev")
    assert missing_databases(bench) == {"wta_1"}


# --- fixture formats -------------------------------------------------------------------------


def test_spider_dk(tmp_path: Path) -> None:
    root = make_dk(tmp_path / "spider-dk")
    assert detect_format(root) == "spider-dk"
    bench = load_benchmark(root, "dev")
    assert [e.id for e in bench.examples] == ["spider-dk/dev/0", "spider-dk/dev/1"]
    assert bench.examples[1].question == "Count them"
    assert bench.database_dir == root / "database"
    assert bench.tables_json == root / "tables.json"
    assert missing_databases(bench) == set()


@pytest.mark.parametrize("explicit_spider_root", [False, True])
def test_spider_realistic(tmp_path: Path, explicit_spider_root: bool) -> None:
    # With the explicit root, the Spider folder is not the sibling, so only spider_root finds it.
    spider = make_spider(tmp_path / ("elsewhere" if explicit_spider_root else "spider"), [])
    root = tmp_path / "spider-realistic"
    write_json(root / "spider-realistic.json", [spider_record("music", "How many artists?")])
    assert detect_format(root) == "spider-realistic"
    bench = load_benchmark(root, "dev", spider_root=spider if explicit_spider_root else None)
    assert [(e.id, e.question) for e in bench.examples] == [("spider-realistic/dev/0", "How many artists?")]
    assert bench.database_dir == spider / "database"
    assert missing_databases(bench) == set()


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        (
            "dev",
            [
                ("bird/dev/7", "singer refers to singer table", "simple"),
                ("bird/dev/9", "", "moderate"),
            ],
        ),
        ("train", [("bird/train/0", "e", None)]),
    ],
)
def test_bird(tmp_path: Path, split: str, expected: list[tuple]) -> None:
    root = make_bird(tmp_path / "bird")
    assert detect_format(root) == "bird"
    bench = load_benchmark(root, split)
    assert [(e.id, e.evidence, e.difficulty) for e in bench.examples] == expected
    assert {e.source for e in bench.examples} == {"bird"}
    assert bench.database_dir == root / f"{split}_databases"
    assert bench.tables_json == root / f"{split}_tables.json"
    assert missing_databases(bench) == set()


def test_demo_is_spider_format(tmp_path: Path) -> None:
    root = make_spider(tmp_path / "demo", [spider_record("music", "Q")])
    assert detect_format(root) == "spider"
    bench = load_benchmark(root, "dev", fmt="demo")
    assert (bench.name, bench.examples[0].id, bench.examples[0].source) == (
        "demo",
        "demo/dev/0",
        "demo",
    )


@pytest.mark.parametrize(
    ("files", "expected_question"),
    [
        ({"train_spider_min.json": "minimal"}, "minimal"),
        ({"train_spider_min.json": "minimal", "train_spider.json": "full"}, "full"),
    ],
)
def test_spider_train_prefers_full_file(tmp_path: Path, files: dict[str, str], expected_question: str) -> None:
    root = make_spider(tmp_path / "spider", [])
    for name, question in files.items():
        write_json(root / name, [spider_record("music", question)])
    assert load_benchmark(root, "train").examples[0].question == expected_question


def test_missing_databases_do_not_fail_loading(tmp_path: Path) -> None:
    records = [spider_record(db, "Q") for db in ("music", "no_sqlite", "no_folder")]
    root = make_spider(tmp_path / "spider", records)
    (root / "database" / "no_sqlite").mkdir()  # folder present, .sqlite file absent
    bench = load_benchmark(root, "dev")
    assert len(bench.examples) == 3
    assert missing_databases(bench) == {"no_sqlite", "no_folder"}


# --- errors ----------------------------------------------------------------------------------


def _spider_dev_bytes(raw: bytes) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        make_spider(root, [])
        (root / "dev.json").write_bytes(raw)
        return root

    return build


def _spider_dev(records: object) -> Callable[[Path], Path]:
    return _spider_dev_bytes(json.dumps(records).encode())


def _only(name: str, content: object) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        write_json(root / name, content)
        return root

    return build


def _bird_without_sql(root: Path) -> Path:
    make_bird(root)
    records = json.loads((root / "dev.json").read_text())
    del records[1]["SQL"]
    write_json(root / "dev.json", records)
    return root


GOOD = spider_record("music", "Q")

ERROR_CASES = [
    # (id, build the folder, split, fmt, words the one-line message must hold)
    ("folder missing", lambda root: root, "dev", None, ["bench", "folder not found"]),
    (
        "empty folder",
        lambda root: (root.mkdir(), root)[1],
        "dev",
        None,
        ["no benchmark files found", "dev.json", "Spider-DK.json", "dev_tables.json"],
    ),
    (
        "malformed json",
        _spider_dev_bytes(b'[\n {"db_id": "music",,}\n]'),
        "dev",
        "spider",
        ["dev.json", "malformed JSON", "line 2 column"],
    ),
    (
        "missing key",
        _spider_dev([GOOD, {"db_id": "music", "question": "Q"}]),
        "dev",
        None,
        ["dev.json", "record 1", "'query'"],
    ),
    (
        "wrong type",
        _spider_dev([{**GOOD, "question": 3}]),
        "dev",
        None,
        ["dev.json", "record 0", "'question'", "must be a string"],
    ),
    ("non-utf8", _spider_dev_bytes(b'[{"db_id": "m\xe9"}]'), "dev", "spider", ["dev.json", "not valid UTF-8", "0xe9"]),
    ("not a list", _spider_dev({"db_id": "music"}), "dev", None, ["dev.json", "expected a JSON list"]),
    ("record not object", _spider_dev([GOOD, "text"]), "dev", None, ["dev.json", "record 1", "expected an object"]),
    ("split file missing", _only("train_spider_min.json", [GOOD]), "dev", "spider", ["dev.json", "file not found"]),
    ("bird missing SQL", _bird_without_sql, "dev", None, ["dev.json", "record 1", "'SQL'"]),
    ("dk has no train", make_dk, "train", None, ["bench", "only a dev split"]),
    (
        "syn without spider",
        _only("dev.json", [{"db_id": "m", "SpiderSynQuestion": "Q", "query": "S"}]),
        "dev",
        None,
        ["bench", "--spider-root"],
    ),
    ("unknown split", make_dk, "test", None, ["split", "'test'"]),
    ("unknown format", make_dk, "dev", "wikisql", ["format", "'wikisql'"]),
]


@pytest.mark.parametrize(
    ("build", "split", "fmt", "words"),
    [row[1:] for row in ERROR_CASES],
    ids=[row[0] for row in ERROR_CASES],
)
def test_errors_name_the_file_and_problem(
    tmp_path: Path, build: Callable[[Path], Path], split: str, fmt: str | None, words: list[str]
) -> None:
    root = build(tmp_path / "bench")
    with pytest.raises(InputError) as caught:
        load_benchmark(root, split, fmt=fmt)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# A db_id names <database_dir>/<db_id>/<db_id>.sqlite: anything but a plain name could reach
# outside the benchmark's database folder.
BAD_DB_IDS = ["/etc/passwd", "../music", "music/../../x", "a/b", "a\\b", "..", ".", "", "mu\0sic", "a..b"]


@pytest.mark.parametrize("db_id", BAD_DB_IDS)
@pytest.mark.parametrize("fmt", ["spider", "bird"])
def test_a_db_id_must_be_a_plain_name(tmp_path: Path, db_id: str, fmt: str) -> None:
    root = make_spider(tmp_path / "bench", []) if fmt == "spider" else make_bird(tmp_path / "bench")
    records = json.loads((root / "dev.json").read_text())
    if fmt == "spider":
        records = [spider_record("music", "Q"), spider_record(db_id, "Q")]
    else:
        records[1]["db_id"] = db_id
    write_json(root / "dev.json", records)
    with pytest.raises(InputError) as caught:
        load_benchmark(root, "dev", fmt=fmt)
    message = str(caught.value)
    assert "\n" not in message
    assert str(root / "dev.json") in message and "record 1" in message and repr(db_id) in message
    assert "plain name" in message


@pytest.mark.parametrize("db_id", ["music", "car_1", "california_schools", "world-1", "v1.2"])
def test_plain_db_ids_load(tmp_path: Path, db_id: str) -> None:
    root = make_spider(tmp_path / "bench", [spider_record(db_id, "Q")], dbs=(db_id,))
    bench = load_benchmark(root, "dev", fmt="spider")
    assert bench.db_path(bench.examples[0].db_id).is_file()


# --- release layouts: Spider-DK with Spider's databases, BIRD mini-dev, detection ---------------


def test_bird_minidev_loads_as_released(tmp_path: Path) -> None:
    root = make_minidev(tmp_path / "MINIDEV")
    assert detect_format(root) == "bird-minidev"
    bench = load_benchmark(root, "dev")
    assert [(e.id, e.difficulty, e.evidence) for e in bench.examples] == [
        ("bird-minidev/dev/1471", "simple", ""),
        ("bird-minidev/dev/1472", "challenging", "name is a column"),
    ]
    assert missing_databases(bench) == set()
    with pytest.raises(InputError, match="only a dev split"):
        load_benchmark(root, "train")


def test_bird_results_are_broken_down_by_bird_difficulty(tmp_path: Path) -> None:
    from routesql.metrics.score import score_predictions

    bench = load_benchmark(make_minidev(tmp_path / "MINIDEV"), "dev")
    summary = score_predictions(bench, ["SELECT COUNT(*) FROM singer", "SELECT 1"], semantics="bird", progress=False)[
        "summary"
    ]
    assert summary["breakdown"] == "difficulty"
    assert summary["by_hardness"] == {"simple": {"ex": 1.0, "n": 1}, "challenging": {"ex": 0.0, "n": 1}}


@pytest.mark.parametrize("explicit_spider_root", [False, True])
def test_spider_dk_takes_spider_databases_and_its_own_win(tmp_path: Path, explicit_spider_root: bool) -> None:
    spider = make_spider(tmp_path / ("elsewhere" if explicit_spider_root else "spider"), [], dbs=("music", "concert"))
    root = make_dk(tmp_path / "spider-dk")
    records = [*json.loads((root / "Spider-DK.json").read_text()), spider_record("concert", "How many?")]
    write_json(root / "Spider-DK.json", records)
    bench = load_benchmark(root, "dev", spider_root=spider if explicit_spider_root else None)
    assert bench.db_path("music") == root / "database" / "music" / "music.sqlite"  # its own changed copy
    assert bench.db_path("concert") == spider / "database" / "concert" / "concert.sqlite"
    assert missing_databases(bench) == set()


def test_spider_dk_without_spider_names_the_option(tmp_path: Path) -> None:
    root = make_dk(tmp_path / "spider-dk")
    write_json(root / "Spider-DK.json", [spider_record("concert", "How many?")])
    with pytest.raises(InputError, match="--spider-root"):
        load_benchmark(root, "dev")


def _with(*names: str, database: bool = False, bird_folders: bool = False) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        for name in names:
            write_json(root / name, [spider_record("music", "Q")])
        if database:
            make_db(root / "database", "music")
        if bird_folders:
            make_db(root / "dev_databases", "music")
        return root

    return build


# (id, the folder, the detected format, or the words of the error)
DETECTION = [
    ("spider", _with("dev.json", "tables.json", database=True), "spider"),
    ("spider with a stray realistic file", _with("dev.json", "spider-realistic.json", database=True), "spider"),
    ("spider with a stray DK file", _with("dev.json", "Spider-DK.json", database=True), "spider"),
    (
        "spider-syn (no databases)",
        lambda r: _only("dev.json", [{"db_id": "m", "SpiderSynQuestion": "Q", "query": "S"}])(r),
        "spider-syn",
    ),
    ("spider-dk as released", _with("Spider-DK.json", "tables.json", database=True), "spider-dk"),
    ("spider-realistic", _with("spider-realistic.json"), "spider-realistic"),
    ("bird dev", _with("dev.json", "dev_tables.json", bird_folders=True), "bird"),
    ("bird mini-dev", _with("mini_dev_sqlite.json", "dev_tables.json", bird_folders=True), "bird-minidev"),
    (
        "DK and realistic together",
        _with("Spider-DK.json", "spider-realistic.json"),
        ["several benchmarks", "spider-dk", "spider-realistic", "--format"],
    ),
    (
        "realistic and mini-dev together",
        _with("spider-realistic.json", "mini_dev_sqlite.json"),
        ["several benchmarks", "spider-realistic", "bird-minidev"],
    ),
]


@pytest.mark.parametrize(("build", "expected"), [row[1:] for row in DETECTION], ids=[row[0] for row in DETECTION])
def test_detection_prefers_a_folders_own_main_files(tmp_path: Path, build, expected) -> None:
    root = tmp_path / "bench"
    root.mkdir()
    build(root)
    if isinstance(expected, str):
        assert detect_format(root) == expected
        return
    with pytest.raises(InputError) as caught:
        detect_format(root)
    assert all(word in str(caught.value) for word in expected), str(caught.value)


@pytest.mark.benchmarks
def test_real_spider_dk_with_spider_root_scores_472_of_535(benchmarks: Path) -> None:
    from routesql.metrics.score import score_predictions

    bench = load_benchmark(benchmarks / "spider_dk", "dev", spider_root=benchmarks / "spider")
    assert len(bench.examples) == 535
    report = score_predictions(bench, [ex.sql for ex in bench.examples], workers=2, progress=False)
    summary = report["summary"]
    assert (summary["n_scored"], summary["ex"]) == (472, 1.0)
    unscorable = {e["db_id"] for e in report["examples"] if e["exec_match"] is None}
    assert unscorable == {"wta_1", "new_pets_1"}  # wta_1 is not in our Spider copy; one DK gold is broken
    assert summary["unscorable_reasons"]["gold_failed"]["n"] == 1


@pytest.mark.benchmarks
def test_a_stray_realistic_file_does_not_hijack_a_spider_folder(benchmarks: Path, tmp_path: Path) -> None:
    root = tmp_path / "spider"
    root.mkdir()
    for name in ("dev.json", "tables.json", "database", "train_spider_min.json"):
        (root / name).symlink_to(benchmarks / "spider" / name)
    write_json(root / "spider-realistic.json", [spider_record("concert_singer", "How many singers?")])
    assert detect_format(root) == "spider"
    assert len(load_benchmark(root, "dev").examples) == 1034
