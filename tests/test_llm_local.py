"""The LLM path end to end against a real model: llama-cpp-python's OpenAI-compatible server serving
SmolLM2-135M-Instruct (tests/local_llm.py), through the real factdesk app. Skipped where the
`[llm-local]` extra is not installed.

The questions are evals/local_llm.yaml's five, written about the bundled articles for this purpose.
The real server refuses json_schema and the negotiation settles on json_object with the schema (a
grammar: the model can only cite sentence ids it was shown), without a warning. At least 4 of the 5
must be answered by the model itself (its name as generator, citations, no fallback), plain and
streamed; whatever reaches the caller is never an outage, and every citation is exactly
document.text[start:end]. A 135M model writes poor answers: these tests prove the path and that its
output survives verification, not its quality (BENCHMARKS.md shows the answers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import ARTICLES, ROOT, make_settings
from fastapi.testclient import TestClient
from local_llm import MODEL_ALIAS, LocalLLM
from scripted_openai import ScriptedOpenAI, dynamic, reply_json, status

from answers import dialects
from answers.llm import LLMEngine, parse_reply
from api.app import create_app
from evals.run import load_questions
from factdesk.service import Factdesk

QUESTIONS = [q["question"] for q in load_questions(ROOT / "evals" / "local_llm.yaml")]
QUESTION = QUESTIONS[0]
MIN_ANSWERED = 4  # of the 5 questions, plain and streamed
INVENTED = "Officials said 999 dragons guarded the border."


@pytest.fixture(scope="module")
def service(
    local_llm: LocalLLM, warm_model: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Factdesk]:
    svc = Factdesk(
        make_settings(
            tmp_path_factory.mktemp("llm-local-app"),
            openai_base_url=local_llm.base_url,
            llm_model=MODEL_ALIAS,
            # counted in cl100k tokens, which SmolLM2's tokenizer exceeds by ~10% on news text: this
            # leaves room in the server's n_ctx for the chat template and the answer
            llm_context_tokens=1500,
            llm_answer_tokens=256,
            llm_max_retries=0,
            llm_timeout_s=120,
            default_top_k=3,
        )
    )
    svc.ingest_paths([ARTICLES])
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service: Factdesk) -> Iterator[TestClient]:
    with TestClient(create_app(service.settings, ingest_on_start=False, service=service)) as c:
        yield c


def sse_events(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


VERIFICATION_FALLBACK = "LLM answer could not be verified against the articles; answered extractively"


def assert_model_path(client: TestClient, d: dict, text_field: str = "answer") -> None:
    """The model's reply was used: its verified answer, or (nothing verified) the extractive answer
    with the verification warning; never "LLM unavailable"; every citation exact."""
    warnings = d.get("warnings", [])
    assert not any(w.startswith("LLM unavailable") for w in warnings), warnings
    if d["generator"] == MODEL_ALIAS:
        assert d["citations"] and not any("extractively" in w for w in warnings), d
    else:
        assert d["generator"] == "extractive"
        assert any(w == VERIFICATION_FALLBACK or "summarised extractively" in w for w in warnings), warnings
    for c in d["citations"]:
        text = client.get(f"/v1/documents/{c['document_id']}").json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['marker']}]" in d[text_field]


def by_model(d: dict) -> bool:
    """Answered by the model itself: its name as generator, cited, not an abstention, no fallback."""
    return (
        d["generator"] == MODEL_ALIAS
        and not d.get("abstained")
        and bool(d["citations"])
        and not any("extractively" in w or w.startswith("LLM unavailable") for w in d.get("warnings", []))
    )


@dataclass
class Asked:
    answers: dict[str, dict]  # question -> its /v1/ask answer
    streamed: dict[str, list[dict]]  # question -> its streamed /v1/ask events
    chats: dict[str, tuple[str, list[dict], bool]]  # question -> its streamed chat reply (see chat())
    mode: dialects.Mode | None  # the structured-output mode negotiated while asking


@pytest.fixture(scope="module")
def asked(client: TestClient, service: Factdesk) -> Asked:
    """Each question asked through /v1/ask, then streamed, then as a streamed chat, one after the other:
    the three prompts share their prefix, which llama.cpp keeps from one request to the next, so only
    the first is read in full (the mode is read here: tests forget it between them)."""
    answers, streamed, chats = {}, {}, {}
    for q in QUESTIONS:
        r = client.post("/v1/ask", json={"question": q})
        assert r.status_code == 200, r.text
        answers[q] = r.json()
        r = client.post("/v1/ask", json={"question": q, "stream": True})
        assert r.status_code == 200, r.text
        streamed[q] = sse_events(r.text)
        chats[q] = chat(client, service, q, stream=True)
    return Asked(answers, streamed, chats, dialects.negotiated(service.engine.endpoint))  # type: ignore[attr-defined]


def test_ask(client: TestClient, asked: Asked) -> None:
    for d in asked.answers.values():
        assert_model_path(client, d)
    answered = [q for q, d in asked.answers.items() if by_model(d)]
    assert len(answered) >= MIN_ANSWERED, {
        q: (d["answer"], d.get("warnings")) for q, d in asked.answers.items()
    }
    # llama-cpp-python refuses json_schema (a 500 naming response_format) and takes json_object's schema
    assert asked.mode is dialects.Mode.JSON_OBJECT_SCHEMA


def test_ask_streamed(client: TestClient, asked: Asked) -> None:
    done_events = {}
    for q, events in asked.streamed.items():
        done = events[-1]
        assert done["done"] is True
        assert_model_path(client, done)
        streamed = "".join(e["delta"] for e in events[:-1])
        assert " ".join(streamed.split()) == " ".join(done["answer"].split())
        done_events[q] = done
    answered = [q for q, d in done_events.items() if by_model(d)]
    assert len(answered) >= MIN_ANSWERED, {
        q: (d["answer"], d.get("warnings")) for q, d in done_events.items()
    }


# the bundled article whose passages fit one request at the fixture's context; the others are
# summarised in map-reduce rounds (several calls, minutes on a small CPU), where SmolLM2's reduce
# step did not verify on 002 (BENCHMARKS.md); scripted tests cover the rounds
ONE_CALL_ARTICLE = "004_44ab8f14aca57252"


# summaries of that one article, each a single request; whether a 135M model cites its sentences
# rightly depends on the CPU build of llama.cpp (greedy decoding diverges with its float rounding:
# the plain summary verified on one machine and not on the next), so, as for answers, some must
# verify and every one must take a documented path
SUMMARY_REQUESTS = [
    {"max_words": 80},
    {"max_words": 60},
    {"max_words": 120},
    {"max_words": 80, "query": "the prisoners"},
    {"max_words": 80, "query": "North Korean troops in Russia"},
]
MIN_SUMMARIZED = 1


def test_summarize(client: TestClient) -> None:
    """Every summary takes a documented path, and some are written by the model: its name as
    generator, cited, no fallback."""
    replies = []
    for body in SUMMARY_REQUESTS:
        r = client.post("/v1/summarize", json={"document_ids": [ONE_CALL_ARTICLE], **body})
        assert r.status_code == 200, r.text
        d = r.json()
        assert_model_path(client, d, "summary")
        replies.append(d)
    by = [d for d in replies if by_model(d)]
    assert len(by) >= MIN_SUMMARIZED, [(d["summary"][:120], d["warnings"]) for d in replies]


def chat(client: TestClient, service: Factdesk, question: str, stream: bool) -> tuple[str, list[dict], bool]:
    """(the reply's text, its citations, whether the model answered: no fallback counted meanwhile).
    The chat reply carries no generator; the service's fallback counter says whether one happened."""
    before = sum(service.telemetry.snapshot().fallbacks.values())
    body = {"model": "factdesk", "messages": [{"role": "user", "content": question}], "stream": stream}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    if stream:
        chunks = sse_events(r.text)
        content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        citations = chunks[-1]["citations"]
    else:
        content = r.json()["choices"][0]["message"]["content"]
        citations = r.json()["citations"]
    for c in citations:
        text = client.get(f"/v1/documents/{c['document_id']}").json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['marker']}]" in content
    return content, citations, sum(service.telemetry.snapshot().fallbacks.values()) == before


