"""The OpenAI-compatible server: response shapes, chat prompts, refusals of bad requests (a fuzz
table sent over raw loopback sockets), connection timeouts, the API key, generic 500s, and
`routesql serve` as a process."""

from __future__ import annotations

import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routesql.llm.generator import GenerationSettings
from routesql.llm.local import TransformersGenerator
from routesql.llm.server import ServerLimits, base_url, serve, shutdown

TIMEOUT_S = 1.0  # the fixture's per-connection timeout: a silent client is dropped after this
SLACK_S = 3.0  # how much longer than that a refusal may take on a busy 2-core machine


class RecordingGenerator:
    """A test double: completion j of prompt p is "p|j"; remembers what it was asked."""

    def __init__(self, chat_template: bool = False) -> None:
        self.calls: list[tuple[list[str], GenerationSettings]] = []
        self.has_template = chat_template

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        self.calls.append((list(prompts), settings))
        return [[f"{prompt}|{j}" for j in range(settings.n)] for prompt in prompts]

    def chat_prompt(self, messages: list[dict[str, str]]) -> str | None:
        if not self.has_template:
            return None
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


class FailingGenerator:
    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        raise RuntimeError("CUDA out of memory (pretend)")


def call(
    url: str, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture()
def serving() -> Iterator[Any]:
    started = []

    def start(generator: Any, **options: Any) -> str:
        server, thread = serve(generator, model_name="routesql-test", **{"timeout_s": TIMEOUT_S, **options})
        started.append((server, thread))
        return base_url(server)

    yield start
    for server, thread in started:
        shutdown(server, thread)


def test_binds_to_loopback_by_default(serving) -> None:
    assert serving(RecordingGenerator()).startswith("http://127.0.0.1:")


def test_models_lists_the_served_model(serving) -> None:
    status, body = call(serving(RecordingGenerator()) + "/v1/models")
    assert status == 200
    assert body["object"] == "list"
    assert [(m["id"], m["object"]) for m in body["data"]] == [("routesql-test", "model")]


def test_completions_for_a_list_of_prompts_in_one_batch(serving) -> None:
    generator = RecordingGenerator()
    request = {
        "model": "x",
        "prompt": ["a", "b"],
        "n": 2,
        "temperature": 0.5,
        "top_p": 0.9,
        "max_tokens": 7,
        "stop": ";",
        "seed": 4,
    }
    status, body = call(serving(generator) + "/v1/completions", request)
    assert status == 200
    assert (body["object"], body["model"]) == ("text_completion", "routesql-test")
    assert body["id"].startswith("cmpl-")
    assert [(c["index"], c["text"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "a|0", "stop"),
        (1, "a|1", "stop"),
        (2, "b|0", "stop"),
        (3, "b|1", "stop"),
    ]
    assert generator.calls == [
        (["a", "b"], GenerationSettings(n=2, temperature=0.5, top_p=0.9, max_new_tokens=7, stop=(";",), seed=4))
    ]


@pytest.mark.parametrize(
    ("has_template", "expected_prompt"),
    [
        (True, "<system>Write SQL.<user>How many singers?<assistant>"),
        (False, "How many singers?"),  # no template: the non-system contents, as a plain model was trained
    ],
)
def test_chat_completions_shape_and_prompt(serving, has_template: bool, expected_prompt: str) -> None:
    generator = RecordingGenerator(chat_template=has_template)
    messages = [
        {"role": "system", "content": "Write SQL."},
        {"role": "user", "content": [{"type": "text", "text": "How many singers?"}]},
    ]
    status, body = call(serving(generator) + "/v1/chat/completions", {"messages": messages, "n": 2})
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert [(c["index"], c["message"]["role"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "assistant", "stop"),
        (1, "assistant", "stop"),
    ]
    assert [c["message"]["content"] for c in body["choices"]] == [f"{expected_prompt}|0", f"{expected_prompt}|1"]


def test_tiny_model_served_reports_finish_reasons(serving, tiny_generator: TransformersGenerator) -> None:
    url = serving(tiny_generator)
    status, body = call(url + "/v1/completions", {"prompt": "SELECT", "max_tokens": 2})
    local = tiny_generator.generate(["SELECT"], GenerationSettings(max_new_tokens=2))
    assert status == 200
    assert [c["text"] for c in body["choices"]] == local[0]
    assert body["choices"][0]["finish_reason"] == tiny_generator.last_finish_reasons[0][0]


def test_chat_template_of_the_tokenizer_is_used(tiny_generator: TransformersGenerator) -> None:
    tokenizer = tiny_generator.tokenizer
    saved = getattr(tokenizer, "chat_template", None)
    tokenizer.chat_template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}[assistant]"
    try:
        prompt = tiny_generator.chat_prompt([{"role": "user", "content": "hi"}])
    finally:
        tokenizer.chat_template = saved
    assert prompt == "[user]hi[assistant]"


def http_request(
    method: str = "POST",
    path: str = "/v1/completions",
    body: bytes = b"",
    length: str | None = "auto",
    headers: tuple[str, ...] = (),
) -> bytes:
    """Raw HTTP/1.1 request bytes, so that broken headers can be sent as they are."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if length is not None:
        lines.append(f"Content-Length: {len(body) if length == 'auto' else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post(body: Any, path: str = "/v1/completions") -> bytes:
    return http_request("POST", path, body if isinstance(body, bytes) else json.dumps(body).encode())


def chat(messages: Any, **fields: Any) -> bytes:
    return post({"messages": messages, **fields}, "/v1/chat/completions")


def exchange(url: str, request: bytes, half_close: bool = False) -> tuple[int, dict[str, Any], bytes, float]:
    """Send `request` over a fresh loopback socket and read until the server closes: the status, the
    JSON body, the whole raw reply and the seconds it took. With half_close the client then says it
    will send nothing more (a body shorter than its Content-Length ends there)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S + SLACK_S) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        status, body, reply = read_reply(sock)
    return status, body, reply, time.monotonic() - started


def read_reply(sock: socket.socket) -> tuple[int, dict[str, Any], bytes]:
    """Read until the server closes: the status, the JSON body and the raw reply."""
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), reply


