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
from routesql.evaluate import check_prompt_version, evaluate_dev
from routesql.mcp import MCPSettings
from routesql.tasks.templates import TEMPLATE_VERSION
from support import PETS_SCRIPT, make_sqlite

DEV = [
    ("How many pets are there?", "SELECT count(*) FROM pet", "SELECT count(*) FROM pet"),
    ("List the names of owners in Lyon.", "SELECT name FROM owner WHERE city = 'Lyon'", "SELECT name FROM owner WHERE city = 'Lyon'"),
    ("What kinds of pets are there?", "SELECT DISTINCT kind FROM pet", "SELECT kind FROM pets"),
    ("Which owner has the oldest pet?", "SELECT T1.name FROM owner AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id ORDER BY T2.age DESC LIMIT 1",
     "SELECT name FROM owner WHERE city = 'Oslo'"),
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


def test_rescoring_evaluate_predictions_gives_the_same_ex(tmp_path: Path) -> None:
    make_sqlite(tmp_path / "bench/database/pets/pets.sqlite", PETS_SCRIPT)
    (tmp_path / "bench/dev.json").write_text(json.dumps([{"db_id": "pets", "question": q, "query": g} for q, g, _ in DEV]))
    (tmp_path / "bench/train_spider.json").write_text("[]")
    bench = load_benchmark(tmp_path / "bench", "dev")
    settings = MCPSettings(noise_correction=False, continuation=False)
    metrics = evaluate_dev(bench, TableGenerator(), settings, tmp_path / "eval", "route-v1", progress=False)
    assert metrics["ex"] == 0.5 and metrics["n_scored"] == 4
    report = tmp_path / "rescored.json"
    result = CliRunner().invoke(app, ["score", "--data", str(tmp_path / "bench"), "--pred",
                                      str(tmp_path / "eval/predictions.sql"), "--out", str(report), "--workers", "1"])
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


CHAT = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>"


def _save_tokenizer(folder: Path, chat_template: str | None) -> None:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<eos>": 1}, "<unk>")),
                                        unk_token="<unk>", eos_token="<eos>")
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
    (f"{TEMPLATE_VERSION}/compact/{_chat_format()}", "compact", CHAT.replace("<assistant>", "<bot>"), True),  # another template
]


@pytest.mark.parametrize(("trained", "style", "chat_template", "refused"), PROMPT_VERSION_CASES)
def test_a_model_runs_only_with_the_prompts_it_was_trained_on(tmp_path: Path, trained: str, style: str,
                                                              chat_template: str | None, refused: bool) -> None:
    (tmp_path / "routesql.json").write_text(json.dumps({"template_version": trained}))
    _save_tokenizer(tmp_path / "merged", chat_template)
    if refused:
        with pytest.raises(InputError, match="schema style"):
            check_prompt_version(tmp_path, style)
    else:
        assert check_prompt_version(tmp_path, style) == trained
