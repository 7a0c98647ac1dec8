"""The transformers backend: batching never changes greedy text, seeded sampling repeats, stop
sequences cut, and base + adapter equals the merged model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.llm.local import StopOnText, TransformersGenerator

GREEDY = GenerationSettings(max_new_tokens=12)
SAMPLED = GenerationSettings(n=3, temperature=1.0, top_p=0.95, max_new_tokens=10, seed=7)


@pytest.fixture(scope="module")
def greedy_alone(tiny_generator: TransformersGenerator, prompts: list[str]) -> list[list[str]]:
    """Reference: each prompt generated on its own (no padding at all)."""
    return [tiny_generator.generate([prompt], GREEDY)[0] for prompt in prompts]


@pytest.mark.parametrize("batch_size", [2, 4, 6])
def test_batched_greedy_equals_one_prompt_at_a_time(
    tiny_lm_dir: Path, prompts: list[str], greedy_alone: list[list[str]], batch_size: int
) -> None:
    generator = TransformersGenerator.load(tiny_lm_dir, batch_size=batch_size, device="cpu")
    batched = generator.generate(prompts, GREEDY)
    assert batched == greedy_alone
    assert any(len(row[0]) > 0 for row in batched), "the model produced nothing: the comparison is empty"


def test_greedy_with_n_repeats_the_same_completion(
    tiny_generator: TransformersGenerator, prompts: list[str], greedy_alone: list[list[str]]
) -> None:
    result = tiny_generator.generate(prompts[:2], GenerationSettings(n=3, max_new_tokens=12))
    assert result == [row * 3 for row in greedy_alone[:2]]


def test_sampling_gives_n_completions_and_repeats_with_the_seed(
    tiny_generator: TransformersGenerator, prompts: list[str]
) -> None:
    first = tiny_generator.generate(prompts, SAMPLED)
    again = tiny_generator.generate(prompts, SAMPLED)
    other_seed = tiny_generator.generate(prompts, GenerationSettings(**{**SAMPLED.__dict__, "seed": 8}))
    assert [len(row) for row in first] == [3] * len(prompts)
    assert first == again
    assert first != other_seed
    assert any(len(set(row)) > 1 for row in first), "n samples of a prompt should differ"


def test_sampling_leaves_the_callers_rng_alone(tiny_generator: TransformersGenerator, prompts: list[str]) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_generator.generate(prompts[:1], SAMPLED)
    assert torch.equal(torch.rand(3), expected)


def test_tiny_top_p_keeps_only_the_greedy_token(
    tiny_generator: TransformersGenerator, prompts: list[str], greedy_alone: list[list[str]]
) -> None:
    nucleus_of_one = GenerationSettings(n=2, temperature=1.0, top_p=1e-6, max_new_tokens=12, seed=3)
    assert tiny_generator.generate(prompts, nucleus_of_one) == [row * 2 for row in greedy_alone]


@pytest.mark.parametrize(
    ("stop_from", "extra_stops"),
    [
        ((3, 5), ()),  # one stop taken from the unstopped text
        ((6, 8), ("\x00never",)),  # a stop that never occurs changes nothing
        ((2, 3), ("\x00never", "zzz-not-there")),
    ],
)
def test_stop_sequences_cut_at_the_earliest(
    tiny_generator: TransformersGenerator,
    greedy_alone: list[list[str]],
    prompts: list[str],
    stop_from: tuple[int, int],
    extra_stops: tuple[str, ...],
) -> None:
    index = max(range(len(prompts)), key=lambda i: len(greedy_alone[i][0]))
    full = greedy_alone[index][0]
    stop = full[stop_from[0] : stop_from[1]]
    settings = GenerationSettings(max_new_tokens=12, stop=(stop, *extra_stops))
    [[cut]] = tiny_generator.generate([prompts[index]], settings)
    assert cut == full[: full.find(stop)]
    assert tiny_generator.last_finish_reasons == [["stop"]]


def test_two_stops_cut_at_whichever_comes_first(
    tiny_generator: TransformersGenerator, greedy_alone: list[list[str]], prompts: list[str]
) -> None:
    index = max(range(len(prompts)), key=lambda i: len(greedy_alone[i][0]))
    full = greedy_alone[index][0]
    late, early = full[7:9], full[2:4]
    [[cut]] = tiny_generator.generate([prompts[index]], GenerationSettings(max_new_tokens=12, stop=(late, early)))
    assert cut == full[: min(full.find(late), full.find(early))]


def test_a_stop_ends_generation_early(tiny_generator: TransformersGenerator, prompts: list[str]) -> None:
    steps = [0]
    hook = tiny_generator.model.register_forward_hook(lambda *args: steps.__setitem__(0, steps[0] + 1))
    try:
        [[full]] = tiny_generator.generate(prompts[:1], GenerationSettings(max_new_tokens=40))
        unstopped_steps, steps[0] = steps[0], 0
        [[cut]] = tiny_generator.generate(prompts[:1], GenerationSettings(max_new_tokens=40, stop=(full[3:5],)))
    finally:
        hook.remove()
    assert cut == full[: full.find(full[3:5])]
    assert steps[0] < unstopped_steps / 2, f"{steps[0]} forward steps with a stop vs {unstopped_steps} without"


def test_unstopped_completion_reports_length(tiny_generator: TransformersGenerator, prompts: list[str]) -> None:
    tiny_generator.generate(prompts, GenerationSettings(max_new_tokens=3))
    reasons = tiny_generator.last_finish_reasons
    assert len(reasons) == len(prompts)
    assert "length" in {reason for row in reasons for reason in row}


@pytest.mark.parametrize(
    ("generated", "stop", "expected"),
    [
        (["SELECT", " name", " FROM"], ["FROM"], True),
        (["SELECT", " name"], ["FROM"], False),
        (["SEL", "ECT"], ["LEC"], True),  # a stop spanning two tokens
        (["SELECT"], ["SELECT name"], False),
    ],
)
def test_stop_criterion_flags_rows_whose_completion_holds_a_stop(
    tiny_generator: TransformersGenerator, generated: list[str], stop: list[str], expected: bool
) -> None:
    tokenizer = tiny_generator.tokenizer
    prompt = tokenizer("Question: x?\nSQL:")["input_ids"]
    completion = [token for piece in generated for token in tokenizer(piece, add_special_tokens=False)["input_ids"]]
    ids = torch.tensor([prompt + completion])
    criterion = StopOnText(tokenizer, stop, prompt_len=len(prompt))
    assert criterion(ids) == [expected]


def test_stop_criterion_ignores_the_prompt(tiny_generator: TransformersGenerator) -> None:
    tokenizer = tiny_generator.tokenizer
    prompt = tokenizer("SELECT name FROM")["input_ids"]
    criterion = StopOnText(tokenizer, ["FROM"], prompt_len=len(prompt))
    completion = tokenizer(" x", add_special_tokens=False)["input_ids"]
    assert criterion(torch.tensor([prompt + completion])) == [False]


def test_adapter_on_base_equals_merged_model(
    tiny_lm_dir: Path, tmp_path: Path, prompts: list[str], greedy_alone: list[list[str]]
) -> None:
    base = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), dtype=torch.float32)
    torch.manual_seed(0)
    # init_lora_weights=False: random B matrices, so the adapter really changes the model.
    lora = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, lora)
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    AutoTokenizer.from_pretrained(str(tiny_lm_dir)).save_pretrained(tmp_path / "merged")

    via_adapter = TransformersGenerator.load(tiny_lm_dir, adapter_path=tmp_path / "adapter", device="cpu")
    via_merged = TransformersGenerator.load(tmp_path / "merged", device="cpu")
    adapted = via_adapter.generate(prompts, GREEDY)
    assert adapted == via_merged.generate(prompts, GREEDY)
    assert adapted != greedy_alone, "the adapter should change the completions"


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        (GenerationSettings(n=0), "generation.n"),
        (GenerationSettings(temperature=-0.1), "generation.temperature"),
        (GenerationSettings(top_p=0.0), "generation.top_p"),
        (GenerationSettings(max_new_tokens=0), "generation.max_new_tokens"),
    ],
)
def test_bad_settings_raise_input_error(
    tiny_generator: TransformersGenerator, settings: GenerationSettings, where: str
) -> None:
    with pytest.raises(InputError) as error:
        tiny_generator.generate(["SELECT"], settings)
    assert error.value.where == where


@pytest.mark.parametrize(
    ("make_paths", "problem"),
    [
        (lambda model, tmp: (tmp, None), "no config.json"),
        (lambda model, tmp: (model, tmp), "no adapter_config.json"),
    ],
)
def test_bad_folders_raise_input_error(tiny_lm_dir: Path, tmp_path: Path, make_paths, problem: str) -> None:
    model_path, adapter_path = make_paths(tiny_lm_dir, tmp_path)
    with pytest.raises(InputError, match=problem):
        TransformersGenerator.load(model_path, adapter_path=adapter_path, device="cpu")


def test_no_prompts_gives_no_completions(tiny_generator: TransformersGenerator) -> None:
    assert tiny_generator.generate([], GREEDY) == []


@pytest.mark.parametrize(("progress", "shown"), [(True, True), (False, False)])
def test_a_progress_bar_counts_the_prompts_when_asked(
    tiny_lm_dir: Path, prompts: list[str], capsys: pytest.CaptureFixture[str], progress: bool, shown: bool
) -> None:
    generator = TransformersGenerator.load(tiny_lm_dir, device="cpu", batch_size=2, progress=progress)
    capsys.readouterr()
    generator.generate(prompts, GREEDY)
    err = capsys.readouterr().err
    # the bar (which clears itself at the end) counts prompts out of all of them
    assert (f"/{len(prompts)} [" in err and "generating" in err) is shown, err


def test_tokens_are_counted_as_synthesize_counts_them(tiny_generator: TransformersGenerator, tiny_lm_dir: Path) -> None:
    """MCP slices schemas by this count; training's slices were cut by synthesize's."""
    from routesql.synth.stage import token_counter

    synthesize_count = token_counter(str(tiny_lm_dir))
    texts = ["table pet: id, kind, age, owner_id -> owner.id", "CREATE TABLE nantapu_nunplur (id INTEGER)", ""]
    assert [tiny_generator.count_tokens(text) for text in texts] == [synthesize_count(text) for text in texts]
    assert tiny_generator.count_tokens(texts[0]) > 0