IDLE, HALF_CLOSE = False, True  # what the client does after sending: stay silent, or end its side

# Malformed requests: (request bytes, what the client does next, expected status, words of the error).
# Every one is answered within the server's timeout with a 4xx and an OpenAI-style error body.
FUZZ_TABLE = [
    # -- framing: headers and body --
    pytest.param(http_request(body=b"{}", length="abc"), IDLE, 400, "Content-Length", id="content-length-abc"),
    pytest.param(http_request(body=b"{}", length="-1"), IDLE, 400, "Content-Length", id="content-length-minus-1"),
    pytest.param(http_request(body=b"{}", length="1e3"), IDLE, 400, "Content-Length", id="content-length-float"),
    pytest.param(http_request(body=b"{}", length="1_0"), IDLE, 400, "Content-Length", id="content-length-underscore"),
    pytest.param(http_request(body=b"{}", length=None), IDLE, 411, "Content-Length", id="content-length-missing"),
    pytest.param(
        http_request(body=b"{}", headers=("Content-Length: 7",)),
        IDLE,
        400,
        "Content-Length",
        id="content-length-twice-differing",
    ),
    pytest.param(http_request(length=str(10**30)), IDLE, 413, "larger than", id="content-length-10e30"),
    pytest.param(http_request(length="9" * 5000), IDLE, 413, "larger than", id="content-length-5000-digits"),
    pytest.param(http_request(length=str(9 << 20)), IDLE, 413, "larger than", id="content-length-9MiB"),
    pytest.param(
        http_request(body=b"2\r\n{}\r\n0\r\n\r\n", length=None, headers=("Transfer-Encoding: chunked",)),
        IDLE,
        411,
        "Transfer-Encoding",
        id="chunked-body",
    ),
    pytest.param(
        http_request(body=b'{"prompt": "a"', length="100"),
        IDLE,
        408,
        "not received within",
        id="body-shorter-client-idle",
    ),
    pytest.param(
        http_request(body=b'{"prompt": "a"', length="100"),
        HALF_CLOSE,
        400,
        "shorter than",
        id="body-shorter-client-done",
    ),
    pytest.param(post(b"{not json"), IDLE, 400, "not JSON", id="not-json"),
    pytest.param(post(b'{"prompt": "\xff\xfe"}'), IDLE, 400, "not UTF-8", id="not-utf8"),
    pytest.param(post([1, 2]), IDLE, 400, "JSON object", id="json-array"),
    pytest.param(post(b"[" * 100_000), IDLE, 400, "nested too deeply", id="json-nested-100k"),
    pytest.param(
        post(b'{"prompt": "a", "max_tokens": ' + b"9" * 5000 + b"}"),
        IDLE,
        400,
        "too many digits",
        id="json-int-5000-digits",
    ),
    # -- sampling fields --
    pytest.param(post(b'{"prompt": "a", "temperature": NaN}'), IDLE, 400, "'temperature'", id="temperature-NaN"),
    pytest.param(
        post(b'{"prompt": "a", "temperature": Infinity}'), IDLE, 400, "'temperature'", id="temperature-Infinity"
    ),
    pytest.param(post(b'{"prompt": "a", "temperature": 1e999}'), IDLE, 400, "'temperature'", id="temperature-1e999"),
    pytest.param(
        post({"prompt": "a", "temperature": 10**400}),
        IDLE,
        400,
        "'temperature' must be a finite number",
        id="temperature-int-10e400",
    ),
    pytest.param(post({"prompt": "a", "temperature": -1}), IDLE, 400, "'temperature'", id="temperature-negative"),
    pytest.param(post({"prompt": "a", "temperature": 1e-300}), IDLE, 400, "'temperature'", id="temperature-1e-300"),
    pytest.param(post({"prompt": "a", "temperature": 3}), IDLE, 400, "'temperature'", id="temperature-3"),
    pytest.param(
        post({"prompt": "a", "temperature": "hot"}),
        IDLE,
        400,
        "'temperature' has the wrong type",
        id="temperature-string",
    ),
    pytest.param(post(b'{"prompt": "a", "top_p": -Infinity}'), IDLE, 400, "'top_p'", id="top_p-minus-Infinity"),
    pytest.param(post({"prompt": "a", "top_p": 0}), IDLE, 400, "'top_p' must be", id="top_p-0"),
    pytest.param(
        post({"prompt": "a", "max_tokens": 10**12}), IDLE, 400, "'max_tokens' must be between", id="max_tokens-10e12"
    ),
    pytest.param(post({"prompt": "a", "max_tokens": 0}), IDLE, 400, "'max_tokens' must be between", id="max_tokens-0"),
    pytest.param(
        post({"prompt": "a", "max_tokens": "10"}), IDLE, 400, "'max_tokens' has the wrong type", id="max_tokens-string"
    ),
    pytest.param(
        post({"prompt": "a", "max_tokens": 5.0}), IDLE, 400, "'max_tokens' has the wrong type", id="max_tokens-float"
    ),
    pytest.param(
        chat([{"role": "user", "content": "q"}], max_completion_tokens=10**12),
        IDLE,
        400,
        "'max_completion_tokens' must be between",
        id="max_completion_tokens-10e12",
    ),
    pytest.param(post({"prompt": "a", "n": 0}), IDLE, 400, "'n' must be between", id="n-0"),
    pytest.param(post({"prompt": "a", "n": 65}), IDLE, 400, "'n' must be between", id="n-65"),
    pytest.param(post({"prompt": "a", "n": True}), IDLE, 400, "'n' has the wrong type", id="n-true"),
    pytest.param(post({"prompt": "a", "seed": "x"}), IDLE, 400, "'seed' has the wrong type", id="seed-string"),
    pytest.param(post({"prompt": "a", "seed": 1.5}), IDLE, 400, "'seed' has the wrong type", id="seed-float"),
    pytest.param(post({"prompt": "a", "seed": 2**64}), IDLE, 400, "'seed' must be", id="seed-2**64"),
    pytest.param(post({"prompt": "a", "stop": 5}), IDLE, 400, "'stop' must be", id="stop-int"),
    pytest.param(post({"prompt": "a", "stop": ["x"] * 17}), IDLE, 400, "'stop' has 17", id="stop-17"),
    pytest.param(post({"prompt": "a", "stop": "x" * 257}), IDLE, 400, "'stop' sequences", id="stop-too-long"),
    pytest.param(post({"prompt": "a", "stream": True}), IDLE, 400, "'stream' is not supported", id="stream-true"),
    pytest.param(post({"prompt": "a", "model": 5}), IDLE, 400, "'model' has the wrong type", id="model-int"),
    # -- prompts --
    pytest.param(post({"n": 1}), IDLE, 400, "'prompt' must be", id="prompt-missing"),
    pytest.param(post({"prompt": []}), IDLE, 400, "'prompt' must be", id="prompt-empty-list"),
    pytest.param(post({"prompt": [1, 2]}), IDLE, 400, "token ids are not supported", id="prompt-token-ids"),
    pytest.param(post({"prompt": ["a"] * 65}), IDLE, 400, "'prompt' has 65 prompts", id="prompts-65"),
    pytest.param(
        post({"prompt": ["select"] * 20_000, "n": 64}), IDLE, 400, "'prompt' has 20000 prompts", id="prompts-20000-n-64"
    ),
    pytest.param(post({"prompt": ["a"] * 64, "n": 64}), IDLE, 400, "4096 completions", id="completions-64x64"),
    pytest.param(post({"prompt": "a" * 100_001}), IDLE, 400, "prompt[0] has 100001 characters", id="prompt-too-long"),
    # -- chat messages --
    pytest.param(chat([]), IDLE, 400, "'messages' must be", id="messages-empty"),
    pytest.param(chat("hi"), IDLE, 400, "'messages' must be", id="messages-string"),
    pytest.param(chat([{"content": "x"}]), IDLE, 400, "string 'role'", id="message-without-role"),
    pytest.param(chat(["hi"]), IDLE, 400, "messages[0] must be", id="message-not-object"),
    pytest.param(chat([{"role": "user", "content": 7}]), IDLE, 400, "messages[0].content must be", id="content-int"),
    pytest.param(
        chat([{"role": "user", "content": None}]), IDLE, 400, "messages[0].content must be", id="content-null"
    ),
    pytest.param(
        chat([{"role": "user", "content": [1, 2]}]),
        IDLE,
        400,
        "messages[0].content[0] must be a text part",
        id="content-parts-not-objects",
    ),
    pytest.param(
        chat([{"role": "user", "content": [{"type": "text", "text": 5}]}]),
        IDLE,
        400,
        "messages[0].content[0] must be a text part",
        id="content-part-text-int",
    ),
    pytest.param(
        chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
        IDLE,
        400,
        "messages[0].content[0] must be a text part",
        id="content-part-image",
    ),
    pytest.param(
        chat([{"role": "user", "content": "q" * 100_001}]),
        IDLE,
        400,
        "messages[0].content has 100001",
        id="content-too-long",
    ),
    pytest.param(
        chat([{"role": "user", "content": "q" * 60_000}] * 2),
        IDLE,
        400,
        "characters of content together",
        id="contents-too-long-together",
    ),
    pytest.param(chat([{"role": "user", "content": "q"}] * 257), IDLE, 400, "'messages' has 257", id="messages-257"),
    # -- routes and methods --
    pytest.param(post({"input": "x"}, "/v1/embeddings"), IDLE, 404, "no route", id="post-unknown-route"),
    pytest.param(http_request("GET", "/v1/nothing", length=None), IDLE, 404, "no route", id="get-unknown-route"),
    pytest.param(http_request("DELETE", "/v1/models", length=None), IDLE, 405, "not allowed", id="delete-method"),
]


