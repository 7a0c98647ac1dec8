"""Natural names and plurals: how tables and columns are read out in questions."""

from __future__ import annotations

import pytest

from routesql.questions.words import article, natural_name, plural


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("hire_date", "hire date"),
        ("HomeTown", "home town"),
        ("Customer_ID", "customer id"),
        ("HTMLPage", "html page"),
        ("concert_Name", "concert name"),
        ("StuID", "stu id"),
        ("address2", "address2"),
        ("first-name", "first name"),
    ],
)
def test_natural_name(identifier: str, expected: str) -> None:
    assert natural_name(identifier) == expected


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("employee", "employees"),
        ("hire_date", "hire dates"),
        ("coach", "coaches"),
        ("branch", "branches"),
        ("dish", "dishes"),
        ("box", "boxes"),
        ("class", "classes"),
        ("campus", "campuses"),
        ("category", "categories"),
        ("country", "countries"),
        ("day", "days"),
        ("people", "people"),
        ("Sales_Records", "sales records"),
        ("Addresses", "addresses"),
    ],
)
def test_plural(identifier: str, expected: str) -> None:
    assert plural(identifier) == expected


@pytest.mark.parametrize(("identifier", "expected"), [("employee", "an"), ("coach", "a"), ("Item_type", "an")])
def test_article(identifier: str, expected: str) -> None:
    assert article(identifier) == expected
