"""The synthesize stage on the demo benchmark (fast) and on real Spider databases."""

import dataclasses
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from routesql.bench.demo import write_demo_benchmark
from routesql.db.execute import QueryRunner
from routesql.db.schema import read_schema
from routesql.metrics.exec_match import prepare_spider, spider_order_matters, spider_rows_match
from routesql.sqlkit.links import parse_links
from routesql.sqlkit.noise import CORRUPTIONS
from routesql.synth.stage import run_synthesize
from routesql.tasks.registry import SFT_TASK_NAMES
from routesql.tasks.templates import prompt_version
from support import synth_settings, task_settings


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """The demo benchmark with every third training example (all databases and patterns stay)."""
    full = tmp_path_factory.mktemp("demo_full")
    write_demo_benchmark(full, seed=0)
    root = tmp_path_factory.mktemp("demo")
    (root / "database").symlink_to(full / "database")
    for name in ("tables.json", "dev.json"):
        (root / name).symlink_to(full / name)
    train = json.loads((full / "train_spider.json").read_text())
    (root / "train_spider.json").write_text(json.dumps(train[::3]))
    return root


@pytest.fixture(scope="module")
def demo_synth(demo_root: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    manifest = run_synthesize(demo_root, out, synth_settings(strong_per_db=5, workers=2), progress=False)
    records = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    return out, manifest, records


def test_every_task_is_produced_with_its_template_version(demo_synth) -> None:
    _, manifest, records = demo_synth
    assert set(manifest["records_per_task"]) == set(SFT_TASK_NAMES)
    for record in records:
        assert record["template_version"] == prompt_version(synth_settings().tasks.schema_style)
        assert record["prompt"] and record["completion"]
        assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0
    assert manifest["records_per_origin"]["sense_strong"] > 0


def _empty_copy(schema: dict[str, list[str]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for table, columns in schema.items():
        cols = ", ".join(f'"{c}"' for c in columns) or '"_none_"'
        conn.execute(f'CREATE TABLE "{table}" ({cols})')
    return conn


def test_schema_link_labels_are_valid_and_complete(demo_root: Path, demo_synth) -> None:
    _, _, records = demo_synth
    golds = {
        json.dumps([e["db_id"], i]): e for i, e in enumerate(json.loads((demo_root / "train_spider.json").read_text()))
    }
    checked = 0
    for record in (r for r in records if r["task"] == "schema_linking"):
        index = int(record["example_id"].rsplit("/", 1)[1])
        gold = golds[json.dumps([record["db_id"], index])]["query"]
        mapping = read_schema(demo_root / "database" / record["db_id"] / f"{record['db_id']}.sqlite").to_mapping()
        links = parse_links(record["completion"])
        for table, columns in links.items():
            assert table in mapping and set(columns) <= set(mapping[table]), record["completion"]
        _empty_copy(links).execute(gold)  # only the linked tables/columns exist: the gold still compiles
        checked += 1
    assert checked > 500


def test_kept_noise_really_differs_from_gold(demo_root: Path, demo_synth) -> None:
    _, _manifest, records = demo_synth
    runner = QueryRunner(timeout_s=10)
    golds = {i: e["query"] for i, e in enumerate(json.loads((demo_root / "train_spider.json").read_text()))}
    noisy = [r for r in records if r["task"] == "noise_correction" and r["noise_kind"] != "none"]
    differing = 0
    for record in noisy:
        db = demo_root / "database" / record["db_id"] / f"{record['db_id']}.sqlite"
        gold_sql, pred_sql = prepare_spider(golds[int(record["example_id"].rsplit("/", 1)[1])], record["noisy_sql"])
        gold, pred = runner.run(db, gold_sql), runner.run(db, pred_sql)
        if not pred.ok or not spider_rows_match(gold.rows, pred.rows, spider_order_matters(gold_sql)):
            differing += 1
    assert differing / len(noisy) >= 0.95
    assert set(Counter(r["noise_kind"] for r in noisy)) == set(CORRUPTIONS)
    assert any(r.get("noise_kind") == "none" and r["completion"].startswith("correct\n") for r in records)


def test_same_seed_gives_byte_identical_files(demo_root: Path, demo_synth, tmp_path: Path) -> None:
    first, manifest, _ = demo_synth
    run_synthesize(demo_root, tmp_path, synth_settings(strong_per_db=5, workers=1), progress=False)
    for name in ("sft.jsonl", "preferences.jsonl"):
        assert (tmp_path / name).read_bytes() == (first / name).read_bytes(), name
    second = json.loads((tmp_path / "manifest.json").read_text())
    untimed = lambda m: {**m, "seconds": 0, "strong": {**m["strong"], "seconds": 0}}  # noqa: E731
    assert untimed(second) == untimed(manifest)


def test_bad_gold_queries_are_skipped_and_counted(demo_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "bench"
    root.mkdir()
    (root / "database").symlink_to(demo_root / "database")
    (root / "tables.json").symlink_to(demo_root / "tables.json")
    train = json.loads((demo_root / "train_spider.json").read_text())[:30]
    train[3]["query"] = "SELECT nosuchcolumn FROM nosuchtable"
    train[7]["query"] = "SELECT (((broken"
    (root / "train_spider.json").write_text(json.dumps(train))
    manifest = run_synthesize(root, tmp_path / "out", synth_settings(strong_per_db=0, workers=1), progress=False)
    assert manifest["dropped"]["gold_failed"] == 2
    failed = {f["example_id"] for f in manifest["noise"]["gold_failures"]}
    assert failed == {"spider/train/3", "spider/train/7"}
    records = [json.loads(x) for x in (tmp_path / "out" / "sft.jsonl").read_text().splitlines()]
    assert not any(r["example_id"] in failed for r in records)
    assert len({r["example_id"] for r in records}) == 28


def test_lr_sql_slice_prompts_are_short_on_real_spider(spider_dir: Path, tmp_path: Path) -> None:
    """On Spider's largest schemas, rendered long (DDL with 3 sample rows, where LR-SQL matters), the
    longest slice prompt is at most 40% of the longest full one."""
    big = ["cre_Drama_Workshop_Groups", "cre_Theme_park", "college_2", "hr_1", "customers_and_invoices"]
    root = tmp_path / "spider_big"
    root.mkdir()
    (root / "database").symlink_to(spider_dir / "database")
    train = [e for e in json.loads((spider_dir / "train_spider_min.json").read_text()) if e["db_id"] in big]
    (root / "train_spider.json").write_text(json.dumps(train))
    tasks = task_settings(schema_style="ddl", sample_rows=3)
    settings = synth_settings(strong_per_db=0, workers=2, tasks=tasks)
    manifest = run_synthesize(root, tmp_path / "out", settings, progress=False)
    assert manifest["lr_sql"]["ratio"] <= 0.40, manifest["lr_sql"]


def test_token_counts_are_the_tokenizers_and_counted_records_are_kept(tmp_path: Path) -> None:
    from routesql.synth.stage import add_token_counts, token_counter, token_counts
    from routesql.train.tiny import train_tokenizer

    texts = [
        f"-- Question: how many {word}?\n-- Database schema:\ntable {word}: id, name\n"
        for word in ("cats", "dogs", "café")
    ]
    tokenizer = train_tokenizer(texts * 3, vocab_size=300)
    tokenizer.save_pretrained(tmp_path)
    records = [{"prompt": text, "completion": f"SELECT count(*) FROM {n}"} for n, text in enumerate(texts)]
    records.append({"prompt": texts[0], "completion": "x", "prompt_tokens": 7, "completion_tokens": 1})
    add_token_counts(records, token_counts(str(tmp_path)))
    for record in records[:3]:
        assert record["prompt_tokens"] == len(tokenizer(record["prompt"], add_special_tokens=False)["input_ids"])
        assert record["completion_tokens"] == len(
            tokenizer(record["completion"], add_special_tokens=False)["input_ids"]
        )
    assert (records[3]["prompt_tokens"], records[3]["completion_tokens"]) == (7, 1)  # counted before: kept
    assert token_counter(str(tmp_path))(texts[1]) == records[1]["prompt_tokens"]


def test_weak_sampling_by_a_real_base_model_writes_preference_pairs(demo_root: Path, tmp_path: Path) -> None:
    """SENSE weak pairs in the stage: a tiny random base model samples SQL for synthetic questions;
    its wrong answers (execution decides) become pairs with the synthetic gold as `chosen`."""
    from llm.conftest import build_tiny_lm

    model = build_tiny_lm(tmp_path / "base")
    weak = dataclasses.replace(
        synth_settings().weak,
        enabled=True,
        model_path=str(model),
        questions=3,
        samples=2,
        max_new_tokens=6,
        batch_size=8,
    )
    run_synthesize(
        demo_root,
        tmp_path / "out",
        synth_settings(strong_per_db=1, workers=1, max_examples=30, weak=weak),
        progress=False,
    )
    pairs = [json.loads(line) for line in (tmp_path / "out" / "preferences.jsonl").read_text().splitlines()]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    stats = manifest["strong"]["weak"]
    assert pairs, "a random model's samples are wrong, so every question gives a pair"
    assert {pair["template_version"] for pair in pairs} == {prompt_version(synth_settings().tasks.schema_style)}
    assert all(pair["chosen"] != pair["rejected"] and pair["example_id"].startswith("strong/") for pair in pairs)
    assert stats["questions"] == 3 and stats["samples"] == 6 and stats["pairs"] == len(pairs)


def test_weak_sampling_without_a_base_model_is_one_clear_error(demo_root: Path, tmp_path: Path) -> None:
    from routesql.errors import InputError

    weak = dataclasses.replace(synth_settings().weak, enabled=True)  # and no model_path
    with pytest.raises(InputError, match="--base models/base"):
        run_synthesize(
            demo_root,
            tmp_path / "out",
            synth_settings(strong_per_db=1, workers=1, max_examples=10, weak=weak),
            progress=False,
        )
