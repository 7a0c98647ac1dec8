"""Question/SQL templates of the demo benchmark.

One *pattern* is one SQL shape; it has a few paraphrases (`TEMPLATES`) and a builder that draws
tables, columns and values from the database at hand. What makes the data learnable by a tiny
model:

- tables and columns are named in the question by their natural names (``hire_date`` → "hire
  date", table ``coach`` → "coaches") and literal values appear verbatim;
- a question's wording fixes the SQL shape ("that have a ..." → DISTINCT over a join from the
  parent side; "together with those whose" → UNION; "is one of" → IN);
- SQL is written in one canonical style: uppercase keywords, lowercase aggregates, single-quoted
  strings, the subject table first as ``T1``, ``ON`` conditions with the earlier alias first.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from routesql.bench.demo_domains import ColumnSpec, DomainSpec, TableSpec

Row = tuple[object, ...]
Value = int | float | str  # what a cell of the generated rows holds, when it is not NULL
Edge = tuple[str, str, str]  # (child table, foreign-key column, parent table)
Made = tuple[str, str] | None  # (question, sql), or None when the pattern does not fit the draw

FILTER_ROLES = ("label", "category", "number", "date")
# Conditions inside aggregating or combining questions avoid the label: "count per city of the
# employees whose name is Ann Lee" is a question nobody asks.
PROPERTY_ROLES = ("category", "number", "date")
TEXT_ROLES = ("label", "category")
ORDER_ROLES = ("number", "date")
COMPARE_WORDS = {
    ("number", ">"): ("greater than", "more than", "above"),
    ("number", "<"): ("less than", "below"),
    ("date", ">"): ("after",),
    ("date", "<"): ("before",),
}
SUPERLATIVE_WORDS = {
    ("number", "DESC"): ("highest", "largest"),
    ("number", "ASC"): ("lowest", "smallest"),
    ("date", "DESC"): ("latest",),
    ("date", "ASC"): ("earliest",),
}
MOST_WORDS = {"DESC": ("most", "largest"), "ASC": ("fewest", "smallest")}
SORT_WORDS = {
    "DESC": ("descending", "highest to lowest"),
    "ASC": ("ascending", "lowest to highest"),
}
AGGREGATE_WORDS = {"avg": "average", "sum": "total", "max": "maximum", "min": "minimum"}
COUNT_WORDS = {">": "more than", ">=": "at least"}

# Slots: {t}/{ts} the table (singular/plural), {s} the column shown, {n} a number or date
# column, {g} a grouping column, {c}/{a}/{b} condition phrases, {w} a comparison or superlative.
LIST = (  # a plural subject followed by a relative clause {rest} ("whose city is Lyon")
    "List the {s} of {ts} {rest}.",
    "Show the {s} of all {ts} {rest}.",
    "What is the {s} of the {ts} {rest}?",
    "Find the {s} of {ts} {rest}.",
)
TEMPLATES: dict[str, tuple[str, ...]] = {
    "list": LIST,
    "select_column": (
        "List the {s} of all {ts}.",
        "What is the {s} of each {t}?",
        "Show the {s} of every {t}.",
        "Give the {s} of all {ts}.",
    ),
    "select_two_columns": (
        "List the {s} and {n} of all {ts}.",
        "What are the {s} and {n} of each {t}?",
        "Show the {s} and the {n} of every {t}.",
    ),
    "select_star": (
        "Show all information about {ts}.",
        "List all the details of every {t}.",
        "Give everything recorded about each {t}.",
    ),
    "select_star_where": (
        "Show all information about {ts} whose {c}.",
        "List all the details of {ts} whose {c}.",
    ),
    "select_distinct": (
        "What are the distinct {g} values of {ts}?",
        "List the different {g} values among {ts}.",
        "Show each distinct {g} of {ts}.",
    ),
    "count_all": (
        "How many {ts} are there?",
        "Count the number of {ts}.",
        "What is the total number of {ts}?",
    ),
    "count_where": (
        "How many {ts} are there whose {c}?",
        "Count the {ts} whose {c}.",
        "What is the number of {ts} whose {c}?",
    ),
    "count_distinct": (
        "How many different {g} values do {ts} have?",
        "Count the distinct {g} values among {ts}.",
        "What is the number of distinct {g} values of {ts}?",
    ),
    "aggregate": (
        "What is the {w} {n} of all {ts}?",
        "Find the {w} {n} over all {ts}.",
        "Compute the {w} {n} of {ts}.",
    ),
    "aggregate_where": (
        "What is the {w} {n} of {ts} whose {c}?",
        "Find the {w} {n} among {ts} whose {c}.",
        "Compute the {w} {n} of all {ts} whose {c}.",
    ),
    "max_and_min": (
        "What are the maximum and minimum {n} of all {ts}?",
        "Show the maximum and the minimum {n} among {ts}.",
        "Find the maximum and minimum {n} of {ts}.",
    ),
    "order_superlative": (
        "What is the {s} of the {t} with the {w} {n}?",
        "Which {t} has the {w} {n}? Give its {s}.",
        "Show the {s} of the {t} that has the {w} {n}.",
    ),
    "top_k": (
        "List the {s} and {n} of the {k} {ts} with the {w} {n}.",
        "Which {k} {ts} have the {w} {n}? Show their {s} and {n}.",
        "Show the {s} and {n} of the {k} {ts} that have the {w} {n}.",
    ),
    "sorted_list": (
        "List the {s} of all {ts} sorted by {n} in {w} order.",
        "Show the {s} of {ts} ordered by {n} from {r}.",
        "What is the {s} of every {t}, sorted by {n} in {w} order?",
    ),
    "where_superlative": (
        "Among {ts} whose {c}, what is the {s} of the one with the {w} {n}?",
        "What is the {s} of the {t} with the {w} {n} among those whose {c}?",
        "Of all {ts} whose {c}, which has the {w} {n}? Give its {s}.",
    ),
    "group_count": (
        "How many {ts} are there for each {g}?",
        "Show each {g} and the number of {ts} with it.",
        "For each {g}, count the {ts}.",
    ),
    "group_aggregate": (
        "What is the {w} {n} of {ts} for each {g}?",
        "For each {g}, show the {w} {n} of {ts}.",
        "Show each {g} together with the {w} {n} of its {ts}.",
    ),
    "group_where_count": (
        "For each {g}, count the {ts} whose {c}.",
        "How many {ts} whose {c} are there for each {g}?",
    ),
    "having_count": (
        "Which {g} values have {w} {k} {ts}?",
        "List the {g} values shared by {w} {k} {ts}.",
        "Show every {g} that has {w} {k} {ts}.",
    ),
    "having_average": (
        "For which {g} values is the average {n} of {ts} {w} {v}?",
        "List each {g} whose {ts} have an average {n} {w} {v}.",
    ),
    "most_common": (
        "Which {g} has the {m} {ts}?",
        "Which {g} is shared by the {l} number of {ts}?",
        "What is the {g} with the {m} {ts}?",
    ),
    "intersect_values": (
        "Which {g} values have both {ts} whose {a} and {ts} whose {b}?",
        "Show the {g} values shared by {ts} whose {a} and by {ts} whose {b}.",
        "List each {g} that has both {ts} whose {a} and {ts} whose {b}.",
    ),
    "except_values": (
        "Which {g} values have no {ts} whose {c}?",
        "List the {g} values of {ts}, excluding those of {ts} whose {c}.",
        "Show every {g} that has no {t} whose {c}.",
    ),
    # Joins: {k}/{ks} the child table, {p} the parent table.
    "join_show_both": (
        "List the {s} of each {k} together with the {n} of its {p}.",
        "Show the {s} of every {k} and the {n} of the {p} it belongs to.",
        "For each {k}, give its {s} and the {n} of its {p}.",
    ),
    "join_group_count": (
        "For each {p}, show its {s} and the number of {ks}.",
        "How many {ks} does each {p} have? List the {s} of the {p} and the count.",
        "Show the {s} of every {p} together with how many {ks} it has.",
    ),
    "join_group_aggregate": (
        "For each {p}, show its {s} and the {w} {n} of its {ks}.",
        "What is the {w} {n} of {ks} for each {p}? Show the {s} of the {p} too.",
    ),
    "join_most": (
        "What is the {s} of the {p} with the {m} {ks}?",
        "Which {p} has the {m} {ks}? Give its {s}.",
        "Show the {s} of the {p} that has the {l} number of {ks}.",
    ),
    "join_aggregate_filter": (
        "What is the {w} {n} of {ks} whose {c}?",
        "Find the {w} {n} among {ks} whose {c}.",
        "Compute the {w} {n} of all {ks} whose {c}.",
    ),
    "join_count_filter": (
        "How many {ks} are there whose {c}?",
        "Count the {ks} whose {c}.",
        "What is the number of {ks} whose {c}?",
    ),
    "join_superlative_filter": (
        "What is the {s} of the {k} with the {w} {n} among those whose {c}?",
        "Among {ks} whose {c}, what is the {s} of the one with the {w} {n}?",
        "Of all {ks} whose {c}, which has the {w} {n}? Give its {s}.",
    ),
}
# Relative clauses for a three-table path, keyed by the direction of each hop: "up" goes from a
# child to its parent, "down" from a parent to a child. The SQL has DISTINCT when a hop goes down.
THREE_TABLE_CLAUSES = {
    ("up", "up"): "whose {b} belongs to {ac} {c} whose {cond}",
    ("down", "up"): "that have {ab} {b} for {ac} {c} whose {cond}",
    ("down", "down"): "that have {ab} {b} with {ac} {c} whose {cond}",
    ("up", "down"): "whose {b} has {ac} {c} whose {cond}",
}


def natural(identifier: str) -> str:
    return identifier.replace("_", " ").lower()


def plural(identifier: str) -> str:
    noun = natural(identifier)
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def article(identifier: str) -> str:
    return "an" if natural(identifier)[0] in "aeiou" else "a"


def sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@dataclass(frozen=True)
class Condition:
    phrase: str  # "city is Lyon", "department name is Sales"
    sql: str  # "city = 'Lyon'", "T2.name = 'Sales'"
    column: str  # the filtered column, without alias


class QuestionContext:
    """One generated database as the templates see it: its schema, its rows and a seeded rng."""

    def __init__(self, domain: DomainSpec, rows: dict[str, list[Row]], rng: random.Random) -> None:
        self.rng = rng
        self.rows = rows
        self.tables = {spec.name: spec for spec in domain.tables}
        self.edges: list[Edge] = [
            (spec.name, column.name, column.references)
            for spec in domain.tables
            for column in spec.columns
            if column.references is not None
        ]

    def ask(self, template_key: str, table: str | None = None, **slots: object) -> str:
        """A random paraphrase of `template_key`; columns fill in by their natural names."""
        values = {k: natural(v.name) if isinstance(v, ColumnSpec) else v for k, v in slots.items()}
        if table is not None:
            values.update(t=natural(table), ts=plural(table))
        text = self.rng.choice(TEMPLATES[template_key]).format(**values)
        return text[0].upper() + text[1:]

    def columns(self, table: str, roles: Sequence[str], exclude: Sequence[str] = ()) -> list[ColumnSpec]:
        return [c for c in self.tables[table].columns if c.role in roles and c.name not in exclude]

    def values(self, table: str, column: str) -> list[Value]:
        index = [c.name for c in self.tables[table].columns].index(column)
        found: list[Value] = []
        for row in self.rows[table]:
            value = row[index]
            if value is None:
                continue
            if not isinstance(value, int | float | str):
                raise TypeError(f"{table}.{column} holds {value!r}, not a number or a text")
            found.append(value)
        return found

    def pick_table(self, *role_groups: Sequence[str]) -> TableSpec:
        """A random table with, per group, a column whose role is in it (every domain has one)."""
        fits = [n for n in sorted(self.tables) if all(self.columns(n, g) for g in role_groups)]
        return self.tables[self.rng.choice(fits)]

    def pick_column(self, table: str, roles: Sequence[str], exclude: Sequence[str] = ()) -> ColumnSpec | None:
        found = self.columns(table, roles, exclude)
        return self.rng.choice(found) if found else None

    def must_pick_column(self, table: str, roles: Sequence[str]) -> ColumnSpec:
        """`pick_column` on a table drawn (`pick_table`, `pick_edge`) to have a column of `roles`."""
        column = self.pick_column(table, roles)
        if column is None:
            raise ValueError(f"table {table} has no column whose role is one of {tuple(roles)}")
        return column

    def pick_shown(self, table: str, exclude: Sequence[str] = ()) -> ColumnSpec | None:
        """A column to answer with: mostly the label (name/title), sometimes another column."""
        labels = self.columns(table, ("label",), exclude)
        others = self.columns(table, PROPERTY_ROLES, exclude)
        if labels and (not others or self.rng.random() < 0.7):
            return self.rng.choice(labels)
        return self.rng.choice(others) if others else None

    def must_pick_shown(self, table: str) -> ColumnSpec:
        """`pick_shown` on a table drawn (`pick_table`, `pick_edge`) to have a column of FILTER_ROLES."""
        shown = self.pick_shown(table)
        if shown is None:
            raise ValueError(f"table {table} has no column to show")
        return shown

    def pick_label(self, table: str) -> ColumnSpec:
        """The label when the table has one: what names a group or a parent in an answer.

        The table must have a column of FILTER_ROLES, as those drawn with them do.
        """
        labels = self.columns(table, ("label",))
        return labels[0] if labels else self.must_pick_shown(table)

    def pick_value(self, table: str, column: str) -> Value:
        return self.rng.choice(self.values(table, column))

    def pick_middle(self, table: str, column: str) -> Value:
        """A value from the middle of the column's range, so that both > and < select rows."""
        ordered = sorted(self.values(table, column))
        return ordered[self.rng.randint(len(ordered) // 5, (4 * len(ordered)) // 5)]

    def pick_range(self, table: str, column: str) -> tuple[Value, Value]:
        """Two values from the lower and upper middle of the column, for BETWEEN."""
        ordered = sorted(self.values(table, column))
        n = len(ordered)
        low = ordered[self.rng.randint(n // 5, n // 2 - 1)]
        return low, ordered[self.rng.randint(n // 2, (4 * n) // 5)]

    def pick_edge(self, child_roles: Sequence[str] = (), parent_roles: Sequence[str] = ()) -> Edge:
        fits = [
            edge
            for edge in self.edges
            if (not child_roles or self.columns(edge[0], child_roles))
            and (not parent_roles or self.columns(edge[2], parent_roles))
        ]
        return self.rng.choice(fits)

    def condition(self, table: str, column: ColumnSpec, alias: str = "", about: str = "") -> Condition:
        """A filter on `column`: equality for text, a comparison for numbers and dates.

        `alias` prefixes the SQL column ("T2."), `about` prefixes the phrase ("department ").
        """
        name, target = f"{about}{natural(column.name)}", f"{alias}{column.name}"
        if column.role in TEXT_ROLES:
            value = self.pick_value(table, column.name)
            return Condition(f"{name} is {value}", f"{target} = {sql_literal(value)}", column.name)
        op = self.rng.choice((">", "<"))
        value = self.pick_middle(table, column.name)
        word = self.rng.choice(COMPARE_WORDS[(column.role, op)])
        sql = f"{target} {op} {sql_literal(value)}"
        return Condition(f"{name} is {word} {value}", sql, column.name)

    def random_condition(
        self,
        table: str,
        exclude: Sequence[str] = (),
        alias: str = "",
        about: str = "",
        roles: Sequence[str] = FILTER_ROLES,
    ) -> Condition | None:
        column = self.pick_column(table, roles, exclude)
        return None if column is None else self.condition(table, column, alias, about)

    def must_random_condition(self, table: str, alias: str = "", about: str = "") -> Condition:
        """`random_condition` on a table drawn (`pick_table`, `pick_edge`) to have a column of FILTER_ROLES."""
        cond = self.random_condition(table, alias=alias, about=about)
        if cond is None:
            raise ValueError(f"table {table} has no column to filter on")
        return cond

    def two_conditions(
        self, table: str, exclude: Sequence[str] = (), alias: str = ""
    ) -> tuple[Condition, Condition] | None:
        """Two different filters; on one column only as two values of a text column."""
        first = self.random_condition(table, exclude, alias, roles=PROPERTY_ROLES)
        second = self.random_condition(table, exclude, alias, roles=PROPERTY_ROLES)
        if first is None or second is None or first.sql == second.sql:
            return None
        if first.column == second.column and " = " not in first.sql:
            return None
        return first, second

    def aggregate(self, column: ColumnSpec) -> tuple[str, str]:
        """An aggregate function and its word; no sum of years ("total birth year")."""
        functions = sorted(f for f in AGGREGATE_WORDS if column.summable or f != "sum")
        function = self.rng.choice(functions)
        return function, AGGREGATE_WORDS[function]

    def direction(self, column: ColumnSpec) -> tuple[str, str]:
        """ASC or DESC and a superlative word that says which ("highest", "earliest")."""
        direction = self.rng.choice(("DESC", "ASC"))
        return direction, self.rng.choice(SUPERLATIVE_WORDS[(column.role, direction)])

    def count_threshold(self, sizes: list[int]) -> tuple[str, int]:
        """An operator and a threshold that some groups pass and some do not (HAVING count)."""
        op = self.rng.choice((">", ">="))
        size = sizes[self.rng.randint(len(sizes) // 4, (3 * len(sizes)) // 4)]
        return op, max(1, size - 1 if op == ">" else size)

    def group_sizes(self, table: str, column: str) -> list[int]:
        return sorted(Counter(self.values(table, column)).values())


def join_on(left_alias: str, left_table: str, right_alias: str, edge: Edge) -> str:
    """The ON condition of one foreign-key edge, the earlier alias first."""
    child, fk_column, _parent = edge
    if left_table == child:
        return f"{left_alias}.{fk_column} = {right_alias}.id"
    return f"{left_alias}.id = {right_alias}.{fk_column}"


def parent_first(edge: Edge) -> str:
    """FROM clause with the parent as T1 and the child as T2."""
    child, _fk, parent = edge
    return f"{parent} AS T1 JOIN {child} AS T2 ON {join_on('T1', parent, 'T2', edge)}"


def child_first(edge: Edge) -> str:
    """FROM clause with the child as T1 and the parent as T2."""
    child, _fk, parent = edge
    return f"{child} AS T1 JOIN {parent} AS T2 ON {join_on('T1', child, 'T2', edge)}"


@dataclass(frozen=True)
class Pattern:
    name: str
    weight: float  # share of the questions of each database, relative to the other patterns
    build: Callable[[QuestionContext], Made]


# --- single-table patterns -----------------------------------------------------------------------


def select_column(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    shown = ctx.must_pick_shown(table)
    return ctx.ask("select_column", table, s=shown), f"SELECT {shown.name} FROM {table}"


def select_two_columns(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    first = ctx.must_pick_shown(table)
    second = ctx.pick_column(table, FILTER_ROLES, exclude=(first.name,))
    if second is None:
        return None
    question = ctx.ask("select_two_columns", table, s=first, n=second)
    return question, f"SELECT {first.name}, {second.name} FROM {table}"


def select_star(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    if ctx.rng.random() < 0.5:
        return ctx.ask("select_star", table), f"SELECT * FROM {table}"
    cond = ctx.must_random_condition(table)
    question = ctx.ask("select_star_where", table, c=cond.phrase)
    return question, f"SELECT * FROM {table} WHERE {cond.sql}"


def select_distinct(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    return ctx.ask("select_distinct", table, g=group), f"SELECT DISTINCT {group.name} FROM {table}"


def count_all(ctx: QuestionContext) -> Made:
    table = ctx.pick_table().name
    return ctx.ask("count_all", table), f"SELECT count(*) FROM {table}"


def count_where(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    cond = ctx.must_random_condition(table)
    question = ctx.ask("count_where", table, c=cond.phrase)
    return question, f"SELECT count(*) FROM {table} WHERE {cond.sql}"


def count_distinct(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    question = ctx.ask("count_distinct", table, g=group)
    return question, f"SELECT count(DISTINCT {group.name}) FROM {table}"


def aggregate(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",)).name
    column = ctx.must_pick_column(table, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("aggregate", table, w=word, n=column)
    return question, f"SELECT {function}({column.name}) FROM {table}"


def aggregate_where(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",)).name
    column = ctx.must_pick_column(table, ("number",))
    cond = ctx.random_condition(table, exclude=(column.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    function, word = ctx.aggregate(column)
    question = ctx.ask("aggregate_where", table, w=word, n=column, c=cond.phrase)
    return question, f"SELECT {function}({column.name}) FROM {table} WHERE {cond.sql}"


def max_and_min(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("number",)).name
    column = ctx.must_pick_column(table, ("number",))
    question = ctx.ask("max_and_min", table, n=column)
    return question, f"SELECT max({column.name}), min({column.name}) FROM {table}"


def list_where(ctx: QuestionContext, table: str, rest: str, where: str, exclude: Sequence[str]) -> Made:
    """A LIST question that shows one column of the rows matching `where`."""
    shown = ctx.pick_shown(table, exclude=exclude)
    if shown is None:
        return None
    question = ctx.ask("list", table, s=shown, rest=rest)
    return question, f"SELECT {shown.name} FROM {table} WHERE {where}"


def where_filter(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    cond = ctx.must_random_condition(table)
    return list_where(ctx, table, f"whose {cond.phrase}", cond.sql, (cond.column,))


def where_not_equal(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    column = ctx.must_pick_column(table, ("category",))
    value = ctx.pick_value(table, column.name)
    rest = f"whose {natural(column.name)} is not {value}"
    return list_where(ctx, table, rest, f"{column.name} != {sql_literal(value)}", (column.name,))


def where_like(ctx: QuestionContext, negated: bool = False) -> Made:
    table = ctx.pick_table(("label",)).name
    column = ctx.must_pick_column(table, ("label",))
    value = str(ctx.pick_value(table, column.name))
    words = [w for w in value.split() if w.isalpha() and len(w) >= 3]
    if not words:
        return None
    word = ctx.rng.choice(words)
    verb, op = ("does not contain", "NOT LIKE") if negated else ("contains", "LIKE")
    rest = f"whose {natural(column.name)} {verb} {word}"
    return list_where(ctx, table, rest, f"{column.name} {op} '%{word}%'", ())


def where_not_like(ctx: QuestionContext) -> Made:
    return where_like(ctx, negated=True)


def where_between(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES).name
    column = ctx.must_pick_column(table, ORDER_ROLES)
    low, high = ctx.pick_range(table, column.name)
    if low == high:
        return None
    rest = f"whose {natural(column.name)} is between {low} and {high}"
    where = f"{column.name} BETWEEN {sql_literal(low)} AND {sql_literal(high)}"
    return list_where(ctx, table, rest, where, (column.name,))


def where_in(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    column = ctx.must_pick_column(table, ("category",))
    distinct = sorted(set(ctx.values(table, column.name)))
    if len(distinct) < 3:
        return None
    chosen = ctx.rng.sample(distinct, min(ctx.rng.choice((2, 3)), len(distinct) - 1))
    spoken = ", ".join(map(str, chosen[:-1])) + f" and {chosen[-1]}"
    listed = ", ".join(sql_literal(v) for v in chosen)
    rest = f"whose {natural(column.name)} is one of {spoken}"
    return list_where(ctx, table, rest, f"{column.name} IN ({listed})", (column.name,))


def where_two_conditions(ctx: QuestionContext, connective: str) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    first = ctx.random_condition(table, roles=PROPERTY_ROLES)
    if first is None:
        return None
    second = ctx.random_condition(table, exclude=(first.column,), roles=PROPERTY_ROLES)
    if second is None:
        return None
    rest = f"whose {first.phrase} {connective.lower()} {second.phrase}"
    return list_where(ctx, table, rest, f"{first.sql} {connective} {second.sql}", ())


def where_and(ctx: QuestionContext) -> Made:
    return where_two_conditions(ctx, "AND")


def where_or(ctx: QuestionContext) -> Made:
    return where_two_conditions(ctx, "OR")


def order_superlative(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES).name
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction, word = ctx.direction(column)
    question = ctx.ask("order_superlative", table, s=shown, w=word, n=column)
    return question, f"SELECT {shown.name} FROM {table} ORDER BY {column.name} {direction} LIMIT 1"


def top_k(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES).name
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction, word = ctx.direction(column)
    k = ctx.rng.choice((3, 5))
    question = ctx.ask("top_k", table, s=shown, w=word, n=column, k=k)
    order = f"ORDER BY {column.name} {direction} LIMIT {k}"
    return question, f"SELECT {shown.name}, {column.name} FROM {table} {order}"


def sorted_list(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES).name
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    direction = ctx.rng.choice(("DESC", "ASC"))
    word, route = SORT_WORDS[direction]
    question = ctx.ask("sorted_list", table, s=shown, n=column, w=word, r=route)
    return question, f"SELECT {shown.name} FROM {table} ORDER BY {column.name} {direction}"


def where_superlative(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(ORDER_ROLES).name
    column = ctx.must_pick_column(table, ORDER_ROLES)
    shown = ctx.pick_shown(table, exclude=(column.name,))
    if shown is None:
        return None
    cond = ctx.random_condition(table, exclude=(shown.name, column.name), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    direction, word = ctx.direction(column)
    question = ctx.ask("where_superlative", table, s=shown, w=word, n=column, c=cond.phrase)
    order = f"ORDER BY {column.name} {direction} LIMIT 1"
    return question, f"SELECT {shown.name} FROM {table} WHERE {cond.sql} {order}"


def group_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    question = ctx.ask("group_count", table, g=group)
    return question, f"SELECT {group.name}, count(*) FROM {table} GROUP BY {group.name}"


def group_aggregate(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",), ("number",)).name
    group = ctx.must_pick_column(table, ("category",))
    column = ctx.must_pick_column(table, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("group_aggregate", table, w=word, n=column, g=group)
    select = f"SELECT {group.name}, {function}({column.name})"
    return question, f"{select} FROM {table} GROUP BY {group.name}"


def group_where_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    cond = ctx.random_condition(table, exclude=(group.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    question = ctx.ask("group_where_count", table, g=group, c=cond.phrase)
    select = f"SELECT {group.name}, count(*) FROM {table}"
    return question, f"{select} WHERE {cond.sql} GROUP BY {group.name}"


def having_count(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    op, k = ctx.count_threshold(ctx.group_sizes(table, group.name))
    question = ctx.ask("having_count", table, g=group, w=COUNT_WORDS[op], k=k)
    grouped = f"SELECT {group.name} FROM {table} GROUP BY {group.name}"
    return question, f"{grouped} HAVING count(*) {op} {k}"


def having_average(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",), ("number",)).name
    group = ctx.must_pick_column(table, ("category",))
    column = ctx.must_pick_column(table, ("number",))
    op = ctx.rng.choice((">", "<"))
    value = ctx.pick_middle(table, column.name)
    word = ctx.rng.choice(COMPARE_WORDS[("number", op)])
    question = ctx.ask("having_average", table, g=group, n=column, w=word, v=value)
    grouped = f"SELECT {group.name} FROM {table} GROUP BY {group.name}"
    return question, f"{grouped} HAVING avg({column.name}) {op} {value}"


def most_common(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    direction = ctx.rng.choice(("DESC", "ASC"))
    most, largest = MOST_WORDS[direction]
    question = ctx.ask("most_common", table, g=group, m=most, l=largest)
    grouped = f"SELECT {group.name} FROM {table} GROUP BY {group.name}"
    return question, f"{grouped} ORDER BY count(*) {direction} LIMIT 1"


def above_average(ctx: QuestionContext, extra_condition: bool = False) -> Made:
    table = ctx.pick_table(("number",)).name
    column = ctx.must_pick_column(table, ("number",))
    op = ctx.rng.choice((">", "<"))
    word = ctx.rng.choice(COMPARE_WORDS[("number", op)])
    clause = f"{natural(column.name)} is {word} the average {natural(column.name)}"
    where = f"{column.name} {op} (SELECT avg({column.name}) FROM {table})"
    if extra_condition:
        cond = ctx.random_condition(table, exclude=(column.name,), roles=PROPERTY_ROLES)
        if cond is None:
            return None
        clause, where = f"{cond.phrase} and {clause}", f"{cond.sql} AND {where}"
    return list_where(ctx, table, f"whose {clause}", where, (column.name,))


def above_average_filtered(ctx: QuestionContext) -> Made:
    return above_average(ctx, extra_condition=True)


def intersect_values(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    conds = ctx.two_conditions(table, exclude=(group.name,))
    if conds is None:
        return None
    question = ctx.ask("intersect_values", table, g=group, a=conds[0].phrase, b=conds[1].phrase)
    select = f"SELECT {group.name} FROM {table} WHERE"
    return question, f"{select} {conds[0].sql} INTERSECT {select} {conds[1].sql}"


def union_rows(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(FILTER_ROLES).name
    conds = ctx.two_conditions(table)
    if conds is None:
        return None
    rest = f"whose {conds[0].phrase}, together with those whose {conds[1].phrase}"
    shown = ctx.must_pick_shown(table)
    select = f"SELECT {shown.name} FROM {table} WHERE"
    question = ctx.ask("list", table, s=shown, rest=rest)
    return question, f"{select} {conds[0].sql} UNION {select} {conds[1].sql}"


def except_values(ctx: QuestionContext) -> Made:
    table = ctx.pick_table(("category",)).name
    group = ctx.must_pick_column(table, ("category",))
    cond = ctx.random_condition(table, exclude=(group.name,), roles=PROPERTY_ROLES)
    if cond is None:
        return None
    question = ctx.ask("except_values", table, g=group, c=cond.phrase)
    select = f"SELECT {group.name} FROM {table}"
    return question, f"{select} EXCEPT {select} WHERE {cond.sql}"


# --- joins along foreign keys --------------------------------------------------------------------


def join_filter_parent(ctx: QuestionContext) -> Made:
    """Children filtered by their parent: "employees whose department name is Sales"."""
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.must_pick_shown(child)
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural(parent)} ")
    question = ctx.ask("list", child, s=shown, rest=f"whose {cond.phrase}")
    return question, f"SELECT T1.{shown.name} FROM {child_first(edge)} WHERE {cond.sql}"


def join_filter_child(ctx: QuestionContext) -> Made:
    """Parents with a matching child: "departments that have an employee whose ..."."""
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.must_pick_shown(parent)
    cond = ctx.must_random_condition(child, alias="T2.")
    rest = f"that have {article(child)} {natural(child)} whose {cond.phrase}"
    question = ctx.ask("list", parent, s=shown, rest=rest)
    return question, f"SELECT DISTINCT T1.{shown.name} FROM {parent_first(edge)} WHERE {cond.sql}"


def join_show_both(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    first, second = ctx.must_pick_shown(child), ctx.must_pick_shown(parent)
    question = ctx.ask("join_show_both", s=first, n=second, k=natural(child), p=natural(parent))
    return question, f"SELECT T1.{first.name}, T2.{second.name} FROM {child_first(edge)}"


def join_group_count(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    question = ctx.ask("join_group_count", p=natural(parent), s=shown, ks=plural(child))
    return question, f"SELECT T1.{shown.name}, count(*) FROM {parent_first(edge)} GROUP BY T1.id"


def join_group_aggregate(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=("number",), parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    column = ctx.must_pick_column(child, ("number",))
    function, word = ctx.aggregate(column)
    question = ctx.ask("join_group_aggregate", p=natural(parent), s=shown, w=word, n=column, ks=plural(child))
    select = f"SELECT T1.{shown.name}, {function}(T2.{column.name})"
    return question, f"{select} FROM {parent_first(edge)} GROUP BY T1.id"


def join_most(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    direction = ctx.rng.choice(("DESC", "ASC"))
    most, largest = MOST_WORDS[direction]
    question = ctx.ask("join_most", s=shown, p=natural(parent), m=most, l=largest, ks=plural(child))
    grouped = f"SELECT T1.{shown.name} FROM {parent_first(edge)} GROUP BY T1.id"
    return question, f"{grouped} ORDER BY count(*) {direction} LIMIT 1"


def join_having(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    op, k = ctx.count_threshold(ctx.group_sizes(child, edge[1]))
    question = ctx.ask("list", parent, s=shown, rest=f"that have {COUNT_WORDS[op]} {k} {plural(child)}")
    grouped = f"SELECT T1.{shown.name} FROM {parent_first(edge)} GROUP BY T1.id"
    return question, f"{grouped} HAVING count(*) {op} {k}"


def join_aggregate_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=("number",), parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    column = ctx.must_pick_column(child, ("number",))
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural(parent)} ")
    function, word = ctx.aggregate(column)
    question = ctx.ask("join_aggregate_filter", w=word, n=column, ks=plural(child), c=cond.phrase)
    select = f"SELECT {function}(T1.{column.name})"
    return question, f"{select} FROM {child_first(edge)} WHERE {cond.sql}"


def join_count_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural(parent)} ")
    question = ctx.ask("join_count_filter", ks=plural(child), c=cond.phrase)
    return question, f"SELECT count(*) FROM {child_first(edge)} WHERE {cond.sql}"


def join_superlative_filter(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=ORDER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    column = ctx.must_pick_column(child, ORDER_ROLES)
    shown = ctx.pick_shown(child, exclude=(column.name,))
    if shown is None:
        return None
    cond = ctx.must_random_condition(parent, alias="T2.", about=f"{natural(parent)} ")
    direction, word = ctx.direction(column)
    question = ctx.ask(
        "join_superlative_filter",
        s=shown,
        k=natural(child),
        ks=plural(child),
        w=word,
        n=column,
        c=cond.phrase,
    )
    order = f"ORDER BY T1.{column.name} {direction} LIMIT 1"
    return question, f"SELECT T1.{shown.name} FROM {child_first(edge)} WHERE {cond.sql} {order}"


def parents_without_children(ctx: QuestionContext, two_columns: bool = False) -> Made:
    edge = ctx.pick_edge(parent_roles=FILTER_ROLES)
    child, fk_column, parent = edge
    shown = ctx.must_pick_shown(parent)
    names, columns = natural(shown.name), shown.name
    if two_columns:
        other = ctx.pick_column(parent, FILTER_ROLES, exclude=(shown.name,))
        if other is None:
            return None
        names, columns = f"{names} and {natural(other.name)}", f"{columns}, {other.name}"
    question = ctx.ask("list", parent, s=names, rest=f"that have no {plural(child)}")
    return (
        question,
        f"SELECT {columns} FROM {parent} WHERE id NOT IN (SELECT {fk_column} FROM {child})",
    )


def parents_without_children_two_columns(ctx: QuestionContext) -> Made:
    return parents_without_children(ctx, two_columns=True)


def three_table_paths(ctx: QuestionContext) -> list[tuple[str, Edge, str, Edge, str]]:
    """Every path start -(first)- middle -(second)- end over two different foreign keys."""
    paths = []
    for first in ctx.edges:
        for second in ctx.edges:
            if first == second:
                continue
            for start, middle in ((first[0], first[2]), (first[2], first[0])):
                if middle in (second[0], second[2]):
                    end = second[2] if middle == second[0] else second[0]
                    if end not in (start, middle):
                        paths.append((start, first, middle, second, end))
    return sorted(paths)


def join_three_tables(ctx: QuestionContext) -> Made:
    paths = [
        path
        for path in three_table_paths(ctx)
        if ctx.columns(path[0], FILTER_ROLES) and ctx.columns(path[4], FILTER_ROLES)
    ]
    start, first, middle, second, end = ctx.rng.choice(paths)
    hops = ("up" if start == first[0] else "down", "up" if middle == second[0] else "down")
    shown = ctx.must_pick_shown(start)
    cond = ctx.must_random_condition(end, alias="T3.")
    rest = THREE_TABLE_CLAUSES[hops].format(
        b=natural(middle), c=natural(end), ab=article(middle), ac=article(end), cond=cond.phrase
    )
    question = ctx.ask("list", start, s=shown, rest=rest)
    distinct = "" if hops == ("up", "up") else "DISTINCT "
    joins = (
        f"{start} AS T1 JOIN {middle} AS T2 ON {join_on('T1', start, 'T2', first)} "
        f"JOIN {end} AS T3 ON {join_on('T2', middle, 'T3', second)}"
    )
    return question, f"SELECT {distinct}T1.{shown.name} FROM {joins} WHERE {cond.sql}"


def intersect_join(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    conds = ctx.two_conditions(child, alias="T2.")
    if conds is None:
        return None
    one = f"{article(child)} {natural(child)}"
    rest = f"that have both {one} whose {conds[0].phrase} and {one} whose {conds[1].phrase}"
    question = ctx.ask("list", parent, s=shown, rest=rest)
    select = f"SELECT T1.{shown.name} FROM {parent_first(edge)} WHERE"
    return question, f"{select} {conds[0].sql} INTERSECT {select} {conds[1].sql}"


def except_join(ctx: QuestionContext) -> Made:
    edge = ctx.pick_edge(child_roles=FILTER_ROLES, parent_roles=FILTER_ROLES)
    child, _fk, parent = edge
    shown = ctx.pick_label(parent)
    cond = ctx.must_random_condition(child, alias="T2.")
    question = ctx.ask("list", parent, s=shown, rest=f"that have no {natural(child)} whose {cond.phrase}")
    matching = f"SELECT T1.{shown.name} FROM {parent_first(edge)} WHERE {cond.sql}"
    return question, f"SELECT {shown.name} FROM {parent} EXCEPT {matching}"


PATTERNS: tuple[Pattern, ...] = (
    # mostly easy
    Pattern("select_column", 3, select_column),
    Pattern("select_star", 1.5, select_star),
    Pattern("select_distinct", 1.5, select_distinct),
    Pattern("count_all", 1.5, count_all),
    Pattern("count_where", 3, count_where),
    Pattern("count_distinct", 1, count_distinct),
    Pattern("aggregate", 3, aggregate),
    Pattern("aggregate_where", 2, aggregate_where),
    Pattern("where_filter", 5, where_filter),
    Pattern("where_not_equal", 1.5, where_not_equal),
    Pattern("where_between", 2, where_between),
    Pattern("where_in", 2, where_in),
    Pattern("sorted_list", 2, sorted_list),
    Pattern("having_count", 2, having_count),
    Pattern("having_average", 1, having_average),
    # mostly medium
    Pattern("select_two_columns", 2, select_two_columns),
    Pattern("max_and_min", 1.5, max_and_min),
    Pattern("where_like", 2, where_like),
    Pattern("where_not_like", 1, where_not_like),
    Pattern("where_and", 3, where_and),
    Pattern("where_or", 2, where_or),
    Pattern("order_superlative", 3, order_superlative),
    Pattern("top_k", 2, top_k),
    Pattern("group_count", 1.5, group_count),
    Pattern("group_aggregate", 2, group_aggregate),
    Pattern("group_where_count", 1.5, group_where_count),
    Pattern("join_filter_parent", 4, join_filter_parent),
    Pattern("join_filter_child", 3, join_filter_child),
    Pattern("join_show_both", 2, join_show_both),
    Pattern("join_group_count", 1.2, join_group_count),
    Pattern("join_group_aggregate", 1.5, join_group_aggregate),
    Pattern("join_having", 2, join_having),
    Pattern("join_aggregate_filter", 2, join_aggregate_filter),
    Pattern("join_count_filter", 1.5, join_count_filter),
    # mostly hard
    Pattern("where_superlative", 2, where_superlative),
    Pattern("most_common", 2, most_common),
    Pattern("above_average", 3, above_average),
    Pattern("parents_without_children", 3, parents_without_children),
    Pattern("join_three_tables", 3, join_three_tables),
    Pattern("intersect_values", 1.5, intersect_values),
    Pattern("union_rows", 1.5, union_rows),
    Pattern("except_values", 1.5, except_values),
    Pattern("except_join", 1.5, except_join),
    # mostly extra
    Pattern("join_most", 2.5, join_most),
    Pattern("join_superlative_filter", 2, join_superlative_filter),
    Pattern("intersect_join", 2, intersect_join),
    Pattern("above_average_filtered", 2, above_average_filtered),
    Pattern("parents_without_children_two_columns", 1.5, parents_without_children_two_columns),
)
