"""Which names a SQL query may use: the check behind schema-constrained decoding.

A small model learns SQL's keywords long before it learns to copy a database's names exactly: it
writes `FROM restan` for `restaurant`, or a table it memorised in training. PICARD (Scholak et
al., 2021) showed that rejecting, token by token, continuations that cannot become a valid query
fixes much of this at no training cost. This module holds a light version of that check, about
names and the few shapes around them (no full grammar): given the text generated so far, can it
still become a query whose every bare word is a keyword, a function, a table or column of the
schema, or an alias the query defines?

Context narrows the choice, as a SQL reader would:
  - right after FROM or JOIN only a table name (or `(SELECT`) may follow, and after that table a
    word, a comma or a closing parenthesis; the table must have every bare column the SELECT list
    named (unless no table has them all);
  - after FROM, a bare column must belong to a table the query reads;
  - after `q.` only a column of q's table (q a table, or an alias bound by `table AS q`); before
    the alias is bound (the SELECT list of `SELECT T1.x FROM t AS T1`) any column of the schema;
    a table named outside FROM must be such a qualifier;
  - after AS any word (it names an alias, which later words may then use);
  - elsewhere any keyword, function, table, column, bound alias or `T1`..`T99` style alias;
  - clause words (FROM, WHERE, ...) never inside a function's parentheses, parentheses balance,
    and a finished query does not end inside a string or right after an operator.

With `QuestionValues` (the question, and evidence if any) a string literal must be text the question
holds (case-insensitively; after LIKE, % wildcards aside) and a number one the question writes in digits
or words, or 0 or 1: the model copies `'Switzerland'` and `708` instead of `'Seedish'` and `7088`.
Without it, and always for "double-quoted" text (a name or a value in Spider's SQL), values are
not constrained. Back-ticks and brackets are refused. Names compare
case-insensitively, as SQLite compares them, but a word must be all lower case, all upper case or
spelt as the schema spells it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from routesql.db.schema import DatabaseSchema

SQL_WORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "group",
        "by",
        "order",
        "having",
        "limit",
        "offset",
        "join",
        "inner",
        "left",
        "outer",
        "on",
        "as",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "like",
        "between",
        "distinct",
        "all",
        "union",
        "intersect",
        "except",
        "asc",
        "desc",
        "case",
        "when",
        "then",
        "else",
        "end",
        "exists",
        "with",
        "cast",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "abs",
        "round",
        "length",
        "lower",
        "upper",
        "substr",
        "substring",
        "trim",
        "ltrim",
        "rtrim",
        "replace",
        "instr",
        "ifnull",
        "coalesce",
        "nullif",
        "iif",
        "strftime",
        "date",
        "time",
        "datetime",
        "julianday",
        "typeof",
        "total",
        "group_concat",
        "random",
        "printf",
        "char",
        "hex",
        "unicode",
        "sign",
    ]
)

# Type names (CAST(x AS REAL)) follow AS, where any word may stand. Rare keywords (CROSS, NATURAL,
# COLLATE, ESCAPE, GLOB, USING, VALUES, ...) are left out: a small model writes `cross`, `collate`
# or `float` as if they were columns, and text-to-SQL answers do without them.

# Words that start a clause: inside a function's parentheses they mean the model lost its way.
_CLAUSE_WORDS = frozenset(
    ["from", "where", "group", "order", "having", "limit", "join", "on", "union", "intersect", "except"]
)

# What may follow the table after FROM/JOIN, besides an alias.
_AFTER_SOURCE = sorted(
    ["as", "where", "group", "order", "having", "limit", "join", "inner", "left", "on", "union", "intersect", "except"]
)

# Aliases that need no definition before use: Spider-style SQL writes `SELECT T1.x ... AS T1`.
_DEFAULT_ALIAS = re.compile(r"t\d{1,2}")
_ALIAS_START = re.compile(r"t\d{0,2}")  # a default alias, or the start of one

_SQL_PUNCTUATION = frozenset("(),.*=<>!+-/%|;")

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*'?)                 # a string literal, maybe still open
    | (?P<quoted>"[^"]*"?)                         # a quoted name or value, maybe still open
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d*)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class SchemaNames:
    """The tables and columns of one schema, lower-cased, sorted for prefix lookups."""

    columns_of: dict[str, frozenset[str]]  # table → its columns
    spellings: frozenset[str] = frozenset()  # the names as the schema writes them

    @classmethod
    def of(cls, schema: DatabaseSchema) -> SchemaNames:
        spellings = {t.name for t in schema.tables} | {c for t in schema.tables for c in t.column_names}
        return cls(
            {t.name.lower(): frozenset(c.lower() for c in t.column_names) for t in schema.tables}, frozenset(spellings)
        )

    @property
    def tables(self) -> frozenset[str]:
        return frozenset(self.columns_of)

    @property
    def all_columns(self) -> frozenset[str]:
        return frozenset().union(*self.columns_of.values()) if self.columns_of else frozenset()


_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "once": "1",
    "twice": "2",
    "single": "1",
}
_QUESTION_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class QuestionValues:
    """The literal values a query may hold: those its question (and evidence) state."""

    text: str  # lower-cased
    numbers: frozenset[str]

    @classmethod
    def of(cls, *texts: str) -> QuestionValues:
        text = "\n".join(t for t in texts if t).lower()
        numbers = set(_QUESTION_NUMBER.findall(text)) | {"0", "1"}
        numbers |= {digit for word, digit in _NUMBER_WORDS.items() if re.search(rf"\b{word}\b", text)}
        # 5.0 and 5 are the same value; a question's 1,000 is written 1000
        numbers |= {n.rstrip("0").rstrip(".") for n in numbers if "." in n}
        numbers |= {n.replace(",", "") for n in re.findall(r"\d{1,3}(?:,\d{3})+", text)}
        return cls(text, frozenset(numbers))

    def allows_string(self, literal: str, pattern: bool = False) -> bool:
        """A (maybe still open) 'literal', quotes included: is its text in the question?

        The text must start where a word of the question starts and, once the literal is
        closed, end where one ends ('F' is in "female refers to sex = 'F'", not in "female"),
        except, for a LIKE `pattern`, on a side its % leaves open ('%Yo%' but not = 'Yo%').
        """
        closed = not _string_is_open(literal)
        body = literal[1:-1] if closed else literal[1:]
        body = body.replace("''", "'").lower()
        core = body.strip("%") if pattern else body
        open_start = pattern and body.startswith("%")
        open_end = not closed or (pattern and body.endswith("%"))
        at = self.text.find(core)
        while at != -1:
            end = at + len(core)
            starts_word = open_start or at == 0 or not self.text[at - 1].isalnum() or not core[:1].isalnum()
            ends_word = open_end or end == len(self.text) or not self.text[end].isalnum() or not core[-1:].isalnum()
            if starts_word and ends_word:
                return True
            at = self.text.find(core, at + 1)
        return False

    def allows_number(self, number: str, growing: bool) -> bool:
        """`growing`: the number may still gain digits (`4` of 42), or stop where it is."""
        # 5.0 is 5; only zeros after a decimal point go (10 is not 1)
        if number in self.numbers or ("." in number and number.rstrip("0").rstrip(".") in self.numbers):
            return True
        return growing and any(n.startswith(number) for n in self.numbers)


@dataclass(frozen=True)
class NameConstraint:
    """The names one prompt's completion may use, and where its SQL starts.

    `lead` is text the prompt already holds as the start of the query (a continuation prompt
    ending in ``SELECT ``); `after_first_line` skips a first line that is not SQL (the verdict
    line of a noise-correction answer).
    """

    names: SchemaNames
    lead: str = ""
    after_first_line: bool = False
    values: QuestionValues | None = None  # None: values are not constrained
    # whether a finished query compiles on the schema (routesql.db.compiles); None: not asked
    compiles: Callable[[str], bool] | None = field(default=None, compare=False)


@dataclass
class _Scan:
    """What `NameChecker.allows` knows at one point of the text."""

    previous: list[str] = field(default_factory=list)  # the last two significant tokens, lower-cased
    name_before: bool = False  # the last significant token is a name (not a keyword or value)
    aliases: dict[str, str | None] = field(default_factory=dict)  # alias → table (None: other)
    sources: set[str] = field(default_factory=set)  # tables named after FROM/JOIN so far
    in_select_list: bool = False  # between SELECT and its FROM
    selected: set[str] = field(default_factory=set)  # bare columns of that SELECT list
    parens: list[bool] = field(default_factory=list)  # open parentheses; True: a subquery's
    needs_select: bool = False  # after `FROM (` only SELECT may come
    source_named: bool = False  # the last token is the table after FROM/JOIN
    table_outside: bool = False  # the last token is a table named outside FROM (a qualifier)

    @property
    def before(self) -> str:
        return self.previous[-1] if self.previous else ""

    @property
    def after_source(self) -> bool:
        return self.before in ("from", "join")

    def copy(self) -> _Scan:
        return _Scan(
            list(self.previous),
            self.name_before,
            dict(self.aliases),
            set(self.sources),
            self.in_select_list,
            set(self.selected),
            list(self.parens),
            self.needs_select,
            self.source_named,
            self.table_outside,
        )

    def push(self, token: str, name: bool) -> None:
        self.previous = ([*self.previous, token])[-2:]
        self.name_before = name
        if not name:
            self.source_named = self.table_outside = False


@dataclass(frozen=True)
class PreparedText:
    """A text scanned up to the start of its last token (`cut`); scan is None when already invalid."""

    text: str
    cut: int
    scan: _Scan | None


class NameChecker:
    """`allows(text, complete)`: may `text` still grow into a query that uses only known names?

    `complete=False` treats a word at the very end as unfinished (it only has to be the start of
    an allowed name); `complete=True` means generation ends here, so the last word must be whole.
    """

    def __init__(self, names: SchemaNames, values: QuestionValues | None = None) -> None:
        self.names = names
        self.values = values
        self._tables = sorted(names.tables)
        self._columns = sorted(names.all_columns)
        self._columns_of = {table: sorted(columns) for table, columns in names.columns_of.items()}
        self._anywhere = sorted(SQL_WORDS | names.tables | names.all_columns)
        self._spellings = sorted(names.spellings)
        self._column_set = names.all_columns - SQL_WORDS - names.tables
        self._scoped_words: dict[frozenset[str], list[str]] = {}

    def allows(self, text: str, complete: bool) -> bool:
        return self._scan_from(_Scan(), text, 0, complete, growing=not complete)

    def prepare(self, text: str) -> PreparedText:
        """`text` scanned up to its last token, so that many continuations of it can be checked
        cheaply with `allows_after` (the last token may still grow: `di` + `sh`)."""
        return self.extend(PreparedText("", 0, _Scan()), text)

    def extend(self, prepared: PreparedText, text: str) -> PreparedText:
        """`prepare(text)` for a text that grew from `prepared.text`, scanning only what is new.

        Tokens before the old cut are whole and cannot change, so the old scan goes on from there
        (a decoder calls this once per generated token: the cost follows the new text alone).
        """
        if not text.startswith(prepared.text[: prepared.cut]):
            return self.prepare(text)
        if prepared.scan is None:
            return PreparedText(text, prepared.cut, None)  # a bad prefix stays bad
        starts = [m.start() for m in _TOKEN.finditer(text, prepared.cut)]
        cut = starts[-1] if starts else prepared.cut
        scan = prepared.scan.copy()
        # Another token follows the scanned part, so its last word is whole.
        ok = self._scan_from(scan, text[:cut], prepared.cut, complete=False, growing=False)
        return PreparedText(text, cut, scan if ok else None)

    def allows_after(self, prepared: PreparedText, piece: str, complete: bool) -> bool:
        """`allows(prepared.text + piece, complete)`, scanning only the last token and the piece."""
        if prepared.scan is None:
            return False
        return self._scan_from(
            prepared.scan.copy(), prepared.text + piece, prepared.cut, complete, growing=not complete
        )

    def _scan_from(self, scan: _Scan, text: str, start: int, complete: bool, growing: bool) -> bool:
        """Scans `text` from `start` on; `growing`: a word at the very end may still grow."""
        kind = ""
        for match in _TOKEN.finditer(text, start):
            assert match.lastgroup is not None  # every alternative of _TOKEN is a named group
            kind, value = match.lastgroup, match.group()
            if kind == "other" and value.isspace():
                if scan.before == ".":
                    return False  # `q. name`
                continue
            if kind == "other":
                if not self._punctuation_allowed(value, text, match.start(), scan):
                    return False
                continue
            if kind != "word":
                if scan.needs_select or scan.table_outside or scan.name_before or scan.before == ".":
                    return False  # a value cannot follow a name or a dot directly
                if scan.after_source:
                    return False  # FROM takes a bare table name
                if self.values is not None and not self._value_allowed(
                    kind, value, match.end() == len(text) and growing, pattern=scan.before == "like"
                ):
                    return False
                scan.push("<value>", name=False)
                continue
            word = value.lower()
            last = match.end() == len(text) and growing
            if not self._spelled_right(value, last) and scan.before != "as":
                return False
            if not self._word_allowed(word, text, match.start(), scan, last):
                return False
            self._record(word, text, match.start(), scan, last)
        if complete:
            return self._can_end(scan, kind, text)
        return True

    def _value_allowed(self, kind: str, value: str, last: bool, pattern: bool) -> bool:
        assert self.values is not None
        if kind == "string":
            return self.values.allows_string(value, pattern)
        if kind == "number":
            return self.values.allows_number(value, growing=last)
        return True

    def _can_end(self, scan: _Scan, last_kind: str, text: str) -> bool:
        if scan.parens or scan.needs_select or scan.table_outside:
            return False
        if scan.before in ("from", "join", ".", "as", "(", ",", "=", "<", ">", "!", "select", "where", "and", "or"):
            return False
        return not (last_kind in ("string", "quoted") and _last_quoted_is_open(text))

    def _punctuation_allowed(self, value: str, text: str, start: int, scan: _Scan) -> bool:
        if value not in _SQL_PUNCTUATION:
            return False  # outside quotes SQL has no other characters (a cut UTF-8 byte included)
        if scan.table_outside and value != ".":
            return False  # a table named outside FROM qualifies a column: `table.column`
        if scan.after_source and value != "(":
            return False  # FROM/JOIN take a table or a subquery
        if scan.needs_select and value != "(":
            return False  # FROM ( takes a subquery
        if scan.source_named and value not in ",);":
            return False  # `FROM t` is followed by a word, a comma or a closing parenthesis
        if value == "." and not (scan.name_before and text[start - 1 : start].strip()):
            return False  # only a name directly before a dot qualifies what follows
        if scan.before == "." and value != "*":
            return False  # after `q.` comes a column or *
        if value == ")":
            if not scan.parens:
                return False
            scan.parens.pop()
        if value == "(":
            scan.needs_select = scan.after_source or scan.needs_select
            scan.parens.append(False)
        scan.push(value, name=False)
        return True

    def _record(self, word: str, text: str, start: int, scan: _Scan, last: bool) -> None:
        """Updates the scan with a word that passed (`last`: it may still grow)."""
        qualified = scan.before == "." and text[start - 1 : start] == "."
        in_source = scan.after_source
        scan.source_named = in_source and not last
        scan.table_outside = (
            not in_source
            and not qualified
            and not last
            and scan.before != "as"
            and word in self.names.columns_of
            and word not in self._column_set
            and word not in scan.aliases
        )
        if last:
            scan.push(word, name=word not in SQL_WORDS)
            return
        if scan.before == "as":
            source = scan.previous[0] if len(scan.previous) == 2 else ""
            scan.aliases[word] = source if source in self.names.columns_of else None
        elif in_source:
            scan.sources.add(word)
            scan.selected.clear()
        elif word == "select":
            scan.in_select_list = True
            scan.selected.clear()
            scan.needs_select = False
            if scan.parens and scan.before == "(":
                scan.parens[-1] = True
        elif word == "from":
            scan.in_select_list = False
        elif scan.in_select_list and not qualified and word in self._column_set:
            scan.selected.add(word)
        scan.push(word, name=word not in SQL_WORDS)

    def _spelled_right(self, value: str, prefix_only: bool) -> bool:
        """All lower case, all upper case, or as the schema spells it (SQLite ignores case, but a
        model that writes `diSH` has lost the name it was copying)."""
        if value in (value.lower(), value.upper()):
            return True
        if prefix_only:
            at = bisect_left(self._spellings, value)
            return at < len(self._spellings) and self._spellings[at].startswith(value)
        return value in self.names.spellings

    def _word_allowed(self, word: str, text: str, start: int, scan: _Scan, last: bool) -> bool:
        if scan.table_outside:
            return False  # `table` outside FROM must be followed by `.column`
        if scan.needs_select:
            return self._matches(["select", "with"], word, last)
        if not last and word in _CLAUSE_WORDS and scan.parens and not scan.parens[-1]:
            return False  # `avg(rating FROM`
        if scan.before == "as":
            return True  # a new alias: any word
        if scan.source_named and not (self._matches(_AFTER_SOURCE, word, last) or _ALIAS_START.fullmatch(word)):
            return False  # `FROM t` goes on with AS, an alias or the next clause
        if word == "from" and scan.before in ("select", "distinct", ","):
            return False  # an empty or unfinished SELECT list
        if scan.before == "." and text[start - 1 : start] == ".":
            qualifier = scan.previous[0] if len(scan.previous) == 2 else ""
            return self._matches(self._columns_after(qualifier, scan.aliases), word, last)
        if scan.after_source:
            return self._matches(self._tables_with(scan.selected), word, last)
        if word in scan.aliases or _DEFAULT_ALIAS.fullmatch(word):
            return True
        if last and (any(a.startswith(word) for a in scan.aliases) or _ALIAS_START.fullmatch(word)):
            return True
        if scan.in_select_list or not scan.sources:
            return self._matches(self._anywhere, word, last)
        # After FROM a bare column must belong to a table the query reads.
        return self._matches(self._words_with_columns_of(frozenset(scan.sources)), word, last)

    def _tables_with(self, columns: set[str]) -> list[str]:
        """The tables that have every column of the SELECT list so far (all tables if none has)."""
        fitting = [t for t in self._tables if columns <= self.names.columns_of[t]]
        return fitting or self._tables

    def _words_with_columns_of(self, tables: frozenset[str]) -> list[str]:
        if tables not in self._scoped_words:
            columns = set().union(*(self.names.columns_of.get(t, frozenset()) for t in tables))
            self._scoped_words[tables] = sorted(SQL_WORDS | self.names.tables | columns)
        return self._scoped_words[tables]

    def _columns_after(self, qualifier: str, aliases: dict[str, str | None]) -> list[str]:
        table = aliases.get(qualifier, qualifier)
        if table in self._columns_of:
            return self._columns_of[table]
        return self._columns  # an alias not bound yet, or bound to a subquery

    @staticmethod
    def _matches(sorted_names: list[str], word: str, prefix_only: bool) -> bool:
        """`word` is one of the names, or (prefix_only) the start of one."""
        at = bisect_left(sorted_names, word)
        if at == len(sorted_names):
            return False
        found = sorted_names[at]
        return found == word or (prefix_only and found.startswith(word))


def _last_quoted_is_open(text: str) -> bool:
    """Whether the last string or quoted name of `text` still lacks its closing quote."""
    last = ""
    for match in _TOKEN.finditer(text):
        if match.lastgroup in ("string", "quoted"):
            last = match.group()
    if not last:
        return False
    if last[0] == "'":
        return _string_is_open(last)
    return len(last) < 2 or last[-1] != last[0]


def _string_is_open(literal: str) -> bool:
    """Whether a 'string literal' still lacks its closing quote ('' inside it is an escaped quote)."""
    return literal.count("'") % 2 == 1
