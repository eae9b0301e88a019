"""Revisions are atomic: a document re-sent with new text is readable as the old version or the new
one at every moment, through kill -9 (CLI and server) and while other threads read it; listings page
through every document; doctor's repair keeps what date filters need.

Real stores throughout (SQLite catalog, embedded Chroma); the generated articles' vectors are put in
the embedding cache first (tests/faultkit.py), so the processes spend their time writing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import ROOT, MakeService, make_settings
from fastapi.testclient import TestClient
from faultkit import (
    LineReader,
    catalog_rows,
    isolated_env,
    kill_while_writing,
    prefill_cache,
    prefill_for_files,
    run_cli,
    texts_to_embed,
    write_articles,
)
from live_server import LiveServer, factdesk_command

from answers import engine as engine_module
from api.app import create_app
from factdesk.service import Factdesk
from retrieval.errors import NotFound
from retrieval.ingest import prepare
from retrieval.models import DocumentIn
from retrieval.search import Filters

N_DOCS = 120  # enough that a kill lands while later documents are still being revised
KILL_AFTER = (1, 10, 25)  # "updated" lines printed before each CLI round is killed: early, middle, late

# A fresh process opens the store (which recovers what a kill left), checks every store agrees,
# and prints what it holds: {"recovered": [...], "hashes": {id: content hash}, "doctor": report}.
CHECK_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[2])
from conftest import make_settings
from factdesk.service import Factdesk
from faultkit import assert_stores_consistent
svc = Factdesk(make_settings(sys.argv[1]))
recovered = svc.recovered
assert_stores_consistent(svc)
hashes = {d.id: d.content_hash for d in svc.list_documents()}
print(json.dumps({"recovered": recovered, "hashes": hashes, "doctor": svc.ingestor.doctor()}))
svc.close()
"""


def check_store(data: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT, str(data), str(ROOT / "tests")],
        env=isolated_env(data),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def revised(text: str, version: int) -> str:
    return f"Revision {version} of this dispatch, corrected by the desk.\n\n{text}" if version else text


def write_versions(tmp_path: Path, versions: int, start: int) -> list[dict[str, str]]:
    """Folders v0..v{versions-1} with the same file names; each version of a file has its own text.
    Returns, per version, {document id: content hash of its cleaned text}."""
    base = write_articles(tmp_path / "v0", N_DOCS, start=start)
    hashes = []
    for v in range(versions):
        folder = tmp_path / f"v{v}"
        folder.mkdir(exist_ok=True)
        for p in base:
            (folder / p.name).write_text(revised(p.read_text(encoding="utf-8"), v), encoding="utf-8")
        hashes.append({p.stem: content_hash((folder / p.name).read_text(encoding="utf-8")) for p in base})
    return hashes


def content_hash(text: str) -> str:
    return prepare(DocumentIn(text=text), max_tokens=200, overlap_tokens=50, max_chars=10**7).doc.content_hash


def versions_held(hashes: dict[str, str], by_version: list[dict[str, str]]) -> dict[str, int]:
    """Which version each stored document holds (a KeyError: a text no version has)."""
    lookup = {h: v for v, vh in enumerate(by_version) for h in vh.values()}
    return {doc: lookup[h] for doc, h in hashes.items()}


def assert_old_or_new(held: dict[str, int], before: dict[str, int], new: int) -> None:
    """Every document is there, with the version it had before the round or the round's new one."""
    assert sorted(held) == sorted(before), sorted(set(held) ^ set(before))[:10]
    wrong = {d: v for d, v in held.items() if v not in (before[d], new)}
    assert not wrong, wrong


# --------------------------------------------------------------------------- kill -9 of the CLI


