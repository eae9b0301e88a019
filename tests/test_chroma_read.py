"""retrieval/chroma_read.py: the embedded store read without the chromadb client answers exactly as the
client does, and steps aside for the client whenever the client is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from factdesk.service import Factdesk
from retrieval import chroma_read
from retrieval.chroma_read import ChromaReader
from retrieval.store import VectorStore

DIM, N = 16, 120
WHERE = {"document_id": {"$in": ["a"]}}

# another process writes the store, as `factdesk ingest` does before `factdesk ask` reads it
WRITER = f"""
import sys, numpy as np
from pathlib import Path
from retrieval.store import VectorStore
s = VectorStore(data_dir=Path(sys.argv[1]), chroma_url=None, collection="t", space="s")
v = np.random.default_rng(7).standard_normal(({N}, {DIM})).astype(np.float32)
v /= np.linalg.norm(v, axis=1, keepdims=True)
s.upsert([f"k{{i}}" for i in range({N})], v, [{{"document_id": "ab"[i % 2]}} for i in range({N})])
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("chroma-read")
    subprocess.run([sys.executable, "-c", WRITER, str(data)], check=True, cwd=ROOT, timeout=300)
    return data


@pytest.fixture
def queries() -> np.ndarray:
    q = np.random.default_rng(11).standard_normal((6, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_direct_reads_equal_the_clients(written: Path, queries: np.ndarray) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    name = VectorStore(data_dir=written, chroma_url=None, collection="t", space="s").name
    reader = ChromaReader(written / "chroma", name)
    direct = [(reader.query(q, 10), reader.query(q, 10, WHERE)) for q in queries]
    client = chromadb.PersistentClient(
        path=str(written / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    col = client.get_collection(name)
    for q, (plain, filtered) in zip(queries, direct):
        for got, where in ((plain, None), (filtered, WHERE)):
            res = col.query(query_embeddings=[q], n_results=10, where=where, include=["distances"])
            assert got == list(zip(res["ids"][0], res["distances"][0]))  # same ids, same floats
        assert len(plain) == 10 and {k for k, _ in filtered} <= {f"k{i}" for i in range(0, N, 2)}


def test_store_reads_directly_until_it_writes(written: Path, queries: np.ndarray, tmp_path: Path) -> None:
    data = tmp_path / "copy"
    shutil.copytree(written, data)
    store = VectorStore(data_dir=data, chroma_url=None, collection="t", space="s")
    first = store.query(queries[0], 5)
    assert store._reader is not None and store._collection is None  # no client opened
    # a write needs the client; from then on the client reads too, and sees the write at once
    store.upsert(["new"], queries[1:2], [{"document_id": "c"}])
    assert store._reader is None
    assert store.query(queries[1], 1)[0][0] == "new"
    assert first and store.query(queries[0], 5) != []
    # another store object on the same files in this process: the client's, never a second engine
    other = VectorStore(data_dir=data, chroma_url=None, collection="t", space="s")
    assert other.query(queries[1], 1)[0][0] == "new" and other._reader is None


def test_unsupported_chromadb_or_failed_read_falls_back_to_the_client(
    written: Path, queries: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = VectorStore(data_dir=written, chroma_url=None, collection="t", space="s").name
    expected = ChromaReader(written / "chroma", name).query(queries[2], 5)
    data = tmp_path / "copy"
    shutil.copytree(written, data)
    monkeypatch.setattr(chroma_read, "installed_chromadb_version", lambda: "2.0.0")
    store = VectorStore(data_dir=data, chroma_url=None, collection="t", space="s")
    assert [k for k, _ in store.query(queries[2], 5)] == [k for k, _ in expected]
    assert store._reader is None and store._collection is not None
    monkeypatch.undo()

    data2 = tmp_path / "copy2"
    shutil.copytree(written, data2)
    store = VectorStore(data_dir=data2, chroma_url=None, collection="t", space="s")
    reader = store._direct_reader()
    assert reader is not None

    def broken(*args: object, **kwargs: object) -> list:
        raise RuntimeError("engine gone")

    monkeypatch.setattr(reader, "query", broken)
    assert [k for k, _ in store.query(queries[2], 5)] == [k for k, _ in expected]
    assert store._reader is None


SEARCH = """
import json, sys
from pathlib import Path
from conftest import make_settings
from factdesk.service import Factdesk
svc = Factdesk(make_settings(Path(sys.argv[1])))
hits = [h.public() for q in json.loads(sys.argv[2]) for h in svc.search(q, 8)]
print(json.dumps({"hits": hits, "chromadb": "chromadb" in sys.modules}))
"""


def test_a_new_process_searches_without_chromadb_and_finds_the_same(seeded: Factdesk) -> None:
    """The CLI's case: ingest wrote the store earlier; a new process answers from it. Its hits are the
    ones the writing process (the client) finds, and chromadb is never imported."""
    questions = ["When were the two soldiers captured?", "prisoner exchanges", "Kursk region fighting"]
    r = subprocess.run(
        [sys.executable, "-c", SEARCH, str(seeded.settings.data_dir), json.dumps(questions)],
        cwd=ROOT / "tests",
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(r.stdout)
    assert out["chromadb"] is False
    assert out["hits"] == [h.public() for q in questions for h in seeded.search(q, 8)]
