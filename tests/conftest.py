"""Shared fixtures: a fresh data dir per test module, the real embedded Chroma, the real model.

The embedding model is loaded once per test run (LocalEmbedder shares one model per process).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar
from pathlib import Path

import pytest

from answers.candidates import Candidate
from answers.reader import Passage
from factdesk.service import Factdesk
from factdesk.settings import Settings, isolated_settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
SEED_IDS = sorted(p.stem for p in ARTICLES.glob("*.txt"))
MakeService = Callable[..., Factdesk]  # the type of the make_service fixture
CHROMIUM = os.environ.get("FACTDESK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and .env file."""
    return isolated_settings(data_dir, **overrides)


def copy_embedding_cache(source: Factdesk, data_dir: Path) -> None:
    """Give a new data dir the vectors `source` already computed (the cache is content-addressed), so
    ingesting the same texts there costs no model time."""
    import sqlite3

    data_dir.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(Path(source.settings.data_dir) / "embeddings.sqlite")
    dst = sqlite3.connect(data_dir / "embeddings.sqlite")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def check_citations(svc: Factdesk, citations: list) -> None:
    """Every citation's quote is exactly its document's text[start:end]."""
    texts = {d.id: d.text for d in svc.list_documents()}
    for c in citations:
        assert c.quote == texts[c.document_id][c.start : c.end]


@pytest.fixture(autouse=True)
def fresh_llm_dialects() -> None:
    """Each test negotiates structured output afresh: a closed scripted server's port, reused by the
    next one, must not hand down the mode another test's dialect settled on (answers/dialects.py)."""
    from answers import dialects

    dialects.forget()


@pytest.fixture(scope="session")
def warm_model() -> None:
    from retrieval.embed import LocalEmbedder

    LocalEmbedder().load()


@pytest.fixture
def make_service(tmp_path: Path, warm_model: None) -> Iterator:
    """Factory for services over fresh data dirs inside this test's tmp_path."""
    made: list[Factdesk] = []

    def factory(name: str = "data", **overrides: object) -> Factdesk:
        svc = Factdesk(make_settings(tmp_path / name, **overrides))
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        svc.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Factdesk]:
    """A service with the five seed articles ingested (shared by a test module; treat as read-only)."""
    data = tmp_path_factory.mktemp("seeded")
    svc = Factdesk(make_settings(data))
    svc.ingest_paths([ARTICLES])
    yield svc
    svc.close()
    # no rmtree: pytest would hand the freed name ("seeded0") to the next module, and chromadb keeps one
    # client per path in the process, bound to the deleted files ("attempt to write a readonly database")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real `factdesk serve` (tests/live_server.py) with the seeds posted over HTTP; shared by the session."""
    from live_server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("live")) as server:
        server.post_seeds()
        yield server


SCRIPTED_PING_S = 0.2  # the keep-alive interval of scripted_live_server


@pytest.fixture(scope="session")
def scripted_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """(a real `factdesk serve`, its model): the model is the scripted OpenAI-compatible server
    (tests/scripted_openai.py), tried once per request; SSE keep-alive pings every SCRIPTED_PING_S."""
    from live_server import LiveServer
    from scripted_openai import DEFAULT_MODEL, ScriptedOpenAI

    with ScriptedOpenAI() as model:
        env = {
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "sk-scripted",
            "FACTDESK_LLM_MODEL": DEFAULT_MODEL,
            "FACTDESK_LLM_MAX_RETRIES": "0",
            "FACTDESK_SSE_PING_S": str(SCRIPTED_PING_S),
        }
        with LiveServer(tmp_path_factory.mktemp("live-llm"), env=env) as server:
            server.post_seeds()
            yield server, model


def candidate(
    text: str, p: float, doc: str = "d0", start: int = 0, dup: str | None = None, title: str = ""
) -> Candidate:
    """A candidate sentence of document `doc` at `start`, as the reader scored it (p)."""
    return Candidate(
        doc, f"{doc}:0", title or doc, start, start + len(text), text, dup, Passage(text), 1.0, "h", p
    )


def skip_outside_ci(reason: str) -> None:
    """Skip where a real part (a browser, the local model, PostgreSQL, the `chroma` CLI, root, mount or
    setpriv, the SQuAD file) is missing on a developer's machine; in CI (`.ci/run` sets CI=1 and has
    them all) a missing part fails instead, so CI always runs the real thing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI has it: see .ci/run)")
    pytest.skip(reason)


SQUAD = ROOT.parent / "shared" / "data" / "squad2" / "squad2-dev-half.json"


@pytest.fixture
def squad() -> None:
    """The training scripts' data: the SQuAD 2.0 file beside the checkout (../shared/data)."""
    if not SQUAD.exists():
        skip_outside_ci("the SQuAD 2.0 file is in ../shared/data only")


def open_together(open_one: Callable[[], T], n: int = 4) -> tuple[list[T], list[BaseException]]:
    """Call open_one from n threads at once: (what they opened, what they raised)."""
    opened: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            opened.append(open_one())
        except BaseException as e:  # noqa: BLE001 - the caller asserts on them
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return opened, errors


def needs_chroma_cli() -> None:
    if shutil.which("chroma") is None:
        skip_outside_ci("the chromadb package's `chroma` CLI is not installed")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator:
    """A real `chroma run` on a free port, stopped after the test."""
    from chroma_server import ChromaServer, free_port

    needs_chroma_cli()
    server = ChromaServer(tmp_path / "chroma-server", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator:
    """A real PostgreSQL 15 (tests/postgres_server.py), started once for the session; tests take a
    fresh database each with `postgres.new_database()`."""
    from postgres_server import PostgresServer, skip_reason

    reason = skip_reason()
    if reason:
        skip_outside_ci(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (tests/local_llm.py), shared by the
    session; skipped, with the reason, where the `[llm-local]` extra is not installed."""
    from local_llm import LocalLLM, skip_reason

    reason = skip_reason()
    if reason:
        skip_outside_ci(reason)
    with LocalLLM(tmp_path_factory.mktemp("llm-local")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Debian Chromium driven by playwright (the chat page and /docs tests)."""
    from playwright import sync_api  # the test extra's: a missing one is a broken install, not a skip

    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        skip_outside_ci(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
