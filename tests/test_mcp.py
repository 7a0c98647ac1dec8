"""MCP pipeline logic with a scripted generator: batching, keep rules, bad input."""

import re
from pathlib import Path

import pytest

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.mcp.pipeline import MCPPipeline
from routesql.mcp.registry import MCP_STEPS
from routesql.mcp.settings import MCPSettings
from routesql.mcp.work import MCPQuestion
from support import ROUTE_STEPS, mcp_with


class ScriptedGenerator:
    """Answers each prompt by its task and question from a table; records every batch it gets."""

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        self.answers = answers
        self.batches: list[int] = []

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.batches.append(len(prompts))
        out = []
        for prompt in prompts:
            task = re.search(r"-- Task: (\w+)", prompt).group(1)
            question = re.search(r"-- Question: (.*)", prompt).group(1)
            if task == "say" and "-- Execution error" in prompt:
                task = "say_error"
            out.append([self.answers.get((task, question), "")] * settings.n)
        return out


QUESTIONS = {
    "q_good": "SELECT name FROM owner WHERE city = 'Lyon'",
    "q_fixable": "SELECT count(*) FROM pet",
    "q_bad_fix": "SELECT kind FROM pet",
    "q_write": "SELECT 1",
    "q_nosql": "SELECT 1",
    "q_continue": "SELECT kind FROM pet",
    "q_continue_empty": "SELECT kind FROM pet WHERE age > 100",
    "q_second_look": "SELECT kind FROM pet",
}

ANSWERS = {
    ("write", "q_good"): QUESTIONS["q_good"],
    ("list", "q_good"): "owner: city, name",
    ("write", "q_fixable"): "SELECT count(*) FROM pets",  # unknown table → error
    ("say_error", "q_fixable"): "incorrect\nSELECT count(*) FROM pet",  # correction of failing SQL executes → kept
    ("write", "q_second_look"): "SELECT kind FROM pet",  # runs, so a correction needs a second look
    ("say", "q_second_look"): "incorrect\nSELECT count(*) FROM pet",  # executes, but the second look
    # (same answer) rejects it → dropped
    ("write", "q_bad_fix"): "SELECT kind FROM pet WHERE age > 100",
    ("say", "q_bad_fix"): "incorrect\nSELECT kind FROM nowhere",  # correction fails → dropped
    ("write", "q_continue"): "SELECT kind FROM pets",  # errors; the checker calls it correct
    ("say_error", "q_continue"): "correct\nSELECT kind FROM pets",
    ("complete", "q_continue"): "kind FROM pet",  # returns rows → kept
    ("write", "q_continue_empty"): "SELECT kind FROM pets",
    ("complete", "q_continue_empty"): "kind FROM pet WHERE age > 100",  # no rows → dropped
    ("write", "q_write"): "DELETE FROM pet",
    ("write", "q_nosql"): "I am not sure.",
}


@pytest.fixture()
def questions(pets_db: Path, tmp_path: Path) -> list[MCPQuestion]:
    qs = [MCPQuestion(q, q, pets_db) for q in QUESTIONS]
    qs.append(MCPQuestion("missing_db", "q_good", tmp_path / "nope.sqlite"))
    qs.append(MCPQuestion("empty", "  ", pets_db))
    return qs


def test_each_step_is_one_batched_call_and_bad_input_does_not_stop_the_run(questions) -> None:
    generator = ScriptedGenerator(ANSWERS)
    traces = {t.id: t for t in MCPPipeline(generator, mcp_with(*ROUTE_STEPS)).run(questions)}
    assert traces["missing_db"].error.startswith("database not found")
    assert traces["empty"].error == "empty question"
    assert traces["q_good"].final == QUESTIONS["q_good"]
    assert traces["q_fixable"].steps["reduced"] == "SELECT count(*) FROM pets"
    assert traces["q_fixable"].final == "SELECT count(*) FROM pet"
    assert traces["q_nosql"].error == "the model's answers contained no SQL"
    assert traces["q_write"].steps["draft"] == ""  # DELETE is not SQL we extract a SELECT from
    # one call per step: draft, schema linking, reduced generation, correction, its second look,
    # continuation
    assert len(generator.batches) == 6
    assert generator.batches[0] == len(QUESTIONS)


