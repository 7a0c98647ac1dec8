"""Execution-match semantics: when do a prediction's rows count as the gold rows?

Two named semantics:

* ``spider`` — the official Spider test-suite evaluator's (``eval_exec_match`` with default
  options): the texts get its ``> =`` spacing fixes and lose DISTINCT; the prediction gets its
  ``"value"`` → ``"1"`` substitution and ``YEAR(CURDATE())`` → ``2020``; rows are compared as
  multisets, in order only when the gold text contains ``order by``; columns may be permuted.
* ``bird`` — BIRD's evaluator: rows compared as sets, column order significant.

These are facts about those evaluators' behaviour, reimplemented here; `tests/metrics` checks
agreement with the official verdicts example by example.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence

SEMANTICS = ("spider", "bird")

_SPACED_OPERATORS = (("> =", ">="), ("< =", "<="), ("! =", "!="))
_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)
# A quoted string or identifier, or the bare word DISTINCT; quoted spans are kept as they are.
_QUOTED_OR_DISTINCT = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])|\bdistinct\b""", re.IGNORECASE)


def fix_operator_spacing(sql: str) -> str:
    for spaced, joined in _SPACED_OPERATORS:
        sql = sql.replace(spaced, joined)
    return sql


def remove_distinct(sql: str) -> str:
    """Drop every DISTINCT keyword outside quotes, leaving the surrounding spaces."""
    return _QUOTED_OR_DISTINCT.sub(lambda m: m.group(1) or "", sql)


def prepare_spider(gold: str, pred: str, keep_distinct: bool = False) -> tuple[str, str]:
    """The texts the official evaluator actually executes for (gold, prediction)."""
    pred = pred.replace("value", "1")  # the official script does this to every prediction
    gold, pred = fix_operator_spacing(gold), fix_operator_spacing(pred)
    if not keep_distinct:
        gold, pred = remove_distinct(gold), remove_distinct(pred)
    return _CUR_YEAR.sub("2020", gold), _CUR_YEAR.sub("2020", pred)


def spider_order_matters(gold_sql: str) -> bool:
    # The official rule is a substring test on the gold text, nested ORDER BYs included.
    return "order by" in gold_sql.lower()


def spider_rows_match(gold: Sequence[tuple], pred: Sequence[tuple], order_matters: bool) -> bool:
    """Official Spider denotation equality: multiset (or list) equality up to a column permutation."""
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    if not _same_unordered_rows(gold, pred, order_matters):
        return False
    gold_list, gold_counts = list(gold), Counter(gold)
    for permutation in _column_permutations(gold, pred, width):
        permuted = [tuple(row[j] for j in permutation) for row in pred]
        if order_matters:
            if permuted == gold_list:
                return True
        elif Counter(permuted) == gold_counts:
            return True
    return False


def bird_rows_match(gold: Sequence[tuple], pred: Sequence[tuple]) -> bool:
    return set(gold) == set(pred)


def _sort_key(value: object) -> str:
    return str(value) + str(type(value))


def _same_unordered_rows(gold: Sequence[tuple], pred: Sequence[tuple], order_matters: bool) -> bool:
    """Cheap rejection: compare rows with their values sorted, so column order drops out."""
    gold_rows = [tuple(sorted(row, key=_sort_key)) for row in gold]
    pred_rows = [tuple(sorted(row, key=_sort_key)) for row in pred]
    return gold_rows == pred_rows if order_matters else set(gold_rows) == set(pred_rows)


def _column_permutations(gold: Sequence[tuple], pred: Sequence[tuple], width: int) -> Iterator[tuple[int, ...]]:
    """Every injective mapping gold column i → pred column j whose value multisets agree.

    Equal value multisets per column are necessary for any permutation to succeed, so this
    pruning never loses a match (the official code prunes with a random sample of rows instead).
    """
    gold_columns = [Counter(row[i] for row in gold) for i in range(width)]
    pred_columns = [Counter(row[j] for row in pred) for j in range(width)]
    candidates = [[j for j in range(width) if pred_columns[j] == gold_columns[i]] for i in range(width)]

    def extend(prefix: list[int], used: set[int]) -> Iterator[tuple[int, ...]]:
        i = len(prefix)
        if i == width:
            yield tuple(prefix)
            return
        for j in candidates[i]:
            if j not in used:
                used.add(j)
                prefix.append(j)
                yield from extend(prefix, used)
                prefix.pop()
                used.discard(j)

    yield from extend([], set())
