"""Schema-constrained decoding on a real (random, tiny) model: every completion keeps to the
schema's names, batching still changes nothing, and a free prompt is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from routesql.llm.constrained import NameConstraintProcessor
from routesql.llm.generator import GenerationSettings, NameConstrainedGenerator
from routesql.llm.local import TransformersGenerator
from routesql.sqlkit.names import NameChecker, NameConstraint, QuestionValues, SchemaNames

GREEDY = GenerationSettings(max_new_tokens=16)
SAMPLED = GenerationSettings(n=3, temperature=1.0, max_new_tokens=12, seed=3)

SINGERS = SchemaNames(
    {
        "singer": frozenset({"singer_id", "name", "country", "age"}),
        "concert": frozenset({"concert_id", "singer_id", "year"}),
    },
    frozenset({"singer", "concert", "singer_id", "name", "country", "age", "concert_id", "year"}),
)

# (prompt, the SQL the prompt already holds): the completion continues that SQL.
SQL_PROMPTS = [
    ("SELECT", "SELECT"),
    ("SELECT name FROM singer WHERE", "SELECT name FROM singer WHERE"),
    ("SELECT avg(age) FROM", "SELECT avg(age) FROM"),
    (
        "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE",
        "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE",
    ),
]


def _constraints() -> list[NameConstraint | None]:
    return [NameConstraint(SINGERS, lead=lead) for _, lead in SQL_PROMPTS]


def _keeps_to_schema(lead: str, completion: str) -> bool:
    """Every completion is a prefix that can still become a query on the schema's names (a row
    that reaches a dead end is ended there, so a finished row need not be a whole query)."""
    return NameChecker(SINGERS).allows(lead + completion, complete=False)


def test_the_local_backend_is_a_name_constrained_generator(tiny_generator: TransformersGenerator) -> None:
    assert isinstance(tiny_generator, NameConstrainedGenerator)


def test_constrained_greedy_completions_use_only_schema_names(tiny_generator: TransformersGenerator) -> None:
    prompts = [prompt for prompt, _ in SQL_PROMPTS]
    free = tiny_generator.generate(prompts, GREEDY)
    # The random model writes names outside the schema when left alone, so the check can fail.
    assert not all(_keeps_to_schema(lead, row[0]) for (_, lead), row in zip(SQL_PROMPTS, free))
    constrained = tiny_generator.generate_constrained(prompts, GREEDY, _constraints())
    for (_, lead), row in zip(SQL_PROMPTS, constrained):
        assert _keeps_to_schema(lead, row[0]), (lead, row[0])
    assert any(row[0].strip() for row in constrained), "nothing was generated, so nothing was checked"
    assert constrained != free


@pytest.mark.parametrize("batch_size", [1, 3])
def test_constrained_batches_equal_one_prompt_at_a_time(tiny_lm_dir: Path, batch_size: int) -> None:
    prompts = [prompt for prompt, _ in SQL_PROMPTS]
    alone = TransformersGenerator.load(tiny_lm_dir, batch_size=1, device="cpu")
    reference = [alone.generate_constrained([p], GREEDY, [c])[0] for p, c in zip(prompts, _constraints())]
    batched = TransformersGenerator.load(tiny_lm_dir, batch_size=batch_size, device="cpu")
    assert batched.generate_constrained(prompts, GREEDY, _constraints()) == reference


def test_constrained_samples_use_only_schema_names(tiny_generator: TransformersGenerator) -> None:
    prompts = [prompt for prompt, _ in SQL_PROMPTS]
    samples = tiny_generator.generate_constrained(prompts, SAMPLED, _constraints())
    for (_, lead), row in zip(SQL_PROMPTS, samples):
        assert len(row) == SAMPLED.n
        for completion in row:
            assert _keeps_to_schema(lead, completion), (lead, completion)


def test_prompts_without_a_constraint_are_left_free(tiny_generator: TransformersGenerator) -> None:
    prompts = [prompt for prompt, _ in SQL_PROMPTS]
    free = tiny_generator.generate(prompts, GREEDY)
    mixed = tiny_generator.generate_constrained(prompts, GREEDY, [None, *_constraints()[1:]])
    assert mixed[0] == free[0]


def test_the_first_line_can_be_left_free(tiny_generator: TransformersGenerator) -> None:
    """A noise-correction answer starts with its verdict line; only what follows is SQL."""
    prompt = "Question: How many singers are there?\nSQL:"
    free = tiny_generator.generate([prompt], GREEDY)[0][0]
    skipping = tiny_generator.generate_constrained([prompt], GREEDY, [NameConstraint(SINGERS, after_first_line=True)])
    first_line = skipping[0][0].split("\n", 1)[0]
    assert free.startswith(first_line)  # the verdict line is the model's own, untouched


def test_constraints_must_match_the_prompts(tiny_generator: TransformersGenerator) -> None:
    with pytest.raises(ValueError, match="1 constraints for 2 prompts"):
        tiny_generator.generate_constrained(["SELECT", "SELECT"], GREEDY, [None])


def _step(
    generator: TransformersGenerator, done_sql: str, favourite: int, constraint: NameConstraint | None = None
) -> tuple[NameConstraintProcessor, int]:
    """One decoding step after `done_sql`, with `favourite` the model's best token by far."""
    constraint = constraint or NameConstraint(SINGERS)
    tokenizer = generator.tokenizer
    prompt = tokenizer("Q:")["input_ids"]
    ids = torch.tensor([prompt + tokenizer(done_sql, add_special_tokens=False)["input_ids"]])
    scores = torch.zeros(1, len(tokenizer))
    scores[0, favourite] = 10.0
    processor = NameConstraintProcessor(tokenizer, [constraint], len(prompt), {tokenizer.eos_token_id}, sampling=False)
    return processor, int(processor(ids, scores).argmax())


