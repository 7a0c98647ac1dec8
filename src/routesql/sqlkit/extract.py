"""Pull the SQL out of a model's completion."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
_CLOSING = {"'": "'", '"': '"', "`": "`", "[": "]"}  # what ends a quoted string or identifier
_QUOTED = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`""")


def extract_sql(completion: str, first_statement_only: bool = False) -> str:
    """The SQL in `completion`: inside a code fence if there is one, from its first SELECT/WITH,
    with surrounding prose and a trailing semicolon removed, on one line. An answer with no SQL
    gives "".

    Several statements are kept as they are so the read-only guard can refuse them with its
    reason. With `first_statement_only` (a weak model's samples, kept as training data) the SQL
    ends at the first blank line and the first statement, as models often keep writing after the
    query; an answer with no SELECT/WITH is kept as written: it fails, a mistake like any other.
    """
    text = completion.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    start = re.search(r"\b(SELECT|WITH)\b", text, re.IGNORECASE)
    if start is not None:
        text = text[start.start() :]
    elif not first_statement_only:
        return ""
    if first_statement_only:
        text = first_statement(re.split(r"\n\s*\n", text, maxsplit=1)[0])
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            break  # the model started a new prompt section
        lines.append(line)
    sql = " ".join(" ".join(lines).split())
    return sql[:-1].rstrip() if sql.endswith(";") and _count_statements(sql) == 1 else sql


def first_statement(text: str) -> str:
    """Text up to the first `;` that is not inside a quoted string or identifier."""
    closing: str | None = None
    for position, char in enumerate(text):
        if closing is not None:
            if char == closing:
                closing = None  # a doubled quote ('') closes and reopens: same result
        elif char in _CLOSING:
            closing = _CLOSING[char]
        elif char == ";":
            return text[:position]
    return text


def _count_statements(sql: str) -> int:
    bare = _QUOTED.sub("''", sql)
    return len([part for part in bare.split(";") if part.strip()])
