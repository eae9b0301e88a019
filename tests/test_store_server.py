"""Tests for retrieval.store in server mode: a real `chroma run` subprocess, killed and restarted."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLES, SEED_IDS, MakeService, copy_embedding_cache

from factdesk.service import Factdesk
from retrieval.errors import StoreUnavailable
from retrieval.models import DocumentIn

CHROMA = shutil.which("chroma")
pytestmark = pytest.mark.skipif(CHROMA is None, reason="the chromadb package's `chroma` CLI is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """`chroma run` on a fixed path and port; start() and stop() may be called again and again."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{port}.log"

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None
        command = [
            str(CHROMA),
            "run",
            "--path",
            str(self.path),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer its heartbeat in {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None
        # the port is free once nothing answers on it
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-server", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
