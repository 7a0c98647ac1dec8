"""The OpenAI-compatible server: response shapes, chat prompts, refusals of bad requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from routesql.llm.generator import GenerationSettings
from routesql.llm.local import TransformersGenerator
from routesql.llm.server import base_url, serve, shutdown


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


def call(url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture()
def serving() -> Iterator[Any]:
    started = []

    def start(generator: Any) -> str:
        server, thread = serve(generator, model_name="routesql-test")
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
    request = {"model": "x", "prompt": ["a", "b"], "n": 2, "temperature": 0.5, "top_p": 0.9,
               "max_tokens": 7, "stop": ";", "seed": 4}
    status, body = call(serving(generator) + "/v1/completions", request)
    assert status == 200
    assert (body["object"], body["model"]) == ("text_completion", "routesql-test")
    assert body["id"].startswith("cmpl-")
    assert [(c["index"], c["text"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "a|0", "stop"), (1, "a|1", "stop"), (2, "b|0", "stop"), (3, "b|1", "stop"),
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
    messages = [{"role": "system", "content": "Write SQL."},
                {"role": "user", "content": [{"type": "text", "text": "How many singers?"}]}]
    status, body = call(serving(generator) + "/v1/chat/completions", {"messages": messages, "n": 2})
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert [(c["index"], c["message"]["role"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "assistant", "stop"), (1, "assistant", "stop"),
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


@pytest.mark.parametrize(
    ("path", "body", "raw", "status", "problem"),
    [
        ("/v1/completions", None, b"{not json", 400, "not JSON"),
        ("/v1/completions", [1, 2], None, 400, "JSON object"),
        ("/v1/completions", {"n": 1}, None, 400, "'prompt' must be"),
        ("/v1/completions", {"prompt": [1, 2]}, None, 400, "token ids are not supported"),
        ("/v1/completions", {"prompt": "a", "n": 0}, None, 400, "'n' must be between"),
        ("/v1/completions", {"prompt": "a", "n": True}, None, 400, "'n' has the wrong type"),
        ("/v1/completions", {"prompt": "a", "stop": 5}, None, 400, "'stop' must be"),
        ("/v1/completions", {"prompt": "a", "top_p": 0}, None, 400, "'top_p' must be"),
        ("/v1/completions", {"prompt": "a", "temperature": -1}, None, 400, "'temperature' must be"),
        ("/v1/completions", {"prompt": "a", "max_tokens": "10"}, None, 400, "'max_tokens' has the wrong type"),
        ("/v1/chat/completions", {"messages": []}, None, 400, "'messages' must be"),
        ("/v1/chat/completions", {"messages": [{"content": "x"}]}, None, 400, "string 'role'"),
        ("/v1/embeddings", {"input": "x"}, None, 404, "no route"),
    ],
)
def test_bad_requests_get_an_openai_style_error(serving, path: str, body: Any, raw: bytes | None,
                                               status: int, problem: str) -> None:
    got_status, got = call(serving(RecordingGenerator()) + path, body, raw)
    assert got_status == status
    assert problem in got["error"]["message"]


def test_generator_failure_is_a_500_and_the_server_keeps_serving(serving) -> None:
    url = serving(FailingGenerator())
    status, body = call(url + "/v1/completions", {"prompt": "a"})
    assert status == 500
    assert "CUDA out of memory" in body["error"]["message"]
    assert call(url + "/v1/models")[0] == 200


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
