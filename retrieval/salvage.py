"""`factdesk doctor --repair` for a catalog SQLite cannot open: set the file aside, copy what can be
read into a new catalog, rebuild what is derived, and list what cannot be recovered. For a damaged
embedded vector store: set the folder aside and embed again (salvage_vectors).

The catalog holds the only copy of each document's cleaned text (Chroma holds vectors and spans),
so it cannot be rebuilt from the vector store: a document whose row cannot be read is reported by
id (Chroma's metadata names it) for re-ingest from its source. The damaged file is kept.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

from factdesk.settings import Settings
from retrieval.embed import set_aside
from retrieval.models import DocumentIn
from retrieval.store import forget_client

log = logging.getLogger("factdesk.salvage")

SQLITE_MAGIC = b"SQLite format 3\x00"
# copied in this order; chunks_fts (the keyword rows) is derived, and rebuilt from the text
TABLES = ("documents", "chunks", "bands", "raw_inputs", "revisions", "stale_vectors")


def salvage_catalog(settings: Settings, *, repair: bool, reason: str) -> dict:
    """The doctor report for an unopenable catalog; with repair, the salvage's outcome."""
    data_dir = Path(settings.data_dir)
    path = data_dir / "catalog.sqlite"
    report: dict = {
        "consistent": False,
        "catalog": "corrupted",
        "problems": [reason],
    }
    if not repair:
        report["hint"] = (
            "`factdesk doctor --repair` sets the file aside (kept), copies every readable row into a new "
            "catalog and lists the documents it cannot recover"
        )
        return report
    aside = set_aside(path)
    assert aside is not None
    copied, partial = _copy_rows(aside, path)
    report["set_aside"] = aside.name
    report["rows_copied"] = copied
    report["tables_partly_lost"] = partial

    from factdesk.service import Factdesk  # opens the new catalog (schema, recovery)

    svc = Factdesk(settings)
    try:
        redone = _reingest_incomplete(svc)
        svc.catalog.reindex_lexical([d.id for d in svc.catalog.list(limit=10**9)])
        known = {d.id for d in svc.catalog.list(limit=10**9)}
        lost = sorted(_vector_documents(svc) - known)
        after = svc.ingestor.doctor(repair=True)
        after["recovered"]["files_set_aside"] += 1
        report.update(
            {
                "repaired": True,
                "catalog": "salvaged",
                "consistent": after["consistent"] and not lost,
                "documents_recovered": len(known),
                "documents_reingested_from_text": redone,
                "unrecoverable_documents": lost,
                "doctor": after,
            }
        )
        if lost:
            report["problems"].append(
                f"{len(lost)} documents had their text only in the damaged catalog (kept as {aside.name}): "
                "re-ingest them from their sources"
            )
    finally:
        svc.close()
    log.warning("catalog salvaged: %d documents recovered, %d lost", report["documents_recovered"], len(lost))
    return report


def salvage_vectors(settings: Settings, *, repair: bool, reason: str) -> dict:
    """The doctor report for a damaged embedded Chroma store; with repair, the folder is set aside
    (kept) and every committed chunk is embedded again into a new one. Vectors are derived data: the
    catalog holds the text and the embedding cache most of the vectors, so nothing is lost."""
    path = Path(settings.data_dir) / "chroma"
    report: dict = {"consistent": False, "vector_store": "corrupted", "problems": [reason]}
    if not repair:
        report["hint"] = (
            "`factdesk doctor --repair` sets the chroma folder aside (kept) and embeds every chunk again "
            "from the catalog (the embedding cache spares most of the model's work)"
        )
        return report
    forget_client(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"chroma.corrupt-{stamp}")
    path.rename(aside)

    from factdesk.service import Factdesk  # a new, empty store; recovery and repair fill it

    svc = Factdesk(settings)
    try:
        after = svc.ingestor.doctor(repair=True)  # what it found, and what it did
        consistent = svc.ingestor.doctor()["consistent"]  # and the check again, after the repair
    finally:
        svc.close()
    after["recovered"]["files_set_aside"] += 1
    report.update(
        {
            "repaired": True,
            "vector_store": "rebuilt",
            "set_aside": aside.name,
            "consistent": consistent,
        }
    )
    report["doctor"] = after
    log.warning("vector store rebuilt: the damaged folder is kept as %s", aside.name)
    return report


