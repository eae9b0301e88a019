"""Property-based API testing: schemathesis generates requests from the app's own OpenAPI document
(valid ones and deliberately invalid ones) and checks every response: never a 5xx, status codes,
content types, headers and bodies as the schema documents them, invalid data rejected.

Bounded: a few examples per operation, derandomized (the same cases on every run), no deadline,
against the ASGI app in-process. The store starts with the seed articles (vectors pre-filled in
the embedding cache, so only query embedding uses the model).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import schemathesis
from conftest import ARTICLES, SEED_IDS, make_settings
from faultkit import prefill_for_files
from hypothesis import HealthCheck, settings

from api.app import create_app
from factdesk.service import Factdesk

MAX_EXAMPLES = 15


@pytest.fixture(scope="module")
def api_service(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Factdesk]:
    data = tmp_path_factory.mktemp("schemathesis")
    prefill_for_files(data, sorted(ARTICLES.glob("*.txt")))
    # small limits keep generated bodies and questions cheap; they are in the served schema too
    svc = Factdesk(make_settings(data, max_body_bytes=256 * 1024, max_question_chars=500, max_top_k=20))
    assert [r.status for r in svc.ingest_paths([ARTICLES])] == ["created"] * len(SEED_IDS)
    yield svc
    svc.close()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def api_schema(api_service: Factdesk):  # type: ignore[no-untyped-def]
    app = create_app(api_service.settings, ingest_on_start=False, service=api_service)
    # 413 is how an over-long body is refused (a 10,001-document array is over the body limit first)
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "404", "405", "406", "413", "415", "422"]
                }
            }
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    excluded = []
    if case.operation.path == "/v1/chat/completions":
        # OpenAI's request shape, deliberately permissive: "the last user message is a non-blank question"
        # cannot be said in JSON Schema, so a schema-valid conversation may get the documented 400
        excluded.append(schemathesis.checks.positive_data_acceptance)
    if case.operation.path == "/v1/documents" and case.method == "GET":
        # the cursor is opaque: any string fits the schema, but only one the server handed out is a
        # page (a forged one gets the documented 400)
        excluded.append(schemathesis.checks.positive_data_acceptance)
    response = case.call_and_validate(excluded_checks=excluded)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
