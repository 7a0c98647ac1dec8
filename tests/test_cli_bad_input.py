"""Every bad input to every command: exit status 2, one line on stderr, no traceback, no new file.

The commands run in-process through the console entry point (`routesql.cli.run`, what the
`routesql` script calls), from an empty project folder holding only a params file; the shared
inputs live in another folder. Both folders must be exactly as they were afterwards.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
from pathlib import Path

import pytest
import yaml

from routesql.cli import run
from support import PETS_SCRIPT, make_sqlite, write_spider_benchmark

REPO = Path(__file__).resolve().parents[1]
PETS_QUESTIONS = [("How many pets?", "SELECT count(*) FROM pet"), ("Name the owners.", "SELECT name FROM owner")]


def _params_variant(**sections: dict) -> str:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    return yaml.safe_dump(params)


def _broken_model(folder: Path, manifest: str | None, weights: bytes | None) -> None:
    """A model folder as `routesql train` exports it, broken in one place."""
    folder.mkdir(parents=True)
    if manifest is not None:
        (folder / "routesql.json").write_text(manifest)
    if weights is None:
        return
    from transformers import Qwen2ForCausalLM

    from routesql.llm.prompting import model_prompt_version
    from routesql.tasks.templates import prompt_version
    from routesql.train.settings import TinyModelSettings
    from routesql.train.tiny import tiny_config, train_tokenizer

    tokenizer = train_tokenizer(["SELECT name FROM owner WHERE city = 'Lyon'"] * 20, 300)
    settings = TinyModelSettings(
        vocab_size=300,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        intermediate_size=16,
        max_positions=64,
    )
    merged = folder / "merged"
    Qwen2ForCausalLM(tiny_config(tokenizer, settings)).save_pretrained(merged)
    tokenizer.save_pretrained(merged)
    (merged / "model.safetensors").write_bytes(weights)
    style = yaml.safe_load((REPO / "params.yaml").read_text())["schema"]["style"]
    version = model_prompt_version(prompt_version(style), tokenizer)
    (folder / "routesql.json").write_text(json.dumps({"template_version": version}))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    write_spider_benchmark(root / "bench", PETS_QUESTIONS)
    (root / "empty").mkdir()
    (root / "a_file").write_text("not a folder\n")
    (root / "ok.sql").write_text("SELECT 1\nSELECT 2\n")
    (root / "short.sql").write_text("SELECT 1\n")
    (root / "latin1.sql").write_bytes(b"SELECT 'M\xfcller'\nSELECT 1\n")
    (root / "unterminated.csv").write_text('Predict\n"SELECT 1\nSELECT 2\n')
    (root / "bad.jsonl").write_text('{"task": "text_to_sql", "prompt": \n')
    make_sqlite(root / "pets.sqlite", PETS_SCRIPT)
    (root / "empty.sqlite").write_bytes(b"")
    (root / "lfs.sqlite").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 8192\n")
    (root / "zip.sqlite").write_bytes(b"PK\x03\x04" + bytes(200))
    _broken_model(root / "model_empty", None, None)
    _broken_model(root / "model_malformed", "{not json", None)
    _broken_model(root / "model_blank", "", None)
    _broken_model(root / "model_no_version", "{}", None)
    _broken_model(root / "model_bad_weights", None, b"these are not safetensors")
    (root / "eval_empty").mkdir()
    (root / "eval_bad").mkdir()
    (root / "eval_bad" / "metrics.json").write_text("{")
    (root / "eval_ok").mkdir()
    (root / "eval_ok" / "metrics.json").write_text('{"ex": 0.5}')
    variants = {
        "bad_yaml": "data: [unclosed\n",
        "unknown_key": "data:\n  benchmrk: demo\n",
        "unknown_step": _params_variant(mcp={"steps": ["continuation", "linking"]}),
        "step_switch": "mcp:\n  schema_linking: true\n",
        "inf_timeout": _params_variant(execution={"timeout_s": float("inf")}),
        "not_utf8": None,
        "missing_bench": _params_variant(data={"benchmark": str(root / "no_such_bench")}),
        "eval_missing": _params_variant(evaluate={"benchmarks": [{"name": "dk", "path": str(root / "no_such_dk")}]}),
        "eval_bad_name": _params_variant(evaluate={"benchmarks": [{"name": "Spider DK", "path": str(root / "bench")}]}),
        "eval_twice": _params_variant(
            evaluate={
                "benchmarks": [{"name": "b", "path": str(root / "bench")}, {"name": "b", "path": str(root / "bench")}]
            }
        ),
        "eval_main_name": _params_variant(evaluate={"benchmarks": [{"name": "demo", "path": str(root / "bench")}]}),
    }
    for name, text in variants.items():
        path = root / f"params_{name}.yaml"
        if text is None:
            path.write_bytes(b"seed: \xff\xfe\n")
        else:
            path.write_text(text)
    return root


PARAMS_COMMANDS = [
    "data",
    "synthesize",
    "base",
    "train",
    "evaluate",
    "tune",
    "register",
    "promote 1",
    "serve",
    "ask 'How many pets?' --db {in}/pets.sqlite",
]
# (--params value, words the error line must hold)
BAD_PARAMS = [
    ("{in}/nope.yaml", ["nope.yaml", "not found"]),
    ("{in}", ["is a folder"]),
    ("{in}/params_bad_yaml.yaml", ["params_bad_yaml.yaml", "not valid YAML"]),
    ("{in}/params_unknown_key.yaml", ["data.benchmrk", "unknown key"]),
    ("{in}/params_unknown_step.yaml", ["params_unknown_step.yaml", "mcp.steps", "unknown step 'linking'"]),
    ("{in}/params_step_switch.yaml", ["params_step_switch.yaml", "mcp.schema_linking is replaced by mcp.steps"]),
    ("{in}/params_inf_timeout.yaml", ["execution.timeout_s"]),
    ("{in}/params_not_utf8.yaml", ["not UTF-8"]),
]

SCORE = "score --data {in}/bench --pred {in}/ok.sql --out {cwd}/report.json"
CASES: list[tuple[str, list[str]]] = [
    *[(f"{command} --params {value}", words) for command in PARAMS_COMMANDS for value, words in BAD_PARAMS],
    # score
    ("score --data {in}/nope --pred {in}/ok.sql --out {cwd}/r.json", ["nope", "not found"]),
    ("score --data {in}/a_file --pred {in}/ok.sql --out {cwd}/r.json", ["a_file"]),
    ("score --data {in}/empty --pred {in}/ok.sql --out {cwd}/r.json", ["no benchmark files"]),
    ("score --data {in}/bench --pred {in}/nope.sql --out {cwd}/r.json", ["nope.sql"]),
    ("score --data {in}/bench --pred {in}/empty --out {cwd}/r.json", ["empty"]),
    ("score --data {in}/bench --pred {in}/short.sql --out {cwd}/r.json", ["1 predictions for 2 examples"]),
    ("score --data {in}/bench --pred {in}/latin1.sql --out {cwd}/r.json", ["latin1.sql", "UTF-8"]),
    ("score --data {in}/bench --pred {in}/unterminated.csv --out {cwd}/r.json", ["unterminated.csv", "quote"]),
    ("score --data {in}/bench --pred {in}/ok.sql --out {in}/empty", ["is a folder"]),
    ("score --data {in}/bench --pred {in}/ok.sql --out {in}/a_file/r.json", ["a_file", "is a file"]),
    ("score --data {in}/bench --pred {in}/ok.sql --out /proc/routesql/r.json", ["/proc"]),
    (SCORE + " --timeout inf", ["--timeout", "finite"]),
    (SCORE + " --timeout nan", ["--timeout", "finite"]),
    (SCORE + " --timeout 0", ["--timeout", "finite"]),
    (SCORE + " --timeout -1", ["--timeout"]),
    (SCORE + " --timeout abc", ["--timeout"]),
    (SCORE + " --workers 0", ["--workers"]),
    (SCORE + " --row-cap 0", ["--row-cap"]),
    (SCORE + " --result-cap-mb inf", ["--result-cap-mb", "finite"]),
    (SCORE + " --semantics sql", ["--semantics", "sql"]),
    (SCORE + " --format sparkle", ["sparkle"]),
    (SCORE + " --split test", ["split", "test"]),
    (SCORE + " --colour blue", ["--colour"]),
    ("score --pred {in}/ok.sql --out {cwd}/r.json", ["--data"]),
    ("score --data {in}/bench --data b2={in}/bench --pred {in}/ok.sql --out {cwd}/r.json", ["2 --data", "1 --pred"]),
    (
        "score --data b={in}/bench --data b={in}/bench --pred {in}/ok.sql --pred {in}/ok.sql --out {cwd}/r.json",
        ["two benchmarks named 'b'"],
    ),
    (
        "score --data {in}/bench --data b2={in}/bench --pred {in}/ok.sql --pred {in}/short.sql --out {cwd}/r.json",
        ["1 predictions for 2 examples"],
    ),
    (
        "score --data {in}/bench --data b2={in}/bench --pred {in}/ok.sql --pred {in}/ok.sql --format spider --out {cwd}/r.json",
        ["--format", "several"],
    ),
    ("score --data {in}/bench --pred {in}/ok.sql --semantics sets --out {cwd}/r.json", ["--semantics", "sets"]),
    ("scroe", ["scroe"]),
    # check-gold
    ("check-gold --data {in}/nope", ["nope", "not found"]),
    ("check-gold --data {in}/a_file", ["a_file"]),
    ("check-gold --data {in}/bench --out {in}/empty", ["is a folder"]),
    ("check-gold --data {in}/bench --out {in}/a_file/c.json", ["a_file", "is a file"]),
    ("check-gold --data {in}/bench --timeout inf", ["--timeout", "finite"]),
    ("check-gold --data {in}/bench --split test", ["split", "test"]),
    ("check-gold --data {in}/bench --format sparkle", ["sparkle"]),
    # demo-data
    ("demo-data --out {in}/a_file", ["a_file", "is a file"]),
    ("demo-data --out {in}/a_file/demo", ["a_file", "is a file"]),
    ("demo-data --out {cwd}/demo --seed abc", ["--seed"]),
    # data
    ("data --params {in}/params_missing_bench.yaml", ["no_such_bench"]),
    ("data --examples-dir {in}/a_file/examples", ["a_file", "is a file"]),
    ("data --examples-dir {in}/a_file", ["a_file", "is a file"]),
    ("data --check-out {in}/empty", ["is a folder"]),
    ("data --eval-dir {in}/a_file", ["a_file", "is a file"]),
    ("data --params {in}/params_eval_missing.yaml", ["evaluate.benchmarks (dk)", "no_such_dk", "does not exist"]),
    ("data --params {in}/params_eval_bad_name.yaml", ["evaluate.benchmarks.0.name"]),
    ("data --params {in}/params_eval_twice.yaml", ["evaluate.benchmarks", "repeated: b"]),
    ("data --params {in}/params_eval_main_name.yaml", ["'demo'", "main benchmark"]),
    # synthesize
    ("synthesize --data {in}/nope", ["nope"]),
    ("synthesize --data {in}/bench --base {in}/nope", ["nope"]),
    ("synthesize --data {in}/bench --out {in}/a_file", ["a_file", "is a file"]),
    # base
    ("base --out {in}/a_file", ["a_file", "is a file"]),
    ("base --params {in}/params_missing_bench.yaml", ["no_such_bench"]),
    # train
    ("train --records {in}/nope.jsonl", ["nope.jsonl"]),
    ("train --records {in}/empty", ["empty"]),
    ("train --records {in}/bad.jsonl --base {in}/empty", ["empty"]),
    ("train --records {in}/bad.jsonl --base {in}/nope", ["nope"]),
    ("train --records {in}/bad.jsonl --base {in}/model_bad_weights/merged --out {in}/a_file", ["a_file", "is a file"]),
    ("train --records {in}/bad.jsonl --base {in}/model_bad_weights/merged", ["bad.jsonl", "JSON"]),
    # evaluate
    ("evaluate --model {in}/nope", ["nope"]),
    ("evaluate --model {in}/model_empty", ["model_empty", "routesql.json"]),
    ("evaluate --model {in}/model_malformed", ["model_malformed", "routesql.json"]),
    ("evaluate --model {in}/model_blank", ["model_blank", "routesql.json"]),
    ("evaluate --model {in}/model_no_version", ["model_no_version", "template_version"]),
    ("evaluate --model {in}/model_bad_weights --out {in}/a_file", ["a_file", "is a file"]),
    ("evaluate --model {in}/model_bad_weights --out {in}/a_file/eval", ["a_file", "is a file"]),
    ("evaluate --model {in}/model_bad_weights --limit -1", ["--limit"]),
    ("evaluate --model {in}/model_bad_weights --limit abc", ["--limit"]),
    (
        "evaluate --model {in}/model_bad_weights --benchmark dk={in}/nope",
        ["evaluate.benchmarks (dk)", "does not exist"],
    ),
    ("evaluate --model {in}/model_bad_weights --benchmark 'Spider DK={in}/bench'", ["Spider DK"]),
    ("evaluate --model {in}/model_bad_weights --params {in}/params_eval_missing.yaml", ["no_such_dk"]),
    ("evaluate --model {in}/model_bad_weights --base {in}/nope", ["nope"]),
    ("evaluate --model {in}/model_bad_weights --base {in}/empty", ["empty"]),
    ("evaluate --model {in}/model_bad_weights --base {in}/model_bad_weights/merged", ["data/benchmark", "not found"]),
    # ask
    ("ask 'How many pets?' --db {in}/nope.sqlite --model {in}/model_bad_weights", ["nope.sqlite", "not found"]),
    ("ask 'How many pets?' --db {in}/empty --model {in}/model_bad_weights", ["empty"]),
    ("ask 'How many pets?' --db {in}/empty.sqlite --model {in}/model_bad_weights", ["empty.sqlite", "empty"]),
    ("ask 'How many pets?' --db {in}/lfs.sqlite --model {in}/model_bad_weights", ["lfs.sqlite", "git lfs pull"]),
    ("ask 'How many pets?' --db {in}/zip.sqlite --model {in}/model_bad_weights", ["zip.sqlite", "not a SQLite"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/nope", ["nope"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/model_empty", ["model_empty", "routesql.json"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/model_malformed", ["model_malformed"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/model_blank", ["model_blank"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/model_bad_weights", ["model_bad_weights", "cannot load"]),
    ("ask 'How many pets?' --db {in}/pets.sqlite --model {in}/model_bad_weights --rows -1", ["--rows"]),
    ("ask '' --db {in}/pets.sqlite --model {in}/model_bad_weights", ["question", "empty"]),
    ("ask --db {in}/pets.sqlite", ["Missing argument", "question"]),
    # tune
    ("tune --records {in}/nope.jsonl", ["nope.jsonl"]),
    ("tune --records {in}/bad.jsonl --base {in}/nope", ["nope"]),
    (
        "tune --records {in}/bad.jsonl --base {in}/model_bad_weights/merged --work-dir {in}/a_file",
        ["a_file", "is a file"],
    ),
    ("tune --records {in}/bad.jsonl --base {in}/model_bad_weights/merged --out {in}/empty", ["is a folder"]),
    # register
    ("register --model {in}/nope", ["nope"]),
    ("register --model {in}/model_empty", ["model_empty", "routesql.json"]),
    ("register --model {in}/model_bad_weights --eval-dir {in}/nope", ["nope"]),
    ("register --model {in}/model_bad_weights --eval-dir {in}/eval_empty", ["eval_empty", "metrics.json"]),
    ("register --model {in}/model_bad_weights --eval-dir {in}/eval_bad", ["metrics.json", "JSON"]),
    ("register --model {in}/model_bad_weights --eval-dir {in}/eval_ok --out {in}/empty", ["is a folder"]),
    # promote
    ("promote abc", ["abc", "version"]),
    ("promote 0", ["0", "version"]),
    ("promote", ["Missing argument", "version"]),
    # serve
    ("serve --model {in}/nope", ["nope"]),
    ("serve --model {in}/model_blank", ["model_blank", "routesql.json"]),
    (
        "serve --model {in}/model_bad_weights --api-key-env ROUTESQL_TEST_UNSET_KEY",
        ["ROUTESQL_TEST_UNSET_KEY", "unset"],
    ),
    ("serve --model {in}/model_bad_weights --port 70000", ["--port"]),
    ("serve --model {in}/model_bad_weights --timeout inf", ["--timeout", "finite"]),
    ("serve --model {in}/model_bad_weights --max-tokens 0", ["--max-tokens"]),
]


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize(("command", "words"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    command: str,
    words: list[str],
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shlex

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "params.yaml", project / "params.yaml")
    monkeypatch.chdir(project)
    argv = [part.format(**{"in": inputs, "cwd": project}) for part in shlex.split(command)]
    monkeypatch.setattr(sys, "argv", ["routesql", *argv])
    before_project, before_inputs = _tree(project), _tree(inputs)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exited:
            run()
    finally:
        signal.signal(signal.SIGTERM, handler)
    captured = capsys.readouterr()
    # progress bars redraw with carriage returns: what is left between them is not a line of text
    lines = [line for line in captured.err.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert exited.value.code == 2, captured.err
    assert len(errors) == 1 and lines[-1] == errors[0], captured.err
    lines = errors
    assert "Traceback" not in captured.err + captured.out
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert _tree(project) == before_project
    assert _tree(inputs) == before_inputs