@pytest.mark.parametrize(("request_bytes", "half_close", "status", "problem"), FUZZ_TABLE)
def test_malformed_request_gets_a_4xx_in_time_and_the_server_goes_on(
    serving, request_bytes: bytes, half_close: bool, status: int, problem: str
) -> None:
    url = serving(RecordingGenerator())
    got_status, body, _, elapsed = exchange(url, request_bytes, half_close)
    assert (got_status, elapsed < TIMEOUT_S + SLACK_S) == (status, True)
    assert problem in body["error"]["message"]
    assert body["error"]["type"] in ("invalid_request_error", "not_found")
    assert call(url + "/v1/completions", {"prompt": "still there"})[0] == 200


def test_a_refusal_names_the_field_as_param(serving) -> None:
    _, body, _, _ = exchange(serving(RecordingGenerator()), post(b'{"prompt": "a", "temperature": NaN}'))
    assert body["error"]["param"] == "temperature"


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"POST /v1/completions HTTP/1.1\r\nContent-Le",  # stops in the middle of the headers
    ],
    ids=["silent", "half-headers"],
)
def test_a_silent_client_is_dropped_after_the_timeout(serving, sent: bytes) -> None:
    url = serving(RecordingGenerator())
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S + SLACK_S) as sock:
        sock.sendall(sent)
        assert sock.recv(1 << 16) == b""  # closed by the server, with nothing to say
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    assert call(url + "/v1/models")[0] == 200


