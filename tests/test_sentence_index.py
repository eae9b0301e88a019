"""Tests for retrieval.sentence_index: the sentence side of hybrid search, pure and through the service."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeService

from factdesk.service import Factdesk
from retrieval.models import DocumentIn, chunk_key
from retrieval.sentence_index import SentenceIndex, SentenceMatrix


def _unit(*rows: list[float]) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# --------------------------------------------------------------------------- #
# The matrix (pure)
# --------------------------------------------------------------------------- #


def test_chunks_come_back_in_the_order_of_their_best_sentence() -> None:
    m = SentenceMatrix()
    m.add([("a", "A", _unit([1, 0, 0], [0, 1, 0])), ("b", "B", _unit([1, 1, 0]))])
    got = m.search(_unit([0, 1, 0])[0], 3)
    assert [k for k, _ in got] == ["a", "b"]  # a's second sentence is the query; b's is 45 degrees off
    assert got[0][1] == pytest.approx(1.0)
    assert got[1][1] == pytest.approx(np.sqrt(0.5))
    assert [k for k, _ in m.search(_unit([0, 1, 0])[0], 1)] == ["a"]  # n counts sentences
    assert m.rows == 3 and len(m) == 2
    # a filtered search reads only its documents' rows
    assert [k for k, _ in m.search(_unit([0, 1, 0])[0], 3, documents={"B", "unknown"})] == ["b"]
    assert m.search(_unit([0, 1, 0])[0], 3, documents={"unknown"}) == []


def test_ties_are_ranked_by_key_whatever_order_the_chunks_came_in() -> None:
    """One sentence in several articles: replicas that added the chunks in other orders agree."""
    same = _unit([0, 1, 0])
    rankings = []
    for order in (["c", "a", "d", "b"], ["b", "d", "a", "c"]):
        m = SentenceMatrix()
        m.add((k, k.upper(), same if k != "d" else _unit([1, 1, 0])) for k in order)
        rankings.append(m.search(same[0], 2))
    assert rankings[0] == rankings[1] == [("a", pytest.approx(1.0)), ("b", pytest.approx(1.0))]


def test_removed_chunks_are_not_found_and_added_again_replace() -> None:
    m = SentenceMatrix()
    m.add([("a", "A", _unit([1, 0, 0])), ("b", "B", _unit([0, 1, 0]))])
    m.remove(["a", "never-held"])
    assert [k for k, _ in m.search(_unit([1, 0, 0])[0], 5)] == ["b"]
    m.add([("b", "B", _unit([0, 0, 1]))])  # a new text under the same key replaces the old rows
    assert m.rows == 1
    assert m.search(_unit([0, 0, 1])[0], 5)[0][1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        m.add([("c", "C", _unit([1, 0]))])


def test_compaction_keeps_what_is_alive() -> None:
    near = pytest.approx(1.0, abs=0.01)  # the rows are held as int8
    rng = np.random.default_rng(0)
    m = SentenceMatrix()
    vectors = {f"k{i}": _unit(*rng.normal(size=(3, 8)).tolist()) for i in range(600)}
    m.add((k, f"doc-{int(k[1:]) % 7}", v) for k, v in vectors.items())
    m.remove([f"k{i}" for i in range(500)])  # most rows dead: the matrix is rebuilt from the rest
    assert m.rows == 300 and m.ids == {f"k{i}" for i in range(500, 600)}
    for key in ("k500", "k599"):
        assert m.search(vectors[key][1], 1) == [(key, near)]
        # the rows still know their documents
        doc = f"doc-{int(key[1:]) % 7}"
        assert m.search(vectors[key][1], 1, documents={doc}) == [(key, near)]
        assert m.search(vectors[key][1], 1, documents={"doc-x"}) == []


def test_past_the_rescore_budget_the_sign_bits_choose_the_rows() -> None:
    """Many rows, few rescored: the chunks found are those of the exact search, as long as the
    nearest rows are near (here: noisy copies of a few topics, as news sentences cluster)."""
    rng = np.random.default_rng(1)
    topics = rng.normal(size=(40, 64))
    rows = topics[rng.integers(0, 40, size=6000)] + 0.6 * rng.normal(size=(6000, 64))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows.astype(np.float32)
    m = SentenceMatrix(rescore=300)
    m.add((f"c{i}", f"d{i // 10}", rows[i * 3 : i * 3 + 3]) for i in range(2000))
    assert m.nbytes < rows.nbytes / 3  # int8 numbers and sign bits, not float32
    found = []
    for t in range(20):
        q = topics[t] + 0.6 * rng.normal(size=64)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        exact = rows @ q
        want = {f"c{i // 3}" for i in np.argsort(-exact)[:10]}
        got = m.search(q, 10)
        found.append(len(want & {k for k, _ in got}) / len(want))
        best = int(np.argmax(exact))
        assert got[0] == (f"c{best // 3}", pytest.approx(float(exact[best]), abs=0.01))
    assert np.mean(found) >= 0.95
    # the coarse pass hands on about `rescore` rows, the nearest by sign bits among them
    q = rows[77]
    chosen = m.rescored_rows(q, np.ones(6000, dtype=bool))
    assert 300 <= len(chosen) < 600 and 77 in chosen
    bits = (rows > 0) != (q > 0)
    assert bits[chosen].sum(axis=1).max() <= np.sort(bits.sum(axis=1))[len(chosen)]
    # a filter narrows the rows before the budget: few enough, every one is rescored
    assert [k for k, _ in m.search(rows[4], 1, documents={"d0"})] == ["c1"]


def test_a_snapshot_round_trips_and_refuses_what_it_cannot_trust(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    m = SentenceMatrix()
    vectors = {f"k{i}": _unit(*rng.normal(size=(1 + i % 3, 16)).tolist()) for i in range(50)}
    m.add((k, f"doc-{int(k[1:]) % 5}", v) for k, v in vectors.items())
    m.remove(["k3", "k4"])
    m.add([("k7", "doc-2", _unit(*rng.normal(size=(2, 16)).tolist()))])  # replaced: new rows at the end
    path = tmp_path / "sentence-index.npz"
    m.save(path, "model-a", "catalog-a")
    back = SentenceMatrix.load(path, "model-a", "catalog-a")
    assert back is not None and back.ids == m.ids and back.rows == m.rows
    for q in rng.normal(size=(5, 16)):
        q = (q / np.linalg.norm(q)).astype(np.float32)
        assert back.search(q, 10) == m.search(q, 10)
        assert back.search(q, 10, documents={"doc-2"}) == m.search(q, 10, documents={"doc-2"})
    back.remove(["k8"])  # the loaded rows behave as any: removing, adding
    back.add([("k99", "doc-9", vectors["k9"])])
    assert "k8" not in back.ids and back.search(vectors["k9"][0], 2, documents={"doc-9"})[0][0] == "k99"
    # another embedding model's vectors, another catalog's rows, a damaged file, a file that is not
    # one: rebuilt instead
    assert SentenceMatrix.load(path, "model-b", "catalog-a") is None
    assert SentenceMatrix.load(path, "model-a", "catalog-b") is None
    path.write_bytes(path.read_bytes()[:500])
    assert SentenceMatrix.load(path, "model-a", "catalog-a") is None
    assert SentenceMatrix.load(tmp_path / "missing.npz", "model-a", "catalog-a") is None


# --------------------------------------------------------------------------- #
# Through the service: kept in step with the catalog, and used by search
# --------------------------------------------------------------------------- #

FILLER = (
    "The port authority published its annual report on Tuesday. Container traffic rose for a third year. "
    "New berths opened on the eastern quay in the spring. Dredging of the channel finished in June. "
    "Officials praised the dockworkers for their safety record over the summer months. "
)
BURIED = "The harbour master said a cracked weld in the jib caused the crane to topple."
QUESTION = "What caused the crane to topple?"


@pytest.fixture
def harbour(make_service: MakeService) -> Factdesk:
    svc = make_service()
    body = FILLER * 3 + BURIED + " " + FILLER * 3
    echoes = [
        DocumentIn(
            id="echo-0", text="Crane collapse at the port: the crane fell over during the night shift."
        ),
        DocumentIn(id="echo-1", text="Union leaders asked why the crane fell over and demanded an inquiry."),
        DocumentIn(id="echo-2", text="Photos of the crane that fell over were shared widely online."),
        DocumentIn(id="echo-3", text="Insurers will pay for the crane collapse, the shipping line said."),
    ]
    results = svc.ingest_documents([DocumentIn(id="report", title="Port report", text=body), *echoes])
    assert [r.status for r in results] == ["created"] * 5
    assert results[0].chunks > 1
    return svc


def _buried_keys(svc: Factdesk) -> set[str]:
    """The keys of the chunks that hold the buried sentence (chunks overlap: one or two)."""
    doc = svc.get_document("report")
    at = doc.text.index(BURIED)
    chunks = [c for c in svc.catalog.chunks_of("report") if c.start <= at and at + len(BURIED) <= c.end]
    assert chunks
    return {chunk_key(c.id, c.revision) for c in chunks}


def test_the_sentence_side_finds_a_chunk_by_one_of_its_sentences(harbour: Factdesk) -> None:
    index = harbour.searcher.sentence_index
    assert index is not None
    found = index.search(harbour.searcher.embed_query(QUESTION), 36)
    assert found[0][0] in _buried_keys(harbour)
    hits = harbour.search(QUESTION, top_k=10)
    buried = [h for h in hits if BURIED in h.text]
    assert buried and buried[0].sentence_rank == 1
    # a filtered search's sentence side reads only the documents the filter keeps
    filtered = harbour.search(QUESTION, top_k=10, filters=harbour.filters(document_ids=["report", "echo-0"]))
    assert {h.document_id for h in filtered} <= {"report", "echo-0"}
    assert [h for h in filtered if BURIED in h.text][0].sentence_rank == 1
    others = harbour.search(QUESTION, top_k=10, filters=harbour.filters(document_ids=["echo-1", "echo-2"]))
    assert {h.document_id for h in others} == {"echo-1", "echo-2"}
    assert {h.sentence_rank for h in others} == {1, 2}
    dated = harbour.search(QUESTION, top_k=10, filters=harbour.filters(published_after="2000-01-01"))
    assert dated == []  # no document here has a date


def test_the_sentence_side_follows_updates_and_deletes(harbour: Factdesk) -> None:
    index = harbour.searcher.sentence_index
    assert index is not None
    q = harbour.searcher.embed_query(QUESTION)
    before = _buried_keys(harbour)
    (result,) = harbour.ingest_documents(
        [DocumentIn(id="report", title="Port report", text=BURIED + " " + FILLER)]
    )
    assert result.status == "updated"
    after = _buried_keys(harbour)
    keys = [k for k, _ in index.search(q, 36)]
    assert not after & before and keys[0] in after and not before & set(keys)
    harbour.delete_document("report")
    assert all(not k.startswith("report#") for k, _ in index.search(q, 36))
    assert harbour.search(QUESTION, top_k=3)[0].document_id.startswith("echo-")


def test_past_its_size_the_sentence_side_is_off(harbour: Factdesk, caplog: pytest.LogCaptureFixture) -> None:
    small = SentenceIndex(harbour.catalog, harbour.embedder, max_chunks=1)
    with caplog.at_level(logging.WARNING, logger="factdesk.search"):
        assert small.search(harbour.searcher.embed_query(QUESTION), 36) == []
    assert "sentence search is off" in caplog.text
    roomy = SentenceIndex(harbour.catalog, harbour.embedder, max_chunks=100)
    assert roomy.search(harbour.searcher.embed_query(QUESTION), 36)[0][0] in _buried_keys(harbour)


def test_a_new_process_starts_from_the_snapshot(
    harbour: Factdesk, make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first search writes the snapshot (here after any change); a second service over the same
    data dir reads no sentence vector from the embedding cache, and catches up with a later write."""
    from retrieval import sentence_index

    monkeypatch.setattr(sentence_index, "SNAPSHOT_AFTER", 1)
    index = harbour.searcher.sentence_index
    assert index is not None and index.snapshot is not None
    q = harbour.searcher.embed_query(QUESTION)
    want = index.search(q, 36)
    assert index.snapshot.exists()
    harbour.close()

    read: list[str] = []
    vectors = SentenceIndex._vectors

    def counted(self: SentenceIndex, batches, wanted):  # type: ignore[no-untyped-def]
        for key, doc, v in vectors(self, batches, wanted):
            read.append(key)
            yield key, doc, v

    monkeypatch.setattr(SentenceIndex, "_vectors", counted)
    again = make_service()  # the harbour fixture's data dir ("data")
    index = again.searcher.sentence_index
    assert index is not None
    assert index.search(q, 36) == want and read == []
    again.ingest_documents(
        [DocumentIn(id="late", text="The crane toppled because a weld in its jib cracked.")]
    )
    assert any(k.startswith("late#") for k, _ in index.search(q, 36))
    assert read and all(k.startswith("late#") for k in read)


