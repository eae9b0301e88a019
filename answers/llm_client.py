"""The model endpoint: one OpenAI SDK client, with the SDK's own retries, asking for JSON in the best
structured-output mode the server takes (answers/dialects.py).

The SDK retries a timeout, a failed connection, 408, 409, 429 and 5xx up to FACTDESK_LLM_MAX_RETRIES
more times, after the server's `retry-after-ms` / `Retry-After` or an exponential backoff with
jitter (0.5 s, 1 s, ... at most 8 s). Two replies must not be retried, and the SDK is told so with
the header it obeys, `x-should-retry: false`, set by a response hook before it decides: a server
refusing the response_format (llama-cpp-python refuses with a 500; the next mode is tried at once
instead), and a Retry-After beyond RETRY_AFTER_CAP_S (the SDK would wait up to two minutes; a
reader is not kept waiting that long for a model, the answer falls back at once instead).

The SDK's timeout bounds each wait for bytes, not a call: a server (or proxy) that sends its reply a
few bytes at a time never trips it. A call without streaming therefore also has a deadline for the
whole of it and its retries (`deadline_s`); past it the answer falls back, and the abandoned request
ends in its worker thread when the server ends it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as DeadlinePassed
from datetime import UTC, datetime
from functools import partial
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import openai

from answers import dialects
from answers.llm_reply import complete_sentences, parse_reply
from answers.telemetry import Telemetry, token_usage
from retrieval.redact import redact_text, redact_url

if TYPE_CHECKING:
    from factdesk.settings import Settings

log = logging.getLogger("factdesk.llm")

RETRY_AFTER_CAP_S = 20.0  # a server asking for longer is not worth keeping a user waiting for
BACKOFF_CAP_S = 8.0  # the SDK's longest wait between two tries of its own
# calls without streaming run here, so that a deadline can end the wait for them
_CALLS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="factdesk-llm")


class LLMFailure(Exception):
    """The model could not be used; `reason` is short, safe to show, and never holds the API key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CUT_REPLY = "reply cut at the token limit"


