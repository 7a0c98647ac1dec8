"""Renamed variants of the demo's training domains: many training schemas from eight.

A tiny model trained on eight schemas memorises their names and, on an unseen dev database,
writes ``FROM department`` where the prompt says ``restaurant``. Variants keep a training domain's
shape, value generators and conventions, but rename every table and column (``library`` →
``library_v3`` with tables ``tome``, ``scribe``, ``patron``, ``lending`` ...), so the only way to
get the names right is to copy them from the schema in the prompt.

Renaming is consistent inside a variant: one original column name maps to one new name in every
table (``city`` → ``town`` everywhere), a foreign key to table ``x`` becomes ``<new x>_id``, and
``id`` stays the primary key. Replacement words come from `routesql.bench.demo_words`, minus every
word of the dev databases' identifiers (computed from their definitions, in singular and plural),
so dev stays unseen. Variants are smaller than their originals (tens of rows per table), which
keeps generation fast.
"""

from __future__ import annotations

import random
from dataclasses import replace

from routesql.bench.demo_domains import (
    DEV_DOMAINS,
    TRAIN_DOMAINS,
    ColumnSpec,
    DomainSpec,
    TableSpec,
)
from routesql.bench.demo_words import COLUMN_WORDS, TABLE_WORDS
from routesql.db.schema import SQLITE_KEYWORDS
from routesql.errors import InputError
from routesql.questions.words import plural

DEFAULT_TRAIN_VARIANTS = 40  # with the 8 originals, 48 training databases
VARIANT_PAIRS_PER_DB = 80  # 40 variants → about 3200 pairs next to the originals' ~2000
DEFAULT_COINED_VARIANTS = 200  # variants named with coined words: no name is seen often enough to memorise
COINED_PAIRS_PER_DB = 25
STRUCTURAL_WORDS = frozenset({"id"})  # the key convention every schema shares, dev included
DRAWS_PER_VARIANT = 50  # redraws allowed to find table names no earlier variant of it used
# Tables the originals keep small (departments, teachers) stay at 30-50 rows; large ones
# (enrollments, sales) shrink to 60-80, still enough for groups, HAVING and NOT IN questions.
SMALL_TABLE_ROWS = (30, 50)
LARGE_TABLE_ROWS = (60, 80)
LARGE_TABLE = 100  # original row count from which a table counts as large


# --- the dev vocabulary --------------------------------------------------------------------------


def identifier_words(identifier: str) -> list[str]:
    return identifier.lower().split("_")


def word_forms(word: str) -> set[str]:
    """The word, its plural and its possible singulars ("days" → day; "calories" → calorie)."""
    forms = {word, plural(word)}
    if word.endswith("s"):
        forms.add(word[:-1])
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    return forms


def domain_identifiers(domain: DomainSpec) -> list[str]:
    """The database id and every table and column name of one domain."""
    names = [domain.db_id]
    for spec in domain.tables:
        names.append(spec.name)
        names.extend(column.name for column in spec.columns)
    return names


def dev_vocabulary(domains: tuple[DomainSpec, ...] = DEV_DOMAINS) -> frozenset[str]:
    """Every word (and its singular/plural) of the dev databases' identifiers, except ``id``."""
    words: set[str] = set()
    for domain in domains:
        for identifier in domain_identifiers(domain):
            for word in identifier_words(identifier):
                if word not in STRUCTURAL_WORDS:
                    words |= word_forms(word)
    return frozenset(words)


def is_allowed(candidate: str, excluded: frozenset[str]) -> bool:
    return not any(word_forms(word) & excluded for word in identifier_words(candidate))


# --- drawing one variant -------------------------------------------------------------------------


def column_key(column: ColumnSpec) -> str:
    """The `COLUMN_WORDS` key of a column: people's names get other words than things' names."""
    if column.name == "name" and column.gen == ("person",):
        return "person_name"
    return column.name


# Coined words: consonant-vowel syllables that end in a vowel or a soft consonant, so their
# regular plural is what `plural` builds ("kelo" → "kelos", "brandim" → "brandims").
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "t", "v", "z", "br", "dr", "gr", "kl", "pl", "st", "tr")
VOWELS = ("a", "e", "i", "o", "u")
CODAS = ("", "", "n", "r", "l", "m")


def coined_word(rng: random.Random) -> str:
    """A pronounceable non-word of 1 to 3 syllables (`brin`, `kelta`, `brandimo`)."""
    syllables = rng.choice((1, 2, 2, 2, 3))
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))


class _CoinedDraw:
    """Draws coined names: a table gets one word, a column one word or two (``vendo_kral``)."""

    def __init__(self, rng: random.Random, excluded: frozenset[str], db_id: str) -> None:
        self.rng = rng
        self.excluded = excluded
        self.used: set[str] = set()

    def _word(self) -> str:
        while True:
            word = coined_word(self.rng)
            if word not in self.used and word.upper() not in SQLITE_KEYWORDS and is_allowed(word, self.excluded):
                self.used.add(word)
                return word

    def draw(self, pool: tuple[str, ...], key: str) -> str:
        if key in TABLE_WORDS or self.rng.random() < 0.6:
            return self._word()
        return f"{self._word()}_{self._word()}"


