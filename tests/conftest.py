"""Shared fixtures: a fresh data dir per test module, the real embedded Chroma, the real model.

The embedding model is loaded once per test run (LocalEmbedder shares one model per process).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from factdesk.service import Factdesk
from factdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
SEED_IDS = sorted(p.stem for p in ARTICLES.glob("*.txt"))


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and .env file."""
    values: dict[str, object] = {"FACTDESK_DATA_DIR": str(data_dir), "OPENAI_API_KEY": None,
                                 "OPENAI_BASE_URL": None, "FACTDESK_API_KEYS": None, "FACTDESK_CHROMA_URL": None,
                                 "FACTDESK_ARTICLES_DIR": str(ARTICLES)}
    base = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    return base.model_copy(update=overrides) if overrides else base


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
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real `factdesk serve` (tests/live_server.py) with the seeds posted over HTTP; shared by the session."""
    from live_server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("live")) as server:
        server.post_seeds()
        yield server
