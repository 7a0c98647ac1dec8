"""The training streams: ranks split the global batch exactly, and a resumed stream is the tail."""

from __future__ import annotations

from itertools import islice

import pytest
import torch

from routesql.train.packing import IGNORE_INDEX, TokenizedRecord
from routesql.train.stream import PackStream, PairStream, SFTStream, StreamLayout, TokenizedPair


def fake_records(task_index: int, count: int) -> list[TokenizedRecord]:
    """Records of varied lengths whose first token identifies them (task*100 + number)."""
    records = []
    for number in range(count):
        length = 4 + (number * 7 + task_index) % 13
        ids = (task_index * 100 + number + 1,) + (9,) * (length - 1)
        labels = (IGNORE_INDEX,) * 2 + ids[2:]
        records.append(TokenizedRecord(ids, labels, task_index, length - 2))
    return records


BY_TASK = {"text_to_sql": fake_records(0, 11), "schema_linking": fake_records(1, 7), "continuation": fake_records(3, 5)}
MIX = {"text_to_sql": 2.0, "schema_linking": 1.0, "continuation": 1.0}


def take(stream, count: int) -> list[dict[str, torch.Tensor]]:
    return list(islice(iter(stream), count))


def sft_stream(batch_size: int, accumulation: int, world: int, rank: int, start: int = 0) -> SFTStream:
    layout = StreamLayout(batch_size, accumulation, world, rank)
    return SFTStream(BY_TASK, MIX, seed=3, max_len=40, layout=layout, pad_id=0, start_micro_batch=start)


@pytest.mark.parametrize(("world", "accumulation"), [(2, 1), (2, 2), (3, 1)])
def test_ranks_split_the_single_process_batch(world: int, accumulation: int) -> None:
    single = take(sft_stream(world * 2, accumulation, 1, 0), 4)
    per_rank = [take(sft_stream(2, accumulation, world, rank), 4) for rank in range(world)]
    for index, whole in enumerate(single):
        parts = [per_rank[rank][index] for rank in range(world)]
        whole_ids = [row[row != 0].tolist() for row in whole["input_ids"]]
        part_ids = [row[row != 0].tolist() for part in parts for row in part["input_ids"]]
        assert part_ids == whole_ids
        assert {int(part["step_label_tokens"]) for part in parts} == {int(whole["step_label_tokens"])}


def test_step_label_tokens_count_the_whole_step() -> None:
    batches = take(sft_stream(2, 2, 1, 0), 4)
    for step in (batches[0:2], batches[2:4]):
        scored = sum(int((batch["labels"] != IGNORE_INDEX).sum()) for batch in step)
        assert all(int(batch["step_label_tokens"]) == scored for batch in step)


@pytest.mark.parametrize(("accumulation", "start"), [(1, 3), (2, 4)])
def test_resumed_stream_is_the_tail_of_the_uninterrupted_one(accumulation: int, start: int) -> None:
    whole = take(sft_stream(2, accumulation, 1, 0), start + 4)
    resumed = take(sft_stream(2, accumulation, 1, 0, start=start), 4)
    for expected, got in zip(whole[start:], resumed):
        assert expected.keys() == got.keys()
        for key in expected:
            assert torch.equal(expected[key], got[key]), key


def test_packs_respect_max_len_and_the_mix_uses_every_task() -> None:
    batches = take(sft_stream(4, 1, 1, 0), 10)
    seen_tasks = set()
    for batch in batches:
        assert batch["input_ids"].shape[1] <= 40
        seen_tasks |= set(batch["task_ids"].unique().tolist()) - {-1}
    assert seen_tasks == {0, 1, 3}


def test_resume_must_be_at_a_step_boundary() -> None:
    with pytest.raises(ValueError, match="optimizer-step boundary"):
        sft_stream(2, 2, 1, 0, start=3)


def test_pair_stream_shards_and_resumes() -> None:
    pairs = [TokenizedPair((1, 2, n), (5, n), (6, n, n)) for n in range(10, 17)]
    single = take(PairStream(pairs, 1, StreamLayout(4, 1, 1, 0), 0), 5)
    halves = [take(PairStream(pairs, 1, StreamLayout(2, 1, 2, rank), 0), 5) for rank in (0, 1)]
    resumed = take(PairStream(pairs, 1, StreamLayout(4, 1, 1, 0), 0, start_micro_batch=2), 3)
    for index, whole in enumerate(single):
        chosen = whole["input_ids"][:4, 2].tolist()
        assert halves[0][index]["input_ids"][:2, 2].tolist() + halves[1][index]["input_ids"][:2, 2].tolist() == chosen
    assert [batch["input_ids"].tolist() for batch in resumed] == [batch["input_ids"].tolist() for batch in single[2:]]
    # Over the first pass (7 pairs, 4 per batch), every pair appears before any repeats.
    first_pass = [n for batch in single for n in batch["input_ids"][:4, 2].tolist()][:7]
    assert sorted(first_pass) == list(range(10, 17))


def best_fit_by_scanning(draws: list[TokenizedRecord], lookahead: int, max_len: int, packs: int) -> list[list[int]]:
    """The packing rule written plainly: the oldest buffered record, then again and again the
    longest buffered record that still fits (the oldest among equally long ones)."""
    upcoming, buffer, result = iter(draws), [], []
    for _ in range(packs):
        while len(buffer) < lookahead:
            buffer.append(next(upcoming))
        pack = [buffer.pop(0)]
        room = max_len - len(pack[0])
        while fitting := [i for i, record in enumerate(buffer) if len(record) <= room]:
            record = buffer.pop(max(fitting, key=lambda i: (len(buffer[i]), -i)))
            pack.append(record)
            room -= len(record)
        result.append([record.input_ids[0] for record in pack])
    return result


@pytest.mark.parametrize(("lookahead", "max_len"), [(2, 40), (5, 40), (16, 17), (64, 40), (64, 100)])
def test_packs_follow_the_best_fit_rule(lookahead: int, max_len: int) -> None:
    stream = PackStream(BY_TASK, MIX, seed=3, max_len=max_len, lookahead=lookahead)
    ours = [[record.input_ids[0] for record in stream.next_pack()] for _ in range(60)]
    drawing = PackStream(BY_TASK, MIX, seed=3, max_len=max_len, lookahead=lookahead)
    draws = [drawing._draw() for _ in range(60 * 20 + lookahead)]
    assert ours == best_fit_by_scanning(draws, lookahead, max_len, 60)
    assert any(len(pack) > 1 for pack in ours), "nothing was packed together, so the rule was not exercised"
