"""The local transformers backend: batched generation with a causal LM on CPU or GPU.

Prompts are sorted by token length and cut into mini-batches (less padding), left-padded (the
next token of every row is at the same column) with an attention mask and position ids that start
at each row's first real token, so a padded row computes the same thing as the prompt alone. The
decoding loop (`routesql.llm.decoding`) drops a row from the batch as soon as it ends. Stop
sequences are cut on the decoded text (correctness) and also end each row early (speed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from routesql.errors import InputError
from routesql.llm.constrained import NameConstraintProcessor
from routesql.llm.decoding import decode
from routesql.llm.generator import GenerationSettings
from routesql.llm.http import cut_at_stop
from routesql.llm.loading import has_tokenizer_files, load_causal_lm, load_tokenizer, resolve_device, resolve_dtype
from routesql.llm.prompting import render_messages, render_prompt
from routesql.sqlkit.names import NameConstraint


class StopOnText:
    """Ends a row once a stop sequence appears in its decoded completion.

    Only the last `window` generated tokens are decoded each step: every token decodes to at
    least one character, so a stop that just completed lies within them. Missing one would only
    cost speed (the text is cut again after generation), never correctness; a false hit would
    lose text, so replacement characters at the window's edges (a UTF-8 character cut by the
    window, or not yet complete) are dropped before looking.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.prompt_len = prompt_len
        self.window = 2 * max((len(s) for s in self.stop), default=0) + 4

    def __call__(self, input_ids: torch.Tensor) -> list[bool]:
        """For each row of `input_ids` (prompt and completion so far): does its completion hold a stop?"""
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, start:].tolist(), skip_special_tokens=True)
        tails = [tail.rstrip("\ufffd") for tail in tails]
        if start > self.prompt_len:
            tails = [tail.lstrip("\ufffd") for tail in tails]
        return [any(s in tail for s in self.stop) for tail in tails]


