"""Spider hardness (easy / medium / hard / extra) computed from the SQL text alone.

Spider's official evaluator buckets a gold query by three counts taken from its parse:

- component 1: clauses and connectives of the top-level query (WHERE, GROUP BY, ORDER BY, LIMIT,
  extra FROM table units, OR connectives, LIKE conditions);
- component 2: nested queries (subquery values in ON / WHERE / HAVING conditions, plus one for
  a trailing INTERSECT / UNION / EXCEPT; a subquery *in FROM* is a table unit, not a nested query);
- others: aggregation count > 1, several SELECT items, several WHERE conditions, several GROUP BY
  columns.

The aggregation count keeps two quirks of the official code on purpose, because the published
buckets depend on them: a WHERE condition counts when it is negated (``NOT IN``, ``NOT LIKE``,
``NOT BETWEEN``), and in HAVING every negated condition *and every AND/OR connective* counts.
A third quirk comes from the official parser: after a condition whose value is a column, an OR
and the conditions it joins are skipped (see `_parse_conditions`); Spider dev has four such gold
queries (``JOIN ... ON a = b OR a = c``).

The parser here is small and only as deep as those counts need: parenthesised groups become one
node each, clauses are read at their own nesting level, and nested queries are parsed only to check
that they are well formed. It accepts Spider's quirks: double-quoted strings, ``> =`` spacing,
mixed case, comma joins, ``AS`` aliases and a trailing ``;``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATES = frozenset({"max", "min", "count", "sum", "avg"})
SET_OPERATORS = frozenset({"intersect", "union", "except"})
CLAUSE_STARTS = frozenset({"from", "where", "group", "having", "order", "limit"}) | SET_OPERATORS
# A clause ends at the next clause keyword; a stray SELECT ends it too, so it is reported.
CLAUSE_STOPS = CLAUSE_STARTS | {"select"}
COMPARISONS = frozenset({"=", "==", ">", "<", ">=", "<=", "!=", "<>"})
KEYWORD_OPERATORS = frozenset({"in", "like", "between", "is", "exists"})
ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "||"})
JOIN_QUALIFIERS = frozenset({"left", "right", "inner", "outer", "cross", "full", "natural"})

# One alternative per token kind; `[<>!]\s*=` folds Spider's "> =" spacing into one operator.
_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<quoted_name>`[^`]*`|\[[^\]]*\])
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<name>[A-Za-z_][A-Za-z0-9_$]*(?:\s*\.\s*(?:[A-Za-z_][A-Za-z0-9_$]*|`[^`]*`|\*))*)
    | (?P<operator>[<>!]\s*=|<>|==|\|\||[=<>+\-*/%])
    | (?P<punct>[(),;])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "string", "number", "name", "operator", "punct"
    text: str  # lower-cased for names, whitespace-free for operators


@dataclass
class Group:
    """A parenthesised group: its content, already nested the same way."""

    items: list[Node]

    def is_subquery(self) -> bool:
        return bool(self.items) and _is_word(self.items[0], "select")


Node = Token | Group


@dataclass(frozen=True)
class Condition:
    negated: bool  # NOT written before the operator: NOT IN, NOT LIKE, NOT BETWEEN
    is_like: bool
    subqueries: int  # nested queries used as the condition's value(s)
    value_is_column: bool  # the value read last is a column (or another bare word such as NULL)


@dataclass
class Conditions:
    """A flat list of conditions and the AND/OR connectives between them."""

    conditions: list[Condition] = field(default_factory=list)
    connectives: list[str] = field(default_factory=list)

    def extend(self, other: Conditions, joined_by: str) -> None:
        if self.conditions and other.conditions:
            self.connectives.append(joined_by)
        self.conditions.extend(other.conditions)
        self.connectives.extend(other.connectives)

    def official_length(self) -> int:
        """Length of the evaluator's alternating list: condition, connective, condition, ..."""
        return len(self.conditions) + len(self.connectives)


@dataclass
class QueryShape:
    """What the hardness rules look at in the top-level query."""

    select_aggregated: list[bool] = field(default_factory=list)
    table_units: int = 0
    join_conditions: Conditions = field(default_factory=Conditions)
    where: Conditions = field(default_factory=Conditions)
    group_by_aggregated: list[bool] = field(default_factory=list)
    having: Conditions = field(default_factory=Conditions)
    order_by_aggregated: list[tuple[bool, bool]] = field(default_factory=list)
    has_limit: bool = False
    set_operator: str | None = None


