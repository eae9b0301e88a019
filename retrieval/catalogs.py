"""Which catalog a service opens: SQLite in the data dir (the default), or PostgreSQL when
FACTDESK_DATABASE_URL names one. Both have one interface (retrieval/catalog.py's methods); the rest of
the pipeline holds an AnyCatalog and never asks which."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from retrieval.catalog import Catalog
from retrieval.errors import StoreUnavailable

if TYPE_CHECKING:  # psycopg is the [postgres] extra: imported only when a database URL is set
    from retrieval.catalog_postgres import PostgresCatalog

AnyCatalog: TypeAlias = "Catalog | PostgresCatalog"


def open_catalog(
    data_dir: Path,
    database_url: str | None,
    *,
    pool_size: int = 10,
    timeout_s: float = 5.0,
    write_wait_s: float = 300.0,
    statement_timeout_s: float = 60.0,
) -> AnyCatalog:
    if not database_url:
        return Catalog(data_dir / "catalog.sqlite")
    try:
        from retrieval.catalog_postgres import PostgresCatalog
    except ImportError as e:
        raise StoreUnavailable(
            f"FACTDESK_DATABASE_URL is set but psycopg is not installed ({e.name}): pip install -e '.[postgres]'"
        ) from e
    return PostgresCatalog(
        database_url,
        pool_size=pool_size,
        timeout_s=timeout_s,
        write_wait_s=write_wait_s,
        answer_within_s=statement_timeout_s,
    )
