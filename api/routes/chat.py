"""OpenAI-compatible surface, so any chat UI or the official `openai` client can use factdesk as a model.

The last user message is the question; earlier user messages are the history the service uses to
make a follow-up self-contained. Assistant and system messages are not needed for that and are
ignored, as are OpenAI parameters that mean nothing here (temperature, n, tools, ...).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter

from api.cited_text import cited_text, sources_block
from api.deps import Service, call
from api.inert import InertStream
from api.schemas import ChatCompletion, ChatRequest, ModelCard, ModelList, sse_docs
from api.sse import ServiceStream, event_response
from factdesk.service import blank
from retrieval.errors import InvalidInput, NotFound
from retrieval.tokens import count_tokens

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

MODEL_ID = "factdesk"
MODEL_CREATED = 1735689600  # 2025-01-01: a fixed date, so the model list never changes between calls
MAX_HISTORY = 10  # follow-up rewriting looks at the previous question; a few more cost nothing

STREAM_EXAMPLE = (
    'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, '
    '"delta": {"content": "The NIS said "}, "finish_reason": null}], ...}\n\ndata: [DONE]\n\n'
)
STREAM_DOCS = sse_docs(
    'The completion; with "stream": true, chat.completion.chunk events, then [DONE]',
    STREAM_EXAMPLE,
    json_data=False,
)


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": MODEL_CREATED, "owned_by": "factdesk"}


@router.get("/models", response_model=ModelList, summary="The one model: factdesk")
async def list_models() -> dict:
    return {"object": "list", "data": [model_card()]}


@router.get("/models/{model_id}", response_model=ModelCard, summary="A model by id")
async def get_model(model_id: str) -> dict:
    if model_id != MODEL_ID:
        raise NotFound(f"no model {model_id[:100]!r}; the only model is {MODEL_ID!r}")
    return model_card()


def conversation(body: ChatRequest, max_chars: int) -> tuple[str, list[str]]:
    """(question, earlier user questions): overlong earlier turns are cut, the question is not."""
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise InvalidInput("messages must contain at least one user message")
    asked = [m.text() for m in users]
    if isinstance(users[-1].content, list) and not asked[-1].strip():
        raise InvalidInput("the last user message has no text part: only text is read (no images or files)")
    history = [q.strip()[:max_chars] for q in asked[:-1] if not blank(q)]
    return asked[-1], history[-MAX_HISTORY:]


def token_usage(prompt: str, content: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(content)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(answer: dict[str, Any], prompt: str) -> dict[str, Any]:
    content = cited_text(answer["answer"], answer["citations"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": token_usage(prompt, content),
        "citations": answer["citations"],
        "system_fingerprint": answer.get("prompt_version"),
        "generator": answer.get("generator"),
        "warnings": answer.get("warnings", []),
    }


class ChunkWriter:
    """chat.completion.chunk events sharing one id and creation time."""

    def __init__(self, usage_prompt: str | None = None) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.text = InertStream()  # the answer's deltas quote articles: made inert as they stream
        self.usage_prompt = usage_prompt  # stream_options.include_usage: a last chunk counts the tokens
        self.sent: list[str] = []

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        self.sent.append(delta.get("content") or "")
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            **extra,
        }

    def render(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "delta" in event:
            content = self.text.feed(event["delta"] or "")
            return [self.chunk({"content": content})] if content else []
        if not event.get("done"):
            return []
        out = []
        rest = self.text.flush()
        if rest:
            out.append(self.chunk({"content": rest}))
        sources = sources_block(event.get("citations", []))
        if sources:
            out.append(self.chunk({"content": sources}))
        out.append(
            self.chunk(
                {},
                "stop",
                citations=event.get("citations", []),
                system_fingerprint=event.get("prompt_version"),
                generator=event.get("generator"),
                warnings=event.get("warnings", []),
            )
        )
        if self.usage_prompt is not None:  # as OpenAI sends it: no choices, only the counts
            usage = token_usage(self.usage_prompt, "".join(self.sent))
            out.append({**self.chunk({}), "choices": [], "usage": usage})
        return out


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat completion",
    responses=STREAM_DOCS,
)
async def chat_completions(body: ChatRequest, svc: Service):  # type: ignore[no-untyped-def]
    """The reply is the cited answer: [n] markers, then a "Sources:" list; `citations` has the exact spans."""
    question, history = conversation(body, svc.settings.max_question_chars)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        writer = ChunkWriter("\n".join([*history, question]) if include_usage else None)

        def start() -> Iterator[dict]:
            return svc.ask_stream(question, body.top_k, None, history)

        return event_response(
            await ServiceStream.open(start),
            render=writer.render,
            prefix=[writer.chunk({"role": "assistant", "content": ""})],
            suffix=["[DONE]"],
            ping_s=svc.settings.sse_ping_s,
        )

    def run() -> dict:
        answer = svc.ask(question, body.top_k, None, history).to_dict()
        return completion(answer, "\n".join([*history, question]))

    return await call(run)
