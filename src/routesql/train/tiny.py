"""The embedded tiny base model, built offline.

No weights can be downloaded on our machines, so the default base is built here: a byte-level
BPE tokenizer trained on the corpus (schemas, questions, SQL), a small Qwen2 (the architecture of
the models ROUTE was published with, so every code path is the one real models take) and a short
causal-LM pretraining so fine-tuning starts from a model that has seen the language.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tqdm import tqdm
from transformers import (
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from routesql.errors import InputError
from routesql.train.encoding import encode_texts
from routesql.train.settings import TinyModelSettings

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"

# Qwen2's published pre-tokenization pattern. transformers 5 always loads a qwen2 checkpoint's
# tokenizer as Qwen2Tokenizer, which installs this pattern and NFC; training with the same ones makes
# the tokenizer we train and the one `AutoTokenizer` loads back encode every string identically.
QWEN2_SPLIT_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (every string is encodable) with bos/eos/pad; bos is prepended on encode.

    Trained on whole texts: the pre-tokenizer splits them into words, digits and punctuation runs.
    """
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    # Prepending bos on encode (like Llama) keeps training prompts and `tokenizer(prompt)` identical.
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, backend.token_to_id(BOS))]
    )
    # unk is named (byte-level BPE never emits it) because Qwen2Tokenizer would otherwise add its
    # default "<|endoftext|>" on load: a token id beyond the model's embedding table.
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=EOS,
        model_max_length=1 << 30,
    )


def tiny_config(tokenizer: PreTrainedTokenizerBase, settings: TinyModelSettings) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_kv_heads,
        max_position_embeddings=settings.max_positions,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _token_stream(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> torch.Tensor:
    """All texts as one long id stream (bos text eos ...), the usual pretraining layout."""
    ids: list[int] = []
    for encoded in encode_texts(tokenizer, texts, add_special_tokens=True):
        ids.extend(encoded)
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


def pretrain(model: Qwen2ForCausalLM, stream: torch.Tensor, settings: TinyModelSettings, seed: int) -> list[float]:
    """A short next-token pretraining on random windows of the stream; returns the loss per step."""
    window = min(settings.pretrain_seq_len, len(stream) - 1)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.pretrain_lr, weight_decay=0.01)
    warmup = max(1, settings.pretrain_steps // 10)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, settings.pretrain_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    losses: list[float] = []
    bar = tqdm(
        range(settings.pretrain_steps), desc="pretraining the tiny base", unit="step", disable=None, dynamic_ncols=True
    )  # silent where stderr is not a terminal
    for step in bar:
        starts = torch.randint(0, len(stream) - window, (settings.pretrain_batch_size,), generator=generator)
        batch = torch.stack([stream[start : start + window] for start in starts.tolist()])
        loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


def build_tiny_base(texts: Iterable[str], out_dir: Path, settings: TinyModelSettings, seed: int) -> Path:
    """Train tokenizer + tiny Qwen2 on `texts`, save both in Hugging Face format under `out_dir`."""
    corpus = [text for text in texts if text.strip()]
    if not corpus:
        raise InputError(out_dir, "cannot build the tiny base model from an empty corpus")
    if settings.hidden_size % settings.num_heads or settings.num_heads % settings.num_kv_heads:
        raise InputError("tiny", "hidden_size must divide by num_heads, and num_heads by num_kv_heads")
    tokenizer = train_tokenizer(corpus, settings.vocab_size)
    stream = _token_stream(corpus, tokenizer)
    if len(stream) < 2:
        raise InputError(out_dir, "the corpus is too short to pretrain on")
    # A private RNG state: the same seed gives the same weights, and the caller's RNG is left alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(tiny_config(tokenizer, settings))
        losses = pretrain(model, stream, settings, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "pretrain_losses.txt").write_text("".join(f"{loss:.6f}\n" for loss in losses))
    return out_dir
