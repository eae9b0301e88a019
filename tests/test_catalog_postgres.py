"""The PostgreSQL catalog (retrieval/catalog_postgres.py) against a real PostgreSQL 15 and a real
`chroma run`: migrations, keyword ranking equal to FTS5's, two services sharing one archive, and
PostgreSQL stopped and restarted under a running service."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from chroma_server import ChromaServer
from conftest import ARTICLES, SEED_IDS, MakeService, check_citations, copy_embedding_cache, open_together

from factdesk.service import Factdesk
from retrieval.errors import NotFound, StoreUnavailable
from retrieval.lexical import analyze, bm25_scores, query_terms, stem
from retrieval.models import DocumentIn

SEED_TEXT = {i: (ARTICLES / f"{i}.txt").read_text(encoding="utf-8") for i in SEED_IDS}


# --------------------------------------------------------------------------- pure parts


def test_tsvector_literal_keeps_the_analyzers_terms_and_their_counts() -> None:
    from retrieval.catalog_postgres import tsquery_any, tsvector_literal

    analyzed = analyze("Soldiers captured soldiers; the soldier's d'Alembert")
    literal = tsvector_literal(analyzed)
    assert literal.startswith("'soldier':1,3")
    assert "'captur':2" in literal
    assert tsquery_any(["it's", "a\\b"]) == "'it''s' | 'a\\\\b'"


def test_bm25_scores_follow_fts5() -> None:
    # two rows of 4 terms, "x" in one of them (twice): FTS5's IDF log((N - n + .5) / (n + .5))
    scores = bm25_scores([("r1", "x", 2, 4)], {"x": 1}, rows=3, avg_length=4.0)
    idf = math.log((3 - 1 + 0.5) / (1 + 0.5))
    assert scores["r1"] == pytest.approx(idf * 2 * 2.2 / (2 + 1.2))
    # a term in more than half of the rows weighs ~0, never less
    assert 0 < bm25_scores([("r1", "x", 1, 4)], {"x": 3}, rows=3, avg_length=4.0)["r1"] < 1e-5


# --------------------------------------------------------------------------- the catalog itself


def test_two_catalogs_opened_at_once_apply_the_migrations_once(postgres) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    from retrieval.catalog_postgres import MIGRATIONS, PostgresCatalog

    url = postgres.new_database()
    opened, errors = open_together(lambda: PostgresCatalog(url))
    assert not errors and len(opened) == 4
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    # one identity for the database, whichever replica asks; another database has its own
    identities = {c.identity() for c in opened}
    assert len(identities) == 1 and None not in identities
    other = PostgresCatalog(postgres.new_database())
    assert other.identity() not in identities
    other.close()
    for c in opened:
        c.close()


def test_a_role_without_create_serves_a_migrated_database_and_a_newer_schema_is_refused(postgres) -> None:  # type: ignore[no-untyped-def]
    """docs/postgres.md: the role needs CREATE at the first start only. A role that may only read
    and write opened a migrated database with a traceback (CREATE TABLE IF NOT EXISTS); on a new
    one it is told what it needs. A database a newer factdesk migrated is not written."""
    import uuid

    import psycopg

    from retrieval.catalog_postgres import MIGRATIONS, PostgresCatalog

    url = postgres.new_database()
    PostgresCatalog(url).close()  # migrated by its owner
    role = f"writer_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")  # a generated name: nothing to quote
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")

    def as_role(u: str) -> str:
        return u.replace("postgresql://postgres@", f"postgresql://{role}@")

    catalog = PostgresCatalog(as_role(url))
    assert catalog.identity() is not None
    catalog.close()
    with pytest.raises(StoreUnavailable, match="may not create tables .*grant it CREATE on the schema"):
        PostgresCatalog(as_role(postgres.new_database()))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreUnavailable, match="a newer factdesk migrated it; upgrade this one"):
        PostgresCatalog(url)


def test_keyword_ranking_equals_fts5(
    postgres, make_service: MakeService, seeded: Factdesk, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The same documents in SQLite (FTS5) and PostgreSQL: the filtered keyword search finds the same
    chunks in the same order with the same BM25 scores."""
    copy_embedding_cache(seeded, tmp_path / "pg")
    svc = make_service("pg", database_url=postgres.new_database())
    svc.ingest_paths([ARTICLES])
    ids = list(SEED_IDS)
    for query in ["suicide orders", "captured soldiers", "election results", "prime minister said", "water"]:
        terms = list(dict.fromkeys(stem(t) for t in query_terms(query)))
        mine = svc.catalog.keyword_search(terms, 20, "AND d.id = ANY(%s)", [ids])
        theirs = seeded.catalog.keyword_search(terms, 20, f"AND d.id IN ({','.join('?' * len(ids))})", ids)
        assert [r[0] for r in mine] == [r[0] for r in theirs], query
        assert [r[4] for r in mine] == pytest.approx([r[4] for r in theirs], rel=1e-4), query


