"""Tests for retrieval.store in server mode: a real `chroma run` subprocess, killed and restarted."""

from __future__ import annotations

from pathlib import Path

import pytest
from chroma_server import ChromaServer, free_port
from conftest import ARTICLES, SEED_IDS, MakeService, copy_embedding_cache

from factdesk.service import Factdesk
from retrieval.errors import StoreUnavailable
from retrieval.models import DocumentIn


def test_server_mode_survives_a_server_restart(
    chroma_server: ChromaServer,
    make_service: MakeService,
    tmp_path: Path,
    seeded: Factdesk,
) -> None:
    copy_embedding_cache(seeded, tmp_path / "data")
    svc = make_service("data", chroma_url=chroma_server.url)
    assert svc.vectors.mode == "http"
    results = svc.ingest_paths([ARTICLES])
    assert [r.status for r in results] == ["created"] * 5
    # the vectors really are on the server, not in an embedded store under the data dir
    assert not (Path(svc.settings.data_dir) / "chroma").exists()
    assert svc.vectors.count() == svc.catalog.count()[1]
    hits = svc.search("suicide orders", top_k=3)
    assert len(hits) == 3
    assert "suicide" in hits[0].text.lower() or "kill themselves" in hits[0].text.lower()
    assert svc.ingestor.doctor()["consistent"]
    before = [h.chunk_id for h in hits]

    chroma_server.stop()
    assert svc.vectors.ping() is False
    with pytest.raises(StoreUnavailable) as err:
        svc.search("suicide orders", top_k=3)
    assert err.value.status == 503 and err.value.code == "store_unavailable"
    assert chroma_server.url in err.value.message or "unreachable" in err.value.message
    # ingest fails the same clear way, and leaves nothing visible behind
    with pytest.raises(StoreUnavailable):
        svc.ingest_documents(
            [DocumentIn(text=(ARTICLES / f"{SEED_IDS[0]}.txt").read_text() + " Update.", id="while-down")]
        )
    assert "while-down" not in [d.id for d in svc.list_documents()]

    chroma_server.start()  # same port, same path: the data is still there
    hits = svc.search("suicide orders", top_k=3)  # the same service object reconnects
    assert [h.chunk_id for h in hits] == before
    assert svc.vectors.ping() is True
    # what the outage left half-written is rolled back by recover()
    assert svc.ingestor.recover() == ["while-down"]
    assert svc.ingestor.doctor()["consistent"]


def test_unreachable_server_at_start_is_store_unavailable(make_service: MakeService) -> None:
    svc = make_service(chroma_url=f"http://127.0.0.1:{free_port()}")
    assert svc.vectors.ping() is False
    with pytest.raises(StoreUnavailable) as err:
        svc.search("anything at all")
    assert err.value.status == 503
    assert "unreachable" in err.value.message or "failed" in err.value.message


def test_startup_ingest_waits_for_a_chroma_server_that_starts_later(
    tmp_path: Path, seeded: Factdesk, warm_model: None
) -> None:
    """`factdesk serve` started before its Chroma server (compose's usual order): /readyz says the
    startup ingest is waiting, and once the server answers the articles are ingested and it is ready."""
    import time

    from chroma_server import ChromaServer
    from conftest import make_settings, needs_chroma_cli
    from fastapi.testclient import TestClient

    from api.app import create_app

    needs_chroma_cli()
    copy_embedding_cache(seeded, tmp_path / "data")
    server = ChromaServer(tmp_path / "chroma-server", free_port())
    settings = make_settings(
        tmp_path / "data", chroma_url=server.url, articles_dir=ARTICLES, recovery_retry_s=0.5
    )
    try:
        with TestClient(create_app(settings, ingest_on_start=True)) as client:
            deadline = time.monotonic() + 60
            while client.get("/healthz").json()["startup"]["ingest"] != "waiting":
                assert time.monotonic() < deadline, client.get("/healthz").json()
                time.sleep(0.2)
            r = client.get("/readyz")
            assert r.status_code == 503, r.text
            server.start()
            deadline = time.monotonic() + 120
            while (r := client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, r.text
                time.sleep(0.5)
            assert r.json()["startup"] == {"ingest": "done", "ingested": {"created": 5}}
            answer = client.post("/v1/ask", json={"question": "How many North Korean soldiers were wounded?"})
            assert answer.status_code == 200 and not answer.json()["abstained"], answer.text
    finally:
        server.stop()


def test_healthz_answers_at_once_while_a_silent_postgresql_is_waited_for(tmp_path: Path) -> None:
    """A PostgreSQL that accepts connections and never answers (a stalled host) took both of the
    start's connection timeouts before /healthz answered: a liveness probe would restart the
    replica for ever. Serving now begins after a second; /readyz says why it is not ready."""
    import socket
    import time

    from conftest import make_settings
    from fastapi.testclient import TestClient

    from api.app import create_app

    pytest.importorskip("psycopg")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes each connection; nothing ever answers on it
    port = silent.getsockname()[1]
    settings = make_settings(
        tmp_path / "data",
        database_url=f"postgresql://factdesk@127.0.0.1:{port}/factdesk",
        database_timeout_s=4.0,
        recovery_retry_s=30.0,
    )
    try:
        t0 = time.monotonic()
        with TestClient(create_app(settings, ingest_on_start=False)) as client:
            health = client.get("/healthz")
            served_after = time.monotonic() - t0
            ready = client.get("/readyz")
        assert health.status_code == 200 and served_after < 3.5, served_after
        assert ready.status_code == 503, ready.text
    finally:
        silent.close()