def test_kill_9_during_cli_revisions_leaves_every_document_old_or_new(tmp_path: Path) -> None:
    by_version = write_versions(tmp_path, len(KILL_AFTER) + 1, start=6000)
    data = tmp_path / "store"
    prefill_for_files(data, sorted(tmp_path.glob("v*/*.txt")))
    first = run_cli(["ingest", str(tmp_path / "v0")], data, tmp_path)
    assert first.returncode == 0 and first.stdout.count(": created") == N_DOCS, first.stdout[-2000:]
    held = dict.fromkeys(by_version[0], 0)
    outcomes = []

    def updated(reader: LineReader) -> int:
        return sum(": updated" in ln for ln in reader.lines)

    for new, updated_before_kill in enumerate(KILL_AFTER, start=1):
        proc = subprocess.Popen(
            [*factdesk_command(), "ingest", str(tmp_path / f"v{new}")],
            cwd=tmp_path,
            env=isolated_env(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        reader = LineReader(proc)
        try:
            at_kill = kill_while_writing(proc, data, lambda r=reader, n=updated_before_kill: updated(r) >= n)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        reader.join()
        reported = {ln.split(": ", 1)[0] for ln in reader.lines if ": updated" in ln}

        store = check_store(data)  # recovery, then every store agrees (faultkit.assert_stores_consistent)
        assert store["doctor"]["consistent"] and store["doctor"]["orphan_vectors"] == 0, store["doctor"]
        assert store["doctor"]["stale_vectors"] == 0 and store["doctor"]["unfinished_documents"] == []
        now = versions_held(store["hashes"], by_version)
        assert_old_or_new(now, held, new)
        # a line is printed after its commit: whatever was reported updated holds the new text
        assert all(now[d] == new for d in reported), sorted(d for d in reported if now[d] != new)
        outcomes.append(
            {
                "new": sum(v == new for v in now.values()),
                "old": sum(v != new for v in now.values()),
                "caught_pending": at_kill["caught_pending"],
                "recovered": len(store["recovered"]),
            }
        )
        held = now
    # the kills landed mid-run: each round left some documents revised and some not
    assert all(o["new"] > 0 and o["old"] > 0 for o in outcomes), outcomes

    # the last version, ingested to the end, replaces every document
    last = len(KILL_AFTER)
    done = run_cli(["ingest", str(tmp_path / f"v{last}")], data, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    store = check_store(data)
    assert versions_held(store["hashes"], by_version) == dict.fromkeys(by_version[0], last)
    print(f"kill -9 during CLI revisions: {outcomes}")


# --------------------------------------------------------------------------- kill -9 of the server


def test_kill_9_during_api_revisions_leaves_every_document_old_or_new(tmp_path: Path) -> None:
    rounds = 2
    by_version = write_versions(tmp_path, rounds + 1, start=7000)
    server = LiveServer(tmp_path, env={"FACTDESK_TORCH_THREADS": "1"})
    data = server.data_dir / "store"
    prefill_for_files(data, sorted(tmp_path.glob("v*/*.txt")))

    def documents(v: int) -> list[dict[str, str]]:
        folder = tmp_path / f"v{v}"
        return [
            {"id": p.stem, "text": p.read_text(encoding="utf-8"), "source": p.name}
            for p in sorted(folder.glob("*.txt"))
        ]

    server.start()
    try:
        with server.client() as c:
            r = c.post("/v1/documents", json={"documents": documents(0)})
            assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"created"}
        held = dict.fromkeys(by_version[0], 0)
        outcomes = []
        for new in range(1, rounds + 1):
            start_revision = catalog_rows(data, "SELECT MAX(revision) FROM documents")[0][0]
            outcome: dict[str, object] = {}

            def post(v: int = new, out: dict[str, object] = outcome) -> None:
                try:
                    with httpx.Client(base_url=server.base_url, timeout=300) as c:
                        out["status"] = c.post("/v1/documents", json={"documents": documents(v)}).status_code
                except httpx.HTTPError as e:
                    out["error"] = type(e).__name__

            poster = threading.Thread(target=post, daemon=True)
            poster.start()
            assert server.proc is not None

            def switched(floor: int = start_revision, n: int = 5 + 20 * (new - 1)) -> bool:
                rows = catalog_rows(data, "SELECT COUNT(*) FROM documents WHERE revision > ?", [floor])
                return bool(rows) and rows[0][0] >= n

            at_kill = kill_while_writing(server.proc, data, switched)
            poster.join(timeout=30)
            assert "error" in outcome, outcome  # the client saw the connection die, not a reply

            server.start()  # same store: opening it recovers what the kill left
            with server.client() as c:
                texts = {}
                for doc_id in by_version[0]:
                    got = c.get(f"/v1/documents/{doc_id}")
                    assert got.status_code == 200, (doc_id, got.status_code)  # never lost
                    texts[doc_id] = got.json()["content_hash"]
                now = versions_held(texts, by_version)
                assert_old_or_new(now, held, new)
                listed = c.get("/v1/documents").json()
                assert sorted(d["id"] for d in listed["documents"]) == sorted(by_version[0])
                assert listed["next_cursor"] is None
            outcomes.append(
                {
                    "new": sum(v == new for v in now.values()),
                    "old": sum(v != new for v in now.values()),
                    "caught_pending": at_kill["caught_pending"],
                }
            )
            held = now
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-3000:]
    assert all(o["new"] > 0 and o["old"] > 0 for o in outcomes), outcomes
    store = check_store(data)
    assert store["doctor"]["consistent"] and store["doctor"]["orphan_vectors"] == 0, store["doctor"]
    assert versions_held(store["hashes"], by_version) == held
    print(f"kill -9 during API revisions: {outcomes}")


# --------------------------------------------------------------------------- readers during revisions

REVISIONS = 40  # the writer's switches between the two texts
QUESTIONS = ("How many North Korean soldiers were killed?", "What happened in Kursk?")


def test_readers_see_the_old_or_the_new_revision_never_nothing(tmp_path: Path, warm_model: None) -> None:
    """One thread re-sends a document with alternating texts; another reads it, searches restricted
    to it and to its publication dates, and asks about it. Every read finds the document."""
    data = tmp_path / "store"
    settings = make_settings(data)
    [a, b, other] = write_articles(tmp_path / "articles", 3, start=8000)
    texts = [a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")]
    versions = [
        DocumentIn(text=t, id="flip", source="wire", published_at="2024-05-01T08:00:00Z") for t in texts
    ]
    neighbour = DocumentIn(
        text=other.read_text(encoding="utf-8"), id="neighbour", published_at="2023-01-01T00:00:00Z"
    )
    prefill_cache(data, texts_to_embed(settings, [*versions, neighbour]))
    cleaned = [
        prepare(
            v, max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap_tokens, max_chars=10**7
        ).doc.text
        for v in versions
    ]
    svc = Factdesk(settings)
    try:
        assert [r.status for r in svc.ingest_documents([versions[0], neighbour])] == ["created", "created"]
        by_id = svc.filters(document_ids=["flip"])
        by_date = svc.filters(published_after="2024-04-01", published_before="2024-06-01")
        reading = threading.Event()
        done = threading.Event()
        statuses: list[str] = []
        misses = {"get": 0, "search by id": 0, "search by date": 0}
        counts = {"reads": 0, "reads while writing": 0}
        errors: list[str] = []

        def writer() -> None:
            try:
                reading.wait(timeout=120)
                for i in range(REVISIONS):
                    # paced by the reader, so that reads overlap writes however slow an ask is
                    while counts["reads"] < i // 2 and not done.is_set():
                        time.sleep(0.005)
                    (r,) = svc.ingest_documents([versions[(i + 1) % 2]])
                    statuses.append(r.status)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"writer: {type(e).__name__}: {e}")
            finally:
                done.set()

        def quote_ok(doc_id: str, start: int, end: int, quote: str) -> bool:
            return doc_id != "flip" or any(t[start:end] == quote for t in cleaned)

        def reader() -> None:
            try:
                while not done.is_set():
                    writing = reading.is_set()
                    reading.set()
                    try:
                        doc = svc.get_document("flip")
                        assert doc.text in cleaned
                    except NotFound:
                        misses["get"] += 1
                    q = QUESTIONS[counts["reads"] % 2]
                    hits = svc.search(q, top_k=3, filters=by_id)
                    misses["search by id"] += not hits
                    assert all(
                        h.document_id == "flip" and quote_ok("flip", h.start, h.end, h.text) for h in hits
                    )
                    dated = svc.search(q, top_k=3, filters=by_date)
                    misses["search by date"] += not any(h.document_id == "flip" for h in dated)
                    answer = svc.ask(q, top_k=3, filters=by_id)  # cites what one revision says
                    assert all(quote_ok(c.document_id, c.start, c.end, c.quote) for c in answer.citations)
                    counts["reads"] += 1
                    counts["reads while writing"] += writing and not done.is_set()
            except Exception as e:  # noqa: BLE001 - reported below
                import traceback

                errors.append(f"reader: {type(e).__name__}: {e}\n{traceback.format_exc()[-2500:]}")
                done.set()

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors
        assert statuses == ["updated"] * REVISIONS, statuses
        assert counts["reads while writing"] > 0, counts
        assert misses == dict.fromkeys(misses, 0), (misses, counts)
        print(f"readers during {REVISIONS} revisions: {counts}, misses {misses}")
    finally:
        svc.close()


def test_a_search_that_races_every_read_keeps_its_best_one(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write lands during every read (the catalog's version moves), and each read's candidates are
    a replaced revision's keys, the second's beside the current ones: the search answers from the
    second read, which kept some, not from the last, which kept none."""
    svc = make_service()
    question = "When does the ferry to Lisbon leave?"
    flip = lambda v: DocumentIn(text=f"The ferry to Lisbon leaves at {v} from pier four.", id="flip")  # noqa: E731
    svc.ingest_documents([flip(7)])
    searcher = svc.searcher
    old = searcher._candidates(question, 30, Filters())
    svc.ingest_documents([flip(9)])  # the keys in `old` are now of a replaced revision
    new = searcher._candidates(question, 30, Filters())
    assert old[0] and new[0] and not set(old[0]) & set(new[0])
    mixed = tuple(a + b for a, b in zip(old, new))
    reads = iter([old, mixed, old])
    monkeypatch.setattr(searcher, "_candidates", lambda *a: next(reads))
    versions = iter(range(100))
    monkeypatch.setattr(svc.catalog, "version", lambda: next(versions))
    hits = svc.search(question, top_k=3)
    assert [h.document_id for h in hits] == ["flip"] and "at 9" in hits[0].text
    assert next(reads, None) is None  # all three reads were made


# --------------------------------------------------------------------------- listing, recent


def test_listing_pages_through_every_document(make_service: MakeService) -> None:
    svc = make_service(documents_page_size=4)
    ids = [f"note-{i:02d}" for i in range(11)]
    svc.ingest_documents(
        [DocumentIn(text=f"Note {i} about the harbour {i * 37} at Odesa.", id=d) for i, d in enumerate(ids)]
    )
    with TestClient(create_app(svc.settings, ingest_on_start=False, service=svc)) as client:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/documents", params=params).json()
            seen += [d["id"] for d in page["documents"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids and pages == 4  # 3 + 3 + 3 + 2, in id order, nothing twice
        default = client.get("/v1/documents").json()  # no limit: the configured page size
        assert [d["id"] for d in default["documents"]] == ids[:4] and default["next_cursor"]
        assert all("revision" in d and "text" not in d for d in default["documents"])
        first = client.get("/v1/documents", params={"limit": 3}).json()["next_cursor"]
        # a cursor cut short (or edited) named another id to list after; it is refused
        cut = {"cursor": first[:-3]}
        for bad in ({"limit": 0}, {"limit": 10_001}, {"cursor": "not a cursor!"}, cut):
            r = client.get("/v1/documents", params=bad)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request", (bad, r.text)


def test_most_recent_documents_are_chosen_among_all(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Newest by write time, not the first ids: written z, y, x, ..., the most recent are the last ids."""
    svc = make_service()
    ids = [f"memo-{c}" for c in "zyxwv"]
    for i, d in enumerate(ids):
        svc.ingest_documents([DocumentIn(text=f"Memo {i}: the ferry to Lisbon leaves at {i + 7}.", id=d)])
    monkeypatch.setattr(engine_module, "MAX_SUMMARY_DOCUMENTS", 2)
    chosen, warnings = engine_module.recent_documents(svc.catalog)
    assert chosen == ["memo-v", "memo-w"]
    assert warnings == ["summarised the 2 most recent of 5 documents"]


# --------------------------------------------------------------------------- repair keeps dates


def test_repaired_vectors_keep_the_publication_date(make_service: MakeService, tmp_path: Path) -> None:
    """doctor --repair writes lost vectors with the metadata ingest gives them: a dense search with a
    date filter finds the repaired chunks (the lexical and sentence sides, which read dates from
    SQLite and vectors from the embedding cache, are off)."""
    [jan, jun] = write_articles(tmp_path / "articles", 2, start=9000)
    items = [
        DocumentIn(text=jan.read_text(encoding="utf-8"), id="jan", published_at="2024-01-10"),
        DocumentIn(text=jun.read_text(encoding="utf-8"), id="jun", published_at="2024-06-10"),
    ]
    prefill_cache(tmp_path / "dates", texts_to_embed(make_settings(tmp_path / "dates"), items))
    svc = make_service("dates", search_mode="dense")
    svc.searcher.config.use_sentences = False
    svc.ingest_documents(items)
    winter = svc.filters(published_before="2024-02-01")
    assert {h.document_id for h in svc.search("troops", top_k=5, filters=winter)} == {"jan"}
    lost = [c.key for c in svc.catalog.chunks_of("jan")]
    svc.vectors.delete_ids(lost)
    assert svc.search("troops", top_k=5, filters=winter) == []
    report = svc.ingestor.doctor(repair=True)
    assert report["missing_vectors"] == len(lost) and report["repaired"]
    assert svc.ingestor.doctor()["consistent"]
    metas = svc.vectors.collection().get(ids=lost, include=["metadatas"])["metadatas"]
    assert {m["published_ts"] for m in metas} == {svc.get_document("jan").published_ts}
    assert {h.document_id for h in svc.search("troops", top_k=5, filters=winter)} == {"jan"}


# --------------------------------------------------------------------------- stores from before revisions


def test_a_store_written_before_revisions_is_read_and_revised(
    make_service: MakeService, tmp_path: Path
) -> None:
    """Catalog without a revision column, vectors under bare chunk ids: opened, it reads as before;
    an update moves the document to a revision of its own and drops the old vectors."""
    [old, new] = write_articles(tmp_path / "articles", 2, start=9100)
    items = [DocumentIn(text=p.read_text(encoding="utf-8"), id="legacy") for p in (old, new)]
    prefill_cache(tmp_path / "legacy", texts_to_embed(make_settings(tmp_path / "legacy"), items))
    svc = make_service("legacy")
    svc.ingest_documents(items[:1])
    chunks = svc.catalog.chunks_of("legacy")
    got = svc.vectors.collection().get(ids=[c.key for c in chunks], include=["embeddings", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    svc.vectors.delete_ids([c.key for c in chunks])
    metas = [{k: v for k, v in m.items() if k != "revision"} for m in got["metadatas"]]
    svc.vectors.upsert([c.id for c in chunks], vectors, metas)  # the old layout: bare chunk ids
    svc.close()
    db = sqlite3.connect(Path(svc.settings.data_dir) / "catalog.sqlite")
    with db:
        db.execute("ALTER TABLE documents DROP COLUMN revision")
        db.execute("DROP TABLE revisions")
        db.execute("DROP TABLE stale_vectors")
    db.close()

    svc = make_service("legacy")
    doc = svc.get_document("legacy")
    assert doc.revision == 0 and [c.key for c in svc.catalog.chunks_of("legacy")] == [c.id for c in chunks]
    assert svc.ingestor.doctor()["consistent"]
    hits = svc.search("soldiers", top_k=3, filters=svc.filters(document_ids=["legacy"]))
    assert hits and all(h.chunk_id in {c.id for c in chunks} for h in hits)
    (r,) = svc.ingest_documents(items[1:])
    assert r.status == "updated" and svc.get_document("legacy").revision > 0
    assert not {c.id for c in chunks} & svc.vectors.all_ids()
    assert svc.ingestor.doctor()["consistent"]


# --------------------------------------------------------------------------- Chroma fails after the switch


def test_a_failed_removal_of_old_vectors_loses_nothing_and_is_collected_at_open(
    make_service: MakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch has committed; dropping the replaced (or deleted) revision's vectors then fails. The
    update and the delete stand whole: readers see the new text, or no document at all, and never the
    stale vectors; the next open drops them and the stores agree."""
    [a, b, c] = write_articles(tmp_path / "articles", 3, start=9200)
    items = [
        DocumentIn(text=p.read_text(encoding="utf-8"), id=i)
        for p, i in ((a, "kept"), (b, "kept"), (c, "gone"))
    ]
    prefill_cache(tmp_path / "stale", texts_to_embed(make_settings(tmp_path / "stale"), items))
    svc = make_service("stale")
    svc.ingest_documents([items[0], items[2]])
    old_keys = {ch.key for ch in svc.catalog.chunks_of("kept")} | {
        ch.key for ch in svc.catalog.chunks_of("gone")
    }

    def refuse(ids: object) -> None:
        raise RuntimeError("Chroma said no")

    assert svc.ingestor.recovered["stale_vectors_dropped"] == 0  # nothing recovered by writing
    monkeypatch.setattr(svc.vectors, "delete_ids", refuse)
    (r,) = svc.ingest_documents([items[1]])
    assert r.status == "updated"
    svc.delete_document("gone")
    monkeypatch.undo()
    assert set(svc.catalog.stale_keys()) == old_keys and old_keys <= svc.vectors.all_ids()
    assert svc.get_document("kept").content_hash == content_hash(items[1].text)
    with pytest.raises(NotFound):
        svc.get_document("gone")
    for q in ("soldiers", "troops killed"):
        hits = svc.search(q, top_k=10, filters=svc.filters(document_ids=["kept"]))
        assert hits and {h.document_id for h in hits} == {"kept"}
        hits = svc.search(q, top_k=10)
        assert all(h.document_id != "gone" for h in hits)
    report = svc.ingestor.doctor()
    assert not report["consistent"] and report["stale_vectors"] == len(old_keys)
    assert report["orphan_vectors"] == 0
    svc.close()

    svc = make_service("stale")
    assert svc.catalog.stale_keys() == [] and not old_keys & svc.vectors.all_ids()
    assert svc.ingestor.doctor()["consistent"]
    # /healthz's count is what the open recovered, not the updates and deletes that went well
    assert svc.ingestor.recovered["stale_vectors_dropped"] == len(old_keys)
    svc.ingest_documents([items[0]])
    assert svc.ingestor.recovered["stale_vectors_dropped"] == len(old_keys)