def test_chat_streamed(asked: Asked) -> None:
    """Every question as a streamed chat (the path a chat UI takes): at least 4 answered by the model."""
    replies = asked.chats
    answered = [q for q, (_, citations, no_fallback) in replies.items() if no_fallback and citations]
    assert len(answered) >= MIN_ANSWERED, replies


def test_chat(client: TestClient, service: Factdesk) -> None:
    """A plain chat reply: the model's cited answer and its sources. (Not compared word for word with
    /v1/ask's: llama-cpp-python reuses the cached prompt prefix, and greedy decoding may then differ.)"""
    content, citations, no_fallback = chat(client, service, QUESTIONS[1], stream=False)
    assert no_fallback and citations and "Sources" in content, content


def test_invented_quote_is_dropped(
    client: TestClient, service: Factdesk, local_llm: LocalLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's real reply, with one invented sentence added on the way (a forwarding scripted
    server): the invented sentence is dropped and never reaches the caller."""

    def forward_and_invent(body: dict) -> object:
        r = httpx.post(f"{local_llm.base_url}/chat/completions", json={**body, "stream": False}, timeout=120)
        if r.status_code != 200:
            return status(r.status_code, body=r.json())  # the real server's refusal, as it gave it
        reply = parse_reply(r.json()["choices"][0]["message"]["content"])
        quote = "999 dragons guarded the border"
        reply.setdefault("sentences", []).extend(
            [
                {"text": INVENTED, "citations": [{"passage": 1, "quote": quote}]},  # an invented quote
                {"text": INVENTED, "citations": ["1.1"]},  # a real sentence id: the figure is not in it
                {"text": INVENTED, "citations": ["99.1"]},  # an id never shown
            ]
        )
        return reply_json(reply)

    with ScriptedOpenAI(dynamic(forward_and_invent)) as proxy:
        settings = service.settings.model_copy(update={"openai_base_url": proxy.base_url})
        engine = LLMEngine(service, settings, service.prompts, fallback=service.engine.fallback)  # type: ignore[attr-defined]
        monkeypatch.setattr(service, "engine", engine)
        d = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert proxy.errors == []
    assert "dragons" not in d["answer"] and all("dragons" not in c["quote"] for c in d["citations"])
    assert d["warnings"].count("dropped an unsupported sentence") >= 3
    assert_model_path(client, d)


def test_slow_reply_is_cut_by_the_timeout(
    client: TestClient, service: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timeout far below the model's reply time: the answer falls back with a warning, never a 5xx."""
    settings = service.settings.model_copy(update={"llm_timeout_s": 0.05})
    engine = LLMEngine(service, settings, service.prompts, fallback=service.engine.fallback)  # type: ignore[attr-defined]
    monkeypatch.setattr(service, "engine", engine)
    for stream in (False, True):
        r = client.post("/v1/ask", json={"question": QUESTION, "stream": stream})
        assert r.status_code == 200
        d = sse_events(r.text)[-1] if stream else r.json()
        assert d["generator"] == "extractive"
        # a plain call times out; a stream may get its headers first and be cut while reading
        assert any(w.startswith("LLM unavailable (") for w in d["warnings"]), d["warnings"]
