"""LR-SQL: cut a database schema into slices of tables under a token budget.

Tables joined by foreign keys are kept in the same slice when their group fits; a group too
large for one slice is cut in breadth-first order from its best-connected table, so neighbours
stay together. Schema linking then walks the slices one by one, carrying the tables selected so
far as a hint (`link_over_slices`), which bounds the prompt length by the budget instead of by
the size of the database — the source of LR-SQL's memory saving.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from routesql.db.schema import DatabaseSchema, Table, approx_token_count, join_tables, render_table
from routesql.tasks.templates import parse_slice_linking, slice_linking_prompt

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class SchemaSlice:
    tables: tuple[Table, ...]
    text: str

    @property
    def table_names(self) -> list[str]:
        return [table.name for table in self.tables]


def slice_schema(
    schema: DatabaseSchema,
    token_budget: int,
    sample_rows: int = 3,
    count_tokens: TokenCounter = approx_token_count,
    style: str = "ddl",
) -> list[SchemaSlice]:
    """Slices whose rendered text stays within `token_budget` (a lone oversized table is kept whole)."""
    rendered = {t.name: render_table(t, sample_rows, style) for t in schema.tables}
    cost = {name: count_tokens(text) + 1 for name, text in rendered.items()}
    by_name = {t.name: t for t in schema.tables}
    groups: list[list[str]] = []
    for group in _foreign_key_groups(schema):
        groups.extend(_cut_group(group, cost, token_budget) if sum(cost[n] for n in group) > token_budget else [group])
    slices: list[list[str]] = []
    used = 0
    for group in groups:
        group_cost = sum(cost[name] for name in group)
        if slices and used + group_cost <= token_budget:
            slices[-1].extend(group)
            used += group_cost
        else:
            slices.append(list(group))
            used = group_cost
    return [
        SchemaSlice(tuple(by_name[n] for n in names), join_tables((rendered[n] for n in names), style))
        for names in slices
    ]


def _neighbours(schema: DatabaseSchema) -> dict[str, set[str]]:
    known = {t.name.lower(): t.name for t in schema.tables}
    links: dict[str, set[str]] = defaultdict(set)
    for table in schema.tables:
        for key in table.foreign_keys:
            other = known.get(key.ref_table.lower())
            if other and other != table.name:
                links[table.name].add(other)
                links[other].add(table.name)
    return links


def _foreign_key_groups(schema: DatabaseSchema) -> list[list[str]]:
    """Connected groups of tables, each in breadth-first order from its best-connected table."""
    links = _neighbours(schema)
    order = {t.name: i for i, t in enumerate(schema.tables)}
    seen: set[str] = set()
    groups: list[list[str]] = []
    for table in schema.tables:
        if table.name in seen:
            continue
        members = _reachable(table.name, links)
        start = min(members, key=lambda n: (-len(links[n]), order[n]))
        group = _breadth_first(start, links, order)
        seen.update(group)
        groups.append(group)
    return groups


def _reachable(start: str, links: dict[str, set[str]]) -> set[str]:
    found, todo = {start}, [start]
    while todo:
        for other in links[todo.pop()]:
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def _breadth_first(start: str, links: dict[str, set[str]], order: dict[str, int]) -> list[str]:
    visited, queue, result = {start}, deque([start]), []
    while queue:
        name = queue.popleft()
        result.append(name)
        for other in sorted(links[name], key=order.__getitem__):
            if other not in visited:
                visited.add(other)
                queue.append(other)
    return result


def _cut_group(group: list[str], cost: dict[str, int], budget: int) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    used = 0
    for name in group:
        if pieces[-1] and used + cost[name] > budget:
            pieces.append([])
            used = 0
        pieces[-1].append(name)
        used += cost[name]
    return pieces


@dataclass(frozen=True)
class SliceQuestion:
    question: str
    slices: list[SchemaSlice]
    evidence: str = ""


def link_over_slices(items: list[SliceQuestion], ask: Callable[[list[str]], list[str]]) -> list[list[str]]:
    """Walk every question's slices in step, one batched `ask` per step, and union the answers.

    `ask` maps prompts to completions (e.g. a generator's greedy first completion). Names the
    model gives that are not tables of the slice it was shown are ignored.
    """
    selected: list[list[str]] = [[] for _ in items]
    steps = max((len(item.slices) for item in items), default=0)
    for step in range(steps):
        active = [i for i, item in enumerate(items) if step < len(item.slices)]
        prompts = [
            slice_linking_prompt(
                items[i].slices[step].text,
                items[i].question,
                selected[i],
                step + 1,
                len(items[i].slices),
                items[i].evidence,
            ).text
            for i in active
        ]
        for i, answer in zip(active, ask(prompts)):
            in_slice = {name.lower(): name for name in items[i].slices[step].table_names}
            for name in parse_slice_linking(answer):
                table = in_slice.get(name.lower())
                if table and table not in selected[i]:
                    selected[i].append(table)
    return selected