# --------------------------------------------------------------------------- services over PostgreSQL + Chroma


def test_two_services_share_one_archive(  # type: ignore[no-untyped-def]
    postgres, chroma_server: ChromaServer, make_service: MakeService, seeded: Factdesk, tmp_path: Path
) -> None:
    """What one service writes, the other reads, finds (filtered and unfiltered keyword search) and
    cites at once; an update and a delete likewise; both stay consistent."""
    url = postgres.new_database()
    for name in ("a", "b"):
        copy_embedding_cache(seeded, tmp_path / name)
    a = make_service("a", database_url=url, chroma_url=chroma_server.url)
    b = make_service("b", database_url=url, chroma_url=chroma_server.url)
    assert b.search("suicide orders") == []  # b's keyword index is built (empty) before a writes

    results = a.ingest_paths([ARTICLES])
    assert [r.status for r in results] == ["created"] * 5
    assert [d.id for d in b.list_documents()] == SEED_IDS
    for doc in seeded.list_documents():  # without the text, as SQLite tells it
        assert (
            b.catalog.heading(doc.id)
            == seeded.catalog.heading(doc.id)
            == (
                doc.title,
                doc.source,
                doc.chunks,
            )
        )
    hits = b.search("suicide orders", top_k=3)
    assert hits and hits[0].lexical_rank is not None
    assert hits == a.search("suicide orders", top_k=3)
    only = b.search("suicide orders", top_k=3, filters=b.filters(document_ids=[hits[0].document_id]))
    assert only and {h.document_id for h in only} == {hits[0].document_id}
    answer = b.ask("Who ordered the suicide?")
    check_citations(b, answer.citations)
    # the documents a filter keeps, for the sentence side: PostgreSQL's answer is SQLite's
    first = seeded.list_documents()[0]
    for kept in (
        {"document_ids": SEED_IDS[:2]},
        {"sources": [first.source or ""]},
        {"published_after": "2000-01-01"},
        {"document_ids": SEED_IDS[:3], "published_before": "2000-01-01"},
    ):
        mine = b.catalog.filtered_ids(*b.filters(**kept).sql("?"))  # type: ignore[arg-type]
        assert mine == seeded.catalog.filtered_ids(*seeded.filters(**kept).sql("?")), kept  # type: ignore[arg-type]
        assert bool(mine) == (
            "published_after" not in kept and "published_before" not in kept
        )  # no seed has a date
    sourced = b.search("suicide orders", top_k=3, filters=b.filters(sources=[first.source or ""]))
    assert all(
        h.document_id in b.catalog.filtered_ids(*b.filters(sources=[first.source or ""]).sql("?"))
        for h in sourced
    )

    # a new word, written through a: b's in-memory BM25 and term counts must not hide it
    (r,) = b.ingest_documents([DocumentIn(text=SEED_TEXT[SEED_IDS[0]] + " Zyxquor arrived.", id="extra")])
    assert r.status == "created"  # a seed and one more name: an article of its own, not a copy
    assert a.search("zyxquor")[0].document_id == "extra"
    (r,) = a.ingest_documents([DocumentIn(text=SEED_TEXT[SEED_IDS[0]] + " Qwvorn left.", id="extra")])
    assert r.status == "updated" and a.get_document("extra").revision > 1
    assert b.search("qwvorn")[0].document_id == "extra"
    assert all("Zyxquor" not in h.text and h.lexical_rank is None for h in b.search("zyxquor", top_k=10))
    assert b.search("qwvorn", filters=b.filters(document_ids=["extra"]))[0].document_id == "extra"

    b.delete_document("extra")
    with pytest.raises(NotFound):
        a.get_document("extra")
    assert a.catalog.heading("extra") is None
    assert all(h.document_id != "extra" and h.lexical_rank is None for h in a.search("qwvorn", top_k=10))
    for svc in (a, b):
        report = svc.ingestor.doctor()
        assert report["consistent"], report
        assert report["chunks"] == report["vectors"] == svc.catalog.count()[1]


