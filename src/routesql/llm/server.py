"""A small OpenAI-compatible HTTP server in front of any `Generator` (typically the project's own
model through `TransformersGenerator`), so OpenAI clients and `OpenAIHTTPGenerator` can use it.

Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models. Standard library
only; requests are served on threads but reach the generator one at a time (a lock), since a
model on one device gains nothing from running two `generate` calls at once. Binds to
127.0.0.1 by default: there is no authentication.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from routesql.llm.generator import GenerationSettings, Generator
from routesql.llm.prompting import plain_chat_text

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 << 20
MAX_N = 64


class RequestError(Exception):
    """A request the server refuses; answered with `status` and an OpenAI-style error body."""

    def __init__(self, problem: str, status: int = 400) -> None:
        self.problem = problem
        self.status = status
        super().__init__(problem)


def settings_from_request(body: dict[str, Any]) -> GenerationSettings:
    """OpenAI request fields → GenerationSettings (max_tokens defaults to GenerationSettings')."""
    defaults = GenerationSettings()
    n = _field(body, "n", int, defaults.n)
    temperature = float(_field(body, "temperature", (int, float), defaults.temperature))
    top_p = float(_field(body, "top_p", (int, float), defaults.top_p))
    # max_completion_tokens: the newer name in OpenAI's chat API.
    max_tokens = _field(body, "max_tokens", int, _field(body, "max_completion_tokens", int, defaults.max_new_tokens))
    seed = _field(body, "seed", int, defaults.seed)
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        stops = tuple(stop)
    else:
        raise RequestError("'stop' must be a string or a list of strings")
    if not 1 <= n <= MAX_N:
        raise RequestError(f"'n' must be between 1 and {MAX_N}, got {n}")
    if temperature < 0:
        raise RequestError(f"'temperature' must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise RequestError(f"'top_p' must be in (0, 1], got {top_p}")
    if max_tokens < 1:
        raise RequestError(f"'max_tokens' must be at least 1, got {max_tokens}")
    return GenerationSettings(
        n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_tokens, stop=stops, seed=seed
    )


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(name)
    if value is None:
        return default
    # bool is an int in Python, but `"n": true` is a client bug, not 1.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(f"'{name}' has the wrong type ({type(value).__name__})")
    return value


def prompts_from_request(body: dict[str, Any]) -> list[str]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        return list(prompt)
    raise RequestError("'prompt' must be a string or a non-empty list of strings (token ids are not supported)")


def messages_from_request(body: dict[str, Any]) -> list[dict[str, str]]:
    """Chat messages with string contents (a list of text parts is joined)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    cleaned = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"messages[{position}] must be an object with a string 'role'")
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise RequestError(f"messages[{position}].content must be a string or a list of text parts")
        cleaned.append({"role": message["role"], "content": content})
    return cleaned


class CompletionService:
    """The endpoints' logic, independent of HTTP (one generator, one lock)."""

    def __init__(self, generator: Generator, model_name: str) -> None:
        self.generator = generator
        self.model_name = model_name
        self.created = int(time.time())
        self.lock = threading.Lock()

    def models(self) -> dict[str, Any]:
        entry = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "routesql"}
        return {"object": "list", "data": [entry]}

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = prompts_from_request(body)
        settings = settings_from_request(body)
        texts, reasons = self._generate(prompts, settings)
        choices = [
            {"index": i * settings.n + j, "text": text, "logprobs": None, "finish_reason": reasons[i][j]}
            for i, row in enumerate(texts)
            for j, text in enumerate(row)
        ]
        return self._envelope("cmpl", "text_completion", choices)

    def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = messages_from_request(body)
        settings = settings_from_request(body)
        texts, reasons = self._generate([self._chat_prompt(messages)], settings)
        choices = [
            {"index": j, "message": {"role": "assistant", "content": text}, "finish_reason": reasons[0][j]}
            for j, text in enumerate(texts[0])
        ]
        return self._envelope("chatcmpl", "chat.completion", choices)

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
            raise RequestError("the generator returned the wrong number of completions", status=500)
        shaped = isinstance(reasons, list) and [len(row) for row in reasons] == [len(row) for row in texts]
        return texts, reasons if shaped else [["stop"] * settings.n for _ in texts]

    def _envelope(self, prefix: str, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"{prefix}-{uuid.uuid4().hex}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        if self.path.rstrip("/") == "/v1/models":
            self._reply(200, self.server.service.models())
        else:
            self._reply(404, _error_body(f"no route GET {self.path}", "not_found"))

    def do_POST(self) -> None:  # noqa: N802
        routes = {
            "/v1/completions": self.server.service.completions,
            "/v1/chat/completions": self.server.service.chat_completions,
        }
        endpoint = routes.get(self.path.rstrip("/"))
        if endpoint is None:
            self._reply(404, _error_body(f"no route POST {self.path}", "not_found"))
            return
        try:
            self._reply(200, endpoint(self._read_json()))
        except RequestError as exc:
            kind = "invalid_request_error" if exc.status < 500 else "server_error"
            self._reply(exc.status, _error_body(exc.problem, kind))
        except Exception as exc:  # the server must answer, whatever the generator raised
            log.exception("generation failed")
            self._reply(500, _error_body(f"generation failed: {type(exc).__name__}: {exc}", "server_error"))

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise RequestError(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("request body must be a JSON object")
        return body

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.debug("%s - %s", self.address_string(), format % args)


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: CompletionService) -> None:
        self.service = service
        super().__init__(address, _Handler)


def serve(
    generator: Generator, host: str = "127.0.0.1", port: int = 0, model_name: str = "routesql"
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving on a background thread; port 0 picks a free one (see `server.server_address`).

    Stop with `shutdown(server, thread)`.
    """
    server = _Server((host, port), CompletionService(generator, model_name))
    thread = threading.Thread(target=server.serve_forever, name="routesql-openai-server", daemon=True)
    thread.start()
    return server, thread


def shutdown(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