@dataclass(frozen=True)
class HardnessCounts:
    component1: int
    component2: int
    others: int


def spider_hardness(sql: str) -> str:
    """Spider's hardness bucket of `sql`: "easy", "medium", "hard" or "extra".

    Raises ValueError when `sql` cannot be parsed as a SELECT query.
    """
    counts = hardness_counts(sql)
    c1, c2, others = counts.component1, counts.component2, counts.others
    if c1 <= 1 and others == 0 and c2 == 0:
        return "easy"
    if (others <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and others < 2 and c2 == 0):
        return "medium"
    if (
        (others > 2 and c1 <= 2 and c2 == 0)
        or (2 < c1 <= 3 and others <= 2 and c2 == 0)
        or (c1 <= 1 and others == 0 and c2 <= 1)
    ):
        return "hard"
    return "extra"


def hardness_counts(sql: str) -> HardnessCounts:
    """The three counts behind the bucket, for reports and debugging."""
    shape = parse_query_shape(sql)
    return HardnessCounts(_component1(shape), _component2(shape), _others(shape))


def parse_query_shape(sql: str) -> QueryShape:
    """Parse `sql` and return the shape of its top-level query; ValueError if it is malformed."""
    nodes = _nest(_tokenize(sql))
    while nodes and nodes[-1] == Token("punct", ";"):
        nodes = nodes[:-1]
    nodes = _unwrap(nodes)
    if not nodes:
        raise ValueError(f"cannot parse SQL: no query in {sql!r}")
    return _QueryParser(nodes).parse()


def _component1(shape: QueryShape) -> int:
    count = int(bool(shape.where.conditions)) + int(bool(shape.group_by_aggregated))
    count += int(bool(shape.order_by_aggregated)) + int(shape.has_limit)
    count += max(shape.table_units - 1, 0)
    all_conditions = (shape.join_conditions, shape.where, shape.having)
    count += sum(part.connectives.count("or") for part in all_conditions)
    count += sum(cond.is_like for part in all_conditions for cond in part.conditions)
    return count


def _component2(shape: QueryShape) -> int:
    all_conditions = (shape.join_conditions, shape.where, shape.having)
    nested = sum(cond.subqueries for part in all_conditions for cond in part.conditions)
    return nested + int(shape.set_operator is not None)


def _aggregation_count(shape: QueryShape) -> int:
    count = sum(shape.select_aggregated)
    count += sum(cond.negated for cond in shape.where.conditions)  # official quirk, see module doc
    count += sum(shape.group_by_aggregated)
    count += sum(first + second for first, second in shape.order_by_aggregated)
    # Official quirk: HAVING counts negated conditions and every connective string.
    count += sum(cond.negated for cond in shape.having.conditions) + len(shape.having.connectives)
    return count


def _others(shape: QueryShape) -> int:
    return (
        int(_aggregation_count(shape) > 1)
        + int(len(shape.select_aggregated) > 1)
        + int(shape.where.official_length() > 1)
        + int(len(shape.group_by_aggregated) > 1)
    )