def test_a_trickling_body_gets_408_within_the_timeout(serving) -> None:
    """A byte now and then keeps each read alive, but the body as a whole has timeout_s to arrive."""
    url = serving(RecordingGenerator())
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S + SLACK_S) as sock:
        sock.sendall(http_request(body=b"", length="100"))
        while not select.select([sock], [], [], TIMEOUT_S / 4)[0]:  # until the server answers
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S, "no answer in time"
            sock.sendall(b" ")
        status, body, _ = read_reply(sock)
    assert (status, time.monotonic() - started < TIMEOUT_S + SLACK_S) == (408, True)
    assert "not received within" in body["error"]["message"]
    assert call(url + "/v1/models")[0] == 200


def test_an_idle_client_does_not_hold_up_the_others(serving) -> None:
    url = serving(RecordingGenerator())
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S + SLACK_S) as idle:
        idle.sendall(http_request(body=b'{"prompt"', length="100"))
        started = time.monotonic()
        assert call(url + "/v1/completions", {"prompt": "meanwhile"})[0] == 200
        assert time.monotonic() - started < TIMEOUT_S


def test_limits_are_configurable_and_cap_the_default_max_tokens(serving) -> None:
    generator = RecordingGenerator()
    url = serving(generator, limits=ServerLimits(max_tokens=8, max_prompts=2))
    assert call(url + "/v1/completions", {"prompt": "a"})[0] == 200
    assert generator.calls[0][1].max_new_tokens == 8  # GenerationSettings' 256, capped
    status, body = call(url + "/v1/completions", {"prompt": "a", "max_tokens": 9})
    assert (status, body["error"]["message"]) == (400, "'max_tokens' must be between 1 and 8, got 9")
    assert call(url + "/v1/completions", {"prompt": ["a", "b", "c"]})[0] == 400


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        ServerLimits(max_tokens=0)


