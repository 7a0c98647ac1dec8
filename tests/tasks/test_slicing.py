import re
from pathlib import Path

import pytest

from routesql.db.schema import approx_token_count, read_schema
from routesql.tasks.slicing import SliceQuestion, link_over_slices, slice_schema
from support import make_sqlite

# A web of tables: two foreign-key groups (a chain of 4 and a pair) and a loner.
WEB = """
CREATE TABLE region (id INTEGER PRIMARY KEY, name TEXT, note TEXT);
CREATE TABLE city (id INTEGER PRIMARY KEY, region_id INTEGER REFERENCES region(id), name TEXT);
CREATE TABLE street (id INTEGER PRIMARY KEY, city_id INTEGER REFERENCES city(id), name TEXT);
CREATE TABLE house (id INTEGER PRIMARY KEY, street_id INTEGER REFERENCES street(id), number INTEGER);
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), title TEXT);
CREATE TABLE weather (day TEXT, rain REAL);
"""


@pytest.fixture()
def web_schema(tmp_path: Path):
    return read_schema(make_sqlite(tmp_path / "web.sqlite", WEB), sample_rows=0)


def _names(slices) -> list[list[str]]:
    return [s.table_names for s in slices]


# (token budget, expected slices)
CASES = [
    (10_000, [["city", "region", "street", "house", "author", "book", "weather"]]),
    (150, [["city", "region", "street", "house"], ["author", "book", "weather"]]),
    # the chain does not fit: cut breadth-first, and the next group fills the slice's room
    (120, [["city", "region", "street"], ["house", "author", "book", "weather"]]),
    (70, [["city", "region"], ["street"], ["house"], ["author", "book"], ["weather"]]),
]


@pytest.mark.parametrize(("budget", "expected"), CASES)
def test_slices_keep_foreign_key_groups_together(web_schema, budget: int, expected) -> None:
    slices = slice_schema(web_schema, budget, sample_rows=0)
    assert _names(slices) == expected


@pytest.mark.parametrize("style", ["ddl", "compact"])
@pytest.mark.parametrize("budget", [20, 40, 70, 120, 400])
def test_every_table_in_exactly_one_slice_and_slices_within_budget(web_schema, budget: int, style: str) -> None:
    slices = slice_schema(web_schema, budget, sample_rows=0, style=style)
    flat = [name for s in slices for name in s.table_names]
    assert sorted(flat) == sorted(web_schema.table_names)
    for s in slices:
        assert len(s.tables) == 1 or approx_token_count(s.text) <= budget
        if style == "compact":
            assert [line.split(":")[0].removeprefix("table ") for line in s.text.splitlines()] == s.table_names


def test_real_spider_schema_slices_are_bounded(spider_dir: Path) -> None:
    schema = read_schema(spider_dir / "database/cre_Drama_Workshop_Groups/cre_Drama_Workshop_Groups.sqlite")
    slices = slice_schema(schema, 600)
    assert len(slices) > 2
    assert max(approx_token_count(s.text) for s in slices) <= 600


def test_link_over_slices_walks_in_batched_steps_and_carries_the_hint(web_schema) -> None:
    slices = slice_schema(web_schema, 100, sample_rows=0)
    wanted = [{"street", "book"}, {"weather"}]
    items = [SliceQuestion("q0", slices), SliceQuestion("q1", slices)]
    calls: list[list[str]] = []

    def ask(prompts: list[str]) -> list[str]:
        calls.append(prompts)
        answers = []
        for prompt in prompts:
            shown = set(re.findall(r"CREATE TABLE \"?(\w+)", prompt))
            want = wanted[0] if "Question: q0" in prompt else wanted[1]
            answers.append(", ".join([*sorted(shown & want), "not_a_table"]) if shown & want else "none")
        return answers

    selected = link_over_slices(items, ask)
    assert [set(s) for s in selected] == wanted
    assert len(calls) == len(slices) and all(len(batch) == 2 for batch in calls)
    assert "Tables already selected: none" in calls[1][0]
    assert "Tables already selected: street" in calls[2][0]
