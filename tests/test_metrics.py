"""/metrics after real questions: per-stage latency, LLM tokens and fallbacks, cache and catalog sizes.

The LLM path runs against the scripted OpenAI-compatible server (tests/scripted_openai.py), not a
real model.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from scripted_openai import ScriptedOpenAI, reply_json, status

from answers.telemetry import STAGES, Histogram, Telemetry, token_usage
from api.app import create_app
from conftest import MakeService

DOC = {
    "id": "harbour",
    "title": "Harbour reopens",
    "text": "The harbour reopened on Monday after the storm. Officials said the repairs cost two million "
    "euros. The ferry to the island will run again from Friday, the port authority said.",
}
QUESTION = "When did the harbour reopen?"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(parsed: dict, name: str, **labels: str) -> float:
    return parsed[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def client(make_service: MakeService) -> Iterator[TestClient]:
    svc = make_service()
    with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as c:
        assert c.post("/v1/documents", json={"documents": [DOC]}).status_code == 200
        yield c


def test_an_offline_ask_shows_in_stage_histograms_cache_and_catalog_gauges(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    m = samples(client.get("/metrics").text)
    for stage in ("retrieve", "read", "compose"):
        assert value(m, "factdesk_stage_duration_seconds_count", stage=stage) >= 1, stage
        assert value(m, "factdesk_stage_duration_seconds_bucket", stage=stage, le="+Inf") >= 1
    assert value(m, "factdesk_stage_duration_seconds_count", stage="llm") == 0  # offline
    assert value(m, "factdesk_llm_tokens_total", kind="prompt") == 0
    assert value(m, "factdesk_llm_fallbacks_total", kind="answer") == 0
    assert value(m, "factdesk_documents") == 1
    assert value(m, "factdesk_chunks") >= 1
    assert value(m, "factdesk_embedding_cache_misses_total") >= 1  # the new document's text
    assert ("factdesk_embedding_cache_hits_total", ()) in m


def test_llm_calls_count_time_tokens_and_fallbacks(make_service: MakeService) -> None:
    with ScriptedOpenAI() as llm:
        svc = make_service(openai_base_url=llm.base_url, openai_api_key="k", llm_max_retries=0)
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as c:
            c.post("/v1/documents", json={"documents": [DOC]})
            quote = "The harbour reopened on Monday after the storm."
            cited = {"sentences": [{"text": quote + " [1]", "citations": [{"passage": 1, "quote": quote}]}]}
            llm.script(reply_json(cited), status(500))
            first = c.post("/v1/ask", json={"question": QUESTION}).json()
            second = c.post("/v1/ask", json={"question": QUESTION}).json()
            m = samples(c.get("/metrics").text)
        assert llm.errors == []
    assert first["generator"] == svc.settings.llm_model and not first.get("warnings")
    assert second["generator"] == "extractive" and second["warnings"]
    assert value(m, "factdesk_stage_duration_seconds_count", stage="llm") == 2
    assert value(m, "factdesk_llm_tokens_total", kind="prompt") > 0  # the scripted server's usage
    assert value(m, "factdesk_llm_tokens_total", kind="completion") > 0
    assert value(m, "factdesk_llm_fallbacks_total", kind="answer") == 1
    assert value(m, "factdesk_llm_fallbacks_total", kind="summary") == 0


def test_label_values_come_from_fixed_sets() -> None:
    t = Telemetry()
    with pytest.raises(ValueError):
        t.observe("anything a caller sends", 1.0)
    with pytest.raises(ValueError):
        t.add_fallback("other")
    assert tuple(t.snapshot().stages) == STAGES


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    assert h.cumulative() == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert h.count == 4 and h.total == pytest.approx(3.65)


def test_token_usage_prefers_the_endpoints_report() -> None:
    class Usage:
        prompt_tokens, completion_tokens = 120, 7

    assert token_usage(Usage(), ["ignored"], "ignored") == (120, 7)
    prompt, completion = token_usage(None, ["one two three"], "four five")
    assert prompt >= 3 and completion >= 2


def test_an_abstaining_model_is_not_a_fallback(make_service: MakeService) -> None:
    with ScriptedOpenAI(reply_json({"abstained": True, "sentences": []})) as llm:
        svc = make_service(openai_base_url=llm.base_url, openai_api_key="k", llm_max_retries=0)
        with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as c:
            c.post("/v1/documents", json={"documents": [DOC]})
            answer = c.post("/v1/ask", json={"question": "Who won the cup final?"}).json()
            m = samples(c.get("/metrics").text)
    assert answer["abstained"] and answer["generator"] == svc.settings.llm_model
    assert value(m, "factdesk_llm_fallbacks_total", kind="answer") == 0
