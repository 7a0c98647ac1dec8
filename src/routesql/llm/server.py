"""A small OpenAI-compatible HTTP server in front of any `Generator` (typically the project's own
model through `TransformersGenerator`), so OpenAI clients and `OpenAIHTTPGenerator` can use it.

Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models. Standard library
only; requests are served on threads but reach the generator one at a time (a lock), since a
model on one device gains nothing from running two `generate` calls at once. Binds to
127.0.0.1 by default; with `api_key` every request needs `Authorization: Bearer <key>`.

Hardened against malformed input: every request field is bounded (`ServerLimits`), every
refusal is a 4xx with an OpenAI-style error body naming the field, a connection that stops
sending is dropped after `timeout_s`, and an unexpected failure answers a generic 500 (the
details go to this module's logger only).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from routesql.llm.generator import GenerationSettings, Generator
from routesql.llm.prompting import plain_chat_text

log = logging.getLogger(__name__)

MIN_SAMPLING_TEMPERATURE = 0.01  # below this, scores / temperature overflow in float16/32 (NaN probabilities)
MAX_TEMPERATURE = 2.0  # OpenAI's range
SEED_RANGE = (-(2**63), 2**63 - 1)  # int64, as OpenAI and torch.manual_seed take it
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class ServerLimits:
    """Bounds on one request; a request beyond any of them is refused with 400 (413 for the body)."""

    max_tokens: int = 512  # max_tokens / max_completion_tokens; also caps the default (256)
    max_prompts: int = 64  # prompts in one /v1/completions request
    max_n: int = 64  # completions per prompt
    max_completions: int = 256  # prompts x n
    max_prompt_chars: int = 100_000  # one prompt, one message's content, and a chat's contents together
    max_messages: int = 256  # messages in one chat
    max_stops: int = 16  # stop sequences
    max_stop_chars: int = 256  # characters in one stop sequence
    max_body_bytes: int = 8 << 20  # Content-Length above this → 413

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ServerLimits.{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = ServerLimits()


class RequestError(Exception):
    """A request the server refuses; answered with `status` and an OpenAI-style error body."""

    def __init__(self, problem: str, status: int = 400, param: str | None = None) -> None:
        self.problem = problem
        self.status = status
        self.param = param
        super().__init__(problem)


def settings_from_request(body: dict[str, Any], limits: ServerLimits = DEFAULT_LIMITS) -> GenerationSettings:
    """OpenAI request fields → GenerationSettings; max_tokens defaults to GenerationSettings' (capped)."""
    defaults = GenerationSettings()
    n = _field(body, "n", int, defaults.n)
    temperature = _number(body, "temperature", defaults.temperature)
    top_p = _number(body, "top_p", defaults.top_p)
    # max_completion_tokens: the newer name in OpenAI's chat API.
    token_field = "max_tokens" if body.get("max_tokens") is not None else "max_completion_tokens"
    max_tokens = _field(body, token_field, int, min(defaults.max_new_tokens, limits.max_tokens))
    seed = _field(body, "seed", int, defaults.seed)
    stops = _stops(body.get("stop"), limits)
    if _field(body, "stream", bool, False):
        raise RequestError("'stream' is not supported: send stream false or leave it out", param="stream")
    _field(body, "model", str, None)  # any name is served by the one model, but it must be a string
    if not 1 <= n <= limits.max_n:
        raise RequestError(f"'n' must be between 1 and {limits.max_n}, got {n}", param="n")
    if not math.isfinite(temperature):
        raise RequestError(f"'temperature' must be a finite number, got {temperature}", param="temperature")
    if temperature < 0:
        raise RequestError(f"'temperature' must be >= 0, got {temperature}", param="temperature")
    if temperature != 0 and not MIN_SAMPLING_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise RequestError(
            f"'temperature' must be 0 (greedy) or between {MIN_SAMPLING_TEMPERATURE} and "
            f"{MAX_TEMPERATURE}, got {temperature}",
            param="temperature",
        )
    if not math.isfinite(top_p) or not 0 < top_p <= 1:
        raise RequestError(f"'top_p' must be in (0, 1], got {top_p}", param="top_p")
    if not 1 <= max_tokens <= limits.max_tokens:
        raise RequestError(
            f"'{token_field}' must be between 1 and {limits.max_tokens}, got {max_tokens}", param=token_field
        )
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise RequestError(f"'seed' must be a 64-bit signed integer, got {seed}", param="seed")
    return GenerationSettings(
        n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_tokens, stop=stops, seed=seed
    )


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(name)
    if value is None:
        return default
    # bool is an int in Python, but `"n": true` is a client bug, not 1.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise RequestError(f"'{name}' has the wrong type ({type(value).__name__})", param=name)
    return value


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = _field(body, name, (int, float), default)
    try:
        return float(value)
    except OverflowError:  # an integer beyond float's range (1e400 written out)
        raise RequestError(f"'{name}' must be a finite number", param=name) from None