def _open_damaged(aside: Path) -> sqlite3.Connection | None:
    """The set-aside file, read-only; a file whose header magic was overwritten is read through a
    copy with the magic restored (the rest of the header is often intact). None: nothing readable."""
    candidates = [aside]
    with open(aside, "rb") as fh:
        head = fh.read(16)
    if head != SQLITE_MAGIC:
        fixed = aside.with_name(aside.name + ".header-restored")
        shutil.copyfile(aside, fixed)
        with open(fixed, "r+b") as fh:
            fh.write(SQLITE_MAGIC)
        candidates.append(fixed)
    for candidate in candidates:
        db = sqlite3.connect(f"{candidate.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            db.execute("SELECT name FROM sqlite_master").fetchall()
            return db
        except sqlite3.DatabaseError:
            db.close()
    return None


def _copy_rows(aside: Path, path: Path) -> tuple[dict[str, int], list[str]]:
    """Copy every row that can be read, table by table, into a fresh catalog at `path`."""
    from retrieval.catalog import Catalog

    Catalog(path).close()  # the schema
    copied: dict[str, int] = {t: 0 for t in TABLES}
    partial: list[str] = []
    src = _open_damaged(aside)
    if src is None:
        return copied, list(TABLES)
    dst = sqlite3.connect(path, isolation_level=None)
    try:
        for table in TABLES:
            try:
                theirs = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
                ours = [r[1] for r in dst.execute(f"PRAGMA table_info({table})")]
                cols = ",".join(f'"{c}"' for c in ours if c in theirs)
                dst.execute("BEGIN")
                for row in src.execute(f"SELECT {cols} FROM {table}"):
                    dst.execute(
                        f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({','.join('?' * len(row))})", row
                    )
                    copied[table] += 1
            except sqlite3.DatabaseError as e:  # a damaged page: keep what came before it
                log.warning("table %s of the damaged catalog partly unreadable: %s", table, e)
                partial.append(table)
            finally:
                if dst.in_transaction:
                    dst.execute("COMMIT")
    finally:
        src.close()
        dst.close()
    return copied, partial


def _reingest_incomplete(svc) -> list[str]:  # type: ignore[no-untyped-def]
    """Documents whose row was read but not all of their chunk rows: put through the pipeline again
    from their cleaned text (the row is removed first, so the text is chunked and embedded anew)."""
    from retrieval.catalog import Catalog

    rows = svc.catalog._query(
        "SELECT d.id, d.chunk_count, COUNT(c.id) FROM documents d LEFT JOIN chunks c ON c.document_id = d.id "
        "GROUP BY d.id"
    )
    broken = [doc_id for doc_id, want, have in rows if want != have]
    docs = [svc.catalog.get(d) for d in broken]
    with svc.catalog.transaction() as db:
        for doc_id in broken:
            Catalog.remove(db, doc_id)
    svc.ingest_documents(
        DocumentIn(
            text=d.text, id=d.id, title=d.title, source=d.source, url=d.url, published_at=d.published_at
        )
        for d in docs
        if d is not None
    )
    return broken


def _vector_documents(svc) -> set[str]:  # type: ignore[no-untyped-def]
    """Document ids named in Chroma's metadata (what the vector store knows existed)."""
    col = svc.vectors.collection()
    out: set[str] = set()
    offset = 0
    while True:
        got = col.get(include=["metadatas"], limit=5000, offset=offset)
        out.update((m or {}).get("document_id", "") for m in got["metadatas"])
        if len(got["ids"]) < 5000:
            return out - {""}
        offset += 5000
