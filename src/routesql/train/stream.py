"""Deterministic, resumable training streams for SFT (packed, task-mixed) and DPO (pairs).

Every rank computes the same global stream and keeps its own share, so the data of global
micro-batch m is a pure function of (records, settings, seed, m). Resuming is a cheap replay to
the checkpoint's micro-batch (lengths only, no collation); a run that is stopped and resumed sees
exactly the batches an uninterrupted run sees, on any number of ranks.

Layout: optimizer step g is micro-batches g*accum .. g*accum+accum-1; micro-batch m holds
world*batch_size packs (SFT) or pairs (DPO); rank r takes the r-th slice of batch_size of them.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import IterableDataset

from routesql.train.mix import TaskMixSampler
from routesql.train.packing import IGNORE_INDEX, TokenizedRecord, collate_packs


@dataclass(frozen=True)
class StreamLayout:
    batch_size: int  # packs (SFT) or pairs (DPO) per rank per micro-batch
    accumulation: int
    world_size: int
    rank: int

    @property
    def items_per_micro_batch(self) -> int:
        return self.batch_size * self.world_size

    def own_slice(self, items: Sequence) -> list:
        start = self.rank * self.batch_size
        return list(items[start : start + self.batch_size])


class TaskCursor:
    """Records of one task in a fresh seeded shuffle every pass, so no record repeats within a pass."""

    def __init__(self, records: Sequence[TokenizedRecord], task: str, seed: int) -> None:
        self.records, self.task, self.seed = records, task, seed
        self.epoch, self.index, self.order = 0, 0, self._order(0)

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.records)))
        random.Random(f"routesql-order:{self.seed}:{self.task}:{epoch}").shuffle(order)
        return order

    def next(self) -> TokenizedRecord:
        if self.index == len(self.order):
            self.epoch, self.index = self.epoch + 1, 0
            self.order = self._order(self.epoch)
        record = self.records[self.order[self.index]]
        self.index += 1
        return record


class PackStream:
    """The global sequence of packs: tasks drawn by the mix, records packed best-fit.

    A buffer holds the next `lookahead` drawn records. Each pack starts with the oldest buffered
    record (so none waits forever) and is then filled with the largest buffered records that still
    fit (the oldest among equally long ones), which leaves far less padding than packing in draw
    order. Everything is a function of the draws, so replaying the stream (resume) rebuilds
    exactly the same packs.

    The buffer is kept by length (a queue of draw numbers per length, the lengths sorted), so
    finding the largest record that fits is a binary search instead of a scan of the whole buffer.
    """

    def __init__(
        self,
        by_task: Mapping[str, Sequence[TokenizedRecord]],
        mix: Mapping[str, float],
        seed: int,
        max_len: int,
        lookahead: int = 1024,  # records of 100-500 tokens: 256 left ~6% of a 512 row empty, 1024 ~2%
    ) -> None:
        self.sampler = TaskMixSampler(mix, seed)
        self.cursors = {task: TaskCursor(by_task[task], task, seed) for task in self.sampler.tasks}
        self.max_len = max_len
        self.lookahead = lookahead
        self._buffered: dict[int, TokenizedRecord] = {}  # draw number → record, in draw order (dicts keep it)
        self._by_length: dict[int, deque[int]] = {}  # length → draw numbers buffered, oldest first
        self._lengths: list[int] = []  # the lengths of _by_length, sorted
        self._draws = 0
        self.records_packed = 0

    def _draw(self) -> TokenizedRecord:
        return self.cursors[self.sampler.next()].next()

    def _buffer_one(self) -> None:
        record, number = self._draw(), self._draws
        self._draws += 1
        self._buffered[number] = record
        if len(record) not in self._by_length:
            self._by_length[len(record)] = deque()
            insort(self._lengths, len(record))
        self._by_length[len(record)].append(number)

    def _take(self, length: int) -> TokenizedRecord:
        """The oldest buffered record of `length`, out of the buffer."""
        queue = self._by_length[length]
        number = queue.popleft()
        if not queue:
            del self._by_length[length]
            self._lengths.pop(bisect_left(self._lengths, length))
        return self._buffered.pop(number)

    def next_pack(self) -> list[TokenizedRecord]:
        while len(self._buffered) < self.lookahead:
            self._buffer_one()
        oldest = next(iter(self._buffered.values()))
        pack = [self._take(len(oldest))]  # the oldest record is also the oldest of its length
        room = self.max_len - len(pack[0])
        while True:
            fits = bisect_right(self._lengths, room)
            if not fits:
                break
            record = self._take(self._lengths[fits - 1])
            pack.append(record)
            room -= len(record)
        self.records_packed += sum(record.records for record in pack)
        return pack


class SFTStream(IterableDataset):
    """This rank's packed micro-batches, from `start_micro_batch` on, forever (training stops on max_steps)."""

    def __init__(
        self,
        by_task: Mapping[str, Sequence[TokenizedRecord]],
        mix: Mapping[str, float],
        seed: int,
        max_len: int,
        layout: StreamLayout,
        pad_id: int,
        start_micro_batch: int = 0,
    ) -> None:
        super().__init__()
        if start_micro_batch % layout.accumulation:
            raise ValueError("resume point must be at an optimizer-step boundary")
        self.by_task, self.mix, self.seed, self.max_len = by_task, dict(mix), seed, max_len
        self.layout, self.pad_id, self.start_micro_batch = layout, pad_id, start_micro_batch

    def replayed(self, micro_batches: int) -> PackStream:
        """The global pack stream advanced past `micro_batches` micro-batches (draws only, no tensors)."""
        packs = PackStream(self.by_task, self.mix, self.seed, self.max_len)
        for _ in range(micro_batches * self.layout.items_per_micro_batch):
            packs.next_pack()
        return packs

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        packs = self.replayed(self.start_micro_batch)
        per_micro = self.layout.items_per_micro_batch
        micro_batch = self.start_micro_batch
        while True:
            step, draws = [], []
            for _ in range(self.layout.accumulation):
                step.append([packs.next_pack() for _ in range(per_micro)])
                draws.append(packs.sampler.position)
            # Every record starts with a prompt token, so each label is scored exactly once after the shift.
            step_labels = sum(record.scored for micro in step for pack in micro for record in pack)
            for micro, sampler_position in zip(step, draws):
                batch = collate_packs(self.layout.own_slice(micro), self.pad_id)
                batch["sampler_position"] = torch.tensor(sampler_position)
                batch["step_label_tokens"] = torch.tensor(step_labels)
                batch["global_real_tokens"] = torch.tensor(sum(len(r) for pack in micro for r in pack))
                batch["micro_batch"] = torch.tensor(micro_batch)
                micro_batch += 1
                yield batch


