"""A `Generator` that asks an OpenAI-compatible HTTP server (vLLM, llama.cpp, TGI, OpenAI, or our
own `routesql.llm.server`) for completions.

One request per prompt, `concurrency` at a time (servers batch concurrent requests themselves).
A prompt whose request still fails after the retries gets n empty completions and its reason in
`last_errors`, so a caller running many prompts (MCP, synthesis) goes on with the others.
Standard library only (urllib), so the client adds no dependency.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from routesql.errors import InputError
from routesql.llm.generator import GenerationSettings
from routesql.llm.prompting import task_messages
from routesql.redact import redact_url

log = logging.getLogger(__name__)

_MAX_RESPONSE_BYTES = 64 << 20
_READ_CHUNK = 1 << 16


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop sequence, and whether one was found.

    Shared by every backend (it lives here because this module imports no torch).
    """
    cut = min((pos for pos in (text.find(s) for s in stop if s) if pos >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class GenerationError(Exception):
    """One request that failed; `retryable` says whether trying again may help."""

    def __init__(self, url: str, problem: str, retryable: bool) -> None:
        # The message reaches logs, predictions.jsonl and MLflow: never a credential of the URL.
        self.url = redact_url(url)
        self.problem = redact_url(problem)
        self.retryable = retryable
        super().__init__(f"{self.url}: {self.problem}")


@dataclass(frozen=True)
class _Request:
    url: str
    body: bytes
    headers: dict[str, str]


class OpenAIHTTPGenerator:
    """POSTs each prompt to `{base_url}/v1/completions` (or `/v1/chat/completions` with use_chat).

    Time per prompt is bounded by about timeout_s × (max_retries + 1) plus the backoff pauses
    (0.5 s, 1 s, 2 s, ... capped at 4 s): in each attempt, connecting and every wait for the
    headers time out after `timeout_s`, and the whole body must arrive within `timeout_s`.
    Retried: network errors, timeouts, HTTP 429 and 5xx. Not retried: other statuses and
    malformed replies (a server that answers nonsense answers it again).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        concurrency: int = 8,
        use_chat: bool = False,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InputError("generator.base_url", f"must start with http:// or https://, got {redact_url(base_url)!r}")
        if timeout_s <= 0 or max_retries < 0 or concurrency < 1:
            raise InputError("generator", "timeout_s must be > 0, max_retries >= 0 and concurrency >= 1")
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.use_chat = use_chat
        self.last_errors: dict[int, str] = {}

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/chat/completions" if self.use_chat else f"{self.base_url}/v1/completions"

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        if not prompts:
            self.last_errors = {}
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            outcomes = list(pool.map(lambda prompt: self._complete_one(prompt, settings), prompts))
        errors = {index: error for index, (_, error) in enumerate(outcomes) if error is not None}
        for index, error in errors.items():
            log.warning("prompt %d got empty completions: %s", index, error)
        self.last_errors = errors
        return [completions for completions, _ in outcomes]

    def _complete_one(self, prompt: str, settings: GenerationSettings) -> tuple[list[str], str | None]:
        """(n completions, None) or (n empty strings, the reason) after retries."""
        request = self._build_request(prompt, settings)
        try:
            payload = self._post_with_retries(request)
            texts, problem = self._parse_choices(payload, settings.n)
        except GenerationError as exc:
            return [""] * settings.n, str(exc)
        except Exception as exc:  # one prompt's surprise must not sink the others' completions
            return [""] * settings.n, f"{self.url}: unexpected error: {type(exc).__name__}: {exc}"
        if problem is not None:
            return [""] * settings.n, f"{self.url}: {problem}"
        return [cut_at_stop(text, settings.stop)[0] for text in texts], None

    def _build_request(self, prompt: str, settings: GenerationSettings) -> _Request:
        body: dict[str, Any] = {
            "model": self.model,
            "n": settings.n,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_new_tokens,
            "seed": settings.seed,
        }
        if settings.stop:
            body["stop"] = list(settings.stop)
        if self.use_chat:
            body["messages"] = task_messages(prompt)  # rendered by the server's template, as in training
        else:
            body["prompt"] = prompt
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return _Request(self.url, json.dumps(body).encode("utf-8"), headers)

    def _post_with_retries(self, request: _Request) -> Any:
        attempt = 0
        while True:
            try:
                return _post_json(request, self.timeout_s)
            except GenerationError as exc:
                if not exc.retryable or attempt >= self.max_retries:
                    raise
                pause = min(4.0, 0.5 * 2**attempt)
                log.info("retrying %s in %.1f s after: %s", exc.url, pause, exc.problem)
                time.sleep(pause)
                attempt += 1

    def _parse_choices(self, payload: Any, n: int) -> tuple[list[str], str | None]:
        """The n completion texts in index order, or a problem naming what is missing."""
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            return [], "malformed response: no 'choices' list"
        choices = payload["choices"]
        if len(choices) < n:
            return [], f"malformed response: {len(choices)} choices, expected n={n}"
        if all(isinstance(choice, dict) and isinstance(choice.get("index"), int) for choice in choices):
            choices = sorted(choices, key=lambda choice: choice["index"])
        texts = []
        for position, choice in enumerate(choices[:n]):
            text = _choice_text(choice, self.use_chat)
            if text is None:
                field = "message.content" if self.use_chat else "text"
                return [], f"malformed response: choices[{position}] has no string '{field}'"
            texts.append(text)
        return texts, None


def _choice_text(choice: Any, use_chat: bool) -> str | None:
    if not isinstance(choice, dict):
        return None
    if use_chat:
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else None
    text = choice.get("text")
    return text if isinstance(text, str) else None


def _post_json(request: _Request, timeout_s: float) -> Any:
    """One POST; the parsed JSON body. Raises GenerationError (retryable for network trouble,
    timeouts, 429 and 5xx; not for other statuses or a body that is not JSON)."""
    http_request = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
    deadline = time.monotonic() + timeout_s
    try:
        with urllib.request.urlopen(http_request, timeout=timeout_s) as response:
            raw = _read_until(response, deadline, request.url)
    except urllib.error.HTTPError as exc:
        retryable = exc.code == 429 or exc.code >= 500
        detail = _error_detail(exc)
        raise GenerationError(request.url, f"HTTP {exc.code} {exc.reason}{detail}", retryable) from None
    except TimeoutError:
        raise GenerationError(request.url, f"timed out after {timeout_s:g} s", True) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # HTTPException: the server closed or garbled the connection mid-reply (often transient).
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise GenerationError(request.url, f"connection failed: {reason}", True) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenerationError(request.url, f"malformed response: not JSON ({exc})", False) from None


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The start of an error body (servers say there what was wrong with the request)."""
    try:
        text = error.read(300).decode("utf-8", errors="replace").strip()
    except (OSError, ValueError):
        return ""
    return f": {' '.join(text.split())}" if text else ""


def _read_until(response: Any, deadline: float, url: str) -> bytes:
    """The body, read a chunk at a time so a server that trickles bytes cannot outlast the deadline."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: body not complete by the deadline")
        chunk = response.read1(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > _MAX_RESPONSE_BYTES:
            raise GenerationError(url, f"response larger than {_MAX_RESPONSE_BYTES} bytes", False)
        chunks.append(chunk)
