"""MLflow tracking: check the URI before any work starts, and hand out loggers and runs."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from routesql.errors import InputError

WHERE = "params.yaml: tracking.uri"


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> None:
    """Raise InputError (one line) when the tracking store cannot be reached or created."""
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        folder = Path(urlparse(uri).path if scheme else uri)
        _check_writable(folder if folder.suffix == "" else folder.parent, uri)
    elif scheme == "sqlite":
        path = uri.removeprefix("sqlite:///")
        _check_writable(Path(path).expanduser().resolve().parent, uri)
    elif scheme in ("http", "https"):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s).close()
        except (urllib.error.URLError, OSError) as error:
            raise InputError(WHERE, f"MLflow server {uri} cannot be reached ({_reason(error)})") from None
    elif scheme.startswith("postgresql"):
        _check_postgres(uri, timeout_s)
    else:
        raise InputError(WHERE, f"unsupported tracking URI scheme {scheme!r} in {uri}")


def _check_writable(folder: Path, uri: str) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _can_write(existing):
        raise InputError(WHERE, f"cannot create the tracking store {uri}: {existing} is not a writable folder")


def _can_write(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def _check_postgres(uri: str, timeout_s: float) -> None:
    import psycopg2

    dsn = re.sub(r"^postgresql\+\w+://", "postgresql://", uri)
    try:
        psycopg2.connect(dsn, connect_timeout=max(1, int(timeout_s))).close()
    except psycopg2.Error as error:
        raise InputError(WHERE, f"PostgreSQL at {urlparse(uri).hostname} cannot be reached "
                                f"({str(error).strip().splitlines()[0]})") from None


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", error))


def mlflow_logger(uri: str, experiment: str, run_name: str, tags: dict[str, str] | None = None):
    """Lightning's MLFlowLogger for this project's store."""
    from pytorch_lightning.loggers import MLFlowLogger

    return MLFlowLogger(experiment_name=experiment, tracking_uri=uri, run_name=run_name, tags=tags or {})