def _stops(stop: Any, limits: ServerLimits) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(item, str) for item in stops):
        raise RequestError("'stop' must be a string or a list of strings", param="stop")
    if len(stops) > limits.max_stops:
        raise RequestError(f"'stop' has {len(stops)} sequences, at most {limits.max_stops} are allowed", param="stop")
    if any(len(item) > limits.max_stop_chars for item in stops):
        raise RequestError(f"'stop' sequences must be at most {limits.max_stop_chars} characters", param="stop")
    return tuple(stops)


def prompts_from_request(body: dict[str, Any], limits: ServerLimits = DEFAULT_LIMITS) -> list[str]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        prompts = list(prompt)
    else:
        raise RequestError(
            "'prompt' must be a string or a non-empty list of strings (token ids are not supported)", param="prompt"
        )
    if len(prompts) > limits.max_prompts:
        raise RequestError(
            f"'prompt' has {len(prompts)} prompts, at most {limits.max_prompts} are allowed", param="prompt"
        )
    for position, text in enumerate(prompts):
        if len(text) > limits.max_prompt_chars:
            raise RequestError(
                f"prompt[{position}] has {len(text)} characters, at most {limits.max_prompt_chars} are allowed",
                param="prompt",
            )
    return prompts


def messages_from_request(body: dict[str, Any], limits: ServerLimits = DEFAULT_LIMITS) -> list[dict[str, str]]:
    """Chat messages with string contents (a list of text parts is joined)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", param="messages")
    if len(messages) > limits.max_messages:
        raise RequestError(
            f"'messages' has {len(messages)} messages, at most {limits.max_messages} are allowed", param="messages"
        )
    cleaned = []
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"{where} must be an object with a string 'role'", param=where)
        content = _content_text(message.get("content"), f"{where}.content")
        if len(content) > limits.max_prompt_chars:
            raise RequestError(
                f"{where}.content has {len(content)} characters, at most {limits.max_prompt_chars} are allowed",
                param=f"{where}.content",
            )
        cleaned.append({"role": message["role"], "content": content})
    total = sum(len(message["content"]) for message in cleaned)
    if total > limits.max_prompt_chars:
        raise RequestError(
            f"'messages' have {total} characters of content together, at most {limits.max_prompt_chars} are allowed",
            param="messages",
        )
    return cleaned


def _content_text(content: Any, where: str) -> str:
    """A message's content: a string, or a list of text parts ({"type": "text", "text": "..."})."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RequestError(f"{where} must be a string or a list of text parts", param=where)
    texts = []
    for position, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type", "text") != "text" or not isinstance(part.get("text"), str):
            raise RequestError(
                f'{where}[{position}] must be a text part: {{"type": "text", "text": "..."}}',
                param=f"{where}[{position}]",
            )
        texts.append(part["text"])
    return "".join(texts)


