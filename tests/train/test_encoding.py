"""Line-by-line encoding gives the whole-text ids, and is refused where it would not."""

from __future__ import annotations

import itertools

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from routesql.train.encoding import MIN_TEXTS, encode_by_lines, encode_texts, lines_encode_alike
from routesql.train.tiny import BOS, EOS, PAD, train_tokenizer

SCHEMAS = [
    "table teacher: id, name, city\ntable course: id, title, teacher_id -> teacher.id\n",
    "CREATE TABLE café (id INTEGER, nom TEXT, prix REAL);\n  -- 3 rows\n\ttab line\n",
    "table t: a, b\n\n\ntable u: c\r\ntable v: d\n",
]
QUESTIONS = [
    "How many teachers live in Lisbon?",
    "Quels cafés ont un prix > 3,50 €?",
    "it's 7\n's plural\n8 items",
    "Naïve ünïcode — dashes… and 'quotes'",
]
ENDINGS = ["-- SQL:\n", "-- SQL:\nSELECT count(*) FROM t", "\n  trailing spaces  \n", ""]


def corpus(copies: int) -> list[str]:
    texts = [
        f"-- Task: answer.\n-- Question: {question}\n-- Database schema:\n{schema}{ending}"
        for schema, question, ending in itertools.product(SCHEMAS, QUESTIONS, ENDINGS)
    ]
    return [f"{text}{number % 7}" if number % 3 else text for number, text in enumerate(texts * copies)]


@pytest.fixture(scope="module")
def byte_level() -> PreTrainedTokenizerFast:
    return train_tokenizer(corpus(1), vocab_size=400)


def sentencepiece_like() -> PreTrainedTokenizerFast:
    """A word-start marker before every text, as Llama 2 / Mistral tokenizers put one."""
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    backend.train_from_iterator(corpus(1), trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", BOS, EOS, PAD]))
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD)


def with_cls_and_sep(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """The same tokenizer with special tokens on both sides of a text (BERT's template)."""
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    bos, eos = backend.token_to_id(BOS), backend.token_to_id(EOS)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, bos), (EOS, eos)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD)


@pytest.mark.parametrize("special", [True, False])
def test_byte_level_bpe_encodes_alike_line_by_line(byte_level: PreTrainedTokenizerFast, special: bool) -> None:
    texts = corpus(1)
    assert lines_encode_alike(byte_level.backend_tokenizer, texts, special)
    assert (
        encode_by_lines(byte_level.backend_tokenizer, texts, special)
        == byte_level(texts, add_special_tokens=special)["input_ids"]
    )


@pytest.mark.parametrize(
    ("make", "line_path"),
    [
        (lambda byte_level: byte_level, True),
        (lambda byte_level: with_cls_and_sep(byte_level), True),
        (lambda byte_level: sentencepiece_like(), False),
    ],
    ids=["bos-then-text", "cls-text-sep", "sentencepiece-marker"],
)
@pytest.mark.parametrize("special", [True, False])
def test_encode_texts_equals_the_tokenizer(
    byte_level: PreTrainedTokenizerFast, make, line_path: bool, special: bool
) -> None:
    tokenizer = make(byte_level)
    texts = corpus(MIN_TEXTS // len(corpus(1)) + 1)
    assert len(texts) >= MIN_TEXTS  # large enough for the line path to be considered
    assert lines_encode_alike(tokenizer.backend_tokenizer, texts[:200], special) is line_path
    assert (
        encode_texts(tokenizer, texts, add_special_tokens=special)
        == tokenizer(texts, add_special_tokens=special)["input_ids"]
    )
