"""Checks of the files and folders a stage reads, made before any work starts."""

from __future__ import annotations

from pathlib import Path

from routesql.errors import InputError


def require_file(path: Path, what: str) -> None:
    """One line when an input file is missing or is a folder."""
    if path.is_dir():
        raise InputError(path, f"is a folder, not a {what}")
    if not path.is_file():
        raise InputError(path, f"{what} not found")


def require_folder(path: Path, what: str) -> None:
    """One line when an input folder is missing or is a file."""
    if path.exists() and not path.is_dir():
        raise InputError(path, f"is a file, not a {what}")
    if not path.is_dir():
        raise InputError(path, f"{what} not found")
