"""The evaluate stage's files: re-scoring its predictions gives the same EX; the report has its figures."""

import base64
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routesql.bench.loaders import load_benchmark
from routesql.cli import app
from routesql.errors import InputError
from routesql.evaluate import check_prompt_version, evaluate_benchmarks, zero_shot_dev
from routesql.tasks.templates import TEMPLATE_VERSION
from support import PETS_SCRIPT, make_sqlite, mcp_with

DEV = [
    ("How many pets are there?", "SELECT count(*) FROM pet", "SELECT count(*) FROM pet"),
    (
        "List the names of owners in Lyon.",
        "SELECT name FROM owner WHERE city = 'Lyon'",
        "SELECT name FROM owner WHERE city = 'Lyon'",
    ),
    ("What kinds of pets are there?", "SELECT DISTINCT kind FROM pet", "SELECT kind FROM pets"),
    (
        "Which owner has the oldest pet?",
        "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id ORDER BY T2.age DESC LIMIT 1",
        "SELECT name FROM owner WHERE city = 'Oslo'",
    ),
]


class TableGenerator:
    """Answers every prompt by the question it contains, from a fixed table (a protocol test double)."""

    def generate(self, prompts, settings):
        answers = {question: answer for question, _, answer in DEV}
        out = []
        for prompt in prompts:
            question = re.search(r"-- Question: (.*)", prompt).group(1)
            out.append([answers.get(question, "")] * settings.n)
        return out


class VotesOne(TableGenerator):
    """The table's answers for drafts; `SELECT 1` for every sample a vote draws."""

    def generate(self, prompts, settings):
        if settings.n > 1:
            return [["SELECT 1"] * settings.n for _ in prompts]
        return super().generate(prompts, settings)


