from pathlib import Path

import pytest
import yaml

from routesql.config import Params, load_params
from routesql.errors import InputError
from support import params_leaf_keys

REPO = Path(__file__).resolve().parents[1]


def test_shipped_params_yaml_is_the_code_defaults() -> None:
    """params.yaml writes out Params()'s defaults: one home for each default, and the file agrees."""
    shipped = load_params(REPO / "params.yaml").model_dump(by_alias=True)
    defaults = Params().model_dump(by_alias=True)
    differing = sorted(key for key in params_leaf_keys(defaults) if _at(shipped, key) != _at(defaults, key))
    assert not differing, f"params.yaml and routesql.config disagree on: {', '.join(differing)}"


def test_every_default_is_written_in_params_yaml() -> None:
    """A user reads params.yaml to see every knob. Its only omissions: the training fields DPO
    shares with train (they default as train's do) and train.mix (the mix lives under tasks.mix)."""
    written = set(params_leaf_keys(yaml.safe_load((REPO / "params.yaml").read_text())))
    omitted = sorted(set(params_leaf_keys(Params().model_dump(by_alias=True))) - written)
    assert all(key.startswith("dpo.") or key == "train.mix" for key in omitted), omitted


def _at(tree: dict, key: str) -> object:
    for part in key.split("."):
        tree = tree[part]
    return tree


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("")
    assert load_params(tmp_path / "params.yaml") == Params()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "nope.yaml", ["nope.yaml", "params file not found"]),
        (lambda d: d, ["is a folder"]),
    ],
)
def test_missing_or_folder_params_is_an_error(tmp_path: Path, make, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        load_params(make(tmp_path))
    assert all(word in str(caught.value) for word in words), str(caught.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("execution:\n  timeout_s: .inf\n", "execution.timeout_s"),
        ("execution:\n  timeout_s: .nan\n", "execution.timeout_s"),
        ("execution:\n  timeout_s: 0\n", "execution.timeout_s"),
        ("execution:\n  result_cap_mb: .inf\n", "execution.result_cap_mb"),
        ("execution:\n  row_cap: 0\n", "execution.row_cap"),
    ],
)
def test_execution_limits_must_be_finite_and_positive(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_params(path)
    assert key in str(caught.value)


# (yaml text, words the one-line error must contain)
BAD_PARAMS = [
    ("data:\n  benchmrk: demo\n", ["params.yaml", "data.benchmrk", "unknown key"]),
    ("colour: blue\n", ["colour", "unknown key"]),
    ("execution:\n  timeout_s: soon\n", ["execution.timeout_s", "soon"]),
    ("execution:\n  workers: 0\n", ["execution.workers"]),
    ("scoring:\n  semantics: sparql\n", ["scoring.semantics"]),
    ("tasks:\n  mix:\n    sql_golf: 1\n", ["tasks.mix.sql_golf", "unknown task"]),
    ("tasks:\n  mix:\n    text_to_sql: -1\n", ["tasks.mix.text_to_sql", ">= 0"]),
    ("tasks:\n  mix:\n    text_to_sql: 0\n", ["tasks.mix", "sum to a positive number"]),
    ("train:\n  mix:\n    text_to_sql: 1\n", ["train", "tasks.mix"]),
    ("data: [1, 2\n", ["params.yaml", "not valid YAML", "line"]),
    ("- a\n- b\n", ["expected a mapping"]),
]


@pytest.mark.parametrize(("text", "words"), BAD_PARAMS)
def test_bad_params_name_the_key(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_params(path)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message
