"""The deterministic kill -9 matrix: every write step of ingest, revise and delete, killed on each side.

Each case copies a seeded data dir (three tiny documents, every vector already in the embedding cache),
then runs one operation in a subprocess whose Python first replaces ONE write method with a wrapper
that SIGKILLs the process before the real call, after it, or (for calls made inside a catalog
transaction) right after that transaction commits. The subprocess must die by SIGKILL (returncode -9):
a step that is never reached fails the case, so none passes vacuously. Then a fresh process runs
`factdesk doctor` (opening the store recovers what the kill left), and the test checks:

* the target document holds exactly the text the kill point implies (old before the switch/delete
  commit, new after it; for a delete, present or absent, never half), every other document is intact;
* doctor says consistent, nothing reserved or stale;
* an independent census (chromadb's collection ids read directly, the catalog's chunk rows and FTS
  rows read with sqlite3) agrees per document, and agrees with doctor's counts.

The matrix (method patched: sides), write steps in the order each path calls them:

ingest new (doc-new, 10 points) and revise existing (doc-a, 15 points):
    retrieval.embed.EmbeddingCache.put_chunks          before, after     (embedding cache write, own commit)
    retrieval.catalog.Catalog.reserve                  before, after, committed   (reserve commit)
    retrieval.store.VectorStore.upsert                 before, after     (Chroma upsert of the new revision)
    retrieval.catalog.Catalog.switch_revision          before, after, committed   (switch commit)
  revise only (the old revision's keys are stale after the switch):
    retrieval.store.VectorStore.delete_ids             before, after     (Chroma delete of stale keys)
    retrieval.catalog.Catalog.forget_stale             before, after, committed   (forget-stale commit)

delete (doc-b, 8 points):
    retrieval.catalog.Catalog.retire                   before, after, committed   (delete commit)
    retrieval.store.VectorStore.delete_ids             before, after     (Chroma delete of stale keys)
    retrieval.catalog.Catalog.forget_stale             before, after, committed   (forget-stale commit)

33 kill points in all. "after" of a method called inside a transaction dies before its COMMIT (the
transaction is rolled back by SQLite); "committed" dies as the transaction's `with` block returns.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_settings
from faultkit import article_text, isolated_env, prefill_cache, run_cli, seed_sentences, texts_to_embed

from retrieval.ingest import prepare
from retrieval.models import DocumentIn
from retrieval.sentences import split_sentences

SEEDED = ("doc-a", "doc-b", "doc-c")

# The subprocess: patch one method to SIGKILL the process, then run the operation.
# argv: target ("module:Class.method"), side (before|after|committed), operation (ingest|delete), arg.
KILL_SCRIPT = r"""
import contextlib, importlib, os, signal, sys

target, side, op, arg = sys.argv[1:5]
module, _, attr = target.partition(":")
cls_name, name = attr.split(".")
cls = getattr(importlib.import_module(module), cls_name)
static = isinstance(cls.__dict__[name], staticmethod)
real = getattr(cls, name)
armed = []

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

def wrapper(*args, **kwargs):
    if side == "before":
        die()
    out = real(*args, **kwargs)
    if side == "after":
        die()
    armed.append(True)
    return out

setattr(cls, name, staticmethod(wrapper) if static else wrapper)

if side == "committed":
    from retrieval.catalog import Catalog

    real_transaction = Catalog.transaction

    @contextlib.contextmanager
    def transaction(self):
        with real_transaction(self) as db:
            yield db
        if armed:  # the transaction that ran the patched write has just committed
            die()

    Catalog.transaction = transaction

if op == "ingest":
    from factdesk.cli import main

    code = main(["ingest", arg])
else:
    from factdesk.service import Factdesk
    from factdesk.settings import load_settings

    svc = Factdesk(load_settings())
    svc.delete_document(arg)
    svc.close()
    code = 0