def test_a_correction_that_does_not_execute_is_dropped(questions) -> None:
    traces = {
        t.id: t
        for t in MCPPipeline(ScriptedGenerator(ANSWERS), mcp_with("schema_linking", "noise_correction")).run(questions)
    }
    assert traces["q_bad_fix"].notes["verdict"] == "incorrect"
    assert traces["q_bad_fix"].final == "SELECT kind FROM pet WHERE age > 100"
    assert "correction" not in traces["q_bad_fix"].notes  # never got to the second look


def test_a_correction_of_sql_that_runs_is_kept_only_when_the_second_look_accepts_it(questions) -> None:
    traces = {
        t.id: t
        for t in MCPPipeline(ScriptedGenerator(ANSWERS), mcp_with("schema_linking", "noise_correction")).run(questions)
    }
    assert traces["q_fixable"].notes["correction"] == "kept"  # its SQL failed: no second look needed
    assert traces["q_fixable"].final == "SELECT count(*) FROM pet"
    assert traces["q_second_look"].notes["verdict"] == "incorrect"
    assert traces["q_second_look"].notes["correction"].startswith("dropped")
    assert traces["q_second_look"].final == "SELECT kind FROM pet"


@pytest.mark.parametrize(
    ("second_look", "final"),
    [
        ("correct", "SELECT count(*) FROM pet"),
        ("incorrect\nSELECT 1", "SELECT kind FROM pet"),
        ("no idea", "SELECT kind FROM pet"),
    ],
)
def test_the_second_look_decides(pets_db: Path, second_look: str, final: str) -> None:
    class Judging(ScriptedGenerator):
        def generate(self, prompts, settings):
            self.batches.append(len(prompts))
            out = []
            for p in prompts:
                if "Task: write" in p:
                    out.append(["SELECT kind FROM pet"])
                elif "SQL to check:\nSELECT count(*)" in p:
                    assert settings.stop == ("\n",)  # only the verdict line is read
                    out.append([second_look])
                else:
                    out.append(["incorrect\nSELECT count(*) FROM pet"])
            return out

    settings = mcp_with("noise_correction")
    trace = MCPPipeline(Judging({}), settings).run([MCPQuestion("j", "how many pets", pets_db)])[0]
    assert trace.final == final


def test_continuation_is_kept_only_when_it_returns_rows(questions) -> None:
    traces = {t.id: t for t in MCPPipeline(ScriptedGenerator(ANSWERS), mcp_with(*ROUTE_STEPS)).run(questions)}
    assert traces["q_continue"].notes["continued"] == "kept"
    assert traces["q_continue"].final == "SELECT kind FROM pet"
    assert traces["q_continue_empty"].notes["continued"] == "dropped"
    assert traces["q_continue_empty"].final == "SELECT kind FROM pets"
    assert "continued" not in traces["q_good"].notes  # executes on 1 table: no continuation


@pytest.mark.parametrize(
    ("setting", "calls"),
    [
        # without links there is no reduced schema, and greedy on the same prompt would repeat the draft
        (mcp_with(), 1),
        (mcp_with("schema_linking"), 3),
        (mcp_with("schema_linking", "noise_correction"), 5),
    ],
)
def test_steps_can_be_switched_off(questions, setting: MCPSettings, calls: int) -> None:
    generator = ScriptedGenerator(ANSWERS)
    MCPPipeline(generator, setting).run(questions)
    assert len(generator.batches) == calls


class TaskRecorder(ScriptedGenerator):
    """Also records the task of each batch's first prompt (the order steps ran in)."""

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        super().__init__(answers)
        self.tasks: list[str] = []

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.tasks.append(re.search(r"-- Task: (\w+)", prompts[0]).group(1))
        return super().generate(prompts, settings)


@pytest.mark.parametrize(
    ("steps", "tasks", "labels"),
    [
        (
            ("noise_correction", "continuation"),
            ["write", "say", "say", "complete"],
            ["draft", "corrected", "continued"],
        ),
        (
            ("continuation", "noise_correction"),
            ["write", "complete", "say", "say"],
            ["draft", "continued", "corrected"],
        ),
        (("continuation",), ["write", "complete"], ["draft", "continued"]),
    ],
)
def test_steps_run_in_the_order_mcp_steps_lists_them(
    questions, steps: tuple[str, ...], tasks: list[str], labels: list[str]
) -> None:
    generator = TaskRecorder(ANSWERS)
    traces = {t.id: t for t in MCPPipeline(generator, mcp_with(*steps)).run(questions)}
    assert generator.tasks == tasks  # "say" twice: the correction, then its second look
    assert list(traces["q_good"].steps) == labels == list(mcp_with(*steps).labels)