@dataclass(frozen=True)
class TokenizedPair:
    prompt: tuple[int, ...]
    chosen: tuple[int, ...]  # completion ids + eos
    rejected: tuple[int, ...]


def collate_pairs(pairs: Sequence[TokenizedPair], pad_id: int) -> dict[str, torch.Tensor]:
    """Rows 0..n-1 are prompt+chosen, rows n..2n-1 prompt+rejected, right-padded; labels on completions."""
    sequences = [(pair.prompt, pair.chosen) for pair in pairs] + [(pair.prompt, pair.rejected) for pair in pairs]
    width = max(len(prompt) + len(completion) for prompt, completion in sequences)
    input_ids, labels, attention = [], [], []
    for prompt, completion in sequences:
        padding = width - len(prompt) - len(completion)
        input_ids.append([*prompt, *completion] + [pad_id] * padding)
        labels.append([IGNORE_INDEX] * len(prompt) + list(completion) + [IGNORE_INDEX] * padding)
        attention.append([1] * (len(prompt) + len(completion)) + [0] * padding)
    return {
        "input_ids": torch.tensor(input_ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(attention),
        "real_tokens": torch.tensor(sum(sum(row) for row in attention)),
    }


class PairStream(IterableDataset):
    """This rank's DPO micro-batches: pairs in a fresh seeded shuffle every pass, from `start_micro_batch` on."""

    def __init__(
        self, pairs: Sequence[TokenizedPair], seed: int, layout: StreamLayout, pad_id: int, start_micro_batch: int = 0
    ) -> None:
        super().__init__()
        if start_micro_batch % layout.accumulation:
            raise ValueError("resume point must be at an optimizer-step boundary")
        self.pairs, self.seed, self.layout, self.pad_id = pairs, seed, layout, pad_id
        self.start_micro_batch = start_micro_batch
        self._order: tuple[int, list[int]] = (-1, [])

    def pair_at(self, position: int) -> TokenizedPair:
        epoch, index = divmod(position, len(self.pairs))
        if self._order[0] != epoch:
            order = list(range(len(self.pairs)))
            random.Random(f"routesql-pairs:{self.seed}:{epoch}").shuffle(order)
            self._order = (epoch, order)
        return self.pairs[self._order[1][index]]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        per_micro = self.layout.items_per_micro_batch
        micro_batch = self.start_micro_batch
        while True:
            first = micro_batch * per_micro
            micro = [self.pair_at(position) for position in range(first, first + per_micro)]
            batch = collate_pairs(self.layout.own_slice(micro), self.pad_id)
            batch["micro_batch"] = torch.tensor(micro_batch)
            micro_batch += 1
            yield batch