def _tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN_PATTERN.match(sql, position)
        if match is None:
            raise ValueError(f"cannot parse SQL: unexpected {sql[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "space":
            continue
        if kind in ("name", "operator"):
            text = re.sub(r"\s+", "", text).lower()
        if kind == "quoted_name":
            kind = "name"
        tokens.append(Token(kind, text))
    return tokens


def _nest(tokens: list[Token]) -> list[Node]:
    """Turn each parenthesised run of tokens into a Group; unbalanced parentheses are errors."""
    stack: list[list[Node]] = [[]]
    for token in tokens:
        if token.text == "(" and token.kind == "punct":
            stack.append([])
        elif token.text == ")" and token.kind == "punct":
            if len(stack) == 1:
                raise ValueError("cannot parse SQL: unbalanced ')'")
            items = stack.pop()
            stack[-1].append(Group(items))
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise ValueError("cannot parse SQL: unclosed '('")
    return stack[0]


def _unwrap(nodes: list[Node]) -> list[Node]:
    """Drop parentheses around a whole query: "(SELECT ...)" reads as "SELECT ..."."""
    while len(nodes) == 1 and isinstance(nodes[0], Group):
        nodes = nodes[0].items
    return nodes


def _is_word(node: Node, *words: str) -> bool:
    return isinstance(node, Token) and node.kind == "name" and node.text in words


def _split(nodes: list[Node], separator: str) -> list[list[Node]]:
    parts: list[list[Node]] = [[]]
    for node in nodes:
        if isinstance(node, Token) and node.kind == "punct" and node.text == separator:
            parts.append([])
        else:
            parts[-1].append(node)
    if any(not part for part in parts):
        raise ValueError(f"cannot parse SQL: empty item around {separator!r}")
    return parts


def _starts_with_aggregate(nodes: list[Node]) -> bool:
    nodes = _unwrap(nodes)
    return len(nodes) >= 2 and _is_word(nodes[0], *AGGREGATES) and isinstance(nodes[1], Group)


def _parse_subquery(group: Group) -> None:
    """Parse a nested query only to reject malformed SQL; its counts do not matter."""
    _QueryParser(group.items).parse()


class _QueryParser:
    """Reads one query's clauses, in Spider's fixed order, from one nesting level."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.position = 0

    def parse(self) -> QueryShape:
        shape = QueryShape()
        self._expect("select")
        self._skip_words("distinct", "all")
        shape.select_aggregated = [
            _starts_with_aggregate(_strip_alias(item)) for item in _split(self._take_clause(), ",")
        ]
        if self._accept("from"):
            shape.table_units, shape.join_conditions = _parse_from(self._take_clause())
        if self._accept("where"):
            shape.where = _parse_conditions(self._take_clause())
        if self._accept("group"):
            self._expect("by")
            items = _split(self._take_clause(), ",")
            shape.group_by_aggregated = [_starts_with_aggregate(item) for item in items]
        if self._accept("having"):
            shape.having = _parse_conditions(self._take_clause())
        if self._accept("order"):
            self._expect("by")
            items = _split(self._take_clause(), ",")
            shape.order_by_aggregated = [_order_item(item) for item in items]
        if self._accept("limit"):
            shape.has_limit = True
            if not self._take_clause():
                raise ValueError("cannot parse SQL: LIMIT without a value")
        shape.set_operator = self._parse_set_operation()
        return shape

    def _parse_set_operation(self) -> str | None:
        if self.position >= len(self.nodes):
            return None
        node = self.nodes[self.position]
        if not _is_word(node, *SET_OPERATORS):
            raise ValueError(f"cannot parse SQL: unexpected {_describe(node)}")
        assert isinstance(node, Token)
        self.position += 1
        self._skip_words("all")
        _QueryParser(_unwrap(self.nodes[self.position :])).parse()
        self.position = len(self.nodes)
        return node.text

    def _take_clause(self) -> list[Node]:
        start = self.position
        while self.position < len(self.nodes) and not _is_word(self.nodes[self.position], *CLAUSE_STOPS):
            self.position += 1
        return self.nodes[start : self.position]

    def _accept(self, word: str) -> bool:
        if self.position < len(self.nodes) and _is_word(self.nodes[self.position], word):
            self.position += 1
            return True
        return False

    def _expect(self, word: str) -> None:
        if not self._accept(word):
            at_end = self.position >= len(self.nodes)
            found = "end" if at_end else _describe(self.nodes[self.position])
            raise ValueError(f"cannot parse SQL: expected {word.upper()}, found {found}")

    def _skip_words(self, *words: str) -> None:
        while self.position < len(self.nodes) and _is_word(self.nodes[self.position], *words):
            self.position += 1


def _describe(node: Node) -> str:
    return "'(...)'" if isinstance(node, Group) else repr(node.text)


def _strip_alias(item: list[Node]) -> list[Node]:
    """`count(*) AS total` → `count(*)`."""
    if len(item) >= 3 and _is_word(item[-2], "as"):
        return item[:-2]
    return item


def _flatten_join_groups(nodes: list[Node]) -> list[Node]:
    """`FROM (a JOIN b ON ...)`: parentheses around joins add nothing to the counts."""
    flat: list[Node] = []
    for node in nodes:
        if isinstance(node, Group) and not node.is_subquery():
            flat.extend(_flatten_join_groups(node.items))
        else:
            flat.append(node)
    return flat


def _parse_from(nodes: list[Node]) -> tuple[int, Conditions]:
    """Count FROM table units (tables or subqueries) and gather their ON conditions."""
    segments: list[list[Node]] = [[]]
    for node in _flatten_join_groups(nodes):
        if _is_word(node, "join") or node == Token("punct", ","):
            segments.append([])
        elif not _is_word(node, *JOIN_QUALIFIERS):
            segments[-1].append(node)
    join_conditions = Conditions()
    for segment in segments:
        if not segment:
            raise ValueError("cannot parse SQL: missing table in FROM")
        if isinstance(segment[0], Group):
            _parse_subquery(segment[0])
        on_at = next((i for i, node in enumerate(segment) if _is_word(node, "on")), None)
        if on_at is not None:
            join_conditions.extend(_parse_conditions(segment[on_at + 1 :]), joined_by="and")
    return len(segments), join_conditions


def _parse_conditions(nodes: list[Node]) -> Conditions:
    """Split on AND/OR (keeping `x BETWEEN a AND b` whole) and apply the evaluator's OR quirk.

    The official parser reads a value that is neither a literal nor a subquery as a column by
    skipping ahead to the next AND, comma, ')' or keyword, but not OR. So after a column-valued
    condition, an OR and the conditions it joins vanish from the parse: `ON a = b OR a = c` is
    one condition, and neither the OR nor the second condition counts.
    """
    pieces, connectives = _split_conditions(nodes)
    result = Conditions()
    swallowing = False
    for index, piece in enumerate(pieces):
        if not swallowing:
            _close_condition(piece, result)
        if index == len(connectives):
            break
        connective = connectives[index]
        last_is_column = bool(result.conditions) and result.conditions[-1].value_is_column
        swallowing = connective == "or" and (swallowing or last_is_column)
        if not swallowing:
            result.connectives.append(connective)
    return result


def _split_conditions(nodes: list[Node]) -> tuple[list[list[Node]], list[str]]:
    pieces: list[list[Node]] = [[]]
    connectives: list[str] = []
    inside_between = False
    for node in nodes:
        if _is_word(node, "and") and inside_between:
            inside_between = False
            pieces[-1].append(node)
        elif isinstance(node, Token) and node.text in ("and", "or") and node.kind == "name":
            connectives.append(node.text)
            pieces.append([])
        else:
            inside_between = inside_between or _is_word(node, "between")
            pieces[-1].append(node)
    return pieces, connectives


def _close_condition(nodes: list[Node], into: Conditions) -> None:
    if not nodes:
        raise ValueError("cannot parse SQL: empty condition")
    if len(nodes) == 1 and isinstance(nodes[0], Group) and not nodes[0].is_subquery():
        # A parenthesised boolean group: its conditions count as if written without parentheses.
        inner = _parse_conditions(nodes[0].items)
        into.conditions.extend(inner.conditions)
        into.connectives.extend(inner.connectives)
        return
    into.conditions.append(_parse_condition(nodes))


def _parse_condition(nodes: list[Node]) -> Condition:
    operator_at = next((i for i, node in enumerate(nodes) if _is_operator(node)), None)
    if operator_at is None or operator_at == len(nodes) - 1:
        raise ValueError("cannot parse SQL: condition without a comparison and a value")
    operator = nodes[operator_at]
    assert isinstance(operator, Token)
    for node in nodes:
        if isinstance(node, Group) and node.is_subquery():
            _parse_subquery(node)
    values = nodes[operator_at + 1 :]
    # The value read last: after BETWEEN's AND, else the one right after the operator.
    last_value = values[0]
    if operator.text == "between":
        and_at = next((i for i, node in enumerate(values) if _is_word(node, "and")), len(values))
        if and_at in (0, len(values) - 1, len(values)):
            raise ValueError("cannot parse SQL: BETWEEN needs `low AND high`")
        last_value = values[and_at + 1]
    return Condition(
        negated=any(_is_word(node, "not") for node in nodes[:operator_at]),
        is_like=operator.text == "like",
        subqueries=sum(isinstance(node, Group) and node.is_subquery() for node in values),
        value_is_column=isinstance(last_value, Token) and last_value.kind == "name",
    )


def _is_operator(node: Node) -> bool:
    if not isinstance(node, Token):
        return False
    if node.kind == "operator":
        return node.text in COMPARISONS
    return node.kind == "name" and node.text in KEYWORD_OPERATORS


def _order_item(item: list[Node]) -> tuple[bool, bool]:
    """Whether the first and the second operand of an ORDER BY value are aggregated."""
    if item and _is_word(item[-1], "asc", "desc"):
        item = item[:-1]
    item = _unwrap(item)
    for index, node in enumerate(item):
        if isinstance(node, Token) and node.kind == "operator" and node.text in ARITHMETIC:
            return _starts_with_aggregate(item[:index]), _starts_with_aggregate(item[index + 1 :])
    return _starts_with_aggregate(item), False