def test_a_registered_step_runs_where_mcp_steps_puts_it(questions, monkeypatch: pytest.MonkeyPatch) -> None:
    class Shout:
        name, label = "shout", "shouted"

        def run(self, pipeline, work, traces) -> None:
            for i, w in work.items():
                w.sql = w.sql.upper()
                traces[i].notes["shout"] = "done"

    monkeypatch.setitem(MCP_STEPS, "shout", Shout())
    traces = {t.id: t for t in MCPPipeline(ScriptedGenerator(ANSWERS), mcp_with("shout")).run(questions)}
    good = traces["q_good"]
    assert list(good.steps) == ["draft", "shouted"]
    assert good.final == good.steps["shouted"] == QUESTIONS["q_good"].upper() and good.notes["shout"] == "done"


@pytest.mark.parametrize(
    ("steps", "samples", "message"),
    [
        (
            ("linking",),
            1,
            "mcp.steps: unknown step 'linking' (known: schema_linking, self_consistency, noise_correction, continuation)",
        ),
        (("continuation", "continuation"), 1, "mcp.steps: a step is listed twice: ['continuation', 'continuation']"),
        (("self_consistency",), 1, "mcp.self_consistency: the self_consistency step needs 2 or more samples, got 1"),
        ((), 4, "mcp.self_consistency: 4 samples, but self_consistency is not in mcp.steps (add it)"),
    ],
)
def test_steps_that_cannot_run_are_one_clear_error(steps: tuple[str, ...], samples: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        MCPSettings(steps=steps, self_consistency=samples)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("saved", "steps"),
    [
        # saved before mcp.steps: one switch per step, voting inside the regeneration after linking
        ({"schema_linking": True, "noise_correction": False, "continuation": True}, ("schema_linking", "continuation")),
        (
            {"schema_linking": True, "noise_correction": True, "continuation": False, "self_consistency": 3},
            ("schema_linking", "self_consistency", "noise_correction"),
        ),
        ({"schema_linking": False, "continuation": True, "self_consistency": 3}, ("self_consistency", "continuation")),
        ({"schema_linking": False, "noise_correction": False, "continuation": False}, ()),
        ({"steps": ["noise_correction"], "self_consistency": 1}, ("noise_correction",)),
    ],
)
def test_a_registered_model_s_saved_settings_load(saved: dict, steps: tuple[str, ...]) -> None:
    assert MCPSettings.from_saved({**saved, "seed": 3}) == MCPSettings(
        steps=steps, self_consistency=saved.get("self_consistency", 1), seed=3
    )


def test_self_consistency_votes_by_execution_result(pets_db: Path) -> None:
    class Voting(ScriptedGenerator):
        def generate(self, prompts, settings):
            if settings.n == 1:
                return [["SELECT name FROM owner"] for _ in prompts]
            votes = ["SELECT count(*) FROM pet", "SELECT count(id) FROM pet", "SELECT 7", "SELECT count(*) FROM pet"]
            return [votes[: settings.n] for _ in prompts]

    settings = mcp_with("self_consistency", self_consistency=4)
    trace = MCPPipeline(Voting({}), settings).run([MCPQuestion("v", "how many pets", pets_db)])[0]
    assert trace.final == "SELECT count(*) FROM pet"


class ConstrainedScriptedGenerator(ScriptedGenerator):
    """A scripted generator that can also take name constraints; records what each call got."""

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        super().__init__(answers)
        self.constrained_calls: list[tuple[str, list]] = []

    def generate_constrained(self, prompts, settings, constraints):
        task = re.search(r"-- Task: (\w+)", prompts[0]).group(1)
        self.constrained_calls.append((task, list(constraints)))
        return self.generate(prompts, settings)


def test_sql_steps_are_held_to_the_names_their_prompt_shows(questions) -> None:
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS)).run(questions)
    calls = dict(generator.constrained_calls)
    # draft (write, full schema), reduced (write), correction (say), continuation (complete);
    # schema linking answers are not SQL and stay free.
    assert [task for task, _ in generator.constrained_calls] == ["write", "write", "say", "complete"]
    assert len(generator.batches) == 6  # the second look at corrections reads a verdict: not constrained
    draft = generator.constrained_calls[0][1][0]
    assert draft.names.tables == frozenset({"owner", "pet"})
    reduced_good = generator.constrained_calls[1][1][0]  # q_good is linked to owner only
    assert reduced_good.names.tables == frozenset({"owner"})
    assert all(c.after_first_line for c in calls["say"])
    assert all(c.lead == "SELECT " for c in calls["complete"])


