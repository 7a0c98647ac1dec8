"""`routesql ablations`: the evidence for each method, as DVC experiments compared in one table.

`ablations.yaml` lists variants of the default pipeline (params.yaml overrides) and the table's
rows: each row is one variant's predictions after one step (`draft`, an MCP step's label, `final`,
or `zero_shot`, the base model before fine-tuning). Every variant runs the pipeline up to
`evaluate` as a DVC experiment (`dvc exp run --temp -n ablation-<variant> -S key=value ...`), so a
stage whose inputs a variant shares with another run (or with `make repro`) is restored from DVC's
run cache, not rerun; a variant whose experiment already exists on HEAD with the same params is
not run again at all.

The table: EX and EX by hardness from each row's per-question outcomes (`reports/eval/outcomes.json`
of the experiment), the difference against the reference row with a 95% interval from a paired
bootstrap over questions (dev sets here are small), schema linking's table recall where the
variant links, and the training cost from the experiment's model manifest. It goes to
`reports/ablations.md` and `reports/ablations.html` (with a bar chart), and to MLflow: one parent
run, one child run per variant.
"""

from __future__ import annotations

import copy
import datetime
import html
import json
import os
import random
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from routesql.atomic import write_text_atomic
from routesql.config import Params, describe_validation_error, load_params, read_yaml_mapping
from routesql.errors import InputError
from routesql.train.scratch import CHECKPOINTS_ENV

EXPERIMENT_PREFIX = "ablation-"
LEVELS = ("easy", "medium", "hard", "extra")


@dataclass(frozen=True)
class Variant:
    name: str
    about: str
    overrides: dict[str, Any]  # dotted params key → value

    @property
    def experiment(self) -> str:
        return EXPERIMENT_PREFIX + self.name


@dataclass(frozen=True)
class Row:
    label: str
    variant: str
    step: str  # draft | an MCP step's label | final | zero_shot


@dataclass(frozen=True)
class AblationPlan:
    path: Path
    variants: list[Variant]
    rows: list[Row]
    reference: str  # the label of the row every other is compared with
    bootstrap_samples: int


@dataclass
class VariantResult:
    variant: Variant
    rev: str
    metrics: dict
    outcomes: dict
    train: dict | None  # the trained model's manifest (routesql.json)
    reused: bool


def load_plan(plan_path: Path, base: dict) -> AblationPlan:
    """Read ablations.yaml and check every variant against params.yaml's schema (`base`: its
    mapping): an unknown key, a wrong type, a row naming a missing variant or step stops here,
    naming the file and the key."""
    raw = read_yaml_mapping(plan_path, "variants file")
    for key in raw:
        if key not in ("reference", "common", "variants", "rows", "bootstrap_samples"):
            raise InputError(plan_path, f"{key}: unknown key")
    common = _mapping(raw.get("common") or {}, plan_path, "common")
    check_overrides(base, common, plan_path, "common")
    variants_raw = _mapping(raw.get("variants"), plan_path, "variants")
    if not variants_raw:
        raise InputError(plan_path, "variants: at least one variant is needed")
    variants = []
    steps_of: dict[str, list[str]] = {}  # variant → the steps its rows may name
    for name, body in variants_raw.items():
        where = f"variants.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise InputError(plan_path, f"{where}: a variant's name is lowercase letters, digits, - and _")
        body = _mapping(body, plan_path, where)
        for key in body:
            if key not in ("about", "set"):
                raise InputError(plan_path, f"{where}.{key}: unknown key (about, set)")
        overrides = {**common, **_mapping(body.get("set") or {}, plan_path, f"{where}.set")}
        params = check_overrides(base, overrides, plan_path, where)
        steps_of[str(name)] = _steps_of(params)
        variants.append(Variant(str(name), str(body.get("about", "")), overrides))
    names = {v.name for v in variants}
    rows: list[Row] = []
    for i, entry in enumerate(raw.get("rows") or []):
        entry = _mapping(entry, plan_path, f"rows[{i}]")
        label, variant, step = entry.get("label"), entry.get("variant"), entry.get("step")
        if not label or variant not in names or not step:
            raise InputError(plan_path, f"rows[{i}]: needs label, variant (one of {sorted(names)}) and step")
        if str(label) in {r.label for r in rows}:
            raise InputError(plan_path, f"rows[{i}]: the label {label!r} is used twice")
        if (variant, step) in {(r.variant, r.step) for r in rows}:
            raise InputError(plan_path, f"rows[{i}]: variant {variant!r} step {step!r} already has a row")
        steps = steps_of[variant]
        if step not in steps:
            raise InputError(plan_path, f"rows[{i}] ({label}): step {step!r} is not one of {steps}")
        rows.append(Row(str(label), str(variant), str(step)))
    if not rows:
        raise InputError(plan_path, "rows: at least one row is needed")
    reference = raw.get("reference")
    if reference not in {r.label for r in rows}:
        raise InputError(plan_path, f"reference: {reference!r} is not the label of a row")
    samples = raw.get("bootstrap_samples", 2000)
    if not isinstance(samples, int) or samples < 100:
        raise InputError(plan_path, "bootstrap_samples: an integer of at least 100")
    return AblationPlan(plan_path, variants, rows, str(reference), samples)