def test_postgres_stopped_is_a_503_and_restarted_loses_nothing(  # type: ignore[no-untyped-def]
    postgres, make_service: MakeService, seeded: Factdesk, tmp_path: Path
) -> None:
    copy_embedding_cache(seeded, tmp_path / "data")
    svc = make_service("data", database_url=postgres.new_database(), database_timeout_s=1.0)
    svc.ingest_paths([ARTICLES])
    before = [h.chunk_id for h in svc.search("suicide orders", top_k=3)]

    postgres.stop()
    try:
        for call in (
            lambda: svc.search("suicide orders"),
            lambda: svc.search("suicide orders", filters=svc.filters(document_ids=[SEED_IDS[0]])),
            lambda: svc.get_document(SEED_IDS[0]),
            lambda: svc.ingest_documents(
                [DocumentIn(text=SEED_TEXT[SEED_IDS[0]] + " Zyxquor arrived.", id="down")]
            ),
            lambda: svc.delete_document(SEED_IDS[0]),
        ):
            with pytest.raises(StoreUnavailable) as err:
                call()
            assert err.value.status == 503 and "PostgreSQL catalog" in err.value.message
        problems, _ = svc.readiness()
        assert any("PostgreSQL" in p for p in problems)
    finally:
        postgres.start()

    assert [h.chunk_id for h in svc.search("suicide orders", top_k=3)] == before  # same object reconnects
    assert [d.id for d in svc.list_documents()] == SEED_IDS
    (r,) = svc.ingest_documents([DocumentIn(text=SEED_TEXT[SEED_IDS[0]] + " Zyxquor arrived.", id="after")])
    assert r.status == "created"  # written after the restart
    assert svc.search("zyxquor")[0].document_id == "after"
    assert svc.readiness()[0] == []
    assert svc.ingestor.doctor()["consistent"]