class TransformersGenerator:
    """A `Generator` over an in-memory causal LM and its tokenizer (see `load` for folders).

    The model is put in eval mode. Greedy output does not depend on batching (left padding with
    an attention mask; checked in fp32). Sampling is deterministic for a seed, the prompts and
    `batch_size` (the random stream is drawn batch by batch). One call at a time: the seeding
    is process-wide, so concurrent callers need a lock (the server has one).

    `last_finish_reasons[i][j]` is "stop" (a stop sequence or eos ended completion j of prompt
    i) or "length" (max_new_tokens reached), for the last `generate` call.
    """

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, batch_size: int = 8, progress: bool = False
    ) -> None:
        if batch_size < 1:
            raise InputError("generator.batch_size", f"must be at least 1, got {batch_size}")
        if tokenizer.eos_token_id is None:
            raise InputError("generator.tokenizer", "the tokenizer has no eos token, needed to end completions")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.progress = progress  # a progress bar over each call's prompts (long evaluations)
        # The tokenizer is never mutated (it may be shared with training): padding is done here.
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.last_finish_reasons: list[list[str]] = []

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        adapter_path: str | Path | None = None,
        batch_size: int = 8,
        device: str = "auto",
        dtype: str = "auto",
        progress: bool = False,
    ) -> TransformersGenerator:
        """A merged model folder, or a base model folder plus a peft adapter folder (merged on load).

        The tokenizer comes from the adapter folder when it holds one, else from the model folder.
        """
        target = resolve_device(device)
        model = load_causal_lm(model_path, resolve_dtype(dtype, target))
        tokenizer_dir = Path(model_path)
        if adapter_path is not None:
            model = _apply_adapter(model, Path(adapter_path))
            if has_tokenizer_files(Path(adapter_path)):
                tokenizer_dir = Path(adapter_path)
        tokenizer = load_tokenizer(tokenizer_dir)
        # transformers decorates `to` with functools.wraps, which typeshed types as an unbound
        # callable: mypy takes the device for `self`
        return cls(model.to(target), tokenizer, batch_size=batch_size, progress=progress)  # type: ignore[arg-type]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without special tokens: the count `synthesize` slices schemas by."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The model input for a chat (`render_messages`: the tokenizer's chat template, or the
        non-system contents for a model trained without one, as `render_prompt` gives them)."""
        return render_messages(self.tokenizer, messages)

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        """Task prompts (as the templates write them) → completions; each prompt is rendered as in
        training (`render_prompt`: through the chat template when the tokenizer has one)."""
        return self.generate_constrained(prompts, settings, [None] * len(prompts))

    def generate_raw(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        """Completions of model input used as is (the server's /v1/completions, rendered chats)."""
        return self.generate_constrained(prompts, settings, [None] * len(prompts), render=False)

    def generate_constrained(
        self,
        prompts: list[str],
        settings: GenerationSettings,
        constraints: list[NameConstraint | None],
        render: bool = True,
    ) -> list[list[str]]:
        """`generate`, with the names of `prompts[i]`'s completion held to `constraints[i]`
        (schema-constrained decoding, `routesql.llm.constrained`); None leaves a prompt free."""
        _check_settings(settings)
        if render:
            prompts = [render_prompt(self.tokenizer, prompt) for prompt in prompts]
        if len(constraints) != len(prompts):
            raise ValueError(f"{len(constraints)} constraints for {len(prompts)} prompts")
        if not prompts:
            self.last_finish_reasons = []
            return []
        encoded = self.tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
        # Token order puts prompts that share a beginning (a schema) in the same batch, which then
        # computes it once; the rest of each prompt is short, so little padding is left.
        order = sorted(range(len(prompts)), key=lambda i: encoded[i])
        results: list[list[tuple[str, str]]] = [[] for _ in prompts]
        devices = [self.device] if self.device.type == "cuda" else []
        # A private RNG stream: the same seed gives the same samples; the caller's RNG is untouched.
        bar = tqdm(total=len(prompts), desc="generating", unit="prompt", leave=False, disable=not self.progress)
        with torch.random.fork_rng(devices=devices), torch.inference_mode(), bar:
            torch.manual_seed(settings.seed)
            for batch in prefix_batches([encoded[i] for i in order], self.batch_size):
                batch = [order[i] for i in batch]
                outputs = self._generate_batch([encoded[i] for i in batch], settings, [constraints[i] for i in batch])
                for index, completions in zip(batch, outputs):
                    results[index] = completions
                bar.update(len(batch))
        self.last_finish_reasons = [[reason for _, reason in row] for row in results]
        return [[text for text, _ in row] for row in results]

    def _generate_batch(
        self, rows: list[list[int]], settings: GenerationSettings, constraints: list[NameConstraint | None]
    ) -> list[list[tuple[str, str]]]:
        """Left-padded rows → for each row, n (completion text, finish reason)."""
        shared = shared_prefix_length(rows)
        input_ids, attention_mask = left_pad(rows, self.pad_id, self.device, shared=shared)
        width = input_ids.shape[1]
        eos_ids = self._eos_ids()
        sampling = settings.temperature > 0
        # Greedy rows are identical, so they are generated once and repeated n times.
        per_prompt = settings.n if sampling else 1
        repeated_ids = input_ids.repeat_interleave(per_prompt, dim=0)
        repeated_mask = attention_mask.repeat_interleave(per_prompt, dim=0)
        constrain = None
        if any(c is not None for c in constraints):
            constrain = NameConstraintProcessor(
                self.tokenizer, constraints, width, eos_ids, sampling, rows_per_prompt=per_prompt, stop=settings.stop
            )
        stops = StopOnText(self.tokenizer, settings.stop, width) if settings.stop else None
        new_tokens = decode(
            self.model,
            repeated_ids,
            repeated_mask,
            settings.max_new_tokens,
            eos_ids,
            temperature=settings.temperature,
            top_p=settings.top_p,
            constrain=constrain,
            stops=stops,
            shared_prefix=shared,
        )
        finished = []
        for tokens in new_tokens:
            decoded = self.tokenizer.decode(tokens, skip_special_tokens=True)
            assert isinstance(decoded, str)  # one sequence of ids decodes to one string
            text, stopped = cut_at_stop(decoded, settings.stop)
            ended = stopped or any(token in eos_ids for token in tokens)
            finished.append((text, "stop" if ended else "length"))
        grouped = [finished[i * per_prompt : (i + 1) * per_prompt] for i in range(len(rows))]
        return [group * (settings.n // per_prompt) for group in grouped]

    def _eos_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        if configured is None:
            return {self.tokenizer.eos_token_id}
        return set(configured) if isinstance(configured, list) else {configured}


MIN_SHARED_PREFIX = 32  # a shorter common beginning is not worth a separate prefill


def shared_prefix_length(rows: list[list[int]]) -> int:
    """How many leading tokens all rows share (0 below MIN_SHARED_PREFIX); every row keeps at least
    one token of its own, whose logits start its completion."""
    if len(rows) < 2:
        return 0
    shortest = min(len(row) for row in rows)
    length = min(shortest - 1, *(_common_length(rows[0], row) for row in rows[1:]))
    return length if length >= MIN_SHARED_PREFIX else 0


def _common_length(a: list[int], b: list[int]) -> int:
    """How many leading tokens two rows share."""
    length = 0
    for x, y in zip(a, b):
        if x != y:
            break
        length += 1
    return length


MIN_BATCH_ROWS = 16  # a batch this full is cut where its prompts stop sharing their beginning


def prefix_batches(rows: list[list[int]], batch_size: int) -> list[list[int]]:
    """Positions of `rows` (sorted by tokens) in batches of at most `batch_size`. A batch of at least
    MIN_BATCH_ROWS also ends where the next prompt shares less than half of the batch's first prompt
    (a new database's schema begins), so each batch computes one long shared prefix once; smaller
    batches are not cut, since a decoding step costs about as much for 16 rows as for 1."""
    batches: list[list[int]] = []
    current: list[int] = []
    for position, row in enumerate(rows):
        if current:
            first = rows[current[0]]
            full = len(current) >= batch_size
            new_prefix = len(current) >= MIN_BATCH_ROWS and _common_length(first, row) < len(first) // 2
            if full or new_prefix:
                batches.append(current)
                current = []
        current.append(position)
    if current:
        batches.append(current)
    return batches


def left_pad(
    rows: list[list[int]], pad_id: int, device: torch.device | str = "cpu", shared: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows → (input ids padded to the longest row, attention mask). The padding goes on the
    left, or, with `shared` > 0, after the rows' common first `shared` tokens (see `decode`)."""
    width = max(len(row) for row in rows)
    input_ids = torch.tensor(
        [row[:shared] + [pad_id] * (width - len(row)) + row[shared:] for row in rows], device=device
    )
    attention_mask = torch.tensor(
        [[1] * shared + [0] * (width - len(row)) + [1] * (len(row) - shared) for row in rows], device=device
    )
    return input_ids, attention_mask


def _check_settings(settings: GenerationSettings) -> None:
    if settings.n < 1:
        raise InputError("generation.n", f"must be at least 1, got {settings.n}")
    if settings.temperature < 0:
        raise InputError("generation.temperature", f"must be >= 0, got {settings.temperature}")
    if not 0 < settings.top_p <= 1:
        raise InputError("generation.top_p", f"must be in (0, 1], got {settings.top_p}")
    if settings.max_new_tokens < 1:
        raise InputError("generation.max_new_tokens", f"must be at least 1, got {settings.max_new_tokens}")


def _apply_adapter(model: PreTrainedModel, adapter_dir: Path) -> PreTrainedModel:
    """Base + peft adapter, merged into plain weights (faster generation than the wrapped model)."""
    from peft import PeftModel  # imported here: peft is only needed for adapter folders

    if not (adapter_dir / "adapter_config.json").is_file():
        raise InputError(adapter_dir, "not a peft adapter folder (no adapter_config.json)")
    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
