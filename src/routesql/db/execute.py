"""Read-only execution of one query with a real timeout and a row cap.

`QueryRunner` holds the state of one process: open read-only connections and a cache of results
(gold queries are executed many times while scoring, so their results are kept).
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from routesql.db.connect import open_readonly
from routesql.db.guard import RefusedStatement, check_read_only, read_only_authorizer
from routesql.errors import InputError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ROW_CAP = 100_000
# How many SQLite virtual-machine steps run between two looks at the clock.
_PROGRESS_STEPS = 5_000


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one query: rows, or an error with its category.

    error_kind is one of: refused, syntax, unknown_schema, timeout, too_many_rows,
    missing_database, runtime.
    """

    rows: tuple[tuple, ...] | None
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def classify_sqlite_error(message: str) -> str:
    text = message.lower()
    if "no such table" in text or "no such column" in text or "ambiguous column" in text:
        return "unknown_schema"
    if "syntax error" in text or "incomplete input" in text or "unrecognized token" in text:
        return "syntax"
    if "interrupted" in text:
        return "timeout"
    return "runtime"


class QueryRunner:
    """Executes queries read-only against SQLite files, one process's worth of state."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, row_cap: int = DEFAULT_ROW_CAP,
                 max_connections: int = 16, cache_size: int = 4096) -> None:
        self.timeout_s = timeout_s
        self.row_cap = row_cap
        self._connections: OrderedDict[Path, sqlite3.Connection] = OrderedDict()
        self._max_connections = max_connections
        self._cache: OrderedDict[tuple[Path, str], ExecResult] = OrderedDict()
        self._cache_size = cache_size

    def run(self, db_path: str | Path, sql: str, cache: bool = False) -> ExecResult:
        """Execute `sql` on `db_path`; never raises for a bad query, returns its error instead."""
        path = Path(db_path)
        key = (path, sql)
        if cache and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self._run_uncached(path, sql)
        if cache:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _run_uncached(self, path: Path, sql: str) -> ExecResult:
        try:
            check_read_only(sql)
        except RefusedStatement as refusal:
            return ExecResult(None, str(refusal), "refused")
        try:
            conn = self._connection(path)
        except InputError as missing:
            return ExecResult(None, str(missing), "missing_database")
        started = time.monotonic()
        deadline = started + self.timeout_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, _PROGRESS_STEPS)
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchmany(self.row_cap + 1)
        except sqlite3.Error as error:
            kind = classify_sqlite_error(str(error))
            message = f"timed out after {self.timeout_s:g} s" if kind == "timeout" else str(error)
            return ExecResult(None, message, kind, time.monotonic() - started)
        except (ValueError, OverflowError) as error:  # e.g. a NUL byte or an int too big for SQLite
            return ExecResult(None, str(error), "runtime", time.monotonic() - started)
        finally:
            cursor.close()
            conn.set_progress_handler(None, 0)
        seconds = time.monotonic() - started
        if len(rows) > self.row_cap:
            return ExecResult(None, f"result has more than {self.row_cap} rows", "too_many_rows", seconds)
        return ExecResult(tuple(rows), None, None, seconds)

    def _connection(self, path: Path) -> sqlite3.Connection:
        conn = self._connections.get(path)
        if conn is not None:
            self._connections.move_to_end(path)
            return conn
        conn = open_readonly(path)
        conn.set_authorizer(read_only_authorizer)
        self._connections[path] = conn
        if len(self._connections) > self._max_connections:
            _, oldest = self._connections.popitem(last=False)
            oldest.close()
        return conn

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()