def test_serve_waits_for_postgres_that_is_down_at_start(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A replica started before PostgreSQL (compose, systemd) exited; it now serves: /healthz 200,
    everything else a 503 naming the catalog, until PostgreSQL answers and it opens by itself."""
    import time

    import httpx
    from live_server import LiveServer

    url = postgres.new_database()
    postgres.stop()
    env = {
        "FACTDESK_DATABASE_URL": url,
        "FACTDESK_DATABASE_TIMEOUT_S": "1",
        "FACTDESK_RECOVERY_RETRY_S": "0.5",
    }
    try:
        with LiveServer(tmp_path, env=env) as server, server.client() as client:
            assert client.get("/healthz").status_code == 200
            for r in (client.get("/readyz"), client.post("/v1/search", json={"query": "soldiers"})):
                assert r.status_code == 503 and "PostgreSQL catalog" in r.json()["error"]["message"]
            postgres.start()
            deadline = time.monotonic() + 120  # a bound on the background retry, not a timing check
            while time.monotonic() < deadline and client.get("/readyz").status_code != 200:
                time.sleep(0.5)
            assert client.get("/readyz").status_code == 200, client.get("/readyz").text
            posted = client.post("/v1/documents", json={"documents": [{"id": "late", "text": "Rain fell."}]})
            assert posted.status_code == 200 and posted.json()["results"][0]["status"] == "created"
            assert httpx.get(server.base_url + "/v1/documents/late").status_code == 200
    finally:
        if not (postgres.data / "postmaster.pid").exists():
            postgres.start()


def test_a_write_waits_for_another_replicas_write_only_so_long(postgres) -> None:  # type: ignore[no-untyped-def]
    """A replica stopped mid-write (SIGSTOP) keeps its session and its advisory lock: every other
    replica's writes queued behind it with no end. After FACTDESK_DATABASE_WRITE_WAIT_S, a 503."""
    import time

    import psycopg

    from retrieval.catalog_postgres import WRITER_LOCK, PostgresCatalog

    url = postgres.new_database()
    catalog = PostgresCatalog(url, write_wait_s=0.5)
    try:
        with psycopg.connect(url, autocommit=True) as stopped:
            stopped.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            t0 = time.monotonic()
            with pytest.raises(
                StoreUnavailable, match="held the PostgreSQL catalog's write lock for more than 0.5 s"
            ):
                with catalog.exclusive():
                    pass
            assert time.monotonic() - t0 < 5
        with catalog.exclusive():  # its session ended, and its lock with it: writes go on
            assert catalog.version()
    finally:
        catalog.close()


def test_a_stalled_server_fails_a_statement_and_answers_again_when_it_resumes(postgres) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL stopped (SIGSTOP: every process of the cluster) keeps the TCP sessions of open
    connections alive, so a statement on one waited with no end. Now it fails with the 503 after
    FACTDESK_DATABASE_STATEMENT_TIMEOUT_S, and once the server resumes the catalog answers again."""
    import os
    import signal
    import threading
    import time

    from retrieval.catalog_postgres import PostgresCatalog

    catalog = PostgresCatalog(postgres.new_database(), timeout_s=1.0, answer_within_s=1.0)
    stopped = threading.Event()
    outcome: dict[str, BaseException | None] = {}

    def read(name: str, in_snapshot: bool) -> None:
        """A read on a connection taken before the stop (inside a snapshot), or taken after it."""
        try:
            if in_snapshot:
                with catalog.snapshot():
                    catalog.version()
                    stopped.wait()
                    catalog.version()
            else:
                stopped.wait()
                catalog.version()
            outcome[name] = None
        except BaseException as e:  # handed to the test's thread
            outcome[name] = e

    try:
        readers = [
            threading.Thread(target=read, args=(name, name == "open"), daemon=True)
            for name in ("open", "new")
        ]
        for r in readers:
            r.start()
        time.sleep(0.5)  # the snapshot's first read done
        pids = postgres.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            stopped.set()
            for r in readers:
                r.join(timeout=60)  # a bound on a hang, not a timing check
            hung = [r for r in readers if r.is_alive()]
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        assert not hung, "a read on a stopped server never returned"
        for name, err in outcome.items():
            assert isinstance(err, StoreUnavailable) and err.status == 503, (name, err)
        # on the open connection: the statement's own limit (the other may meet the pool's first)
        assert "PostgreSQL did not answer within 1 s" in outcome["open"].message  # type: ignore[union-attr]
        assert catalog.version() is not None  # resumed: a new connection answers
        assert catalog.unavailable() is None
    finally:
        catalog.close()


def test_a_connection_refused_for_a_reason_says_the_reason_and_no_piece_of_the_password(postgres) -> None:  # type: ignore[no-untyped-def]
    """A database that does not exist (or a wrong password) was "unreachable: PoolTimeout", its cause
    only in the driver's log; a password holding an unescaped "@" put its tail into the message as
    the host libpq tried."""
    from retrieval.catalog_postgres import PostgresCatalog

    port = postgres.admin_url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(StoreUnavailable, match='database "nosuchdb" does not exist'):
        PostgresCatalog(f"postgresql://postgres@127.0.0.1:{port}/nosuchdb", timeout_s=2)
    with pytest.raises(StoreUnavailable) as err:
        PostgresCatalog(f"postgresql://postgres:LE@KMEsecret@127.0.0.1:{port}/postgres", timeout_s=2)
    assert "KMEsecret" not in err.value.message and "LE@" not in err.value.message, err.value.message