KEY = "s3cret-key"


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        (f"Bearer {KEY}x", 401),
        (f"Basic {KEY}", 401),
        ("Bearer", 401),
        (f"{KEY}", 401),
        ("Bearer s3cr\u00e9t-key", 401),  # not ASCII: compared as bytes, no 500
        (f"Bearer {KEY}", 200),
        (f"bearer  {KEY}", 200),  # the scheme is case-insensitive
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v1/models", b""), ("POST", "/v1/completions", b'{"prompt": "a"}')],
    ids=["models", "completions"],
)
def test_api_key_is_needed_for_every_request(
    serving, authorization: str | None, status: int, method: str, path: str, body: bytes
) -> None:
    url = serving(RecordingGenerator(), api_key=KEY)
    headers = () if authorization is None else (f"Authorization: {authorization}",)
    request = http_request(method, path, body, length="auto" if method == "POST" else None, headers=headers)
    got_status, got, reply, _ = exchange(url, request)
    assert got_status == status
    if status == 401:
        assert got["error"]["type"] == "authentication_error"
        assert b"WWW-Authenticate: Bearer" in reply
        assert KEY.encode() not in reply


def test_unknown_route_without_the_key_is_401_not_404(serving) -> None:
    url = serving(RecordingGenerator(), api_key=KEY)
    assert exchange(url, post({"input": "x"}, "/v1/embeddings"))[0] == 401


class WrongShapeGenerator:
    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        return [["only one"]]


@pytest.mark.parametrize(
    ("generator", "detail"),
    [(FailingGenerator(), "CUDA out of memory"), (WrongShapeGenerator(), "the generator returned")],
    ids=["raises", "wrong-shape"],
)
def test_a_failure_is_a_generic_500_logged_only_on_the_server(serving, caplog, generator: Any, detail: str) -> None:
    url = serving(generator)
    with caplog.at_level(logging.ERROR, logger="routesql.llm.server"):
        status, body, reply, _ = exchange(url, post({"prompt": ["a", "b"], "n": 2}))
    assert status == 500
    assert body["error"] == {"message": "internal error", "type": "server_error", "param": None, "code": None}
    assert detail.encode() not in reply and b"Traceback" not in reply
    assert detail in caplog.text
    assert call(url + "/v1/models")[0] == 200


def test_serve_refuses_an_empty_api_key() -> None:
    with pytest.raises(ValueError, match="api_key"):
        serve(RecordingGenerator(), api_key="")


# -- `routesql serve` --


def _routesql_command() -> list[str]:
    script = Path(sys.executable).parent / "routesql"
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from routesql.cli import app; app()"]


