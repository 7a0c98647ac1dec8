"""Which params.yaml keys a command reads: the evidence that every setting does something.

Every settings model (routesql.config, routesql.train.settings) derives from `ReadTrackedModel`.
With ROUTESQL_TRACE_PARAMS=<folder> in the environment, a `routesql` command records each field
it reads and writes the params keys they stand for to `<folder>/<command>-<pid>.json` when it
exits. tests/test_pipeline.py runs `dvc repro` so and checks the keys against dvc.yaml: a key no
stage reads is a knob that does nothing; a key a stage reads but does not declare is a change
`dvc repro` would not rerun the stage for.

Reads are recorded by (model class, field), so a copy (`model_copy`, a settings object rebuilt
from a section) counts for the section it came from: its class is the section's class, a
subclass or a base. Off (the default), the cost is one global lookup per field access.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

TRACE_ENV = "ROUTESQL_TRACE_PARAMS"

_reads: set[tuple[type, str]] | None = None
_root: type[BaseModel] | None = None  # the settings tree the keys are named in (routesql.config.Params)


class ReadTrackedModel(BaseModel):
    def __getattribute__(self, name: str) -> Any:
        if _reads is not None and name in type(self).__pydantic_fields__:
            _reads.add((type(self), name))
        return super().__getattribute__(name)


@contextmanager
def untraced() -> Iterator[None]:
    """Reads inside are not recorded: defaults taken from `Params()` when a module loads are no
    use of the user's settings."""
    global _reads
    paused, _reads = _reads, None
    try:
        yield
    finally:
        _reads = paused


def peek(model: BaseModel, name: str) -> Any:
    """A field's value without recording a read: a check of a value is not a use of it."""
    return vars(model)[name]


def start_tracing(command: str, root: type[BaseModel]) -> None:
    """Record reads from now on when TRACE_ENV names a folder; written at exit as keys of `root`."""
    global _reads
    folder = os.environ.get(TRACE_ENV)
    if not folder or _reads is not None:
        return
    _reads = set()
    atexit.register(_write, Path(folder), command, root)


def keys_read(reads: set[tuple[type, str]], root: type[BaseModel]) -> set[str]:
    """The dotted keys of `root`'s tree whose field was read on its class, a subclass or a base."""
    keys: set[str] = set()
    for prefix, model in _sections(root, ""):
        for name in model.__pydantic_fields__:
            if any(field == name and (issubclass(cls, model) or issubclass(model, cls)) for cls, field in reads):
                keys.add(f"{prefix}{name}")
    return keys


def _sections(model: type[BaseModel], prefix: str) -> list[tuple[str, type[BaseModel]]]:
    found = [(prefix, model)]
    for name, field in model.__pydantic_fields__.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found.extend(_sections(kind, f"{prefix}{field.alias or name}."))
    return found


def _write(folder: Path, command: str, root: type[BaseModel]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    keys = sorted(keys_read(_reads or set(), root))
    (folder / f"{command}-{os.getpid()}.json").write_text(json.dumps({"command": command, "keys": keys}))