print("FINISHED WITHOUT BEING KILLED", flush=True)
sys.exit(code)
"""

EMBED = "retrieval.embed:EmbeddingCache.put_chunks"
RESERVE = "retrieval.catalog:Catalog.reserve"
UPSERT = "retrieval.store:VectorStore.upsert"
SWITCH = "retrieval.catalog:Catalog.switch_revision"
DELETE_IDS = "retrieval.store:VectorStore.delete_ids"
FORGET = "retrieval.catalog:Catalog.forget_stale"
RETIRE = "retrieval.catalog:Catalog.retire"

# (target, side, outcome): outcome "old" = the state before the operation, "new" = after it
WRITE_PATH = [
    (EMBED, "before", "old"),
    (EMBED, "after", "old"),
    (RESERVE, "before", "old"),
    (RESERVE, "after", "old"),
    (RESERVE, "committed", "old"),
    (UPSERT, "before", "old"),
    (UPSERT, "after", "old"),
    (SWITCH, "before", "old"),
    (SWITCH, "after", "old"),
    (SWITCH, "committed", "new"),
]
STALE_PATH = [
    (DELETE_IDS, "before", "new"),
    (DELETE_IDS, "after", "new"),
    (FORGET, "before", "new"),
    (FORGET, "after", "new"),
    (FORGET, "committed", "new"),
]
DELETE_PATH = [
    (RETIRE, "before", "old"),
    (RETIRE, "after", "old"),
    (RETIRE, "committed", "new"),
    *STALE_PATH,
]
MATRIX = (
    [("ingest_new", *p) for p in WRITE_PATH]
    + [("revise", *p) for p in [*WRITE_PATH, *STALE_PATH]]
    + [("delete", *p) for p in DELETE_PATH]
)
assert len(MATRIX) >= 20


def _case_id(case: tuple[str, str, str, str]) -> str:
    op, target, side, _ = case
    return f"{op}-{target.rsplit('.', 1)[1]}-{side}"


def _texts(n_sentences: int = 6) -> dict[str, str]:
    sentences = seed_sentences()
    out = {d: article_text(i, sentences, n_sentences) for i, d in enumerate(SEEDED, start=9100)}
    out["doc-a.v1"] = f"Revision one of this dispatch, corrected by the desk.\n\n{out['doc-a']}"
    out["doc-new"] = article_text(9200, sentences, n_sentences)
    return out


def _cleaned(settings, doc_id: str, text: str):  # type: ignore[no-untyped-def]
    return prepare(
        DocumentIn(text=text, id=doc_id, source=f"{doc_id}.txt"),
        max_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_chars=settings.max_document_chars,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A data dir with doc-a, doc-b, doc-c ingested, and the cache holding every sentence vector."""
    root = tmp_path_factory.mktemp("kill-matrix")
    texts = _texts()
    data = root / "store"
    settings = make_settings(data)
    items = [
        DocumentIn(text=t, id=k.split(".")[0], source=f"{k.split('.')[0]}.txt") for k, t in texts.items()
    ]
    extra = []  # the sentences of each chunk too, as CachedEmbedder.chunk_sentences asks for them
    for item in items:
        p = _cleaned(settings, item.id or "", item.text)
        extra += [
            p.doc.text[s.start : s.end] for c in p.chunks for s in split_sentences(p.doc.text, c.start, c.end)
        ]
    prefill_cache(data, [*texts_to_embed(settings, items), *extra])
    seed = root / "seed"
    seed.mkdir()
    for d in SEEDED:
        (seed / f"{d}.txt").write_text(texts[d], encoding="utf-8")
    done = run_cli(["ingest", str(seed)], data, root)
    assert done.returncode == 0 and done.stdout.count(": created") == len(SEEDED), done.stdout + done.stderr
    inputs = {}
    for name, doc_id in (("revise", "doc-a.v1"), ("ingest_new", "doc-new")):
        folder = root / f"in-{name}"
        folder.mkdir()
        (folder / f"{doc_id.split('.')[0]}.txt").write_text(texts[doc_id], encoding="utf-8")
        inputs[name] = folder
    before = _catalog_texts(data)
    assert sorted(before) == list(SEEDED)
    return {
        "data": data,
        "inputs": inputs,
        "before": before,
        "new_a": _cleaned(settings, "doc-a", texts["doc-a.v1"]).doc.text,
        "new_doc": _cleaned(settings, "doc-new", texts["doc-new"]).doc.text,
    }