def _mapping(value: Any, path: Path, where: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(path, f"{where}: expected a mapping")
    return value


def with_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """params.yaml's mapping with each dotted key set (intermediate mappings created)."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part} is not a section")
        node[leaf] = value
    return out


def check_overrides(base: dict, overrides: dict[str, Any], plan_path: Path, where: str) -> Params:
    """The params a variant runs with, validated like params.yaml (unknown keys fail)."""
    for key in overrides:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise InputError(plan_path, f"{where}.set: {key!r} is not a dotted params key")
    from routesql.mcp.settings import check_steps

    try:
        params = Params.model_validate(with_overrides(base, overrides))
        check_steps(tuple(params.mcp.steps), params.mcp.self_consistency)
    except (ValidationError, ValueError, InputError) as error:
        detail = describe_validation_error(error) if isinstance(error, ValidationError) else str(error)
        raise InputError(plan_path, f"{where}: {detail}") from None
    return params


def _steps_of(params: Params) -> list[str]:
    from routesql.mcp.registry import MCP_STEPS

    steps = ["draft", *[MCP_STEPS[s].label for s in params.mcp.steps], "final"]
    if params.evaluate.zero_shot:
        steps.append("zero_shot")
    return steps


# ---- running the experiments ---------------------------------------------------------------------


def set_param_args(overrides: dict[str, Any], params_file: dict) -> list[str]:
    """`-S key=value` arguments for dvc exp run: values as JSON (which DVC's override grammar reads),
    and `+key=value` for a key params.yaml leaves to its default (DVC only adds keys marked so)."""
    args = []
    for key, value in overrides.items():
        node: Any = params_file
        for part in key.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        args += ["-S", f"{'+' if node is _ABSENT else ''}{key}={json.dumps(value)}"]
    return args


_ABSENT = object()


def tracking_override(params: Params, repo: Path) -> dict[str, str]:
    """A relative SQLite/file tracking store made absolute: experiments run in a temporary copy of
    the repository, and their stages must log to the project's store, not to one deleted after."""
    uri = params.tracking.uri
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_absolute():
            return {"tracking.uri": f"sqlite:///{(repo / path).resolve()}"}
    elif scheme in ("", "file"):
        path = Path(urlparse(uri).path if scheme else uri)
        if not path.is_absolute():
            return {"tracking.uri": str((repo / path).resolve())}
    return {}


@dataclass(frozen=True)
class Experiments:
    """The experiments DVC shows on HEAD. `finished`: name → (commit, params.yaml's values).
    `unfinished`: names shown as running or queued. A call killed mid-run (a closed session, Ctrl-C
    twice) leaves its entry "running" for good, under the name of the variant it was running;
    reusing it would read results it never wrote."""

    finished: dict[str, tuple[str, dict]]
    unfinished: set[str]


def existing_experiments(repo: Path) -> Experiments:
    shown = _dvc(repo, ["exp", "show", "--json", "--hide-queued", "--hide-failed"], "list the experiments")
    found = Experiments(finished={}, unfinished=set())
    for baseline in json.loads(shown.stdout or "[]"):
        for experiment in baseline.get("experiments") or []:
            done = (experiment.get("executor") or {}).get("state", "success") == "success"
            for rev in experiment.get("revs") or []:
                if not rev.get("name"):
                    continue
                if not done:
                    found.unfinished.add(rev["name"])
                    continue
                params = ((rev.get("data") or {}).get("params") or {}).get("params.yaml", {}).get("data", {})
                found.finished[rev["name"]] = (rev["rev"], params)
    return found


def experiment_env(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment of `dvc exp run`: training checkpoints go to the project's own folder, not
    to the experiment's temporary copy, so that a variant sharing another's SFT (sense_dpo after
    sense_strong) resumes it finished, and a killed call resumes where it stopped. A folder the
    user already chose with $ROUTESQL_CHECKPOINTS is kept."""
    if env.get(CHECKPOINTS_ENV):
        return dict(env)
    return {**env, CHECKPOINTS_ENV: str((repo / "checkpoints").resolve())}


def run_variant(
    repo: Path, variant: Variant, extra: dict[str, str], params_file: dict, say: Callable[[str], None]
) -> None:
    say(f"{variant.experiment}: dvc exp run --temp ... evaluate ({len(variant.overrides)} overrides)")
    overrides = {**variant.overrides, **extra}
    command = ["exp", "run", "--temp", "-n", variant.experiment, *set_param_args(overrides, params_file)]
    env = experiment_env(repo, dict(os.environ))
    _dvc(repo, [*command, "evaluate"], f"run {variant.experiment}", capture=False, env=env)


def _dvc(
    repo: Path, args: list[str], what: str, capture: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["dvc", *args], cwd=repo, capture_output=capture, text=True, env=env)
    except FileNotFoundError:
        raise InputError("dvc", "not found on PATH (run from the project's .venv, e.g. via make)") from None
    if done.returncode != 0:
        last = ((done.stderr or "").strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise InputError(f"dvc {args[0]} {args[1]}", f"could not {what}: {last}")
    return done


def _show(repo: Path, rev: str, path: str) -> str:
    done = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(path, f"not in experiment {rev[:8]} (is it git-ignored? see .gitignore)")
    return done.stdout


def collect(repo: Path, variant: Variant, rev: str, reused: bool) -> VariantResult:
    metrics = json.loads(_show(repo, rev, "reports/eval/metrics.json"))
    outcomes = json.loads(_show(repo, rev, "reports/eval/outcomes.json"))
    import dvc.api  # type: ignore[import-untyped]
    from dvc.exceptions import DvcException  # type: ignore[import-untyped]

    try:  # the trained model's manifest, inside a DVC-cached folder of the experiment
        train = json.loads(dvc.api.read("models/trained/routesql.json", repo=str(repo), rev=rev))
    except (DvcException, OSError, ValueError):  # not in the local cache (pulled elsewhere): no cost columns
        train = None
    return VariantResult(variant, rev, metrics, outcomes, train, reused)


# ---- the table -----------------------------------------------------------------------------------


def row_outcomes(result: VariantResult, step: str) -> dict[str, str]:
    """Question id → '1' / '0' / '-' for one step of one variant."""
    outcomes = result.outcomes
    if step == "zero_shot":
        if "zero_shot" not in outcomes:
            raise InputError(result.variant.experiment, "no zero-shot outcomes (evaluate.zero_shot is off)")
        zero = outcomes["zero_shot"]
        return dict(zip(zero["ids"], zero["exec_match"]))
    if step not in outcomes:
        raise InputError(result.variant.experiment, f"no outcomes for step {step!r}: {sorted(outcomes)}")
    return dict(zip(outcomes["ids"], outcomes[step]))


def exact_share(marks: dict[str, str], ids: list[str] | None = None) -> tuple[float, int]:
    scored = [marks[i] for i in (ids if ids is not None else marks) if marks.get(i) in ("0", "1")]
    return (sum(m == "1" for m in scored) / len(scored) if scored else 0.0), len(scored)


def paired_bootstrap(
    row: dict[str, str], reference: dict[str, str], samples: int, seed: int
) -> tuple[float, float, float]:
    """EX(row) - EX(reference) on the questions both scored, with a 95% percentile interval from
    resampling those questions with replacement (the pairs stay together)."""
    ids = [i for i in row if row[i] in "01" and reference.get(i, "-") in "01"]
    if not ids:
        raise ValueError("no question is scored in both rows")
    diffs = [int(row[i] == "1") - int(reference[i] == "1") for i in ids]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    low, high = means[int(0.025 * (samples - 1))], means[int(0.975 * (samples - 1))]
    return sum(diffs) / n, low, high


def build_table(plan: AblationPlan, results: dict[str, VariantResult], seed: int) -> list[dict]:
    reference_row = next(r for r in plan.rows if r.label == plan.reference)
    reference = row_outcomes(results[reference_row.variant], reference_row.step)
    table = []
    for row in plan.rows:
        result = results[row.variant]
        marks = row_outcomes(result, row.step)
        hardness = dict(zip(result.outcomes["ids"], result.outcomes.get("hardness", [])))
        ex, n = exact_share(marks)
        if n == 0:  # 11: nothing scored is a broken run, not an EX of 0
            raise InputError(result.variant.experiment, f"row {row.label!r}: no question was scored")
        try:
            delta, low, high = paired_bootstrap(marks, reference, plan.bootstrap_samples, seed)
        except ValueError:
            raise InputError(
                result.variant.experiment, f"row {row.label!r} shares no scored question with {plan.reference!r}"
            ) from None
        by_level = {}
        for level in LEVELS:
            level_ex, level_n = exact_share(marks, [i for i in marks if hardness.get(i) == level])
            by_level[level] = level_ex if level_n else None
        train = result.train if row.step != "zero_shot" else None
        table.append(
            {
                "row": row.label,
                "variant": row.variant,
                "step": row.step,
                "ex": round(ex, 4),
                "n": n,
                "delta": None if row.label == plan.reference else round(delta, 4),
                "delta_ci": None if row.label == plan.reference else [round(low, 4), round(high, 4)],
                "by_hardness": by_level,
                "table_recall": (result.metrics.get("schema_linking") or {}).get("table_recall")
                if row.step not in ("draft", "zero_shot")
                else None,
                **train_cost(train),
            }
        )
    return table


def train_cost(manifest: dict | None) -> dict:
    """Tokens computed, minutes and peak memory of the training run, from its manifest. Minutes are
    the training loop's over every session of a resumed run; a manifest written before that count
    gives its session's wall time, or none when it was resumed (its earlier sessions are unknown)."""
    if not manifest:
        return {"train_tokens": None, "train_minutes": None, "peak_memory_mb": None}
    settings, final = manifest.get("settings", {}), manifest.get("final_metrics", {})
    capacity = manifest.get("steps", 0) * settings.get("batch_size", 0) * settings.get("max_seq_len", 0)
    capacity *= settings.get("grad_accumulation", 1)
    share = final.get("train/non_padding_share", 1.0)
    seconds = manifest.get("training_seconds")
    if seconds is None and not manifest.get("resumed_from"):  # a manifest from before the count
        seconds = manifest.get("wall_seconds_last_session")
    peak = final.get("dpo/peak_memory_mb" if manifest.get("kind") == "dpo" else "train/peak_memory_mb")
    return {
        "train_tokens": int(capacity * share) if capacity else None,
        "train_minutes": round(seconds / 60, 1) if seconds is not None else None,
        "peak_memory_mb": round(peak) if peak is not None else None,
    }


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_markdown(table: list[dict], plan: AblationPlan, commit: str, when: str) -> str:
    lines = [
        "# Ablations",
        "",
        f"`routesql ablations` at {commit} on {when}; variants from `{plan.path.name}`; "
        f"Δ: EX minus the `{plan.reference}` row's on the same questions, 95% interval from a paired "
        f"bootstrap ({plan.bootstrap_samples} resamples).",
        "",
        "| row | EX | Δ [95% CI] | easy | medium | hard | extra | table recall | train tokens | train min | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        delta = (
            "reference"
            if r["delta"] is None
            else f"{r['delta']:+.3f} [{r['delta_ci'][0]:+.3f}, {r['delta_ci'][1]:+.3f}]"
        )
        levels = " | ".join(_cell(r["by_hardness"][level]) for level in LEVELS)
        tokens = "—" if r["train_tokens"] is None else f"{r['train_tokens']:,}"
        minutes = "—" if r["train_minutes"] is None else f"{r['train_minutes']:.1f}"
        memory = "—" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:,}"
        lines.append(
            f"| {r['row']} | {r['ex']:.4f} (n={r['n']}) | {delta} | {levels} | {_cell(r['table_recall'])} "
            f"| {tokens} | {minutes} | {memory} |"
        )
    lines += ["", "Variants:", ""]
    for variant in plan.variants:
        shown = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in variant.overrides.items())
        lines.append(f"- `{variant.name}`: {variant.about} ({shown})")
    return "\n".join(lines) + "\n"


def render_html(table: list[dict], markdown: str) -> str:
    """The table's EX as a bar chart (inline SVG), above the table's text."""
    width, bar, gap, left = 640, 22, 8, 220
    height = len(table) * (bar + gap) + 30
    scale = width - left - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="12">']
    for i, r in enumerate(table):
        y = 10 + i * (bar + gap)
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{html.escape(r["row"])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{r["ex"] * scale:.1f}" height="{bar}" fill="#4878a8"/>')
        parts.append(f'<text x="{left + r["ex"] * scale + 4:.1f}" y="{y + 15}">{r["ex"]:.3f}</text>')
    parts.append("</svg>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>routesql ablations</title></head><body>"
        "<h1>Ablations: dev EX by row</h1>" + "".join(parts) + "<pre>" + html.escape(markdown) + "</pre>"
        "</body></html>\n"
    )


def log_to_mlflow(
    params: Params, plan: AblationPlan, table: list[dict], results: dict[str, VariantResult], out: Path
) -> str:
    """One parent run (the table as files) and a child run per variant; returns the parent's id."""
    import mlflow

    mlflow.set_tracking_uri(params.tracking.uri)
    mlflow.set_experiment(params.tracking.experiment)
    with mlflow.start_run(run_name="ablations") as parent:
        mlflow.log_artifact(str(out / "ablations.md"), artifact_path="ablations")
        mlflow.log_artifact(str(out / "ablations.html"), artifact_path="ablations")
        for name, result in results.items():
            with mlflow.start_run(run_name=name, nested=True):
                mlflow.set_tags({"dvc_experiment": result.variant.experiment, "dvc_rev": result.rev})
                mlflow.log_params({k: json.dumps(v) for k, v in result.variant.overrides.items()})
                for r in (r for r in table if r["variant"] == name):
                    key = r["step"]
                    mlflow.log_metric(f"ex_{key}", r["ex"])
                    if r["delta"] is not None:
                        mlflow.log_metric(f"delta_ex_{key}", r["delta"])
                    if r["table_recall"] is not None:
                        mlflow.log_metric("table_recall", r["table_recall"])
                cost = train_cost(result.train)
                for metric, value in cost.items():
                    if value is not None:
                        mlflow.log_metric(metric, value)
        return parent.info.run_id


def run_ablations(
    repo: Path, plan_path: Path, params_path: Path, out: Path, track: bool, say: Callable[[str], None]
) -> list[dict]:
    """Run (or reuse) every variant's experiment, then write the table; returns its rows."""
    params = load_params(params_path)
    base = read_yaml_mapping(params_path)
    plan = load_plan(plan_path, base)
    extra = tracking_override(params, repo)
    existing = existing_experiments(repo)
    results: dict[str, VariantResult] = {}
    for variant in plan.variants:
        wanted = with_overrides(base, {**variant.overrides, **extra})
        found = existing.finished.get(variant.experiment)
        if found is None and variant.experiment in existing.unfinished:
            say(
                f"{variant.experiment}: DVC lists an unfinished run of it (an earlier call was stopped), "
                "so it runs again; training resumes from its checkpoints. The stopped run's copy under "
                ".dvc/tmp/exps/standalone/ can be deleted while no experiment runs."
            )
        if found is not None and _same_params(found[1], wanted):
            say(f"{variant.experiment}: already run on HEAD with these params ({found[0][:8]}), reused")
            rev, reused = found[0], True
        else:
            if found is not None:
                _dvc(repo, ["exp", "remove", variant.experiment], f"replace {variant.experiment}")
            run_variant(repo, variant, extra, base, say)
            ran = existing_experiments(repo).finished.get(variant.experiment)
            if ran is None:
                raise InputError(variant.experiment, "dvc exp run finished but the experiment is not listed")
            rev, reused = ran[0], False
        results[variant.name] = collect(repo, variant, rev, reused)
    table = build_table(plan, results, params.seed)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    markdown = render_markdown(table, plan, commit.stdout.strip() or "?", when)
    write_text_atomic(out / "ablations.md", markdown)
    write_text_atomic(out / "ablations.html", render_html(table, markdown))
    write_text_atomic(out / "ablations.json", json.dumps(table, indent=1) + "\n")
    if track:
        log_to_mlflow(params, plan, table, results, out)
    return table


def _same_params(found: dict, wanted: dict) -> bool:
    """The experiment's whole params.yaml (as DVC shows it) equals the wanted one."""
    return json.dumps(found, sort_keys=True) == json.dumps(wanted, sort_keys=True)
