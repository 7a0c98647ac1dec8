"""check_tracking_uri: one-line errors that name the store without its password."""

from __future__ import annotations

import socket

import pytest

from routesql.errors import InputError
from routesql.tracking import check_tracking_uri

SECRET = "s3cr3t-PaSS"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# (case, URI template with {port}, words the message must hold)
UNREACHABLE = [
    ("postgresql", "postgresql://mlflow:" + SECRET + "@127.0.0.1:{port}/mlflow", ["PostgreSQL at 127.0.0.1"]),
    ("postgresql+driver", "postgresql+psycopg2://mlflow:" + SECRET + "@127.0.0.1:{port}/mlflow", ["cannot be reached"]),
    (
        "http basic auth",
        "http://admin:" + SECRET + "@127.0.0.1:{port}",
        ["http://admin:***@127.0.0.1:", "cannot be reached"],
    ),
    ("http token query", "http://127.0.0.1:{port}/?token=" + SECRET, ["token=***", "cannot be reached"]),
    ("http bad port", "http://admin:" + SECRET + "@127.0.0.1:notaport", ["http://admin:***@127.0.0.1:notaport"]),
    (
        "unsupported scheme",
        "mysql://root:" + SECRET + "@127.0.0.1:{port}/mlflow",
        ["unsupported tracking URI scheme 'mysql'", "mysql://root:***@"],
    ),
]


@pytest.mark.parametrize(("uri", "words"), [c[1:] for c in UNREACHABLE], ids=[c[0] for c in UNREACHABLE])
def test_an_unreachable_store_is_named_without_its_password(uri: str, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        check_tracking_uri(uri.format(port=_closed_port()), timeout_s=2)
    message = str(caught.value)
    assert SECRET not in message
    assert message.startswith("params.yaml: tracking.uri: ") and "\n" not in message
    for word in words:
        assert word in message


def test_a_credentialed_http_store_is_checked_with_basic_auth() -> None:
    """The password travels in an Authorization header, not in the request line."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str | None]] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        check_tracking_uri(f"http://admin:{SECRET}@127.0.0.1:{server.server_address[1]}/", timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()
    expected = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
    assert seen == [("/health", expected)]
