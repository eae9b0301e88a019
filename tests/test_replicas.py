"""Two `factdesk serve` replicas (real uvicorn processes) over one PostgreSQL and one `chroma run`:
what is written through one is read, found, cited and deleted through the other; concurrent writes;
a replica killed (-9) mid-write and the other recovering its leftovers; PostgreSQL and Chroma
restarted under them, with clear 503 JSON errors while down.

The articles are generated, and their vectors put in each replica's embedding cache up front
(faultkit), so the replicas spend their time writing, not embedding, on a shared machine.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chroma_server import ChromaServer, free_port
from conftest import needs_chroma_cli
from faultkit import prefill_cache, texts_to_embed, wait_for, write_articles
from live_server import LiveServer

from factdesk.service import Factdesk
from factdesk.settings import isolated_settings
from retrieval.models import DocumentIn

N_ARTICLES = 60


class Cluster:
    def __init__(self, root: Path, database_url: str, chroma: ChromaServer) -> None:
        self.root = root
        self.database_url = database_url
        self.chroma = chroma
        self.articles = write_articles(root / "articles", N_ARTICLES, start=7000)
        self.replicas = {name: self._replica(name) for name in ("a", "b")}

    def _replica(self, name: str) -> LiveServer:
        env = {
            "FACTDESK_DATABASE_URL": self.database_url,
            "FACTDESK_CHROMA_URL": self.chroma.url,
            "FACTDESK_TORCH_THREADS": "1",
            "FACTDESK_DATABASE_TIMEOUT_S": "2",
            # long enough that a sweep does not roll a's leftovers back before the test has seen them
            "FACTDESK_RECOVERY_SWEEP_S": "5",
        }
        folder = self.root / name
        folder.mkdir()
        server = LiveServer(folder, env=env)
        prefill_cache(folder / "store", texts_to_embed(self.settings(), self.items()))
        return server

    def settings(self):  # type: ignore[no-untyped-def]
        return isolated_settings(
            self.root / "inspect", database_url=self.database_url, chroma_url=self.chroma.url
        )

    def items(self, part: slice = slice(None)) -> list[DocumentIn]:
        return [DocumentIn(text=p.read_text(encoding="utf-8"), id=p.stem) for p in self.articles[part]]

    @staticmethod
    def body(items: list[DocumentIn]) -> dict:
        return {"documents": [{"id": i.id, "text": i.text} for i in items]}

    def inspect(self) -> Factdesk:
        """A service in this process over the same PostgreSQL and Chroma (for doctor's checks)."""
        prefill_cache(self.root / "inspect", texts_to_embed(self.settings(), self.items()))
        return Factdesk(self.settings())


def assert_consistent(svc: Factdesk) -> None:
    """Nothing half-written, lost or twice: no reserved revision or stale vector left, every current
    chunk's vector in Chroma and no other, each document's chunk count its rows."""
    assert svc.catalog.unfinished() == []
    assert svc.catalog.stale_keys() == []
    report = svc.ingestor.doctor()
    assert report["consistent"], report
    assert report["chunks"] == report["vectors"]
    for doc in svc.catalog.list():
        assert len(svc.catalog.chunks_of(doc.id)) == doc.chunks, doc.id


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory: pytest.TempPathFactory, warm_model: None) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    needs_chroma_cli()
    root = tmp_path_factory.mktemp("replicas")
    chroma = ChromaServer(root / "chroma-server", free_port())
    chroma.start()
    c = Cluster(root, postgres.new_database(), chroma)
    try:
        for r in c.replicas.values():
            r.start()
        yield c
    finally:
        for r in c.replicas.values():
            r.stop()
        chroma.stop()


def test_written_through_one_replica_is_read_found_cited_and_deleted_through_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    items = cluster.items(slice(0, 5))
    with a.client() as ca, b.client() as cb:
        r = ca.post("/v1/documents", json=cluster.body(items))
        assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == ["created"] * 5
        assert {d["id"] for d in cb.get("/v1/documents").json()["documents"]} >= {i.id for i in items}
        target = items[2]
        doc = cb.get(f"/v1/documents/{target.id}").json()
        # the lead sentence names the dispatch: keyword search through b finds it at once
        hits = cb.post("/v1/search", json={"query": "Dispatch number 7002 report 49017", "top_k": 3}).json()
        assert hits["results"][0]["document_id"] == target.id
        hit = hits["results"][0]
        assert hit["text"] == doc["text"][hit["start"] : hit["end"]]
        answer = cb.post(
            "/v1/ask", json={"question": "What was report 49017 about?", "document_ids": [target.id]}
        )
        assert answer.status_code == 200
        for c in answer.json()["citations"]:
            text = cb.get(f"/v1/documents/{c['document_id']}").json()["text"]
            assert c["quote"] == text[c["start"] : c["end"]]

        assert cb.delete(f"/v1/documents/{target.id}").status_code == 204
        assert ca.get(f"/v1/documents/{target.id}").status_code == 404
        found = ca.post("/v1/search", json={"query": "Dispatch number 7002 report 49017", "top_k": 10}).json()
        assert all(h["document_id"] != target.id for h in found["results"])
        # a revision through a, read through b
        changed = items[3].text.replace("Dispatch number", "Bulletin number", 1)
        r = ca.post("/v1/documents", json={"documents": [{"id": items[3].id, "text": changed}]})
        assert r.json()["results"][0]["status"] == "updated"
        assert cb.get(f"/v1/documents/{items[3].id}").json()["text"].startswith("Bulletin number 7003")


