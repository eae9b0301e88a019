"""How factdesk asks an OpenAI-compatible server for JSON, and what each server turns out to accept.

Servers differ in the `response_format` they take: OpenAI, vLLM, Ollama and llama.cpp's llama-server
take `json_schema`; llama-cpp-python's server takes only `json_object` (its `schema` field becomes a
grammar) and answers `json_schema` with HTTP 500 whose body is its request-validation error; others
take neither and rely on the prompt, which always describes the JSON shape. The modes are tried best
first. A server refusing a mode is not an outage: the next mode is tried at once (no retries, no
warning; answers/llm_client.py keeps the SDK from retrying it), and the mode that worked is
remembered per (base URL, model) for the life of the process, so each endpoint pays for the
refusals once.
"""

from __future__ import annotations

import enum
import re
import threading
from typing import Any

import openai


class Mode(enum.Enum):
    JSON_SCHEMA = "json_schema"  # response_format json_schema (OpenAI's structured outputs)
    JSON_OBJECT_SCHEMA = "json_object+schema"  # json_object with a `schema` field (llama.cpp family)
    JSON_OBJECT = "json_object"  # JSON mode without a schema
    PROMPT = "prompt"  # no response_format: the prompt alone asks for the JSON object


LADDER: tuple[Mode, ...] = tuple(Mode)

Endpoint = tuple[str, str]  # (base URL, model)


def response_format(mode: Mode, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `response_format` for `mode`; `schema` is an OpenAI json_schema object
    ({"name", "strict", "schema"}). None: send none."""
    if mode is Mode.JSON_SCHEMA:
        return {"type": "json_schema", "json_schema": schema}
    if mode is Mode.JSON_OBJECT_SCHEMA:
        return {"type": "json_object", "schema": schema["schema"]}
    if mode is Mode.JSON_OBJECT:
        return {"type": "json_object"}
    return None


_NAMES_FORMAT = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)
# a 400 for a prompt longer than the model's context is about the prompt, not the format
_ABOUT_CONTEXT = re.compile(r"context[_ ]length|maximum context|context window", re.IGNORECASE)
# 4xx statuses that say nothing about the request's shape: credentials, a wrong URL or model name,
# transient conditions, a body over the size limit
_NOT_A_REFUSAL = frozenset({401, 403, 404, 408, 409, 413, 429})


def refuses_format(exc: BaseException) -> bool:
    """Whether `exc` (from a request that carried a response_format) is the server refusing that format."""
    if not isinstance(exc, openai.APIStatusError):
        return False
    return refusal(exc.status_code, f"{exc.message} {exc.body}")


def refusal(code: int, body: str) -> bool:
    """Whether an HTTP `code` with `body`, answering a request that carried a response_format, is the
    server refusing that format.

    A client error (4xx) is, unless its status or body shows another cause: servers word the refusal
    in many ways, and the next mode costs one request. A server error (5xx) is only when its body
    names the format (llama-cpp-python reports its validation error as a 500); a plain 5xx or a
    timeout is an outage and goes to the retries and the fallback instead.
    """
    if 400 <= code < 500:
        return code not in _NOT_A_REFUSAL and not _ABOUT_CONTEXT.search(body)
    return code >= 500 and bool(_NAMES_FORMAT.search(body))


_lock = threading.Lock()
_negotiated: dict[Endpoint, Mode] = {}


def modes_for(endpoint: Endpoint) -> tuple[Mode, ...]:
    """The modes to try, in order: from the one that last worked for this endpoint down the ladder."""
    with _lock:
        known = _negotiated.get(endpoint)
    return LADDER[LADDER.index(known) :] if known else LADDER


def remember(endpoint: Endpoint, mode: Mode) -> None:
    with _lock:
        _negotiated[endpoint] = mode


def negotiated(endpoint: Endpoint) -> Mode | None:
    with _lock:
        return _negotiated.get(endpoint)


def forget() -> None:
    """Forget every endpoint's mode (for tests that reuse one server with several dialects)."""
    with _lock:
        _negotiated.clear()
