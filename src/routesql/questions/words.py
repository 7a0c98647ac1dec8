"""The words of the question patterns: paraphrase templates, value words and natural names.

Tables and columns are named in a question by their natural names (``hire_date`` → "hire date",
``HomeTown`` → "home town", table ``coach`` → "coaches"), and a question's wording fixes the SQL
shape ("that have a ..." → DISTINCT over a join from the parent side; "together with those
whose" → UNION; "is one of" → IN).
"""

from __future__ import annotations

import re

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


def natural_name(identifier: str) -> str:
    """An identifier as lower-case words: underscores, dashes and camelCase become spaces."""
    spaced = _CAMEL_BREAK.sub(" ", identifier)
    return _SEPARATORS.sub(" ", spaced).strip().lower()


def plural(identifier: str) -> str:
    """The natural name in the plural; a name that already is one (``Addresses``) stays."""
    words = natural_name(identifier).split(" ")
    last = words[-1]
    already_plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
    if last in _UNCOUNTABLE or already_plural:
        return " ".join(words)
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join([*words[:-1], last])


def article(identifier: str) -> str:
    return "an" if natural_name(identifier)[0] in "aeiou" else "a"