def test_rescoring_evaluate_predictions_gives_the_same_ex(tmp_path: Path) -> None:
    make_sqlite(tmp_path / "bench/database/pets/pets.sqlite", PETS_SCRIPT)
    (tmp_path / "bench/dev.json").write_text(
        json.dumps([{"db_id": "pets", "question": q, "query": g} for q, g, _ in DEV])
    )
    (tmp_path / "bench/train_spider.json").write_text("[]")
    bench = load_benchmark(tmp_path / "bench", "dev")
    settings = mcp_with("schema_linking")
    metrics = evaluate_benchmarks(
        {"pets": bench}, TableGenerator(), settings, tmp_path / "eval", "route-v1", progress=False
    )
    assert metrics["ex"] == 0.5 and metrics["n_scored"] == 4
    report = tmp_path / "rescored.json"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--data",
            str(tmp_path / "bench"),
            "--pred",
            str(tmp_path / "eval/predictions.sql"),
            "--out",
            str(report),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["summary"]["ex"] == metrics["ex"]

    html = (tmp_path / "eval/report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3  # EX by hardness, EX by MCP step, error categories
    from PIL import Image

    for data in images:
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.size[0] > 300 and picture.size[1] > 200
    assert "EX after each MCP step" in html and "unknown table/column" in html


def _pets_benchmark(root: Path, questions: list[tuple[str, str, str]]) -> Path:
    make_sqlite(root / "database/pets/pets.sqlite", PETS_SCRIPT)
    (root / "dev.json").write_text(json.dumps([{"db_id": "pets", "question": q, "query": g} for q, g, _ in questions]))
    (root / "train_spider.json").write_text("[]")
    return root


def test_several_benchmarks_each_get_a_column_files_and_mlflow_metrics(tmp_path: Path) -> None:
    import mlflow

    from routesql.evaluate import log_eval_metrics

    main = load_benchmark(_pets_benchmark(tmp_path / "main", DEV), "dev")
    other = load_benchmark(_pets_benchmark(tmp_path / "other", DEV[:2]), "dev")
    settings = mcp_with()
    zero_shot = {"ex": 0.25, "n_scored": 4, "by_hardness": {"easy": 0.5}, "seconds": 1.0}
    metrics = evaluate_benchmarks(
        {"pets": main, "pets_easy": other},
        TableGenerator(),
        settings,
        tmp_path / "eval",
        "route-v1",
        progress=False,
        zero_shot=zero_shot,
    )
    # The main benchmark's figures stay at the top (what registration and tuning compare).
    assert (metrics["benchmark"], metrics["ex"], metrics["n_scored"]) == ("pets", 0.5, 4)
    cells = metrics["benchmarks"]
    assert list(cells) == ["pets", "pets_easy"]
    assert [(c["format"], c["semantics"], c["ex"], c["n_scored"], c["by_step"]) for c in cells.values()] == [
        ("spider", "spider", 0.5, 4, {"draft": 0.5}),
        ("spider", "spider", 1.0, 2, {"draft": 1.0}),
    ]
    assert all(c["seconds"] >= 0 and c["breakdown"] == "hardness" for c in cells.values())
    out = tmp_path / "eval"
    assert (out / "benchmarks/pets_easy/predictions.sql").read_text().splitlines() == [g for _, _, g in DEV[:2]]
    assert json.loads((out / "benchmarks/pets_easy/metrics.json").read_text())["ex"] == 1.0
    assert json.loads((out / "benchmarks/index.json").read_text()) == cells
    assert json.loads((out / "plots/ex_by_benchmark.json").read_text()) == [
        {"benchmark": "pets", "ex": 0.5, "n": 4},
        {"benchmark": "pets_easy", "ex": 1.0, "n": 2},
    ]
    html = (out / "report.html").read_text()
    assert "EX by benchmark" in html and "<th>pets_easy</th>" in html and "zero-shot (base, 4 questions)" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 4  # + EX by benchmark

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run() as run:
        log_eval_metrics(metrics)
    logged = mlflow.get_run(run.info.run_id).data.metrics
    expected = {f"dev_ex/{name}": cell["ex"] for name, cell in cells.items()}
    expected.update(
        {
            f"dev_ex/{name}/{key}": value
            for name, cell in cells.items()
            for key, value in {**cell["by_step"], **cell["by_hardness"]}.items()
        }
    )
    assert {key: value for key, value in logged.items() if key.startswith("dev_ex/")} == expected
    # two overall, one step each (the draft), and the hardness levels present (easy + medium, easy)
    assert (expected["dev_ex/pets"], expected["dev_ex/pets_easy/draft"], len(expected)) == (0.5, 1.0, 2 + 2 + 3)


def test_score_takes_several_benchmarks_and_bird_is_scored_by_its_own_rules(tmp_path: Path) -> None:
    from support import make_minidev

    pets = _pets_benchmark(tmp_path / "pets", DEV[:2])
    mini = make_minidev(tmp_path / "MINIDEV")
    (tmp_path / "pets.sql").write_text("".join(gold + "\n" for _, gold, _ in DEV[:2]))
    # The second answer repeats every row: a match as a set of rows (BIRD), a miss as a multiset (Spider).
    (tmp_path / "mini.sql").write_text(
        "SELECT COUNT(*) FROM singer\nSELECT name FROM singer UNION ALL SELECT name FROM singer\n"
    )
    report = tmp_path / "report.json"
    args = [
        "score",
        "--data",
        f"pets={pets}",
        "--data",
        str(mini),
        "--pred",
        str(tmp_path / "pets.sql"),
        "--pred",
        str(tmp_path / "mini.sql"),
        "--out",
        str(report),
        "--workers",
        "1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    reports = json.loads(report.read_text())["benchmarks"]
    assert {name: (r["semantics"], r["summary"]["ex"]) for name, r in reports.items()} == {
        "pets": ("spider", 1.0),
        "minidev": ("bird", 1.0),
    }
    assert "EX by benchmark: pets 1.0000, minidev 1.0000" in result.output
    forced = CliRunner().invoke(app, [*args, "--semantics", "spider"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(report.read_text())["benchmarks"]["minidev"]["summary"]["ex"] == 0.5


CHAT = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"


def _save_tokenizer(folder: Path, chat_template: str | None) -> None:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<eos>": 1}, "<unk>")),
        unk_token="<unk>",
        eos_token="<eos>",
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(folder)


def _chat_format() -> str:
    from routesql.llm.prompting import prompt_format

    class WithTemplate:
        chat_template = CHAT

    return prompt_format(WithTemplate())


# (version the model was trained with, schema style asked for, the model's chat template, refused?)
PROMPT_VERSION_CASES = [
    (f"{TEMPLATE_VERSION}/compact/plain", "compact", None, False),
    (f"{TEMPLATE_VERSION}/ddl/plain", "ddl", None, False),
    (f"{TEMPLATE_VERSION}/ddl/plain", "compact", None, True),  # trained on CREATE TABLE, asked to read one-line schemas
    ("route-v0/compact/plain", "compact", None, True),  # an older template text
    (f"{TEMPLATE_VERSION}/compact/{_chat_format()}", "compact", CHAT, False),
    (f"{TEMPLATE_VERSION}/compact/plain", "compact", CHAT, True),  # trained without the chat template it now has
    (
        f"{TEMPLATE_VERSION}/compact/{_chat_format()}",
        "compact",
        CHAT.replace("<assistant>", "<bot>"),
        True,
    ),  # another template
]


@pytest.mark.parametrize(("trained", "style", "chat_template", "refused"), PROMPT_VERSION_CASES)
def test_a_model_runs_only_with_the_prompts_it_was_trained_on(
    tmp_path: Path, trained: str, style: str, chat_template: str | None, refused: bool
) -> None:
    (tmp_path / "routesql.json").write_text(json.dumps({"template_version": trained}))
    _save_tokenizer(tmp_path / "merged", chat_template)
    if refused:
        with pytest.raises(InputError, match="schema style"):
            check_prompt_version(tmp_path, style)
    else:
        assert check_prompt_version(tmp_path, style) == trained


def test_unscorable_examples_are_warned_about_once_per_benchmark(tmp_path: Path, caplog) -> None:
    root = _pets_benchmark(tmp_path / "main", DEV)
    questions = json.loads((root / "dev.json").read_text())
    questions.append({"db_id": "gone", "question": "How many?", "query": "SELECT 1"})
    (root / "dev.json").write_text(json.dumps(questions))
    settings = mcp_with("self_consistency", self_consistency=2)
    with caplog.at_level("WARNING", logger="routesql.metrics.score"):
        metrics = evaluate_benchmarks(
            {"pets": load_benchmark(root, "dev")}, VotesOne(), settings, tmp_path / "eval", "v", progress=False
        )
    assert set(metrics["by_step"]) == {"draft", "voted"}  # two steps scored (they differ), one warning
    assert metrics["by_step"]["draft"] != metrics["by_step"]["voted"]
    warnings = [r.getMessage() for r in caplog.records if "cannot be scored" in r.getMessage()]
    assert warnings == ["1 examples cannot be scored (databases or gold queries: gone)"]


@pytest.mark.parametrize(
    ("questions", "scored", "ex"),
    [
        (None, 4, 0.5),  # all: questions 0 and 1 right, 2 and 3 wrong
        (2, 2, 0.5),  # spread: questions 0 and 2 (the first two would both be right)
        (10, 4, 0.5),
    ],
)
def test_zero_shot_scores_questions_spread_over_dev(
    tmp_path: Path, questions: int | None, scored: int, ex: float
) -> None:
    bench = load_benchmark(_pets_benchmark(tmp_path, DEV), "dev")
    result = zero_shot_dev(bench, TableGenerator(), mcp_with(), progress=False, questions=questions)
    assert (result["n_scored"], result["ex"]) == (scored, ex)


class LinksPets(TableGenerator):
    """Schema links: `pet` for every question (right for 1 and 3 of DEV's gold tables); SQL as the table."""

    def generate(self, prompts, settings):
        if "-- Tables and columns:" in prompts[0]:
            return [["pet: kind"] * settings.n for _ in prompts]
        return super().generate(prompts, settings)


def test_outcomes_per_step_and_table_recall_are_written(tmp_path: Path) -> None:
    bench = load_benchmark(_pets_benchmark(tmp_path / "bench", DEV), "dev")
    zero_shot = zero_shot_dev(bench, TableGenerator(), mcp_with(), progress=False, questions=2)
    metrics = evaluate_benchmarks(
        {"pets": bench},
        LinksPets(),
        mcp_with("schema_linking"),
        tmp_path / "eval",
        "route-v1",
        progress=False,
        zero_shot=zero_shot,
    )
    outcomes = json.loads((tmp_path / "eval/outcomes.json").read_text())
    ids = [ex.id for ex in bench.examples]
    assert outcomes["ids"] == ids and outcomes["hardness"][0] == "easy"
    assert outcomes["draft"] == "1100" and outcomes["final"] == outcomes["reduced"]
    assert outcomes["zero_shot"] == {"ids": [ids[0], ids[2]], "exec_match": "10"}  # two spread questions
    assert "outcomes" not in metrics["zero_shot"]  # metrics.json keeps the figures only
    # gold tables: {pet}, {owner}, {pet}, {owner, pet}; `pet` linked each time: (1 + 0 + 1 + 1/2) / 4
    assert metrics["schema_linking"] == {"table_recall": 0.625, "n": 4}
    rows = [json.loads(line) for line in (tmp_path / "eval/predictions.jsonl").read_text().splitlines()]
    assert [row["exec_match"] for row in rows] == [c == "1" for c in outcomes["final"]]