def test_a_cut_off_name_cannot_end_the_query(tiny_generator: TransformersGenerator) -> None:
    eos = tiny_generator.tokenizer.eos_token_id
    processor, chosen = _step(tiny_generator, "SELECT name FROM sing", favourite=eos)
    assert chosen != eos
    assert NameChecker(SINGERS).allows("SELECT name FROM sing" + tiny_generator.tokenizer.decode([chosen]), False)
    assert processor.vetoed >= 1 and processor.dead_ends == 0


def test_whitespace_does_not_follow_whitespace(tiny_generator: TransformersGenerator) -> None:
    """A row that may not end yet would otherwise pad itself with blank lines to the token limit."""
    tokenizer = tiny_generator.tokenizer
    (newline,) = tokenizer("\n", add_special_tokens=False)["input_ids"]
    _, first = _step(tiny_generator, "SELECT name FROM singer", favourite=newline)
    assert first == newline
    _, second = _step(tiny_generator, "SELECT name FROM singer\n", favourite=newline)
    assert not tokenizer.decode([second]).isspace()
    _, in_a_string = _step(tiny_generator, "SELECT name FROM singer WHERE country = 'New\n", favourite=newline)
    assert in_a_string == newline  # inside quotes whitespace is the value's own


def test_a_piece_that_ends_an_unfinished_word_is_refused(tiny_generator: TransformersGenerator) -> None:
    tokenizer = tiny_generator.tokenizer
    where = tokenizer(" WHERE", add_special_tokens=False)["input_ids"][0]
    _, chosen = _step(tiny_generator, "SELECT name FROM sing", favourite=where)
    assert chosen != where
    assert NameChecker(SINGERS).allows("SELECT name FROM sing" + tokenizer.decode([chosen]), False)


def test_a_dead_end_ends_the_row(tiny_generator: TransformersGenerator) -> None:
    eos = tiny_generator.tokenizer.eos_token_id
    bos = tiny_generator.tokenizer.bos_token_id
    processor, chosen = _step(tiny_generator, "SELECT name FROM nowhere WHERE", favourite=bos)
    assert chosen == eos
    assert processor.dead_ends == 1


def test_values_constrained_completions_hold_only_the_questions_values(tiny_generator: TransformersGenerator) -> None:
    """A random model writes any string or number after `=`; held to the question's values it
    can only copy them (or end the row at a dead end)."""
    values = QuestionValues.of("Which singers from France are older than 42?")
    leads = [
        "SELECT name FROM singer WHERE country = '",
        "SELECT name FROM singer WHERE age > ",
        "SELECT name FROM singer WHERE country = 'Fr",
    ]
    settings = GenerationSettings(max_new_tokens=12)
    constraints = [NameConstraint(SINGERS, lead=lead, values=values) for lead in leads]
    constrained = tiny_generator.generate_constrained(leads, settings, constraints)
    checker = NameChecker(SINGERS, values)
    for lead, row in zip(leads, constrained):
        assert checker.allows(lead + row[0], complete=False), (lead, row[0])
    assert any(row[0] for row in constrained), "every row ended at once, so nothing was checked"
    free = tiny_generator.generate(leads, settings)
    assert not all(checker.allows(lead + row[0], complete=False) for lead, row in zip(leads, free))


@pytest.mark.parametrize(
    ("done_sql", "may_end"),
    [
        ("SELECT T1.name FROM singer", False),  # T1 is not bound yet
        ("SELECT name FROM singer WHERE age >", False),
        ("SELECT T1.name FROM singer AS T1", True),
        ("SELECT name FROM singer WHERE age > 3", True),
    ],
)
def test_a_query_ends_only_where_it_compiles(
    tiny_generator: TransformersGenerator, tmp_path: Path, done_sql: str, may_end: bool
) -> None:
    from routesql.db.compiles import SchemaCompiler
    from routesql.db.schema import read_schema
    from support import make_sqlite

    db = make_sqlite(
        tmp_path / "singers.sqlite",
        "CREATE TABLE singer (singer_id INTEGER, name TEXT, country TEXT, age INT);"
        "CREATE TABLE concert (concert_id INTEGER, singer_id INT, year INT);",
    )
    constraint = NameConstraint(SINGERS, compiles=SchemaCompiler(read_schema(db, 0)).compiles)
    eos = tiny_generator.tokenizer.eos_token_id
    _, chosen = _step(tiny_generator, done_sql, favourite=eos, constraint=constraint)
    assert (chosen == eos) is may_end
    _, unchecked = _step(tiny_generator, done_sql, favourite=eos, constraint=NameConstraint(SINGERS))
    assert (unchecked == eos) is (done_sql != "SELECT name FROM singer WHERE age >")  # names alone let T1 end


def test_the_fast_decoder_gives_the_tokenizers_text(tiny_generator: TransformersGenerator) -> None:
    from routesql.llm.constrained import text_decoder

    tokenizer = tiny_generator.tokenizer
    decode = text_decoder(tokenizer)
    draw = torch.Generator().manual_seed(0)
    specials = sorted(tokenizer.all_special_ids)
    for length in (0, 1, 3, 17, 60):
        ids = torch.randint(0, len(tokenizer), (length,), generator=draw).tolist() + specials[:1]
        assert decode(ids) == tokenizer.decode(ids, skip_special_tokens=True)
