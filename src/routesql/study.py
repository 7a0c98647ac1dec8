"""Optuna study plumbing shared by processes: exact trial counts over a shared storage.

Kept free of torch and Lightning so that joining a study is cheap.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna
from sqlalchemy.exc import SQLAlchemyError

from routesql.errors import InputError
from routesql.redact import redact_message, redact_url

WHERE = "params.yaml: tune.storage"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


class StudyLock:
    """Serialises 'count the trials, then ask for one' across processes, so a shared study runs
    exactly n_trials: a PostgreSQL advisory lock for a PostgreSQL storage, a file lock otherwise."""

    def __init__(self, storage: str, study_name: str) -> None:
        self.storage, self.key = storage, study_name

    def __enter__(self) -> StudyLock:
        if self.storage.startswith("postgresql"):
            import psycopg2

            try:
                self._conn = psycopg2.connect(re.sub(r"^postgresql\+\w+://", "postgresql://", self.storage))
            except psycopg2.Error as error:
                raise storage_error(self.storage, error) from None
            self._conn.autocommit = True
            self._conn.cursor().execute("SELECT pg_advisory_lock(hashtext(%s))", (self.key,))
        else:
            import fcntl

            path = Path(self.storage.removeprefix("sqlite:///") + ".lock")
            self._file = open(path, "w")
            fcntl.flock(self._file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.storage.startswith("postgresql"):
            self._conn.cursor().execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
            self._conn.close()
        else:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def run_study(study: optuna.Study, objective, n_trials: int, lock: StudyLock) -> list[int]:
    """Ask/tell until the study holds n_trials finished or running trials; returns the trial numbers run here."""
    ran: list[int] = []
    while True:
        with lock:
            taken = len(study.get_trials(deepcopy=False, states=(*FINISHED, optuna.trial.TrialState.RUNNING)))
            if taken >= n_trials:
                return ran
            trial = study.ask()
        ran.append(trial.number)
        try:
            study.tell(trial, objective(trial))
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except Exception:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise


def open_study(params, name: str) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=params.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    try:
        return optuna.create_study(
            study_name=name,
            storage=params.tune.storage,
            direction="maximize",
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
    except (SQLAlchemyError, ImportError, ValueError) as error:  # unreachable, malformed, no driver
        raise storage_error(params.tune.storage, error) from None


def storage_error(storage: str, error: Exception) -> InputError:
    """One line naming the storage with its password masked, and the library's first line, scrubbed."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    reason = redact_message(f"{type(error).__name__}: {first_line}".rstrip(": "), storage)
    return InputError(WHERE, f"cannot open the Optuna storage {redact_url(storage)} ({reason})")
