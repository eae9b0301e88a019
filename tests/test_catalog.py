"""retrieval/catalog.py's numbered migrations (the SQLite catalog's schema history)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import open_together

from retrieval.catalog import MIGRATIONS, Catalog


def test_a_new_catalog_records_every_migration(tmp_path: Path) -> None:
    Catalog(tmp_path / "catalog.sqlite").close()
    db = sqlite3.connect(tmp_path / "catalog.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "documents",
        "revisions",
        "stale_vectors",
        "chunks",
        "bands",
        "raw_inputs",
        "chunks_fts",
    } <= tables
    db.close()


def test_processes_opening_a_new_catalog_at_once_migrate_it_once(tmp_path: Path) -> None:
    """Four connections open the same new file together: one applies the steps (BEGIN IMMEDIATE),
    the others wait and find them applied; none fails on a table another just created."""
    opened, errors = open_together(lambda: Catalog(tmp_path / "catalog.sqlite"))
    assert errors == [] and len(opened) == 4
    assert all(c.count() == (0, 0) for c in opened)
    # one identity, written once, the same for every connection and after reopening
    identities = {c.identity() for c in opened}
    assert len(identities) == 1 and None not in identities
    assert Catalog(tmp_path / "catalog.sqlite").identity() in identities
    assert Catalog(tmp_path / "other.sqlite").identity() not in identities
    for c in opened:
        c.close()


def test_a_catalog_from_before_numbering_is_migrated(tmp_path: Path) -> None:
    """user_version 0 and the layout before revisions: step 1 adds what is missing, keeps the rows."""
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT, url TEXT, "
        "published_at TEXT, published_ts REAL, text TEXT NOT NULL, content_hash TEXT NOT NULL, "
        "duplicate_of TEXT, chunk_count INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, created_at REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO documents VALUES ('d', 't', NULL, NULL, NULL, NULL, 'x', 'h', NULL, 0, 'committed', 0)"
    )
    db.commit()
    db.close()
    catalog = Catalog(path)
    doc = catalog.get("d")
    assert doc is not None and doc.revision == 0
    assert catalog.reserved() == [] and catalog.stale_keys() == []
    catalog.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_catalog_a_newer_factdesk_migrated_is_not_written(tmp_path: Path) -> None:
    """Its tables may mean more than this code knows: opening it says so, and changes nothing."""
    import pytest

    from retrieval.errors import StoreUnavailable

    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreUnavailable, match="a newer factdesk migrated it; upgrade this one"):
        Catalog(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
