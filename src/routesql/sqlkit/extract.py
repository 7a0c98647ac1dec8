"""Pull the SQL out of a model's completion."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)(?:```|$)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`""")


def extract_sql(completion: str) -> str:
    """The SQL in `completion`: inside a code fence if there is one, with surrounding prose and a
    trailing semicolon removed. Several statements are kept as they are so the read-only guard
    can refuse them with its reason; an answer with no SQL gives "".
    """
    text = completion.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    start = re.search(r"\b(SELECT|WITH)\b", text, re.IGNORECASE)
    if start is None:
        return ""
    text = text[start.start() :]
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            break  # the model started a new prompt section
        lines.append(line)
    sql = " ".join(" ".join(lines).split())
    return sql[:-1].rstrip() if sql.endswith(";") and _count_statements(sql) == 1 else sql


def _count_statements(sql: str) -> int:
    bare = _QUOTED.sub("''", sql)
    return len([part for part in bare.split(";") if part.strip()])