def test_a_snapshot_that_cannot_be_written_costs_nothing_but_the_file(
    harbour: Factdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk or a read-only data dir: the search answers as before, and no file is left."""
    from retrieval import sentence_index

    monkeypatch.setattr(sentence_index, "SNAPSHOT_AFTER", 1)

    def full(self: SentenceMatrix, path: Path, model: str, catalog: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SentenceMatrix, "save", full)
    index = SentenceIndex(harbour.catalog, harbour.embedder, 100, Path(harbour.settings.data_dir) / "s.npz")
    assert index.search(harbour.searcher.embed_query(QUESTION), 36)[0][0] in _buried_keys(harbour)
    assert not (Path(harbour.settings.data_dir) / "s.npz").exists()


def test_a_replaced_catalog_reads_neither_snapshot(
    harbour: Factdesk, make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data dir whose catalog.sqlite was deleted and written afresh reuses chunk keys (revisions
    count from 1 again) for other text: the keyword and sentence snapshots, built from the old
    catalog, are not read; both indexes answer as ones built from the new catalog alone."""
    from retrieval import bm25, sentence_index
    from retrieval.bm25 import LexicalIndex
    from retrieval.lexical import query_terms

    monkeypatch.setattr(sentence_index, "SNAPSHOT_AFTER", 1)
    monkeypatch.setattr(bm25, "SNAPSHOT_AFTER", 1)
    harbour.ingest_documents([DocumentIn(id="late", text="A second crane was inspected on the quay.")])
    q = harbour.searcher.embed_query(QUESTION)
    words = query_terms("cracked weld jib topple")
    assert harbour.searcher.sentence_index is not None and harbour.searcher.lexical_index is not None
    assert harbour.searcher.sentence_index.search(q, 36)[0][0] in _buried_keys(harbour)
    assert harbour.searcher.lexical_index.search(words, 10)
    old_keys, old_identity = _buried_keys(harbour), harbour.catalog.identity()
    old_report = {chunk_key(c.id, c.revision) for c in harbour.catalog.chunks_of("report")}
    data = Path(harbour.settings.data_dir)
    assert (data / "sentence-index.npz").exists() and (data / "lexical-index.npz").exists()
    harbour.close()
    for f in data.glob("catalog.sqlite*"):
        f.unlink()

    # another process writes the new catalog (and does not rewrite the snapshots); a process started
    # after it reads the data dir
    monkeypatch.setattr(sentence_index, "SNAPSHOT_AFTER", 10**9)
    monkeypatch.setattr(bm25, "SNAPSHOT_AFTER", 10**9)
    writer = make_service()  # the harbour fixture's data dir ("data")
    assert writer.catalog.identity() not in (None, old_identity)
    others = [DocumentIn(id=f"news-{i}", text=f"Ferry timetable {i} changes on Monday.") for i in range(5)]
    calm = FILLER * 3 + "The harbour master said a new crane would arrive in May." + " " + FILLER * 3
    writer.ingest_documents([DocumentIn(id="report", title="Port report", text=calm), *others])
    new_keys = {chunk_key(c.id, c.revision) for c in writer.catalog.chunks_of("report")}
    # the same keys, other text: what a stale snapshot would get wrong (the same number of chunks, so
    # no new key of the document makes the index re-read it)
    assert old_keys <= new_keys == old_report
    again = make_service()
    sentences, lexical = again.searcher.sentence_index, again.searcher.lexical_index
    assert sentences is not None and lexical is not None
    fresh = SentenceIndex(again.catalog, again.embedder, sentences.max_chunks)
    assert sentences.search(q, 36) == fresh.search(q, 36)
    assert lexical.search(words, 10) == LexicalIndex(again.catalog, None).search(words, 10) == []
