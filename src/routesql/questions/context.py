"""One database as the question patterns see it: tables, column roles, rows, foreign keys, an rng.

A column's *role* says how a pattern may use it: ``label`` (the name/title a person asks for),
``category`` (a few repeated text values), ``number``, ``date`` (ISO text); any other role (keys,
columns of no use) is never drawn. The demo benchmark states roles in its domain specs;
`routesql.questions.database` infers them from a real SQLite file.

Every pick goes through the one `random.Random`, so the same context and seed give the same pairs.
A pick that the database cannot serve (no table with a number, no foreign key) raises `NoFit`:
the pattern does not apply to this database.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from routesql.db.schema import quote_identifier
from routesql.questions.words import AGGREGATE_WORDS, COMPARE_WORDS, SUPERLATIVE_WORDS, TEMPLATES, natural_name, plural

Row = tuple[object, ...]
Value = int | float | str  # what a cell holds, when it is not NULL

FILTER_ROLES = ("label", "category", "number", "date")
# Conditions inside aggregating or combining questions avoid the label: "count per city of the
# employees whose name is Ann Lee" is a question nobody asks.
PROPERTY_ROLES = ("category", "number", "date")
TEXT_ROLES = ("label", "category")
ORDER_ROLES = ("number", "date")


class NoFit(LookupError):
    """The database has nothing the pattern needs (no such table, column or foreign key)."""


@dataclass(frozen=True)
class Column:
    name: str
    role: str  # label, category, number, date; any other role is never drawn
    summable: bool = True  # False for numbers whose sum means nothing (years, floor numbers)

    @property
    def sql(self) -> str:
        return quote_identifier(self.name)


class Edge(NamedTuple):
    """A foreign key: `child.fk_column` references `parent.parent_key`."""

    child: str
    fk_column: str
    parent: str
    parent_key: str


@dataclass(frozen=True)
class Condition:
    phrase: str  # "city is Lyon", "department name is Sales"
    sql: str  # "city = 'Lyon'", "T2.name = 'Sales'"
    column: str  # the filtered column, without alias


def sql_literal(value: object) -> str:
    """A value as SQLite source text: strings single-quoted with quotes doubled."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def quoted(table: str) -> str:
    return quote_identifier(table)


def worth_learning(rows: Sequence[Sequence[object]]) -> bool:
    """Whether a result answers something: not empty, not all NULL, not a lone 0 or NULL."""
    if not rows or all(value is None for value in rows[0]):
        return False
    return not (len(rows) == 1 and tuple(rows[0]) in ((0,), (None,)))


