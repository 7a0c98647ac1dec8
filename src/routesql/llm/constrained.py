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

from collections.abc import Callable, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from routesql.sqlkit.names import NameChecker, NameConstraint, PreparedText


class NameConstraintProcessor:
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
        self.search_widths = self._search_widths()
        # Other special tokens decode to nothing, so they would pass every check while the row
        # learns nothing; under a constraint they are never candidates.
        self.special = set(tokenizer.all_special_ids) - eos_ids
        self.decode = text_decoder(tokenizer)
        self.pieces: dict[int, str] = {}  # token → its text decoded alone
        self.prepared: dict[int, PreparedText] = {}  # row → its SQL scanned at the last step
        self.decoded: dict[int, tuple[int, int, str]] = {}  # row → (length, last token, text) last judged
        self.vetoed = 0  # candidates masked so far (a figure for tests and reports)
        self.dead_ends = 0  # rows ended because no candidate passed

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, rows: list[int] | None = None) -> torch.Tensor:
        """Masks `scores` (one line per line of `input_ids`). `rows[i]` is the row of the whole
        batch that line i is; by default line i is row i. Rows that ended are not passed in (the
        decoding loop drops them)."""
        generated = input_ids[:, self.prompt_width :].tolist()
        top_scores, top_tokens = scores.max(-1)  # each line's best token, for greedy's first look
        best, best_is_finite = top_tokens.tolist(), (top_scores != float("-inf")).tolist()
        restricted: list[int] = []  # lines whose scores are cut to the tokens that passed
        passed_lines: list[int] = []
        passed_tokens: list[int] = []
        for line, tokens in enumerate(generated):
            row = rows[line] if rows is not None else line
            constraint = self.constraints[row // self.rows_per_prompt]
            if constraint is None:
                continue
            checker = self.checkers[id(constraint)]
            sql = _sql_part(constraint, self._text(row, tokens))
            prepared = self._prepare(row, checker, constraint.lead + sql) if sql is not None else None
            quick = None if prepared is None or self.stop else _QuickCheck(checker, prepared)
            failed = 0
            kept: list[int] = []
            judged: list[int] = []  # the candidates judged so far, best first
            for width in self.search_widths:
                if kept:
                    break
                if width == 1:
                    if not best_is_finite[line]:
                        continue
                    candidates = [best[line]]
                else:
                    wider = _finite_best(scores[line], width)
                    # The wider list starts with the narrower one (but for ties): judge the rest.
                    if wider[: len(judged)] == judged:
                        candidates = wider[len(judged) :]
                    else:
                        seen = set(judged)
                        candidates = [token for token in wider if token not in seen]
                more_failed, kept = self._judge(row, checker, constraint, tokens, prepared, quick, candidates)
                failed += more_failed
                judged += candidates
            if not kept:
                # A dead end: nothing the model finds plausible keeps to the schema. The row ends
                # here; its SQL is then invalid, and MCP's later steps (correction, continuation)
                # get their chance, rather than the model rambling on unconstrained.
                kept = [min(self.eos_ids)]
                scores[line, kept[0]] = 0.0
                self.dead_ends += 1
            else:
                self.vetoed += failed
            # Only the passing candidates stay: the greedy one alone, or the passing share of the
            # sampled top_k (so a tie or a long tail cannot bring back an unchecked token).
            restricted.append(line)
            passed_lines += [line] * len(kept)
            passed_tokens += kept
        if restricted:
            passed_scores = scores[passed_lines, passed_tokens]
            scores[restricted] = float("-inf")
            scores[passed_lines, passed_tokens] = passed_scores
        return scores

    def _search_widths(self) -> list[int]:
        """How many of the best tokens are looked at, widening while none passes. Greedy stops at
        its first passing token: it looks at its best alone (most steps need no more), then the
        `top_k` best, the next few hundred, and the rest of the `search_k` (the order in which
        the candidates are judged is the same either way). A sampled row keeps every passing one
        among the `top_k` best, or among the `search_k` best when none of those passes."""
        widths = [self.top_k] if self.sampling else [1, self.top_k, 16 * self.top_k]
        return sorted({min(w, self.search_k) for w in widths} | {self.search_k})

    def _judge(
        self,
        row: int,
        checker: NameChecker,
        constraint: NameConstraint,
        tokens: list[int],
        prepared: PreparedText | None,
        quick: _QuickCheck | None,
        ranked: list[int],
    ) -> tuple[int, list[int]]:
        """(how many failed, kept) among `ranked`; greedy stops at the first kept token. `prepared` is the
        completion's SQL scanned (None: still on a free first line); `quick` checks a token's
        piece against it (None: no quick check, with stop sequences or on a free first line)."""
        failed = 0
        kept: list[int] = []
        pieces, eos_ids, special = self.pieces, self.eos_ids, self.special  # (a hot loop)
        screen = len(ranked) > 1
        # Over many candidates most are settled by a first character already refused at this step:
        # that lookup comes before anything else.
        refused = quick.prefixes if quick is not None and screen else {}
        for token in ranked:
            piece = pieces[token] if token in pieces else self._piece(token)
            if refused.get(piece[:1]) is False and token not in eos_ids:
                failed += 1
                continue
            # A lone first look needs no screening by first character: it is one check either way.
            if (
                quick is not None
                and token not in eos_ids
                and (token in special or not quick.allows(piece, screen=screen))
            ):
                failed += 1
                continue
            if self._allows(row, checker, constraint, tokens, token, prepared):
                kept.append(token)
                if not self.sampling:
                    break
            else:
                failed += 1
        return failed, kept

    def _piece(self, token: int) -> str:
        if token not in self.pieces:
            self.pieces[token] = self.decode([token])
        return self.pieces[token]

    def _prepare(self, row: int, checker: NameChecker, text: str) -> PreparedText:
        """The row's SQL scanned up to its last token, extending the previous step's scan."""
        previous = self.prepared.get(row)
        prepared = checker.extend(previous, text) if previous is not None else checker.prepare(text)
        self.prepared[row] = prepared
        return prepared

    def _text(self, row: int, tokens: list[int]) -> str:
        """The row's completion decoded; the last step already decoded it when it judged the token
        that was then chosen (a row only ever grows by one token)."""
        seen = self.decoded.get(row)
        if seen is not None and seen[0] == len(tokens) and tokens and seen[1] == tokens[-1]:
            return seen[2]
        return self.decode(tokens)

    def _allows(
        self,
        row: int,
        checker: NameChecker,
        constraint: NameConstraint,
        tokens: list[int],
        token: int,
        prepared: PreparedText | None,
    ) -> bool:
        """The verdict on the text the row would really have (decoded whole, as tokens can decode
        differently together than alone). When that text is the prepared text plus the token's
        piece, the quick check that let the token here already gave this verdict (the two are
        equal: `tests/sqlkit/test_names.py`)."""
        if token in self.special:
            return False
        ending = token in self.eos_ids
        ids = tokens if ending else [*tokens, token]
        text = self.decode(ids)
        if not ending:
            self.decoded[row] = (len(ids), token, text)
        if any(s in text for s in self.stop):
            return True  # the completion ends at the stop; what follows is cut off
        sql = _sql_part(constraint, text)
        if sql is None:
            return True
        if ending and constraint.compiles is not None and not constraint.compiles(constraint.lead + sql):
            return False  # the query may end only where it compiles on the schema
        # (With stop sequences the quick check is skipped, so the whole check runs.)
        if (
            prepared is not None
            and not self.stop
            and constraint.lead + sql == prepared.text + ("" if ending else self._piece(token))
        ):
            return checker.allows_after(prepared, "", complete=True) if ending else True
        # A token that ends inside a UTF-8 character decodes to U+FFFD, which the check refuses
        # outside quotes: SQL's names and keywords are ASCII.
        return checker.allows(constraint.lead + sql, complete=ending)


class _QuickCheck:
    """The cheap check of one row at one step: its SQL so far plus a token's own text.

    Two rules settle most of a wide search before the name check runs on a whole piece:
    - a piece passes only if its first character does, and then its first two (the check is
      prefix-closed: text that can still grow into a valid query could also do so one character
      shorter; tested in `tests/sqlkit/test_names.py`), and a vocabulary has a few hundred first
      characters against thousands of pieces: after `FROM resta` only pieces starting with `u`
      are looked at, and after `FROM ` only those starting with a table's first letter;
    - after whitespace outside quotes, a piece of whitespace alone is refused. It adds nothing to
      the SQL; a row whose query cannot end yet (it does not compile) would otherwise pad itself
      with blank lines up to the token limit instead of writing on or reaching a dead end.
    """

    def __init__(self, checker: NameChecker, prepared: PreparedText) -> None:
        self.checker = checker
        self.prepared = prepared
        self.after_space = prepared.text[prepared.cut :].isspace()
        self.prefixes: dict[str, bool] = {}  # verdicts on the SQL plus a piece's first one or two characters

    def allows(self, piece: str, screen: bool = True) -> bool:
        """`screen`: look at the piece's first character, then its first two, before the whole
        piece (worth it over many pieces: they share their starts)."""
        if self.after_space and piece.isspace():
            return False
        if not piece or not screen:
            return self.checker.allows_after(self.prepared, piece, complete=False)
        for start in (piece[:1], piece[:2]):
            verdict = self.prefixes.get(start)
            if verdict is None:
                verdict = self.prefixes[start] = self.checker.allows_after(self.prepared, start, complete=False)
            if not verdict or len(start) == len(piece):
                return verdict
        return self.checker.allows_after(self.prepared, piece, complete=False)


def text_decoder(tokenizer: PreTrainedTokenizerBase) -> Callable[[list[int]], str]:
    """`tokenizer.decode(ids, skip_special_tokens=True)`, straight from the fast tokenizer when that
    gives the same text (no clean-up of spaces configured): the decoder runs it for every row at
    every step, and the wrapper's argument checks cost more than the decoding."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or getattr(tokenizer, "clean_up_tokenization_spaces", False):

        def decode(ids: list[int]) -> str:
            text = tokenizer.decode(ids, skip_special_tokens=True)
            assert isinstance(text, str)  # one sequence of ids decodes to one string
            return text

        return decode
    return lambda ids: backend.decode(ids, skip_special_tokens=True)


def _finite_best(row_scores: torch.Tensor, k: int) -> list[int]:
    """The ids of the k best scores, best first, without those already ruled out (-inf)."""
    values, indices = row_scores.topk(min(k, row_scores.shape[0]))
    ids = indices.tolist()
    if values[-1].item() == float("-inf"):
        ids = ids[: int(torch.isfinite(values).sum())]
    return ids


def _sql_part(constraint: NameConstraint, completion: str) -> str | None:
    """The part of a completion the check applies to; None while a free first line is unfinished."""
    if not constraint.after_first_line:
        return completion
    if "\n" not in completion:
        return None
    return completion.split("\n", 1)[1]
