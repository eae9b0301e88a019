"""Logs: JSON lines with the request id (FACTDESK_LOG_FORMAT=json), X-Request-ID in and out.

One test reads the log of a real `factdesk serve` subprocess; the others run the app in-process with
the same handler that `factdesk serve` installs (factdesk/logs.py `log_handler`).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from live_server import LiveServer

from api.app import create_app
from api.request_context import accepted_request_id
from conftest import MakeService
from factdesk.logs import JsonFormatter, log_handler

DOC = {"id": "harbour", "title": "Harbour", "text": "The harbour reopened on Monday after the storm."}
LINE_KEYS = {"time", "level", "logger", "message", "request_id"}


@pytest.mark.parametrize(
    ("supplied", "kept"),
    [
        ("abc-123", True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("", False),
        ("two words", False),
        ("line\nbreak", False),
        ("<script>", False),
        ("-leading-dash", False),
    ],
)
def test_a_supplied_request_id_is_kept_only_when_plausible(supplied: str, kept: bool) -> None:
    assert accepted_request_id(supplied) == (supplied if kept else None)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes through factdesk's JSON handler during the test."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root, factdesk = logging.getLogger(), logging.getLogger("factdesk")
    level = factdesk.level
    root.addHandler(handler)
    factdesk.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    factdesk.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_lines_logged_while_serving_carry_the_request_id(
    make_service: MakeService, json_lines: io.StringIO
) -> None:
    """A model endpoint that refuses connections: the engine's warning, logged in a worker thread,
    and the access line both carry the id the client sent."""
    svc = make_service(openai_base_url=dead_url(), openai_api_key="k", llm_max_retries=0)
    app = create_app(
        svc.settings.model_copy(update={"log_format": "json"}), ingest_on_start=False, service=svc
    )
    with TestClient(app) as c:
        c.post("/v1/documents", json={"documents": [DOC]})
        r = c.post(
            "/v1/ask?key=QSECRET",
            json={"question": "When did it reopen?"},
            headers={"X-Request-ID": "trace-42"},
        )
        unnamed = c.get("/healthz")
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "trace-42"
    assert r.json()["warnings"]  # answered extractively
    generated = unnamed.headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "trace-42"

    lines = parsed(json_lines)
    assert all(LINE_KEYS <= line.keys() for line in lines)
    mine = [line for line in lines if line["request_id"] == "trace-42"]
    warning = next(line for line in mine if line["logger"] == "factdesk.llm")
    assert warning["level"] == "WARNING" and "failed" in warning["message"]
    access = next(line for line in mine if line["logger"] == "factdesk.access")
    assert access["method"] == "POST" and access["path"] == "/v1/ask" and access["status"] == 200
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert "QSECRET" not in json_lines.getvalue()
    health = next(line for line in lines if line["request_id"] == generated)
    assert health["path"] == "/healthz"


def test_a_traceback_stays_on_one_line() -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = logging.LogRecord(
            "factdesk.x", logging.ERROR, __file__, 1, "failed %s", ("it",), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "failed it" and "RuntimeError: boom" in data["exception"]
    assert data["request_id"] is None


def test_served_json_logs_parse_and_carry_the_request_id(tmp_path: Path) -> None:
    """`factdesk serve` as a user runs it with FACTDESK_LOG_FORMAT=json: every line is JSON."""
    with LiveServer(tmp_path, env={"FACTDESK_LOG_FORMAT": "json"}) as server, server.client() as c:
        r = c.get("/v1/models", params={"api_key": "QSECRET"}, headers={"X-Request-ID": "from-client.1"})
        bad = c.get("/healthz", headers={"X-Request-ID": "no spaces allowed"})
        log = server.log()
    assert r.headers["X-Request-ID"] == "from-client.1"
    assert bad.headers["X-Request-ID"] != "no spaces allowed"
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # fails on a non-JSON line
    assert all(LINE_KEYS <= line.keys() for line in lines)
    access = next(line for line in lines if line["request_id"] == "from-client.1")
    assert access["logger"] == "factdesk.access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/v1/models", 200)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own lines are JSON too
    assert "QSECRET" not in log and "api_key" not in log
