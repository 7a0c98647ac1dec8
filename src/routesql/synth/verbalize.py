"""Template questions for sampled SQL: natural names, value phrases, 2–3 paraphrases per pattern.

Identifiers become words the way a person would read them (``HomeTown`` → ``home town``,
``Customer_ID`` → ``customer id``); literal values are quoted verbatim, so a question always
names the exact value the SQL filters on.
"""

from __future__ import annotations

import random
import re

# Where camelCase and acronym runs break into words: "homeTown" → "home Town", "HTMLPage" →
# "HTML Page"; digits stay attached to their word ("address2").
_CAMEL_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_\-.]+")
# Nouns whose plural is the noun itself (common in Spider's table names).
_UNCOUNTABLE = frozenset(
    {
        "people",
        "staff",
        "information",
        "data",
        "equipment",
        "personnel",
        "news",
        "series",
        "species",
        "software",
        "furniture",
        "music",
    }
)

AGGREGATE_WORDS = {"avg": "average", "sum": "total", "min": "minimum", "max": "maximum"}
COMPARISON_WORDS = {">": "greater than", "<": "less than"}
ORDER_WORDS = {"DESC": "highest", "ASC": "lowest"}

# One list of paraphrases per pattern; `{slot}` names are filled by the pattern that samples.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "select_where_eq": (
        "What is the {target} of the {tables} whose {column} is {value}?",
        "Show the {target} of every {table} with {column} {value}.",
        "List the {target} for {tables} where the {column} equals {value}.",
    ),
    "select_where_compare": (
        "What is the {target} of the {tables} whose {column} is {op_words} {value}?",
        "List the {target} of {tables} with a {column} {op_words} {value}.",
        "Show the {target} for every {table} having {column} {op_words} {value}.",
    ),
    "select_where_like": (
        "Which {tables} have a {column} containing '{word}'? Give their {target}.",
        "List the {target} of {tables} whose {column} contains the text {word}.",
        "Show the {target} for {tables} with '{word}' in their {column}.",
    ),
    "select_where_between": (
        "What is the {target} of {tables} whose {column} is between {low} and {high}?",
        "List the {target} of every {table} with {column} from {low} to {high}.",
        "Show the {target} for {tables} having a {column} between {low} and {high}.",
    ),
    "select_where_and": (
        "What is the {target} of the {tables} whose {column} is {value} and whose {column2} is {value2}?",
        "Show the {target} of {tables} with {column} {value} and {column2} {value2}.",
    ),
    "count_where": (
        "How many {tables} have {column} {value}?",
        "Count the {tables} whose {column} is {value}.",
        "What is the number of {tables} with a {column} of {value}?",
    ),
    "count_distinct": (
        "How many different {column} values do the {tables} have?",
        "Count the distinct {column} values among all {tables}.",
    ),
    "aggregate": (
        "What is the {agg_words} {column} of all {tables}?",
        "Find the {agg_words} {column} over every {table}.",
        "Give the {agg_words} {column} across {tables}.",
    ),
    "aggregate_where": (
        "What is the {agg_words} {column} of {tables} whose {filter_column} is {value}?",
        "Find the {agg_words} {column} for {tables} with {filter_column} {value}.",
    ),
    "group_count": (
        "How many {tables} are there for each {group}?",
        "For every {group}, count the {tables}.",
        "Show each {group} together with the number of {tables} that have it.",
    ),
    "group_aggregate": (
        "What is the {agg_words} {column} of {tables} for each {group}?",
        "For each {group}, show the {agg_words} {column} of the {tables}.",
    ),
    "group_having": (
        "Which {group} values are shared by more than {count} {tables}?",
        "List every {group} that more than {count} {tables} have.",
        "Find the {group} values that appear in more than {count} {tables}.",
    ),
    "group_top": (
        "Which {group} is the most common among {tables}?",
        "What {group} do the most {tables} have?",
    ),
    "order_limit": (
        "What {is_are} the {target} of the {limit_phrase} with the {order_words} {column}?",
        "Show the {target} of the {limit_phrase} whose {column} is {order_words}.",
        "List the {target} of the {limit_phrase} ranked by {order_words} {column}.",
    ),
    "join_where": (
        "What is the {target} of the {tables} related to {other_tables} whose {column} is {value}?",
        "Show the {target} of {tables} linked to a {other_table} with {column} {value}.",
        "For {other_tables} with {column} {value}, list the {target} of their {tables}.",
    ),
    "join_group_count": (
        "For each {parent}, how many {children} are there? Show the {label} and the count.",
        "Show the {label} of every {parent} and the number of {children} it has.",
        "How many {children} does each {parent} have? List the {parent} {label} too.",
    ),
    "join_three": (
        "What is the {target} of the {tables} connected through {middle_tables} to {far_tables} "
        "whose {column} is {value}?",
        "List the {target} of {tables} linked via {middle_tables} to a {far_table} with {column} {value}.",
    ),
    "nested_average": (
        "Which {tables} have a {column} {op_words} the average? Give their {target}.",
        "List the {target} of {tables} whose {column} is {op_words} the average {column}.",
        "Show the {target} of every {table} with {column} {op_words} the mean {column} of all {tables}.",
    ),
    "not_in_child": (
        "Which {parents} have no {children}? Give their {target}.",
        "List the {target} of {parents} that do not appear in any {child}.",
        "Show the {target} of every {parent} without a {child}.",
    ),
    "set_intersect": (
        "Which {target} values belong both to {tables} with {column} {value} and to {tables} with {column2} {value2}?",
        "List the {target} shared by {tables} whose {column} is {value} and {tables} whose {column2} is {value2}.",
    ),
    "set_union": (
        "List the {target} of {tables} whose {column} is {value} or whose {column2} is {value2}.",
        "Show every {target} of {tables} with {column} {value}, together with those with {column2} {value2}.",
    ),
    "set_except": (
        "Which {target} values occur among {tables} with {column} {value} but never among "
        "{tables} with {column2} {value2}?",
        "List the {target} of {tables} whose {column} is {value}, excluding those of {tables} "
        "whose {column2} is {value2}.",
    ),
}


def natural_name(identifier: str) -> str:
    """An identifier as lower-case words: underscores, dashes and camelCase become spaces."""
    spaced = _CAMEL_BREAK.sub(" ", identifier)
    return _SEPARATORS.sub(" ", spaced).strip().lower()


def plural(identifier: str) -> str:
    """The natural name of a table in the plural (a cheap English rule, good enough here)."""
    words = natural_name(identifier).split(" ")
    last = words[-1]
    already_plural = last.endswith("s") and not last.endswith("ss")
    if last in _UNCOUNTABLE or already_plural:
        return " ".join(words)
    if last.endswith(("ss", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join([*words[:-1], last])


def value_text(value: object) -> str:
    """A value as the question shows it: verbatim, without SQL quoting."""
    return str(value)


def verbalize(pattern: str, rng: random.Random, **slots: str) -> str:
    """One of the pattern's paraphrases, chosen by `rng`, with its slots filled."""
    template = rng.choice(TEMPLATES[pattern])
    return template.format(**slots)