def _catalog_texts(data: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, text FROM documents WHERE state = 'committed'").fetchall())
    finally:
        db.close()


def independent_census(data: Path) -> dict:
    """What each store holds, read without the project's code: per document, the keys of its chunk
    rows, of its FTS rows and of its Chroma vectors (chunk id, '@revision' unless revision 0)."""
    db = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        docs = {
            r[0]: {"state": r[1], "chunk_count": r[2], "revision": r[3]}
            for r in db.execute("SELECT id, state, chunk_count, revision FROM documents")
        }

        def key(cid: str, rev: int | None) -> str:
            return f"{cid}@{rev}" if rev else cid

        chunks: dict[str, list[str]] = {}
        for cid, doc_id, rev in db.execute(
            "SELECT c.id, c.document_id, d.revision FROM chunks c LEFT JOIN documents d ON d.id = c.document_id"
        ):
            chunks.setdefault(doc_id, []).append(key(cid, rev))
        fts: dict[str, list[str]] = {}
        fts_rows = 0
        for (rowid,) in db.execute("SELECT rowid FROM chunks_fts"):
            fts_rows += 1
            row = db.execute(
                "SELECT c.id, c.document_id, d.revision FROM chunks c LEFT JOIN documents d "
                "ON d.id = c.document_id WHERE c.rowid = ?",
                (rowid,),
            ).fetchone()
            doc_id = row[1] if row else "?orphan-fts"
            fts.setdefault(doc_id, []).append(key(row[0], row[2]) if row else str(rowid))
        reserved = db.execute("SELECT COUNT(*) FROM revisions").fetchone()[0]
        stale = db.execute("SELECT COUNT(*) FROM stale_vectors").fetchone()[0]
    finally:
        db.close()

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    try:
        vectors: dict[str, list[str]] = {}
        total = 0
        for col in client.list_collections():
            got = client.get_collection(col.name if hasattr(col, "name") else col).get(include=["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"]):
                total += 1
                vectors.setdefault((meta or {}).get("document_id", "?"), []).append(cid)
    finally:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    return {
        "documents": docs,
        "chunks": chunks,
        "fts": fts,
        "fts_rows": fts_rows,
        "vectors": vectors,
        "vector_count": total,
        "reserved": reserved,
        "stale": stale,
    }


def run_killed(
    case_dir: Path, data: Path, target: str, side: str, op: str, arg: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, target, side, op, arg],
        cwd=case_dir,
        env=isolated_env(data),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.parametrize("case", MATRIX, ids=[_case_id(c) for c in MATRIX])
def test_kill_9_at_write_step(case: tuple[str, str, str, str], template: dict, tmp_path: Path) -> None:
    op, target, side, outcome = case
    data = tmp_path / "store"
    shutil.copytree(template["data"], data)
    arg = {"ingest_new": template["inputs"]["ingest_new"], "revise": template["inputs"]["revise"]}.get(
        op, "doc-b"
    )

    killed = run_killed(tmp_path, data, target, side, "delete" if op == "delete" else "ingest", str(arg))
    assert killed.returncode == -9, (
        f"{target} ({side}) was not reached or did not kill: rc={killed.returncode}\n"
        f"{killed.stdout[-2000:]}\n{killed.stderr[-3000:]}"
    )

    # restart: a fresh process opens the store (recovery) and runs doctor
    doctor = run_cli(["doctor"], data, tmp_path)
    assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-3000:]
    report = json.loads(doctor.stdout)
    assert report["consistent"], report
    assert report["unfinished_documents"] == [] and report["stale_vectors"] == 0, report
    assert report["missing_vectors"] == report["orphan_vectors"] == report["orphan_lexical_rows"] == 0, report

    # the documents: nothing lost, the target old or new as the kill point implies, never half
    before = template["before"]
    expected = dict(before)
    if outcome == "new":
        if op == "ingest_new":
            expected["doc-new"] = template["new_doc"]
        elif op == "revise":
            expected["doc-a"] = template["new_a"]
        else:
            del expected["doc-b"]
    held = _catalog_texts(data)
    assert sorted(held) == sorted(expected), (sorted(held), sorted(expected))
    for doc_id, text in expected.items():
        assert held[doc_id] == text, f"{doc_id} holds a text that is neither version expected ({outcome})"

    # an independent census: every store agrees per document, and with doctor
    census = independent_census(data)
    assert census["reserved"] == 0 and census["stale"] == 0, census
    docs = census["documents"]
    assert all(d["state"] == "committed" for d in docs.values()), docs
    assert set(docs) == set(expected)
    for where in ("chunks", "fts", "vectors"):
        assert set(census[where]) <= set(docs), (where, sorted(set(census[where]) - set(docs)))
    for doc_id, d in docs.items():
        chunks = sorted(census["chunks"].get(doc_id, []))
        fts = sorted(census["fts"].get(doc_id, []))
        vectors = sorted(census["vectors"].get(doc_id, []))
        assert chunks and len(chunks) == len(set(chunks)) == d["chunk_count"], (doc_id, chunks, d)
        assert chunks == fts == vectors, (doc_id, {"chunks": chunks, "fts": fts, "vectors": vectors})
    n_chunks = sum(len(v) for v in census["chunks"].values())
    assert report["documents"] == len(docs), (report, len(docs))
    assert report["chunks"] == n_chunks == census["fts_rows"] == census["vector_count"], (report, census)
    assert report["vectors"] == census["vector_count"] and report["lexical_rows"] == census["fts_rows"], (
        report
    )


def test_matrix_covers_at_least_twenty_kill_points() -> None:
    assert len(MATRIX) == len({_case_id(c) for c in MATRIX}) >= 20
    assert (ROOT / "tests" / "faultkit.py").exists()
