"""Nearest-neighbour reads of the embedded Chroma store straight from its Rust engine, without
`import chromadb`.

Why: a new `factdesk ask` or `search` process only reads the store, and importing the chromadb package
(its Python client, telemetry exporters, schema validators) cost about a second of a cold answer, more
than anything else it did (BENCHMARKS.md section 5). `chromadb_rust_bindings` is the engine that
package's embedded client calls for every request (chromadb.api.rust.RustBindingsAPI); called here
with the same arguments it returns the same ids and distances, and it loads in milliseconds.

Reads only. The caller (retrieval/store.py) uses this only until something in the process needs the
full client, and never beside it: a second engine on the same files would miss the first one's
unflushed writes, as another process does. Anything unexpected here (a chromadb release with other
bindings, a store that needs migrating, settings other than chromadb's defaults, a read-only data
dir) is an exception, and the caller falls back to the full client, which behaves as it always did.
"""

from __future__ import annotations

import importlib.util
import json
import re
import resource
from pathlib import Path
from typing import Any

import numpy as np

# The chromadb release line whose bindings this calls as its Python client does (1.5.x, where the
# embedded client is RustBindingsAPI); another line uses the full client until checked.
SUPPORTED_VERSIONS = re.compile(r"1\.5\.\d+")
TENANT, DATABASE = "default_tenant", "default_database"  # chromadb.config.DEFAULT_TENANT/_DATABASE
_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


def installed_chromadb_version() -> str | None:
    """chromadb's version read from its package file, which `import chromadb` would execute."""
    spec = importlib.util.find_spec("chromadb")
    if spec is None or spec.origin is None:
        return None
    m = _VERSION_RE.search(Path(spec.origin).read_text(encoding="utf-8")[:4096])
    return m.group(1) if m else None


class ChromaReader:
    """Queries one collection of an embedded store (`path`: the data dir's chroma/ folder)."""

    def __init__(self, path: Path, collection: str) -> None:
        version = installed_chromadb_version()
        if version is None or not SUPPORTED_VERSIONS.fullmatch(version):
            raise RuntimeError(f"chromadb {version}: not a release the direct read was checked with")
        sqlite = path / "chroma.sqlite3"
        if not sqlite.is_file():
            raise FileNotFoundError(f"no {sqlite.name} yet: the full client creates the store")
        import chromadb_rust_bindings as rb

        # Validate, never Apply: a store that needs migrating is left to the full client (and to its
        # settings). MD5 is chromadb's default hash; a store migrated with another fails validation.
        config = rb.SqliteDBConfig(
            hash_type=rb.MigrationHash.MD5, migration_mode=rb.MigrationMode.Validate, url=str(sqlite)
        )
        # the client's HNSW cache size: every index holds 4 data files and 1 metadata file
        handles = resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 5
        self._bindings: Any = rb.Bindings(
            allow_reset=False, sqlite_db_config=config, persist_path=str(path), hnsw_cache_size=handles
        )
        self._id = str(self._bindings.get_collection(collection, TENANT, DATABASE).id)

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(id, cosine distance), nearest first: Collection.query(query_embeddings=[vector],
        n_results=n, where=where, include=["distances"]) as the client sends it."""
        res = self._bindings.query(
            self._id,
            None,
            [np.asarray(vector, dtype=np.float32)],
            n,
            json.dumps(where) if where else None,
            None,
            ["distances"],
            TENANT,
            DATABASE,
        )
        return list(zip(res.ids[0], res.distances[0]))