@pytest.fixture()
def exported_model(tiny_lm_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A folder like `routesql train` exports (merged/ + routesql.json) around the tiny model, and a
    params file whose schema style it was 'trained' with."""
    from transformers import AutoTokenizer

    from routesql.llm.prompting import model_prompt_version
    from routesql.tasks.templates import prompt_version

    folder = tmp_path / "model"
    shutil.copytree(tiny_lm_dir, folder / "merged")
    version = model_prompt_version(prompt_version("compact"), AutoTokenizer.from_pretrained(str(folder / "merged")))
    (folder / "routesql.json").write_text(json.dumps({"template_version": version}))
    params = tmp_path / "params.yaml"
    params.write_text("schema:\n  style: compact\ngenerator:\n  batch_size: 4\n")
    return folder, params


@pytest.mark.slow  # about 30 s, mostly torch's import and teardown in the served process; CI runs it
def test_routesql_serve_answers_and_stops_cleanly_on_sigterm(exported_model: tuple[Path, Path]) -> None:
    folder, params = exported_model
    env = {**os.environ, "ROUTESQL_TEST_KEY": KEY, "OMP_NUM_THREADS": "1"}
    command = [
        *_routesql_command(),
        "serve",
        "--model",
        str(folder),
        "--params",
        str(params),
        "--port",
        "0",
        "--api-key-env",
        "ROUTESQL_TEST_KEY",
        "--max-tokens",
        "16",
        "--timeout",
        "2",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = process.stdout.readline()  # the model loads first: the line comes when it serves
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/v1", ready)
        assert match, (ready, process.stderr.read() if process.poll() is not None else "")
        url = match.group(1)
        authorized = {"Authorization": f"Bearer {KEY}"}
        status, body = call(url + "/v1/completions", {"prompt": "SELECT", "max_tokens": 2}, headers=authorized)
        assert status == 200 and len(body["choices"]) == 1
        assert call(url + "/v1/completions", {"prompt": "SELECT", "max_tokens": 17}, headers=authorized)[0] == 400
        assert call(url + "/v1/models")[0] == 401
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)  # the stop itself takes < 1 s; torch's teardown, seconds
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "SIGTERM: server stopped" in out
    assert "warning" not in err


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (
            ["--api-key-env", "ROUTESQL_UNSET_KEY"],
            {},
            "error: --api-key-env ROUTESQL_UNSET_KEY: the environment variable is unset or empty",
        ),
        (
            ["--api-key-env", "ROUTESQL_EMPTY_KEY"],
            {"ROUTESQL_EMPTY_KEY": ""},
            "error: --api-key-env ROUTESQL_EMPTY_KEY:",
        ),
        (["--model", "no/such/model"], {}, "error: no/such/model: no such model folder"),
    ],
)
def test_serve_refuses_bad_input_in_one_line_before_loading(
    monkeypatch, tmp_path: Path, arguments: list[str], environment: dict[str, str], message: str
) -> None:
    from typer.testing import CliRunner

    from routesql.cli import app

    monkeypatch.delenv("ROUTESQL_UNSET_KEY", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    params = tmp_path / "params.yaml"
    params.write_text("schema:\n  style: compact\n")
    result = CliRunner().invoke(app, ["serve", "--params", str(params), *arguments])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_warns_when_listening_beyond_loopback_without_a_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from routesql.cli import app

    params = tmp_path / "params.yaml"
    params.write_text("schema:\n  style: compact\n")
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--model", str(tmp_path / "none"), "--params", str(params)]
    )
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("warning: serving on 0.0.0.0 without an API key")
    assert error == f"error: {tmp_path / 'none'}: no such model folder" and result.exit_code == 2


@pytest.mark.parametrize(
    ("request_fields", "max_new_tokens"),
    [
        ({}, GenerationSettings().max_new_tokens),
        ({"max_tokens": 9}, 9),
        ({"max_completion_tokens": 5}, 5),  # the newer chat API name
        ({"max_tokens": None, "stop": None, "seed": None}, GenerationSettings().max_new_tokens),
    ],
)
def test_chat_token_limit_fields(serving, request_fields: dict, max_new_tokens: int) -> None:
    generator = RecordingGenerator()
    body = {"messages": [{"role": "user", "content": "q"}], **request_fields}
    assert call(serving(generator) + "/v1/chat/completions", body)[0] == 200
    assert generator.calls[0][1].max_new_tokens == max_new_tokens