def test_constraints_can_be_switched_off(questions) -> None:
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS, constrain_names=False)).run(questions)
    assert generator.constrained_calls == []
    assert len(generator.batches) == 6


def test_each_question_constrains_values_to_its_own_text(questions) -> None:
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS)).run(questions)
    draft = generator.constrained_calls[0][1]
    assert draft[0].values.text == "q_good" and draft[1].values.text == "q_fixable"
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS, constrain_values=False)).run(questions)
    assert all(c.values is None for _, calls in generator.constrained_calls for c in calls)


@pytest.mark.parametrize(
    ("draft", "on_reduced", "kept"),
    [
        ("SELECT name FROM owner", "SELECT name FROM owners", "SELECT name FROM owner"),  # draft runs, reduced fails
        ("SELECT name FROM owner", "SELECT city FROM owner", "SELECT city FROM owner"),  # both run: reduced wins
        ("SELECT name FROM owners", "SELECT nam FROM owner", "SELECT nam FROM owner"),  # both fail: reduced wins
    ],
)
def test_a_reduced_schema_sql_that_fails_does_not_replace_a_draft_that_runs(
    pets_db: Path, draft: str, on_reduced: str, kept: str
) -> None:
    class TwoSchemas(ScriptedGenerator):
        def generate(self, prompts, settings):
            self.batches.append(len(prompts))
            # the reduced prompt shows owner alone (the links name only owner)
            return [
                [(draft if "pet" in p.split("-- SQL")[0] else on_reduced) if "Task: write" in p else "owner: name"]
                for p in prompts
            ]

    settings = mcp_with("schema_linking")
    trace = MCPPipeline(TwoSchemas({}), settings).run([MCPQuestion("r", "names of owners", pets_db)])[0]
    assert trace.steps["draft"] == draft
    assert trace.final == kept
    assert ("reduced" in trace.notes) is (kept == draft)


def test_sql_steps_may_end_only_where_the_sql_compiles_unless_switched_off(questions) -> None:
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS)).run(questions)
    draft = generator.constrained_calls[0][1][0]  # q_good on the full schema
    assert draft.compiles("SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id")
    assert not draft.compiles("SELECT T1.name FROM owner")
    reduced = generator.constrained_calls[1][1][0]  # q_good's reduced schema shows owner alone
    assert reduced.compiles("SELECT name FROM owner") and not reduced.compiles("SELECT kind FROM pet")
    generator = ConstrainedScriptedGenerator(ANSWERS)
    MCPPipeline(generator, mcp_with(*ROUTE_STEPS, compile_check=False)).run(questions)
    assert all(c.compiles is None for _, calls in generator.constrained_calls for c in calls)


def test_without_usable_links_the_draft_stays_and_is_not_regenerated(pets_db: Path) -> None:
    class Counting(ScriptedGenerator):
        def generate(self, prompts, settings):
            self.batches.append(len(prompts))
            return [["SELECT name FROM owner" if "Task: write" in p else links] for p in prompts]

    settings = mcp_with("schema_linking")
    questions = [MCPQuestion("q", "names of owners", pets_db)]
    links = "not a list of links"
    generator = Counting({})
    trace = MCPPipeline(generator, settings).run(questions)[0]
    assert trace.steps["reduced"] == trace.steps["draft"] == "SELECT name FROM owner"
    assert generator.batches == [1, 1]  # draft and linking only
    links = "owner: name"
    generator = Counting({})
    MCPPipeline(generator, settings).run(questions)
    assert generator.batches == [1, 1, 1]  # the reduced schema is generated on


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT name FROM owner WHERE city = 'Lyon' AND", "SELECT name FROM owner WHERE city = 'Lyon'"),
        ("SELECT name, FROM owner", ""),  # "SELECT name" names no table: nothing compiles
        (
            "SELECT count(*) FROM pet WHERE age > 1 GROUP BY kind ORDER",
            "SELECT count(*) FROM pet WHERE age > 1 GROUP BY kind",
        ),
        ("SELECT name FROM owner WHERE city = 'Ly on' OR", "SELECT name FROM owner WHERE city = 'Ly on'"),
        ("SELECT nme FROM owner", ""),
    ],
)
def test_the_longest_compiling_prefix(pets_db: Path, sql: str, expected: str) -> None:
    from routesql.db.compiles import SchemaCompiler
    from routesql.db.schema import read_schema
    from routesql.mcp.work import longest_compiling_prefix

    compiler = SchemaCompiler(read_schema(pets_db))
    assert longest_compiling_prefix(sql, compiler.compiles) == expected


