"""Atomic file output: a partial file never replaces a good one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from routesql.errors import InputError


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once, at import: setting the umask to read it is not thread-safe.
_UMASK = _read_umask()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path` (atomic on POSIX)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide outputs from others
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(path: str | Path, data: object) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl_atomic(path: str | Path, records: Iterable[dict]) -> Path:
    lines = (json.dumps(record, ensure_ascii=False, sort_keys=True) for record in records)
    return write_text_atomic(path, "".join(line + "\n" for line in lines))


def check_output_file(path: str | Path) -> None:
    """Raise InputError now, before any work, when `path` cannot be written as a file."""
    target = Path(path)
    if target.is_dir():
        raise InputError(target, "is a folder; give a file path")
    _check_creatable(target)


def check_output_folder(path: str | Path) -> None:
    """Raise InputError now, before any work, when `path` cannot be (or hold) an output folder."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(target, "is a file; give a folder path")
    _check_creatable(target / "_")


def _check_creatable(target: Path) -> None:
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(target.parent, f"cannot be created: {existing} is a file, not a folder")
    try:  # a real probe: access() says yes to root everywhere, and knows nothing of read-only mounts
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise InputError(target.parent, f"cannot be written: {existing} ({error.strerror or error})") from None


@contextmanager
def folder_atomic(path: str | Path) -> Iterator[Path]:
    """Write a multi-file output as a set: the files go to a staging folder beside `path`, which
    replaces `path` only when every file is written (an error leaves the old folder as it was)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_UMASK)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
