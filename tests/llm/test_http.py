"""The OpenAI-compatible HTTP client: against our own server over the tiny model it gives what
the local backend gives; against scripted misbehaving servers (slow, malformed, failing) it
stays bounded in time, records what went wrong per prompt, and retries what may succeed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.llm.http import OpenAIHTTPGenerator, cut_at_stop
from routesql.llm.local import TransformersGenerator
from routesql.llm.server import base_url, serve, shutdown

GREEDY = GenerationSettings(max_new_tokens=10)

# A scripted reply: (status, body bytes, seconds to wait first), from the prompt and how many
# requests for that prompt came before this one. Status DROP closes the connection unanswered.
Script = Callable[[str, int], tuple[int, bytes, float]]
DROP = 0


def ok_body(prompt: str, n: int) -> bytes:
    choices = [{"index": j, "text": f"{prompt}#{j}", "finish_reason": "stop"} for j in range(n)]
    return json.dumps({"object": "text_completion", "choices": choices}).encode()


class ScriptedServer:
    """A stdlib server on loopback whose replies follow a script (a stand-in for a bad remote)."""

    def __init__(self, script: Script) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    attempt = outer.seen[body["prompt"]]
                    outer.seen[body["prompt"]] += 1
                status, data, delay = script(body["prompt"], attempt)
                time.sleep(delay)
                if status == DROP:
                    self.close_connection = True  # hang up without a reply
                    return
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on this request already

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def scripted() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def tiny_server(tiny_generator: TransformersGenerator) -> Iterator[str]:
    server, thread = serve(tiny_generator, model_name="tiny")
    yield base_url(server)
    shutdown(server, thread)


@pytest.mark.parametrize("use_chat", [False, True])
def test_greedy_over_http_equals_local(
    tiny_server: str, tiny_generator: TransformersGenerator, prompts: list[str], use_chat: bool
) -> None:
    client = OpenAIHTTPGenerator(tiny_server, "tiny", timeout_s=30, concurrency=3, use_chat=use_chat)
    over_http = client.generate(prompts, GREEDY)
    # The tiny tokenizer has no chat template, so the server's chat prompt is the message itself.
    assert over_http == [tiny_generator.generate([prompt], GREEDY)[0] for prompt in prompts]
    assert client.last_errors == {}


def test_seeded_sampling_over_http_equals_local(
    tiny_server: str, tiny_generator: TransformersGenerator, prompts: list[str]
) -> None:
    sampled = GenerationSettings(n=3, temperature=0.9, max_new_tokens=8, seed=11, stop=("E",))
    over_http = OpenAIHTTPGenerator(f"{tiny_server}/v1", "tiny").generate(prompts[:3], sampled)
    assert over_http == [tiny_generator.generate([prompt], sampled)[0] for prompt in prompts[:3]]
    assert all(len(row) == 3 for row in over_http)


def test_many_prompts_concurrently_keep_their_order(tiny_server: str, scripted) -> None:
    server = scripted(lambda prompt, attempt: (200, ok_body(prompt, 2), 0.1))
    many = [f"question {i}" for i in range(40)]
    client = OpenAIHTTPGenerator(server.url, "m", concurrency=8)
    started = time.monotonic()
    result = client.generate(many, GenerationSettings(n=2))
    elapsed = time.monotonic() - started
    assert result == [[f"{prompt}#0", f"{prompt}#1"] for prompt in many]
    assert client.last_errors == {}
    assert elapsed < 40 * 0.1 / 2, f"requests did not overlap ({elapsed:.2f} s; 4 s one at a time)"


def test_slow_server_times_out_in_bounded_time(scripted) -> None:
    server = scripted(lambda prompt, attempt: (200, ok_body(prompt, 1), 3.0 if prompt == "slow" else 0.0))
    client = OpenAIHTTPGenerator(server.url, "m", timeout_s=0.4, max_retries=1)
    started = time.monotonic()
    result = client.generate(["fast", "slow", "also fast"], GenerationSettings())
    elapsed = time.monotonic() - started
    assert result == [["fast#0"], [""], ["also fast#0"]]
    assert list(client.last_errors) == [1]
    assert "timed out" in client.last_errors[1]
    assert server.seen["slow"] == 2  # tried, then retried once
    assert elapsed < 0.4 * 2 + 0.5 + 1.0  # two attempts, one backoff pause, some slack


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>502 upstream</html>", "not JSON"),
        (b'{"id": "x"}', "no 'choices' list"),
        (b'{"choices": [{"index": 0, "finish_reason": "stop"}]}', "choices[0] has no string 'text'"),
        (b'{"choices": [{"index": 0, "text": 7}]}', "choices[0] has no string 'text'"),
        (b'{"choices": []}', "0 choices, expected n=1"),
        (b"[1, 2]", "no 'choices' list"),
    ],
)
def test_malformed_reply_is_recorded_and_not_retried(scripted, body: bytes, problem: str) -> None:
    server = scripted(lambda prompt, attempt: (200, body if prompt == "bad" else ok_body(prompt, 1), 0.0))
    client = OpenAIHTTPGenerator(server.url, "m", max_retries=2)
    result = client.generate(["good", "bad"], GenerationSettings())
    assert result == [["good#0"], [""]]
    assert list(client.last_errors) == [1]
    assert problem in client.last_errors[1]
    assert server.url in client.last_errors[1]
    assert server.seen["bad"] == 1


@pytest.mark.parametrize(
    ("statuses", "max_retries", "succeeds", "requests"),
    [
        ([500], 2, True, 2),  # one 500, then success
        ([503, 502], 2, True, 3),
        ([429], 1, True, 2),  # rate limited: worth retrying
        ([DROP], 1, True, 2),  # connection closed without a reply
        ([DROP, DROP], 1, False, 2),
        ([500, 500, 500], 2, False, 3),  # still failing after the retries
        ([400], 2, False, 1),  # the request itself is wrong: retrying cannot help
        ([404], 2, False, 1),
    ],
)
def test_failing_statuses_are_retried_when_that_can_help(
    scripted, statuses: list[int], max_retries: int, succeeds: bool, requests: int
) -> None:
    def script(prompt: str, attempt: int) -> tuple[int, bytes, float]:
        if attempt < len(statuses):
            return statuses[attempt], b'{"error": {"message": "scripted failure"}}', 0.0
        return 200, ok_body(prompt, 1), 0.0

    server = scripted(script)
    client = OpenAIHTTPGenerator(server.url, "m", max_retries=max_retries)
    result = client.generate(["q"], GenerationSettings())
    assert result == ([["q#0"]] if succeeds else [[""]])
    assert server.seen["q"] == requests
    if not succeeds and statuses[-1] == DROP:
        assert "connection failed" in client.last_errors[0]
    elif not succeeds:
        assert f"HTTP {statuses[-1]}" in client.last_errors[0]
        assert "scripted failure" in client.last_errors[0]


def test_nobody_listening_is_recorded_in_bounded_time() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAIHTTPGenerator(f"http://127.0.0.1:{port}", "m", timeout_s=0.5, max_retries=1)
    started = time.monotonic()
    assert client.generate(["a", "b"], GenerationSettings(n=2)) == [["", ""], ["", ""]]
    assert time.monotonic() - started < 3.0
    assert sorted(client.last_errors) == [0, 1]
    assert "connection failed" in client.last_errors[0]


def test_completions_are_cut_at_stop_even_if_the_server_does_not(scripted) -> None:
    server = scripted(lambda prompt, attempt: (200, ok_body(prompt, 1), 0.0))
    result = OpenAIHTTPGenerator(server.url, "m").generate(["SELECT a;\n"], GenerationSettings(stop=(";",)))
    assert result == [["SELECT a"]]


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("SELECT a; b", (";",), ("SELECT a", True)),
        ("SELECT a\n\nnext", (";", "\n\n"), ("SELECT a", True)),
        ("a;b\n\nc", ("\n\n", ";"), ("a", True)),  # the earliest wins, not the first listed
        ("SELECT a", (";",), ("SELECT a", False)),
        ("SELECT a", ("",), ("SELECT a", False)),  # an empty stop is ignored
        (";x", (";",), ("", True)),
    ],
)
def test_cut_at_stop(text: str, stop: tuple[str, ...], expected: tuple[str, bool]) -> None:
    assert cut_at_stop(text, stop) == expected


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"base_url": "localhost:8000"}, "http:// or https://"),
        ({"base_url": "http://x", "timeout_s": 0}, "timeout_s must be > 0"),
        ({"base_url": "http://x", "concurrency": 0}, "concurrency >= 1"),
    ],
)
def test_bad_options_raise_input_error(options: dict, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        OpenAIHTTPGenerator(model="m", **options)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:1", "http://h:1/v1/completions"),
        ("http://h:1/", "http://h:1/v1/completions"),
        ("http://h:1/v1", "http://h:1/v1/completions"),
        ("https://api.example/v1/", "https://api.example/v1/completions"),
    ],
)
def test_base_url_with_or_without_v1(given: str, expected: str) -> None:
    assert OpenAIHTTPGenerator(given, "m").url == expected
