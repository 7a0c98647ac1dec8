"""The study coordination of `routesql tune`: exact trial counts across processes and storages."""

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import optuna
import pytest

from routesql.study import StudyLock, run_study
from support_postgres import postgres_url

WORKER = textwrap.dedent("""
    import json, sys, time
    import optuna
    from routesql.study import StudyLock, run_study
    storage, name, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.3)  # long enough for both processes to interleave
        return -(x - 0.3) ** 2
    ran = run_study(study, objective, n, StudyLock(storage, name))
    open(out, "w").write(json.dumps(ran))
""")


def _two_processes(storage: str, tmp_path: Path, n_trials: int) -> tuple[list[int], list[int], optuna.Study]:
    name = f"study-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=name, storage=storage, direction="maximize")  # both join it
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [subprocess.Popen([sys.executable, str(script), storage, name, str(n_trials), str(out)]) for out in outs]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    first, second = (json.loads(out.read_text()) for out in outs)
    return first, second, optuna.load_study(study_name=name, storage=storage)


def _assert_exact(first: list[int], second: list[int], study: optuna.Study, n_trials: int) -> None:
    assert not set(first) & set(second), "a trial ran in both processes"
    assert sorted(first + second) == list(range(n_trials)), "a trial was lost or one too many ran"
    assert len(study.trials) == n_trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert first and second, "both processes should have worked on the study"


def test_two_processes_share_a_postgresql_study_exactly(tmp_path: Path) -> None:
    with postgres_url() as url:
        if url is None:
            pytest.skip(
                "no PostgreSQL server here: install Debian's postgresql (.ci/run does) "
                "or set ROUTESQL_TEST_POSTGRES_URL"
            )
        first, second, study = _two_processes(url, tmp_path, n_trials=8)
        _assert_exact(first, second, study, 8)


def test_two_processes_share_a_sqlite_study_exactly(tmp_path: Path) -> None:
    first, second, study = _two_processes(f"sqlite:///{tmp_path / 'optuna.db'}", tmp_path, n_trials=6)
    _assert_exact(first, second, study, 6)


def test_pruned_and_failed_trials_are_told(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")

    def objective(trial):
        if trial.number == 1:
            raise optuna.TrialPruned()
        return float(trial.number)

    assert run_study(study, objective, 3, StudyLock(storage, "s")) == [0, 1, 2]
    states = [t.state for t in study.trials]
    assert states == [
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.COMPLETE,
    ]

    def broken(trial):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        run_study(study, broken, 4, StudyLock(storage, "s"))
    assert study.trials[-1].state == optuna.trial.TrialState.FAIL


SECRET = "s3cr3t-PaSS"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql://optuna:" + SECRET + "@127.0.0.1:{port}/optuna",  # nothing listens there
        "postgresql+psycopg2://optuna:" + SECRET + "@127.0.0.1:notaport/optuna",  # malformed port
        "nosuchdialect://optuna:" + SECRET + "@127.0.0.1:{port}/optuna",  # no such driver
    ],
)
def test_a_storage_that_cannot_be_opened_is_named_without_its_password(storage: str) -> None:
    from types import SimpleNamespace

    from routesql.errors import InputError
    from routesql.study import open_study

    params = SimpleNamespace(seed=0, tune=SimpleNamespace(storage=storage.format(port=_closed_port())))
    with pytest.raises(InputError) as caught:
        open_study(params, "s")
    message = str(caught.value)
    assert SECRET not in message and "\n" not in message
    assert message.startswith("params.yaml: tune.storage: cannot open the Optuna storage ") and "optuna:***@" in message


def test_the_study_lock_names_the_storage_without_its_password() -> None:
    from routesql.errors import InputError

    storage = f"postgresql://optuna:{SECRET}@127.0.0.1:{_closed_port()}/optuna"
    with pytest.raises(InputError) as caught, StudyLock(storage, "s"):
        pass
    assert SECRET not in str(caught.value) and "optuna:***@127.0.0.1" in str(caught.value)
