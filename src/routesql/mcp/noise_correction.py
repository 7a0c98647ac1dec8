"""The noise_correction step: the model checks its SQL and corrects it; a second look guards the change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routesql.llm.generator import GenerationSettings
from routesql.mcp.work import MCPTrace, QuestionWork
from routesql.sqlkit.extract import extract_sql
from routesql.tasks.templates import VERDICT_CORRECT, VERDICT_INCORRECT, noise_correction_prompt, parse_noise_correction

if TYPE_CHECKING:
    from routesql.mcp.pipeline import MCPPipeline


class NoiseCorrection:
    """A correction is kept only if the model rejects the SQL and the corrected SQL executes;
    where the SQL ran, also only if the model judges its correction correct when shown it."""

    name = "noise_correction"
    label = "corrected"

    def run(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], traces: list[MCPTrace]) -> None:
        ids = [i for i in work if work[i].sql]
        results = {i: pipeline.execute(work[i].question.db_path, work[i].sql) for i in ids}
        prompts = [
            noise_correction_prompt(
                work[i].reduced_text,
                work[i].question.question,
                work[i].sql,
                results[i].error,
                work[i].question.evidence,
            ).text
            for i in ids
        ]
        constraints = [work[i].constraint(reduced=True, after_first_line=True) for i in ids]
        proposed: dict[int, str] = {}
        for i, answer in zip(ids, pipeline.greedy(prompts, constraints)):
            verdict, corrected = parse_noise_correction(answer)
            corrected = extract_sql(corrected)
            traces[i].notes["verdict"] = verdict or "unreadable"
            proposes = verdict == VERDICT_INCORRECT and corrected and corrected != work[i].sql
            if proposes and pipeline.execute(work[i].question.db_path, corrected).ok:
                if results[i].ok:
                    proposed[i] = corrected
                else:  # a failing SQL is wrong anyway: any correction that runs is kept
                    work[i].sql = corrected
                    traces[i].notes["correction"] = "kept"
        # A second look for SQL that ran: the model judges its own correction, and only one it
        # accepts replaces it (a checker that rejects everything would trade right SQL for wrong).
        for i, accepted in zip(proposed, self.judge(pipeline, work, proposed)):
            traces[i].notes["correction"] = "kept" if accepted else "dropped: the second look rejected it"
            if accepted:
                work[i].sql = proposed[i]

    def judge(self, pipeline: MCPPipeline, work: dict[int, QuestionWork], proposed: dict[int, str]) -> list[bool]:
        if not proposed:
            return []
        prompts = [
            noise_correction_prompt(
                work[i].reduced_text, work[i].question.question, sql, None, work[i].question.evidence
            ).text
            for i, sql in proposed.items()
        ]
        verdict_only = GenerationSettings(max_new_tokens=8, stop=("\n",), seed=pipeline.settings.seed)
        answers = pipeline.generator.generate(prompts, verdict_only)  # the verdict line is never constrained
        return [bool(options) and parse_noise_correction(options[0])[0] == VERDICT_CORRECT for options in answers]
