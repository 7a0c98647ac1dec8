"""Training records as written by the synthesis stage (JSONL), read and checked line by line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routesql.errors import InputError
from routesql.tasks.registry import SFT_TASK_NAMES


@dataclass(frozen=True)
class SFTRecord:
    """One supervised example: the loss is on `completion` only."""

    task: str
    prompt: str
    completion: str
    db_id: str
    example_id: str
    template_version: str


@dataclass(frozen=True)
class PreferenceRecord:
    """One DPO pair: the same prompt with a preferred and a dispreferred completion."""

    prompt: str
    chosen: str
    rejected: str
    db_id: str
    example_id: str
    template_version: str


SFT_KEYS: tuple[str, ...] = ("task", "prompt", "completion", "db_id", "example_id", "template_version")
PREFERENCE_KEYS: tuple[str, ...] = ("prompt", "chosen", "rejected", "db_id", "example_id", "template_version")
# Keys that must hold text the model reads or writes, so an empty string is a synthesis bug.
NON_EMPTY_KEYS: frozenset[str] = frozenset({"prompt", "completion", "chosen", "rejected"})


def _read_jsonl(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(`file:line`, object) for every non-blank line; a line that is not a JSON object is an error."""
    if not path.is_file():
        raise InputError(path, "records file not found")
    rows: list[tuple[str, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(where, f"not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(where, "a record must be a JSON object")
            rows.append((where, row))
    if not rows:
        raise InputError(path, "no records (the corpus is empty)")
    return rows


def _checked_fields(where: str, row: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key in keys:
        if key not in row:
            raise InputError(where, f"missing key '{key}'")
        value = row[key]
        if not isinstance(value, str):
            raise InputError(f"{where}.{key}", f"must be a string, got {type(value).__name__}")
        if key in NON_EMPTY_KEYS and not value.strip():
            raise InputError(f"{where}.{key}", "must not be empty")
        fields[key] = value
    return fields


def load_sft_records(path: Path) -> list[SFTRecord]:
    records: list[SFTRecord] = []
    for where, row in _read_jsonl(path):
        fields = _checked_fields(where, row, SFT_KEYS)
        if fields["task"] not in SFT_TASK_NAMES:
            raise InputError(f"{where}.task", f"unknown task {fields['task']!r} (known: {', '.join(SFT_TASK_NAMES)})")
        records.append(SFTRecord(**fields))
    return records


def load_preference_records(path: Path) -> list[PreferenceRecord]:
    records: list[PreferenceRecord] = []
    for where, row in _read_jsonl(path):
        records.append(PreferenceRecord(**_checked_fields(where, row, PREFERENCE_KEYS)))
    return records


def template_version_of(records: Sequence[SFTRecord] | Sequence[PreferenceRecord], path: Path) -> str:
    """The one prompt-template version of a corpus; it travels with the trained model."""
    versions = sorted({record.template_version for record in records})
    if len(versions) != 1:
        raise InputError(path, f"records mix prompt template versions {versions}; train on one version")
    return versions[0]