class CutReply(LLMFailure):
    """A reply that stopped at max_tokens before its JSON closed; `sentences`: those whole before it."""

    def __init__(self, sentences: list) -> None:
        super().__init__(CUT_REPLY)
        self.sentences = sentences


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """(a short reason safe to show, whether trying again may help)."""
    if isinstance(exc, LLMFailure):
        return exc.reason, False
    if isinstance(exc, openai.APITimeoutError):
        return "timed out", True
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed", True
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            return "rate limited", True
        if code in (408, 409) or code >= 500:
            return f"server error {code}", True
        if code in (401, 403):
            return f"authentication failed ({code})", False
        return f"request rejected ({code})", False
    if isinstance(exc, (ValueError, openai.APIResponseValidationError)):  # json.JSONDecodeError included
        return "invalid response", False
    return "unexpected error", False


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait (`retry-after-ms`, or `Retry-After` as seconds or a date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _carries_format(request: Any) -> bool:
    try:
        body = json.loads(request.content or b"{}")
    except Exception:  # noqa: BLE001 - not JSON, or a streamed body (the SDK sends neither)
        return False
    return isinstance(body, dict) and "response_format" in body


def mark_unretryable(response: Any) -> None:
    """Response hook of the SDK's HTTP client (httpx, or httpx2 in newer SDKs), run before the SDK
    decides whether to retry a reply."""
    if response.status_code < 400:
        return
    response.read()  # a streamed request's error body is not read yet
    refused = _carries_format(response.request) and dialects.refusal(response.status_code, response.text)
    wait = retry_after_s(response.headers)
    if refused or (wait is not None and wait > RETRY_AFTER_CAP_S):
        response.headers["x-should-retry"] = "false"
    if not refused:  # a refusal is no failure: the caller tries the next mode
        log.warning("LLM endpoint answered HTTP %s", response.status_code)


class LLMClient:
    def __init__(self, settings: Settings, telemetry: Telemetry) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self.model = settings.llm_model
        # base_url given explicitly so that the client never reads the environment itself
        self.sdk = openai.OpenAI(
            api_key=settings.openai_api_key or "unused",
            base_url=settings.openai_base_url or "https://api.openai.com/v1",
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            http_client=openai.DefaultHttpxClient(event_hooks={"response": [mark_unretryable]}),
        )
        self.once = self.sdk.with_options(max_retries=0)  # for calls whose failure costs nothing
        # what negotiates the structured-output mode: the same server may serve several models
        self.endpoint: dialects.Endpoint = (str(self.sdk.base_url), self.model)
        self._failed: tuple[float, str] | None = None  # the last call's failure: (when, reason)

    def note(self, failure: str | None) -> None:
        """The outcome of the latest call to reach the endpoint: None, answered; else its reason."""
        self._failed = None if failure is None else (time.time(), failure)

    def problem(self) -> str | None:
        """Why answers are extractive now (/readyz's `degraded`): the latest call failed. Only calls
        tell: the endpoint is not probed, so the state holds until the next question asks it again."""
        if self._failed is None:
            return None
        when = datetime.fromtimestamp(self._failed[0], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"the LLM endpoint at {redact_url(str(self.sdk.base_url))} failed its latest call at {when} "
            f"({self._failed[1]}): answers and summaries are extractive until a call succeeds"
        )

    def complete_json(self, messages: list[dict], schema: dict) -> dict:
        """The model's reply as a JSON object; LLMFailure when there is none."""
        resp = self.create_json(messages, schema)
        choice = resp.choices[0] if resp.choices else None
        content = choice.message.content if choice else None
        if not content:
            raise LLMFailure("empty reply")
        try:
            return parse_reply(content)
        except ValueError:
            if choice is not None and choice.finish_reason == "length":
                raise CutReply(complete_sentences(content)) from None
            raise LLMFailure("reply was not valid JSON") from None

    def create_json(self, messages: list[dict], schema: dict, *, stream: bool = False) -> Any:
        """A chat completion asking for JSON in the best structured-output mode the endpoint takes:
        a refused mode is followed at once by the next one."""
        request: dict[str, Any] = {
            "messages": messages,
            "max_tokens": self.settings.llm_answer_tokens,
            "temperature": 0,
        }
        if stream:
            request["stream"] = True
        for mode in dialects.modes_for(self.endpoint):
            fmt = dialects.response_format(mode, schema)
            try:
                resp = self.create({**request, "response_format": fmt} if fmt else request)
            except openai.APIStatusError as refused:  # create lets only a format refusal out
                log.info(
                    "the endpoint refused response_format %s (%s); trying the next mode",
                    mode.value,
                    refused.status_code,
                )
                continue
            dialects.remember(self.endpoint, mode)
            return resp
        raise LLMFailure("no structured-output mode left")  # not reached: the last mode sends none

    def create(self, request: dict, *, retry: bool = True) -> Any:
        """One chat completion, retried by the SDK unless `retry` is false; LLMFailure when it fails,
        except a refused response_format, which is raised as the SDK's error."""
        if request.get("stream"):  # its time and tokens are counted where it is read
            return self._send(request, retry)
        with self.telemetry.stage("llm"):
            resp = self._send(request, retry)
        choice = resp.choices[0] if getattr(resp, "choices", None) else None
        reply = (choice.message.content if choice and choice.message else None) or ""
        prompts = [str(m.get("content", "")) for m in request["messages"]]
        self.telemetry.add_tokens(*token_usage(getattr(resp, "usage", None), prompts, reply))
        return resp

    def deadline_s(self, retry: bool) -> float:
        """How long a call without streaming may take in all: each try's timeout, and the SDK's
        backoff between tries."""
        retries = self.settings.llm_max_retries if retry else 0
        return self.settings.llm_timeout_s * (retries + 1) + BACKOFF_CAP_S * retries

    def _send(self, request: dict, retry: bool) -> Any:
        call = partial(
            (self.sdk if retry else self.once).chat.completions.create, model=self.model, **request
        )
        try:
            if request.get("stream"):  # its wait for tokens is bounded where it is read (answers/llm.py)
                resp = self._checked(call, request)
            else:
                # in the caller's context: its log lines keep the request's id (factdesk/logs.py)
                future = _CALLS.submit(contextvars.copy_context().run, self._checked, call, request)
                resp = future.result(timeout=self.deadline_s(retry))
        except DeadlinePassed:
            log.warning(
                "LLM call failed: no whole reply within %.0f s (FACTDESK_LLM_TIMEOUT_S and its retries)",
                self.deadline_s(retry),
            )
            self.note("timed out")
            raise LLMFailure("timed out") from None
        except LLMFailure as failure:
            self.note(failure.reason)
            raise
        self.note(None)
        return resp

    def _checked(self, call: Any, request: dict) -> Any:
        try:
            resp = call()
        except Exception as exc:  # noqa: BLE001
            if "response_format" in request and dialects.refuses_format(exc):
                raise  # not an outage: the caller tries the next structured-output mode
            self.log_failure("call", exc)
            raise LLMFailure(describe_failure(exc)[0]) from None
        if isinstance(resp, str | bytes):
            # a 200 that is no JSON (a proxy's HTML error page): the SDK hands back the body as text
            log.warning("LLM call answered with no chat completion: %r", self.redact(str(resp))[:120])
            raise LLMFailure("invalid response")
        return resp

    def redact(self, text: str) -> str:
        key = self.settings.openai_api_key
        return redact_text(text.replace(key, "***") if key else text)

    def log_failure(self, what: str, exc: BaseException) -> None:
        log.warning("LLM %s failed: %s: %s", what, type(exc).__name__, self.redact(str(exc))[:300])