class QuestionContext:
    """One database as the templates see it: its tables, their rows and a seeded rng.

    `tables` lists every column of each table in row order (roles that are never drawn
    included), so that `rows[table][i]` lines up with `tables[table][i]`.
    """

    def __init__(
        self,
        tables: dict[str, tuple[Column, ...]],
        rows: dict[str, list[Row]],
        edges: list[Edge],
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.rows = rows
        self.tables = tables
        self.edges = edges

    def ask(self, template_key: str, table: str | None = None, **slots: object) -> str:
        """A random paraphrase of `template_key`; columns fill in by their natural names."""
        values = {k: natural_name(v.name) if isinstance(v, Column) else v for k, v in slots.items()}
        if table is not None:
            values.update(t=natural_name(table), ts=plural(table))
        text = self.rng.choice(TEMPLATES[template_key]).format(**values)
        return text[0].upper() + text[1:]

    def columns(self, table: str, roles: Sequence[str], exclude: Sequence[str] = ()) -> list[Column]:
        return [c for c in self.tables[table] if c.role in roles and c.name not in exclude]

    def values(self, table: str, column: str) -> list[Value]:
        index = [c.name for c in self.tables[table]].index(column)
        found: list[Value] = []
        for row in self.rows[table]:
            value = row[index]
            if value is None:
                continue
            if not isinstance(value, int | float | str):
                raise TypeError(f"{table}.{column} holds {value!r}, not a number or a text")
            found.append(value)
        return found

    def pick_table(self, *role_groups: Sequence[str]) -> str:
        """A random table with, per group, a column whose role is in it."""
        fits = [n for n in sorted(self.tables) if all(self.columns(n, g) for g in role_groups)]
        if not fits:
            raise NoFit(f"no table has columns of roles {role_groups}")
        return self.rng.choice(fits)

    def pick_column(self, table: str, roles: Sequence[str], exclude: Sequence[str] = ()) -> Column | None:
        found = self.columns(table, roles, exclude)
        return self.rng.choice(found) if found else None

    def must_pick_column(self, table: str, roles: Sequence[str]) -> Column:
        """`pick_column` on a table drawn (`pick_table`, `pick_edge`) to have a column of `roles`."""
        column = self.pick_column(table, roles)
        if column is None:
            raise NoFit(f"table {table} has no column whose role is one of {tuple(roles)}")
        return column

    def pick_shown(self, table: str, exclude: Sequence[str] = ()) -> Column | None:
        """A column to answer with: mostly the label (name/title), sometimes another column."""
        labels = self.columns(table, ("label",), exclude)
        others = self.columns(table, PROPERTY_ROLES, exclude)
        if labels and (not others or self.rng.random() < 0.7):
            return self.rng.choice(labels)
        return self.rng.choice(others) if others else None

    def must_pick_shown(self, table: str) -> Column:
        """`pick_shown` on a table drawn (`pick_table`, `pick_edge`) to have a column of FILTER_ROLES."""
        shown = self.pick_shown(table)
        if shown is None:
            raise NoFit(f"table {table} has no column to show")
        return shown

    def pick_label(self, table: str) -> Column:
        """The label when the table has one: what names a group or a parent in an answer."""
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
        if n < 2:
            raise NoFit(f"{table}.{column} has fewer than two values")
        low = ordered[self.rng.randint(n // 5, n // 2 - 1)]
        return low, ordered[self.rng.randint(n // 2, (4 * n) // 5)]

    def pick_edge(self, child_roles: Sequence[str] = (), parent_roles: Sequence[str] = ()) -> Edge:
        fits = [
            edge
            for edge in self.edges
            if (not child_roles or self.columns(edge.child, child_roles))
            and (not parent_roles or self.columns(edge.parent, parent_roles))
        ]
        if not fits:
            raise NoFit("no foreign key joins tables with the columns needed")
        return self.rng.choice(fits)

    def condition(self, table: str, column: Column, alias: str = "", about: str = "") -> Condition:
        """A filter on `column`: equality for text, a comparison for numbers and dates.

        `alias` prefixes the SQL column ("T2."), `about` prefixes the phrase ("department ").
        """
        name, target = f"{about}{natural_name(column.name)}", f"{alias}{column.sql}"
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
            raise NoFit(f"table {table} has no column to filter on")
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

    def aggregate(self, column: Column) -> tuple[str, str]:
        """An aggregate function and its word; no sum of years ("total birth year")."""
        functions = sorted(f for f in AGGREGATE_WORDS if column.summable or f != "sum")
        function = self.rng.choice(functions)
        return function, AGGREGATE_WORDS[function]

    def direction(self, column: Column) -> tuple[str, str]:
        """ASC or DESC and a superlative word that says which ("highest", "earliest")."""
        direction = self.rng.choice(("DESC", "ASC"))
        return direction, self.rng.choice(SUPERLATIVE_WORDS[(column.role, direction)])

    def count_threshold(self, sizes: list[int]) -> tuple[str, int]:
        """An operator and a threshold that some groups pass and some do not (HAVING count)."""
        if not sizes:
            raise NoFit("no groups to count")
        op = self.rng.choice((">", ">="))
        size = sizes[self.rng.randint(len(sizes) // 4, (3 * len(sizes)) // 4)]
        return op, max(1, size - 1 if op == ">" else size)

    def group_sizes(self, table: str, column: str) -> list[int]:
        return sorted(Counter(self.values(table, column)).values())


def join_on(left_alias: str, left_table: str, right_alias: str, edge: Edge) -> str:
    """The ON condition of one foreign-key edge, the earlier alias first."""
    fk, key = quote_identifier(edge.fk_column), quote_identifier(edge.parent_key)
    if left_table == edge.child:
        return f"{left_alias}.{fk} = {right_alias}.{key}"
    return f"{left_alias}.{key} = {right_alias}.{fk}"


def parent_first(edge: Edge) -> str:
    """FROM clause with the parent as T1 and the child as T2."""
    return f"{quoted(edge.parent)} AS T1 JOIN {quoted(edge.child)} AS T2 ON {join_on('T1', edge.parent, 'T2', edge)}"


def child_first(edge: Edge) -> str:
    """FROM clause with the child as T1 and the parent as T2."""
    return f"{quoted(edge.child)} AS T1 JOIN {quoted(edge.parent)} AS T2 ON {join_on('T1', edge.child, 'T2', edge)}"
