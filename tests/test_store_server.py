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
