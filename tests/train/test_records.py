"""Reading SFT and preference records: good files load, bad lines name file:line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routesql.errors import InputError
from routesql.train.records import load_preference_records, load_sft_records, template_version_of
from support import write_jsonl

GOOD = {
    "task": "text_to_sql",
    "prompt": "Question: How many owners?\nSQL: ",
    "completion": "SELECT count(*) FROM owner",
    "db_id": "pets",
    "example_id": "pets-0",
    "template_version": "v1",
    "prompt_tokens": 9,
    "completion_tokens": 6,
}


def test_sft_records_load(sft_records: Path) -> None:
    records = load_sft_records(sft_records)
    assert {record.task for record in records} == {"text_to_sql", "schema_linking", "noise_correction", "continuation"}
    assert template_version_of(records, sft_records) == "test-v1"


def test_preference_records_load(preference_records: Path) -> None:
    records = load_preference_records(preference_records)
    assert records and all(record.chosen != record.rejected for record in records)


@pytest.mark.parametrize(
    ("lines", "where_suffix", "problem"),
    [
        ([], "sft.jsonl", "no records"),
        (["", "  "], "sft.jsonl", "no records"),
        (["{not json"], "sft.jsonl:1", "not valid JSON"),
        (["[1, 2]"], "sft.jsonl:1", "JSON object"),
        ([json.dumps(GOOD), json.dumps({**GOOD, "task": "poetry"})], "sft.jsonl:2.task", "unknown task 'poetry'"),
        ([json.dumps({k: v for k, v in GOOD.items() if k != "completion"})], "sft.jsonl:1", "missing key 'completion'"),
        ([json.dumps({**GOOD, "prompt": 3})], "sft.jsonl:1.prompt", "must be a string"),
        ([json.dumps({**GOOD, "completion": " "})], "sft.jsonl:1.completion", "must not be empty"),
    ],
)
def test_bad_sft_file_is_an_input_error(tmp_path: Path, lines: list[str], where_suffix: str, problem: str) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(InputError) as caught:
        load_sft_records(path)
    assert caught.value.where.endswith(where_suffix)
    assert problem in caught.value.problem


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_sft_records(tmp_path / "absent.jsonl")


def test_mixed_template_versions_are_refused(tmp_path: Path) -> None:
    path = write_jsonl([GOOD, {**GOOD, "template_version": "v2"}], tmp_path / "sft.jsonl")
    with pytest.raises(InputError, match=r"template versions \['v1', 'v2'\]"):
        template_version_of(load_sft_records(path), path)
