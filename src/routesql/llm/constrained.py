"""Schema-constrained decoding for the local backend: a logits processor that vetoes bad names.

At every step, for each row that has a constraint, the candidate tokens are tried in order of
score: a candidate stays only if the completion with it appended can still become a query that
names nothing outside the schema (`routesql.sqlkit.names`). Greedy rows stop at the first
candidate that passes (the others cannot win anyway); sampled rows keep only the passing ones
among the `top_k` best. When none of the `top_k` best passes, the search widens to the
`search_k` best (a small model often ranks the schema's names below names it memorised); a row
where even those all fail is at a dead end and is ended (eos): the constraint steers among tokens
the model finds plausible, it never forces an arbitrary one.

A candidate is first checked cheaply, as the completion's text plus the token's own text (the
completion is scanned once for all candidates); one that passes is confirmed on the whole
completion decoded with it appended, which is what counts for tokenizers that drop or add a
leading space when a token is decoded alone.

A constraint with `compiles` also lets a row end (eos) only where its query compiles on the
schema (`routesql.db.compiles`): `SELECT T1.name FROM dish` must go on to bind T1 before it stops.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import LogitsProcessor, PreTrainedTokenizerBase

from routesql.sqlkit.names import NameChecker, NameConstraint, PreparedText


class NameConstraintProcessor(LogitsProcessor):
    """Applies one `NameConstraint` (or None: free) per prompt of a left-padded batch.

    `rows_per_prompt` is the number of sequences generate expands each prompt into
    (num_return_sequences); `prompt_width` is the padded prompt length, where completions start.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        constraints: Sequence[NameConstraint | None],
        prompt_width: int,
        eos_ids: set[int],
        sampling: bool,
        rows_per_prompt: int = 1,
        stop: Sequence[str] = (),
        top_k: int = 32,
        search_k: int = 8192,
    ) -> None:
        self.tokenizer = tokenizer
        self.constraints = list(constraints)
        self.checkers = {id(c): NameChecker(c.names, c.values) for c in constraints if c is not None}
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids
        self.sampling = sampling
        self.rows_per_prompt = rows_per_prompt
        self.stop = [s for s in stop if s]
        self.top_k = top_k
        self.search_k = search_k
        # Other special tokens decode to nothing, so they would pass every check while the row
        # learns nothing; under a constraint they are never candidates.
        self.special = set(tokenizer.all_special_ids) - eos_ids
        self.pieces: dict[int, str] = {}  # token → its text decoded alone
        self.prepared: dict[int, PreparedText] = {}  # row → its SQL scanned at the last step
        self.vetoed = 0  # candidates masked so far (a figure for tests and reports)
        self.dead_ends = 0  # rows ended because no candidate passed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_width :].tolist()
        for row, tokens in enumerate(generated):
            constraint = self.constraints[row // self.rows_per_prompt]
            if constraint is None or any(t in self.eos_ids for t in tokens):
                continue
            checker = self.checkers[id(constraint)]
            sql = _sql_part(constraint, self.tokenizer.decode(tokens, skip_special_tokens=True))
            prepared = self._prepare(row, checker, constraint.lead + sql) if sql is not None else None
            ranked = _finite_best(scores[row], self.top_k)
            failed, kept = self._judge(checker, constraint, tokens, prepared, ranked)
            if not kept and self.search_k > self.top_k:
                ranked = _finite_best(scores[row], self.search_k)[len(ranked):]
                more_failed, kept = self._judge(checker, constraint, tokens, prepared, ranked)
                failed += more_failed
            if not kept:
                # A dead end: nothing the model finds plausible keeps to the schema. The row ends
                # here; its SQL is then invalid, and MCP's later steps (correction, continuation)
                # get their chance, rather than the model rambling on unconstrained.
                scores[row, :] = float("-inf")
                scores[row, min(self.eos_ids)] = 0.0
                self.dead_ends += 1
                continue
            self.vetoed += len(failed)
            # Only the passing candidates stay: the greedy one alone, or the passing share of the
            # sampled top_k (so a tie or a long tail cannot bring back an unchecked token).
            keep = torch.zeros_like(scores[row], dtype=torch.bool)
            keep[kept] = True
            scores[row, ~keep] = float("-inf")
        return scores

    def _judge(
        self,
        checker: NameChecker,
        constraint: NameConstraint,
        tokens: list[int],
        prepared: PreparedText | None,
        ranked: list[int],
    ) -> tuple[list[int], list[int]]:
        """(failed, kept) among `ranked`; greedy stops at the first kept token. `prepared` is the
        completion's SQL scanned for the quick check (None: still on a free first line)."""
        failed: list[int] = []
        kept: list[int] = []
        for token in ranked:
            quick = prepared is None or bool(self.stop) or token in self.eos_ids or (
                token not in self.special and checker.allows_after(prepared, self._piece(token), complete=False))
            if quick and self._allows(checker, constraint, tokens, token, prepared):
                kept.append(token)
                if not self.sampling:
                    break
            else:
                failed.append(token)
        return failed, kept

    def _piece(self, token: int) -> str:
        if token not in self.pieces:
            self.pieces[token] = self.tokenizer.decode([token], skip_special_tokens=True)
        return self.pieces[token]

    def _prepare(self, row: int, checker: NameChecker, text: str) -> PreparedText:
        """The row's SQL scanned up to its last token, extending the previous step's scan."""
        previous = self.prepared.get(row)
        prepared = checker.extend(previous, text) if previous is not None else checker.prepare(text)
        self.prepared[row] = prepared
        return prepared

    def _allows(
        self, checker: NameChecker, constraint: NameConstraint, tokens: list[int], token: int,
        prepared: PreparedText | None,
    ) -> bool:
        """The verdict on the text the row would really have (decoded whole, as tokens can decode
        differently together than alone). When that text is the prepared text plus the token's
        piece, the quick check that let the token here already gave this verdict (the two are
        equal: `tests/sqlkit/test_names.py`)."""
        if token in self.special:
            return False
        ending = token in self.eos_ids
        ids = tokens if ending else tokens + [token]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if any(s in text for s in self.stop):
            return True  # the completion ends at the stop; what follows is cut off
        sql = _sql_part(constraint, text)
        if sql is None:
            return True
        if ending and constraint.compiles is not None and not constraint.compiles(constraint.lead + sql):
            return False  # the query may end only where it compiles on the schema
        # (With stop sequences the quick check is skipped, so the whole check runs.)
        if prepared is not None and not self.stop and constraint.lead + sql == prepared.text + (
                "" if ending else self._piece(token)):
            return checker.allows_after(prepared, "", complete=True) if ending else True
        # A token that ends inside a UTF-8 character decodes to U+FFFD, which the check refuses
        # outside quotes: SQL's names and keywords are ASCII.
        return checker.allows(constraint.lead + sql, complete=ending)


def _finite_best(row_scores: torch.Tensor, k: int) -> list[int]:
    """The ids of the k best scores, best first, without those already ruled out (-inf)."""
    best = row_scores.topk(min(k, row_scores.shape[0]))
    return [t for t, v in zip(best.indices.tolist(), best.values.tolist()) if v != float("-inf")]



def _sql_part(constraint: NameConstraint, completion: str) -> str | None:
    """The part of a completion the check applies to; None while a free first line is unfinished."""
    if not constraint.after_first_line:
        return completion
    if "\n" not in completion:
        return None
    return completion.split("\n", 1)[1]