def test_a_draft_cut_off_mid_statement_is_trimmed_to_where_it_compiles(pets_db: Path) -> None:
    generator = ScriptedGenerator({("write", "owners in Lyon"): "SELECT name FROM owner WHERE city = 'Lyon' AND"})
    settings = mcp_with()
    trace = MCPPipeline(generator, settings).run([MCPQuestion("q", "owners in Lyon", pets_db)])[0]
    assert trace.final == "SELECT name FROM owner WHERE city = 'Lyon'"
    assert "trimmed" in trace.notes
    off = MCPPipeline(generator, mcp_with(compile_check=False)).run([MCPQuestion("q", "owners in Lyon", pets_db)])[0]
    assert off.final == "SELECT name FROM owner WHERE city = 'Lyon' AND"


class TokenCounting(ScriptedGenerator):
    """A generator whose tokenizer counts `per_char` tokens a character (the local backend counts
    with its model's tokenizer)."""

    def __init__(self, per_char: int) -> None:
        super().__init__({})
        self.per_char = per_char
        self.tasks: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.per_char * len(text)

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.tasks.extend(re.search(r"-- Task: (.*)", prompt).group(1)[:14] for prompt in prompts)
        return super().generate(prompts, settings)


@pytest.mark.parametrize(
    ("per_char", "linking"),
    [
        (0, "list the table"),  # the schema fits the budget by the model's count: linked whole
        (1000, "part 1 of 2 of"),  # it does not: LR-SQL's slices (owner, pet), one per table
    ],
)
def test_the_token_budget_counts_the_model_s_tokens(pets_db: Path, per_char: int, linking: str) -> None:
    """By the estimate the pets schema is far under the budget; what decides is the generator's count,
    the one synthesize cut the training slices by."""
    generator = TokenCounting(per_char)
    pipeline = MCPPipeline(generator, mcp_with("schema_linking", token_budget=400))
    pipeline.run([MCPQuestion("q", "q_good", pets_db)])
    assert pipeline.count_tokens == generator.count_tokens
    assert generator.tasks[1] == linking  # after the draft


class SliceWalk(TokenCounting):
    """Cuts the pets schema into one slice per table (owner, pet) and answers each slice `walk`;
    scores a slice answer by the table it names (`none` at 0), recording each call."""

    def __init__(self, walk: str, table_scores: dict[str, float]) -> None:
        super().__init__(per_char=1000)
        self.walk = walk
        self.table_scores = {**table_scores, "none": 0.0}
        self.scored: list[list[str]] = []

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.tasks.extend(re.search(r"-- Task: (.*)", prompt).group(1)[:14] for prompt in prompts)
        return [["SELECT name FROM owner" if "Task: write" in p else self.walk] * settings.n for p in prompts]

    def score(self, prompts: list[str], completions: list[str]) -> list[float]:
        self.scored.append(list(completions))
        return [self.table_scores[completion] for completion in completions]


@pytest.mark.parametrize(
    ("walk", "table_scores", "scorer", "links"),
    [
        ("none", {"owner": -3.0, "pet": -1.0}, True, "pet:"),  # nothing named: the best against none
        ("none", {"owner": -0.5, "pet": -4.0}, True, "owner:"),
        ("none", {"owner": 2.0, "pet": 1.0}, False, ""),  # a backend that cannot score: full schema
        ("pet", {"owner": 5.0, "pet": -9.0}, True, "pet:"),  # the walk named a table: kept, no scoring
    ],
)
def test_a_slice_walk_that_names_no_table_takes_the_one_scored_best_against_none(
    pets_db: Path, walk: str, table_scores: dict[str, float], scorer: bool, links: str
) -> None:
    generator = SliceWalk(walk, table_scores)
    pipeline = MCPPipeline(generator, mcp_with("schema_linking", token_budget=400))
    pipeline.score = generator.score if scorer else None
    trace = pipeline.run([MCPQuestion("q", "names of owners", pets_db)])[0]
    assert generator.tasks[1:3] == ["part 1 of 2 of", "part 2 of 2 of"]  # it was linked slice by slice
    assert trace.notes["links"] == links
    assert generator.scored == ([["none", "owner", "none", "pet"]] if scorer and walk == "none" else [])
