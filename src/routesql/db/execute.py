"""Read-only execution of one query within limits: a real timeout, a row cap and a byte cap.

`QueryRunner` holds the state of one process: open read-only connections and a cache of results
(gold queries are executed many times while scoring, so their results are kept). Exceeding a
limit is that query's error, with its reason, never the process's: SQLite's own length limit
stops a single giant value (``zeroblob``, ``printf``, ``group_concat``) inside the engine, and
rows are fetched in chunks whose size is counted, so a result never grows past the byte cap.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from routesql.db.connect import BadDatabase, open_readonly
from routesql.db.guard import RefusedStatement, check_read_only, read_only_authorizer
from routesql.db.limits import DEFAULT_RESULT_CAP_MB, DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S, QueryLimits, check_limits
from routesql.errors import InputError

# Results the runner keeps (gold queries, MCP's candidates) hold at most this much in all.
CACHE_CAP_BYTES = 256 << 20
# Rows fetched at a time while their size is counted.
_FETCH_ROWS = 512
# How many SQLite virtual-machine steps run between two looks at the clock.
_PROGRESS_STEPS = 5_000


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one query: rows, or an error with its category.

    error_kind is one of: refused, syntax, unknown_schema, timeout, too_many_rows, too_large,
    missing_database, bad_database, runtime. `nbytes` approximates the size of the rows.
    """

    rows: tuple[tuple, ...] | None
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    nbytes: int = 0

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
    if "too big" in text:  # SQLITE_TOOBIG: a value longer than the length limit
        return "too_large"
    if "not a database" in text or "malformed" in text:
        return "bad_database"
    return "runtime"


def value_size(value: object) -> int:
    """Bytes a result value stands for: its length for text and blobs, 8 for numbers and NULL."""
    if isinstance(value, (str, bytes)):
        return len(value)
    return 8


class QueryRunner:
    """Executes queries read-only against SQLite files, one process's worth of state."""

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        row_cap: int = DEFAULT_ROW_CAP,
        result_cap_mb: float = DEFAULT_RESULT_CAP_MB,
        max_connections: int = 16,
        cache_size: int = 4096,
    ) -> None:
        check_limits(timeout_s, row_cap, result_cap_mb)
        self.timeout_s = timeout_s
        self.row_cap = row_cap
        self.result_cap_bytes = int(result_cap_mb * (1 << 20))
        self._connections: OrderedDict[Path, sqlite3.Connection] = OrderedDict()
        self._max_connections = max_connections
        self._cache: OrderedDict[tuple[Path, str], ExecResult] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = 0

    @classmethod
    def within(cls, limits: QueryLimits) -> QueryRunner:
        """A runner under `limits` (every stage builds them from params.yaml's `execution`)."""
        return cls(timeout_s=limits.timeout_s, row_cap=limits.row_cap, result_cap_mb=limits.result_cap_mb)

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
            self._cache_bytes += result.nbytes
            while len(self._cache) > self._cache_size or self._cache_bytes > CACHE_CAP_BYTES:
                _, dropped = self._cache.popitem(last=False)
                self._cache_bytes -= dropped.nbytes
        return result

    def _run_uncached(self, path: Path, sql: str) -> ExecResult:
        try:
            check_read_only(sql)
        except RefusedStatement as refusal:
            return ExecResult(None, str(refusal), "refused")
        try:
            conn = self._connection(path)
        except BadDatabase as broken:
            return ExecResult(None, str(broken), "bad_database")
        except InputError as missing:
            return ExecResult(None, str(missing), "missing_database")
        started = time.monotonic()
        deadline = started + self.timeout_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, _PROGRESS_STEPS)
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
            rows, nbytes, problem = self._fetch_within_caps(cursor)
        except sqlite3.Error as error:
            kind = classify_sqlite_error(str(error))
            message = {
                "timeout": f"timed out after {self.timeout_s:g} s",
                "too_large": f"a value is larger than the result cap of {self._cap_text()}",
            }.get(kind, str(error))
            return ExecResult(None, message, kind, time.monotonic() - started)
        except (ValueError, OverflowError) as error:  # e.g. a NUL byte or an int too big for SQLite
            return ExecResult(None, str(error), "runtime", time.monotonic() - started)
        except MemoryError:
            return ExecResult(None, "the result does not fit in memory", "too_large", time.monotonic() - started)
        finally:
            cursor.close()
            conn.set_progress_handler(None, 0)
        seconds = time.monotonic() - started
        if problem is not None:
            return ExecResult(None, problem[1], problem[0], seconds)
        return ExecResult(tuple(rows), None, None, seconds, nbytes)

    def _fetch_within_caps(self, cursor: sqlite3.Cursor) -> tuple[list[tuple], int, tuple[str, str] | None]:
        """Rows in chunks, counting rows and bytes; stops at the first cap it passes."""
        rows: list[tuple] = []
        nbytes = 0
        while True:
            chunk = cursor.fetchmany(_FETCH_ROWS)
            if not chunk:
                return rows, nbytes, None
            rows.extend(chunk)
            nbytes += sum(value_size(value) for row in chunk for value in row) + 56 * len(chunk)
            if len(rows) > self.row_cap:
                return [], 0, ("too_many_rows", f"result has more than {self.row_cap} rows")
            if nbytes > self.result_cap_bytes:
                return [], 0, ("too_large", f"result is larger than the cap of {self._cap_text()}")

    def _cap_text(self) -> str:
        return f"{self.result_cap_bytes / (1 << 20):g} MB"

    def _connection(self, path: Path) -> sqlite3.Connection:
        conn = self._connections.get(path)
        if conn is not None:
            self._connections.move_to_end(path)
            return conn
        conn = open_readonly(path)
        # The longest string or blob SQLite may build: a giant value fails inside the engine.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(1, min(self.result_cap_bytes, 1_000_000_000)))
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
