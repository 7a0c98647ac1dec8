"""Outputs are written whole or not at all, and bad output paths are refused before any work."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from routesql.atomic import check_output_file, check_output_folder, folder_atomic, write_text_atomic
from routesql.errors import InputError


def test_a_folder_is_replaced_as_a_set(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    (out / "old.json").write_text("old")
    with folder_atomic(out) as staging:
        (staging / "metrics.json").write_text("{}")
        (staging / "plots").mkdir()
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "plots"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]


def test_an_error_while_writing_leaves_the_old_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text("good")
    with pytest.raises(RuntimeError), folder_atomic(out) as staging:
        (staging / "metrics.json").write_text("half")
        raise RuntimeError("the report failed")
    assert (out / "metrics.json").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]


def test_written_files_are_readable_like_any_other(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "a.txt", "x")
    assert path.stat().st_mode & stat.S_IRGRP  # mkstemp alone would leave 0600


# (how to build the bad path under tmp, check, words of the error)
BAD_OUTPUTS = [
    (lambda d: d, check_output_file, "is a folder"),
    (lambda d: (d / "f").write_text("") or d / "f" / "out.json", check_output_file, "is a file"),
    (lambda d: (d / "f").write_text("") or d / "f" / "deeper" / "out.json", check_output_file, "is a file"),
    (lambda d: (d / "f").write_text("") or d / "f", check_output_folder, "is a file"),
    (lambda d: (d / "f").write_text("") or d / "f" / "sub", check_output_folder, "is a file"),
    (lambda d: Path("/proc/routesql-test/out.json"), check_output_file, "cannot be written"),
]


@pytest.mark.parametrize(("make", "check", "words"), BAD_OUTPUTS)
def test_bad_output_paths_are_refused_before_work(tmp_path: Path, make, check, words: str) -> None:
    target = make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match=words):
        check(target)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_good_output_paths_create_nothing(tmp_path: Path) -> None:
    check_output_file(tmp_path / "new" / "deeper" / "out.json")
    check_output_folder(tmp_path / "new_folder")
    assert list(tmp_path.iterdir()) == []
