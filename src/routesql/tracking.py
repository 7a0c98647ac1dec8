"""MLflow tracking: check the URI before any work starts, and hand out loggers and runs."""

from __future__ import annotations

import base64
import http.client
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit, urlunsplit

from routesql.errors import InputError
from routesql.redact import redact_message, redact_url

WHERE = "params.yaml: tracking.uri"


def check_tracking_uri(uri: str, timeout_s: float = 5.0) -> None:
    """Raise InputError (one line) when the tracking store cannot be reached or created.

    The message shows the URI with its password masked (`redact_url`), never the password.
    """
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        folder = Path(urlparse(uri).path if scheme else uri)
        _check_writable(folder if folder.suffix == "" else folder.parent, uri)
    elif scheme == "sqlite":
        path = uri.removeprefix("sqlite:///")
        _check_writable(Path(path).expanduser().resolve().parent, uri)
    elif scheme in ("http", "https"):
        _check_http(uri, timeout_s)
    elif scheme.startswith("postgresql"):
        _check_postgres(uri, timeout_s)
    else:
        raise InputError(WHERE, f"unsupported tracking URI scheme {scheme!r} in {redact_url(uri)}")


def _check_http(uri: str, timeout_s: float) -> None:
    """GET <uri>/health; credentials in the URI go in an Authorization header, not the request line."""
    parts = urlsplit(uri)
    headers: dict[str, str] = {}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    try:
        request = urllib.request.Request(bare.rstrip("/") + "/health", headers=headers)
        urllib.request.urlopen(request, timeout=timeout_s).close()
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:  # or a malformed port
        raise InputError(
            WHERE, f"MLflow server {redact_url(uri)} cannot be reached ({redact_message(_reason(error), uri)})"
        ) from None


def _check_writable(folder: Path, uri: str) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _can_write(existing):
        raise InputError(
            WHERE, f"cannot create the tracking store {redact_url(uri)}: {existing} is not a writable folder"
        )


def _can_write(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def _check_postgres(uri: str, timeout_s: float) -> None:
    import psycopg2

    dsn = re.sub(r"^postgresql\+\w+://", "postgresql://", uri)
    try:
        psycopg2.connect(dsn, connect_timeout=max(1, int(timeout_s))).close()
    except psycopg2.Error as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(
            WHERE, f"PostgreSQL at {urlparse(uri).hostname} cannot be reached ({redact_message(first_line, uri)})"
        ) from None


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", error))


def mlflow_logger(uri: str, experiment: str, run_name: str, tags: dict[str, str] | None = None):
    """Lightning's MLFlowLogger for this project's store."""
    from pytorch_lightning.loggers import MLFlowLogger

    return MLFlowLogger(experiment_name=experiment, tracking_uri=uri, run_name=run_name, tags=tags or {})