class CompletionService:
    """The endpoints' logic, independent of HTTP (one generator, one lock)."""

    def __init__(self, generator: Generator, model_name: str, limits: ServerLimits = DEFAULT_LIMITS) -> None:
        self.generator = generator
        self.model_name = model_name
        self.limits = limits
        self.created = int(time.time())
        self.lock = threading.Lock()

    def models(self) -> dict[str, Any]:
        entry = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "routesql"}
        return {"object": "list", "data": [entry]}

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = prompts_from_request(body, self.limits)
        settings = settings_from_request(body, self.limits)
        self._check_total(len(prompts), settings.n)
        texts, reasons = self._generate(prompts, settings)
        choices = [
            {"index": i * settings.n + j, "text": text, "logprobs": None, "finish_reason": reasons[i][j]}
            for i, row in enumerate(texts)
            for j, text in enumerate(row)
        ]
        return self._envelope("cmpl", "text_completion", choices)

    def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = messages_from_request(body, self.limits)
        settings = settings_from_request(body, self.limits)
        self._check_total(1, settings.n)
        texts, reasons = self._generate([self._chat_prompt(messages)], settings)
        choices = [
            {"index": j, "message": {"role": "assistant", "content": text}, "finish_reason": reasons[0][j]}
            for j, text in enumerate(texts[0])
        ]
        return self._envelope("chatcmpl", "chat.completion", choices)

    def _check_total(self, prompts: int, n: int) -> None:
        if prompts * n > self.limits.max_completions:
            raise RequestError(
                f"{prompts} prompts x n={n} asks for {prompts * n} completions, at most "
                f"{self.limits.max_completions} are allowed in one request",
                param="n",
            )

    def _chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The generator's own rendering of a chat when it has one, else the non-system contents joined
        (what `routesql.llm.prompting.render_messages` does without a template)."""
        templated = getattr(self.generator, "chat_prompt", None)
        prompt = templated(messages) if callable(templated) else None
        return prompt if prompt is not None else plain_chat_text(messages)

    def _generate(self, prompts: list[str], settings: GenerationSettings) -> tuple[list[list[str]], list[list[str]]]:
        with self.lock:
            # Requests carry model input already (a raw prompt, or a chat rendered by the template):
            # a generator that would render task prompts again is asked for raw generation.
            raw = getattr(self.generator, "generate_raw", None)
            texts = raw(prompts, settings) if callable(raw) else self.generator.generate(prompts, settings)
            reasons = getattr(self.generator, "last_finish_reasons", None)
        if len(texts) != len(prompts) or any(len(row) != settings.n for row in texts):
            raise RuntimeError(
                f"the generator returned {[len(row) for row in texts]} completions "
                f"for {len(prompts)} prompts x n={settings.n}"
            )
        if isinstance(reasons, list) and [len(row) for row in reasons] == [len(row) for row in texts]:
            return texts, reasons
        return texts, [["stop"] * settings.n for _ in texts]

    def _envelope(self, prefix: str, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"{prefix}-{uuid.uuid4().hex}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
        }


def parse_json_body(data: bytes) -> dict[str, Any]:
    """Strict JSON: a UTF-8 object whose numbers are finite (NaN, Infinity and 1e999 are refused,
    naming the key that holds them)."""
    try:
        body = json.loads(data.decode("utf-8"), object_pairs_hook=_finite_object)
    except UnicodeDecodeError:
        raise RequestError("request body is not UTF-8") from None
    except RecursionError:
        raise RequestError("request body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"request body is not JSON: {exc}") from None
    except ValueError:  # an integer of more digits than Python converts
        raise RequestError("request body has a number with too many digits") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


def _finite_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    for key, value in pairs:
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(f"'{key}' must be a finite number, got {value}", param=key)
    return dict(pairs)


Route = Callable[[dict[str, Any]], dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        # The socket timeout of this connection, set per server rather than through the class-level
        # `timeout` StreamRequestHandler applies in setup: a client that stops sending headers or
        # body frees its thread after this many seconds.
        self.request.settimeout(self.server.timeout_s)
        super().setup()

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _method_not_allowed(self) -> None:
        def refuse() -> dict[str, Any]:
            raise RequestError(f"method {self.command} is not allowed (GET or POST)", status=405)

        self._answer(refuse)

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    def _get(self) -> dict[str, Any]:
        if self.path.rstrip("/") != "/v1/models":
            raise RequestError(f"no route GET {self.path[:200]}", status=404)
        return self.server.service.models()

    def _post(self) -> dict[str, Any]:
        routes: dict[str, Route] = {
            "/v1/completions": self.server.service.completions,
            "/v1/chat/completions": self.server.service.chat_completions,
        }
        endpoint = routes.get(self.path.rstrip("/"))
        if endpoint is None:
            raise RequestError(f"no route POST {self.path[:200]}", status=404)
        return endpoint(self._read_json())

    def _answer(self, work: Callable[[], dict[str, Any]]) -> None:
        """Authorize, run `work`, reply: 200, a RequestError's status, or a generic 500."""
        try:
            self._authorize()
            status, payload = 200, work()
        except RequestError as exc:
            self.close_connection = True  # the body may be unread, or only partly read
            status = exc.status
            kind = {401: "authentication_error", 404: "not_found"}.get(status, "invalid_request_error")
            payload = _error_body(exc.problem, kind, exc.param)
        except Exception:  # the server must answer, whatever the generator raised; details stay here
            log.exception("%s %s failed", self.command, self.path[:200])
            self.close_connection = True
            status, payload = 500, _error_body("internal error", "server_error")
        try:
            self._send(status, payload)
        except OSError as exc:  # the client left (or stopped reading): nobody to tell
            log.debug("could not answer %s %s: %s", self.command, self.path[:200], exc)
            self.close_connection = True

    def _authorize(self) -> None:
        expected = self.server.api_key
        if expected is None:
            return
        scheme, _, token = (self.headers.get("Authorization") or "").strip().partition(" ")
        # Compared as bytes: compare_digest refuses non-ASCII str, and header text is Latin-1 decoded.
        given = token.strip().encode("latin-1", "replace")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected.encode("utf-8")):
            raise RequestError("missing or wrong API key: send 'Authorization: Bearer <key>'", status=401)

    def _read_json(self) -> dict[str, Any]:
        return parse_json_body(self._read_body())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") is not None:
            raise RequestError("Transfer-Encoding is not supported: send the body with a Content-Length", status=411)
        declared = self.headers.get_all("Content-Length") or []
        if not declared:
            raise RequestError("a POST needs a Content-Length header", status=411)
        text = declared[0].strip()
        if len(set(declared)) > 1 or not _DIGITS.fullmatch(text):
            raise RequestError("Content-Length must be one non-negative integer")
        digits = text.lstrip("0") or "0"  # int() refuses more than 4300 digits; such a length is too large anyway
        limit = self.server.service.limits.max_body_bytes
        if len(digits) > len(str(limit)) or int(digits) > limit:
            raise RequestError(f"request body larger than {limit} bytes", status=413)
        return self._receive(int(digits))

    def _receive(self, length: int) -> bytes:
        """`length` bytes of body, all within timeout_s (a client sending a byte now and then gains nothing)."""
        deadline = time.monotonic() + self.server.timeout_s
        chunks: list[bytes] = []
        received = 0
        try:
            while received < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(length - received, 1 << 16))
                if not chunk:  # the client closed its side
                    raise RequestError(f"request body shorter than its Content-Length ({received} of {length} bytes)")
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            raise RequestError(
                f"request body not received within {self.server.timeout_s:g} s ({received} of {length} bytes)",
                status=408,
            ) from None
        except OSError:
            raise RequestError("request body could not be read") from None
        finally:
            self.connection.settimeout(self.server.timeout_s)
        return b"".join(chunks)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        if status == 405:
            self.send_header("Allow", "GET, POST")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def _error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], service: CompletionService, api_key: str | None, timeout_s: float
    ) -> None:
        self.service = service
        self.api_key = api_key
        self.timeout_s = timeout_s
        super().__init__(address, _Handler)


def serve(
    generator: Generator,
    host: str = "127.0.0.1",
    port: int = 0,
    model_name: str = "routesql",
    *,
    api_key: str | None = None,
    limits: ServerLimits = DEFAULT_LIMITS,
    timeout_s: float = 30.0,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving on a background thread; port 0 picks a free one (see `server.server_address`).

    api_key: when set, every request needs `Authorization: Bearer <api_key>` (else 401).
    limits: bounds on each request. timeout_s: a connection that sends nothing for this long is
    dropped, and a body must arrive whole within it (else 408), so a slow or silent client cannot
    hold a thread.
    Stop with `shutdown(server, thread)`.
    """
    if api_key == "":
        raise ValueError("api_key must be None or a non-empty string")
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s}")
    server = _Server((host, port), CompletionService(generator, model_name, limits), api_key, timeout_s)
    # A short poll: `shutdown` waits up to one interval for the accept loop to notice.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="routesql-openai-server", daemon=True
    )
    thread.start()
    return server, thread


def shutdown(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # a bound socket's getsockname() names the host as text
    return f"http://{host}:{port}"


def wait_for_stop_signal(signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> str:
    """Block (in the main thread) until one of `signals` arrives; its name. Previous handlers are restored."""
    received: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]
