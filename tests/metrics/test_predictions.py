from pathlib import Path

import pytest

from routesql.errors import InputError
from routesql.metrics.predictions import read_predictions

# (file name, bytes, expected predictions for 3 examples)
GOOD_FILES = [
    ("pred.sql", b"SELECT 1\nSELECT 2\nSELECT 3\n", ["SELECT 1", "SELECT 2", "SELECT 3"]),
    ("pred.sql", b"SELECT 1\nSELECT 2\nSELECT 3", ["SELECT 1", "SELECT 2", "SELECT 3"]),
    ("pred.sql", b"SELECT 1\tdb\r\n\r\nSELECT 3\tdb\r\n", ["SELECT 1", "", "SELECT 3"]),
    (
        "pred.csv",
        b'NLQ,Predict\nq1,SELECT 1;\nq2,"SELECT a,\nb FROM t"\nq3,\n',
        ["SELECT 1;", "SELECT a,\nb FROM t", ""],
    ),
    ("pred.txt", b"Predict,database\nSELECT 1,d\nSELECT 2,d\nSELECT 3,d\n", ["SELECT 1", "SELECT 2", "SELECT 3"]),
]


@pytest.mark.parametrize(("name", "content", "expected"), GOOD_FILES)
def test_prediction_formats(tmp_path: Path, name: str, content: bytes, expected: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert read_predictions(path, 3) == expected


# (file name, bytes, words the one-line error must contain)
BAD_FILES = [
    ("pred.sql", b"SELECT 1\nSELECT 2\n", ["pred.sql", "2 predictions for 3 examples"]),
    ("pred.sql", b"SELECT 1\nSELECT 2\nSELECT 3\nSELECT 4\n", ["pred.sql", "4 predictions for 3"]),
    ("pred.sql", b"SELECT '\xff'\nSELECT 2\nSELECT 3\n", ["pred.sql", "not UTF-8", "0xff"]),
    ("pred.csv", b"NLQ,SQL\nq,SELECT 1\n", ["pred.csv", "no 'Predict' column"]),
]


@pytest.mark.parametrize(("name", "content", "words"), BAD_FILES)
def test_bad_prediction_files_give_one_clear_line(tmp_path: Path, name: str, content: bytes, words: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_predictions(path, 3)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_prediction_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.sql: file not found"):
        read_predictions(tmp_path / "nope.sql", 1)