def test_concurrent_writes_through_both_replicas(cluster: Cluster) -> None:
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    batches = {a: cluster.items(slice(5, 15)), b: cluster.items(slice(15, 25))}
    both = cluster.items(slice(25, 27))  # the same two articles sent through both: stored once
    statuses: dict[str, list[str]] = {}

    def post(server: LiveServer) -> None:
        with server.client() as c:
            for item in batches[server] + both:
                r = c.post("/v1/documents", json=cluster.body([item]))
                assert r.status_code == 200, r.text
                statuses.setdefault(item.id or "", []).append(r.json()["results"][0]["status"])

    threads = [threading.Thread(target=post, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for item in both:
        assert sorted(statuses[item.id or ""]) == ["created", "unchanged"], statuses[item.id or ""]
    with a.client() as ca, b.client() as cb:
        ids_a = [d["id"] for d in ca.get("/v1/documents").json()["documents"]]
        assert ids_a == [d["id"] for d in cb.get("/v1/documents").json()["documents"]]
    assert {i.id for i in cluster.items(slice(5, 27))} <= set(ids_a)
    svc = cluster.inspect()
    try:
        assert_consistent(svc)
    finally:
        svc.close()


def test_a_replica_killed_mid_write_is_recovered_by_the_other(cluster: Cluster) -> None:
    import psycopg

    a, b = cluster.replicas["a"], cluster.replicas["b"]
    items = cluster.items(slice(27, N_ARTICLES))
    with psycopg.connect(cluster.database_url, autocommit=True) as db:

        def reserved() -> list[str]:
            return [r[0] for r in db.execute("SELECT document_id FROM revisions")]

        def committed() -> int:
            row = db.execute("SELECT COUNT(*) FROM documents").fetchone()
            return int(row[0]) if row else 0

        start = committed()

        def write() -> None:
            try:
                httpx.post(a.base_url + "/v1/documents", json=cluster.body(items), timeout=300)
            except httpx.TransportError:
                pass  # the kill below, as intended

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        assert wait_for(lambda: committed() > start, 120, interval=0.05), "the write never got going"
        assert wait_for(lambda: bool(reserved()), 60, interval=0.002), "never caught a revision half-written"
        assert a.proc is not None
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait(timeout=30)
        left = reserved()
        assert left, "the kill came after the switch"

        with b.client() as cb:
            for doc_id in left:  # half-written: invisible through the other replica
                assert cb.get(f"/v1/documents/{doc_id}").status_code == 404
            # with no write of its own, b's sweep takes the writer lock a's death released and rolls
            # a's leftovers back
            assert wait_for(lambda: reserved() == [], 60, interval=0.2), "the leftovers were never swept"
            extra = cluster.items(slice(0, 1))[0]
            r = cb.post(
                "/v1/documents", json={"documents": [{"id": "after-kill", "text": extra.text + " Kestrel."}]}
            )
            assert r.status_code == 200, r.text
            assert reserved() == []
    svc = cluster.inspect()
    try:
        assert_consistent(svc)
    finally:
        svc.close()
    a.start()  # the killed replica comes back over the same stores
    with a.client() as ca:
        assert ca.get("/readyz").status_code == 200


def test_postgres_and_chroma_restarted_under_the_replicas(cluster: Cluster, postgres) -> None:  # type: ignore[no-untyped-def]
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    with a.client() as ca, b.client() as cb:
        before = [d["id"] for d in ca.get("/v1/documents").json()["documents"]]
        query = {"query": "Dispatch number 7010 report 49073", "top_k": 3}
        found = cb.post("/v1/search", json=query).json()["results"]

        postgres.stop()
        try:
            for client, method, path, body in (
                (ca, "GET", "/v1/documents", None),
                (cb, "POST", "/v1/search", query),
                (ca, "POST", "/v1/ask", {"question": "What was report 49073 about?"}),
                (cb, "POST", "/v1/documents", cluster.body(cluster.items(slice(1, 2)))),
                (ca, "DELETE", f"/v1/documents/{before[0]}", None),
            ):
                r = client.request(method, path, json=body)
                assert r.status_code == 503, (path, r.status_code, r.text)
                error = r.json()["error"]
                assert error["code"] == "store_unavailable" and "PostgreSQL" in error["message"]
                assert "Traceback" not in r.text
            assert cb.get("/readyz").status_code == 503
        finally:
            postgres.start()
        for server in (a, b):  # each replica's pool reconnects within seconds (catalog_postgres.py)
            assert wait_for(lambda s=server: httpx.get(s.base_url + "/readyz").status_code == 200, 30, 0.2)
        assert [d["id"] for d in cb.get("/v1/documents").json()["documents"]] == before
        assert ca.post("/v1/search", json=query).json()["results"] == found

        cluster.chroma.stop()
        try:
            r = ca.post("/v1/search", json=query)
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
            assert "Traceback" not in r.text
            r = cb.post("/v1/documents", json={"documents": [{"id": "chroma-down", "text": "Osprey " * 40}]})
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
            assert cb.get("/v1/documents/chroma-down").status_code == 404
        finally:
            cluster.chroma.start()
        for server in (a, b):
            assert wait_for(lambda s=server: httpx.get(s.base_url + "/readyz").status_code == 200, 30, 0.2)
        assert cb.post("/v1/search", json=query).json()["results"] == found
        r = ca.post("/v1/documents", json={"documents": [{"id": "chroma-back", "text": "Osprey " * 40}]})
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "created"
        assert cb.get("/v1/documents/chroma-back").status_code == 200
    svc = cluster.inspect()
    try:
        # the write Chroma refused left a reserved revision, rolled back by the next write
        assert_consistent(svc)
        assert [d.id for d in svc.catalog.list()] == sorted({*before, "chroma-back"})
    finally:
        svc.close()
