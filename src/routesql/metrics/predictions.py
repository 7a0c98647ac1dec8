"""Reading prediction files: the official one-SQL-per-line format, or a CSV with a Predict column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from routesql.errors import InputError


def read_text_strict(path: Path) -> str:
    """A file's text as UTF-8, or InputError naming the file and the first bad byte."""
    if not path.is_file():
        raise InputError(path, "file not found")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = raw[error.start : error.start + 1].hex()
        raise InputError(path, f"not UTF-8 text (byte 0x{bad} at offset {error.start})") from None


def read_predictions(path: Path, n_expected: int) -> list[str]:
    """One prediction per example, in the split's order.

    Line format: ``SQL`` or ``SQL<TAB>db_id`` (the official gold format); an empty line is an
    empty prediction, kept in place so the alignment holds. A ``.csv`` file (or one whose header
    has a ``Predict`` column) is read as CSV and its ``Predict`` column used.
    """
    text = read_text_strict(path)
    first_line = text.split("\n", 1)[0]
    if path.suffix.lower() == ".csv" or "Predict" in next(csv.reader([first_line]), []):
        predictions = _predict_column(path, text)
    else:
        predictions = _sql_lines(text)
    if len(predictions) != n_expected:
        raise InputError(
            path,
            f"{len(predictions)} predictions for {n_expected} examples; expected one per example, in the split's order",
        )
    return predictions


def _sql_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.rstrip("\r").split("\t", 1)[0].strip() for line in lines]


def _predict_column(path: Path, text: str) -> list[str]:
    reader = csv.DictReader(io.StringIO(text), strict=True)
    if reader.fieldnames is None or "Predict" not in reader.fieldnames:
        raise InputError(path, f"CSV has no 'Predict' column (columns: {reader.fieldnames})")
    try:
        return [(row["Predict"] or "").strip() for row in reader]
    except csv.Error as error:
        hint = " (a quote is never closed)" if "end of data" in str(error) else ""
        raise InputError(path, f"malformed CSV at line {reader.line_num}: {error}{hint}") from None