class _WordDraw:
    """Draws replacement words for one variant, never the same word twice."""

    def __init__(self, rng: random.Random, excluded: frozenset[str], db_id: str) -> None:
        self.rng = rng
        self.excluded = excluded
        self.db_id = db_id
        self.used: set[str] = set()

    def draw(self, pool: tuple[str, ...], key: str) -> str:
        choices = [w for w in pool if w not in self.used and is_allowed(w, self.excluded)]
        if not choices:
            raise InputError(f"demo_words[{key!r}]", f"no usable replacement left for {self.db_id}")
        word = self.rng.choice(choices)
        self.used.add(word)
        return word


def draw_names(
    domain: DomainSpec, db_id: str, rng: random.Random, excluded: frozenset[str], coined: bool = False
) -> tuple[dict[str, str], dict[str, str]]:
    """New table names by old table name and new column names by `column_key`."""
    words = (_CoinedDraw if coined else _WordDraw)(rng, excluded, db_id)
    tables = {spec.name: words.draw(TABLE_WORDS[spec.name], spec.name) for spec in domain.tables}
    columns: dict[str, str] = {}
    for spec in domain.tables:
        for column in spec.columns:
            key = column_key(column)
            if column.role not in ("id", "fk") and key not in columns:
                columns[key] = words.draw(COLUMN_WORDS[key], key)
    return tables, columns


def variant_rows(original_rows: int, rng: random.Random) -> int:
    low, high = LARGE_TABLE_ROWS if original_rows >= LARGE_TABLE else SMALL_TABLE_ROWS
    return min(original_rows, rng.randint(low, high))


def rename_domain(
    domain: DomainSpec, db_id: str, rng: random.Random, excluded: frozenset[str], coined: bool = False
) -> DomainSpec:
    """One renamed, smaller copy of `domain` under the id `db_id`."""
    tables, columns = draw_names(domain, db_id, rng, excluded, coined)

    def renamed(column: ColumnSpec) -> ColumnSpec:
        if column.role == "id":
            return column
        if column.references is not None:
            parent = tables[column.references]
            return replace(column, name=f"{parent}_id", references=parent)
        return replace(column, name=columns[column_key(column)])

    return DomainSpec(
        db_id,
        tuple(
            TableSpec(
                tables[spec.name],
                variant_rows(spec.rows, rng),
                tuple(renamed(column) for column in spec.columns),
            )
            for spec in domain.tables
        ),
    )


def _variant_slots(count: int, key: str, letter: str, seed: int) -> list[tuple[DomainSpec, str, random.Random]]:
    """(training domain, db_id, name generator) for `count` variants, round-robin over the domains.

    Variant k is ``<domain>_<letter><round>`` with its own seeded generator, so it is the same
    whatever `count` is.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InputError(key, f"must be a whole number >= 0, got {count!r}")
    slots = []
    for index in range(count):
        base = TRAIN_DOMAINS[index % len(TRAIN_DOMAINS)]
        db_id = f"{base.db_id}_{letter}{index // len(TRAIN_DOMAINS) + 1}"
        slots.append((base, db_id, random.Random(f"routesql-demo:{seed}:{db_id}:names")))
    return slots


def variant_domains(count: int = DEFAULT_TRAIN_VARIANTS, seed: int = 0) -> tuple[DomainSpec, ...]:
    """`count` renamed variants, round-robin over the training domains (``school_v1``, ...).

    A variant redraws while an earlier variant of the same domain has its exact table names.
    """
    slots = _variant_slots(count, "train_variants", "v", seed)
    excluded = dev_vocabulary()
    seen: set[tuple[str, ...]] = set()
    variants: list[DomainSpec] = []
    for base, db_id, rng in slots:
        for _ in range(DRAWS_PER_VARIANT):
            variant = rename_domain(base, db_id, rng, excluded)
            table_names = tuple(spec.name for spec in variant.tables)
            if table_names not in seen:
                break
        seen.add(table_names)
        variants.append(variant)
    return tuple(variants)


def coined_variants(count: int = DEFAULT_COINED_VARIANTS, seed: int = 0) -> tuple[DomainSpec, ...]:
    """`count` variants named with coined words, round-robin over the training domains (``school_c1``).

    Pool-word variants still repeat each word across many databases; coined names are fresh in
    every database, so the only way to write them is to copy them from the prompt, as a model
    must for the unseen dev databases.
    """
    slots = _variant_slots(count, "coined_variants", "c", seed)
    excluded = dev_vocabulary()
    return tuple(rename_domain(base, db_id, rng, excluded, coined=True) for base, db_id, rng in slots)
