"""The in-memory BM25 index: scores (pure), snapshots, and staying in step with the catalog."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeService

from factdesk.service import Factdesk
from retrieval import bm25 as bm25_module
from retrieval.bm25 import BM25Index
from retrieval.lexical import query_terms
from retrieval.models import DocumentIn

DOCS = [
    ("a", "Drones struck the depot. The depot burned for hours."),
    ("b", "Soldiers guarded the depot at night."),
    ("c", "Soldiers and drones: soldiers watched the drones overhead, drones everywhere."),
    ("d", "The weather was calm and the harbour quiet."),
]


def _index(docs: list[tuple[str, str]] = DOCS) -> BM25Index:
    index = BM25Index()
    index.add((doc, text, [(f"{doc}#0", 0, len(text))]) for doc, text in docs)
    return index


def _fts5_bm25(query: list[str], docs: list[tuple[str, str]], k1: float = 1.2, b: float = 0.75) -> dict:
    """BM25 as FTS5 computes it, by hand, over the same analysed words."""
    analyzer = BM25Index().analyzer
    toks = {d: analyzer.tokens(t)[0] for d, t in docs}
    lengths = {d: len(t) for d, t in toks.items()}
    avg = sum(lengths.values()) / len(lengths)
    terms = analyzer.query(query)
    out = {}
    for d, words in toks.items():
        score = 0.0
        for t in terms:
            df = sum(t in w for w in toks.values())
            tf = words.count(t)
            if not tf:
                continue
            idf = max(math.log((len(docs) - df + 0.5) / (df + 0.5)), 1e-6)
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[d] / avg))
        if score > 0:
            out[f"{d}#0"] = score
    return out


def test_scores_are_fts5_bm25() -> None:
    for query in (["drones"], ["depot", "soldiers"], ["harbour", "weather"], ["drones", "soldiers", "depot"]):
        got = dict(_index().search(query, 10))
        want = _fts5_bm25(query, DOCS)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == pytest.approx(want[k], rel=1e-5)


def test_ranking_limits_and_unknown_words() -> None:
    index = _index()
    hits = index.search(["harbour"], 10)
    assert [cid for cid, _ in hits] == ["d#0"]
    assert len(index.search(["drones", "soldiers", "depot"], 2)) == 2
    assert index.search(["zebracorn"], 10) == []
    assert index.search([], 10) == []


def test_remove_and_replace() -> None:
    index = _index()
    index.remove(["d#0"])
    assert index.search(["harbour"], 10) == [] and len(index) == 3
    # the same chunk id with new text: the old words go, the new ones come
    index.add([("a", "Quiet harbour.", [("a#0", 0, 14)])])
    assert [cid for cid, _ in index.search(["harbour"], 10)] == ["a#0"]
    assert "a#0" not in dict(index.search(["drones"], 10))


def test_snapshot_round_trip(tmp_path: Path) -> None:
    index = _index()
    index.remove(["b#0"])
    path = tmp_path / "lexical-index.npz"
    index.save(path, "catalog-a")
    loaded = BM25Index.load(path, "catalog-a")
    assert loaded is not None and loaded.ids == index.ids
    for query in (["drones"], ["depot", "soldiers"], ["harbour"]):
        assert loaded.search(query, 10) == index.search(query, 10)
    assert BM25Index.load(path, "catalog-b") is None  # built from another catalog: rebuilt
    path.write_bytes(b"not a snapshot")
    assert BM25Index.load(path, "catalog-a") is None  # a broken cache is rebuilt, not an error
    assert BM25Index.load(tmp_path / "missing.npz", "catalog-a") is None


def _corpus(docs: int, seed: int) -> list[tuple[str, str, list[tuple[str, int, int]]]]:
    """Documents of a few hundred made-up words (common ones often), each cut into chunks."""
    rng = np.random.default_rng(seed)
    vocab = [f"term{i}word" for i in range(200)]
    out = []
    for d in range(docs):
        words = [vocab[int(i)] for i in rng.zipf(1.3, size=int(rng.integers(30, 90))) % len(vocab)]
        text, spans = "", []
        for c in range(0, len(words), 25):
            piece = " ".join(words[c : c + 25])
            text += ("" if not text else " ") + piece
            spans.append((f"d{d}#{c}", len(text) - len(piece), len(text)))
        out.append((f"d{d}", text, spans))
    return out


QUERIES = [
    ["term0word", "term7word"],
    ["term1word", "term2word", "term40word"],
    ["term3word"],
    ["term150word"],
]


def test_small_writes_go_to_a_delta_and_score_as_one_index() -> None:
    docs = _corpus(300, seed=1)
    whole = BM25Index()
    whole.add(docs)
    grown = BM25Index()
    grown.add(docs[:200])
    grown.search(["term0word"], 1)
    main = grown._main.size
    grown.add(docs[200:205])
    grown.search(["term0word"], 1)
    assert grown._main.size == main and grown._delta.size > 0  # a small write: the delta takes it
    for i in range(205, 300, 5):
        grown.add(docs[i : i + 5])
        grown.search(["term0word"], 1)
    assert grown._main.size > main  # the delta was folded in once it grew
    for query in QUERIES:
        assert grown.search(query, 20) == pytest.approx(whole.search(query, 20), rel=1e-6)


def test_a_postings_budget_reads_each_terms_best_postings() -> None:
    docs = _corpus(300, seed=2)
    index = BM25Index()
    index.add(docs)
    live = len(index)
    index.search(["term0word"], 1)
    by_df = sorted(index._vocab, key=lambda t: -index._df[index._vocab[t]])
    common = [t for t in by_df if 2 * index._df[index._vocab[t]] <= live][:2]  # common, yet weighted
    query = [*common, next(t for t in by_df if 0 < 20 * index._df[index._vocab[t]] < live)]
    exact = index.search(query, 1000)
    assert index.search(query, 1000, budget=10**9) == exact  # a budget that covers all: exact
    stored = {t: index._df[index._vocab[t]] for t in index.analyzer.query(query)}
    rare = min(stored, key=stored.__getitem__)
    budget = sum(stored.values()) // 3
    capped = index.search(query, 1000, budget=budget)
    assert 0 < len(capped) < len(exact)
    # the rarest term is read whole: every chunk holding it is still found
    holding_rare = {cid for cid, _ in index.search([rare], 1000)}
    assert holding_rare <= {cid for cid, _ in capped}
    # scores are exact sums of what was read: never above the exact score, and the top hit survives
    exact_score = dict(exact)
    assert all(score <= exact_score[cid] * (1 + 1e-6) for cid, score in capped)
    # a term cut short keeps its highest-weighted postings: one term's top k by the exact ranking
    alone = index.search([common[0]], 1000)
    cut = index.search([common[0]], 1000, budget=len(alone) // 4)
    assert len(cut) == len(alone) // 4
    assert [s for _, s in cut] == pytest.approx([s for _, s in alone[: len(cut)]], rel=1e-6)


def test_snapshot_keeps_the_delta(tmp_path: Path) -> None:
    docs = _corpus(104, seed=3)
    index = BM25Index()
    index.add(docs[:100])
    index.search(["term0word"], 1)
    index.add(docs[100:])
    index.remove(["d5#0"])
    path = tmp_path / "lexical-index.npz"
    index.save(path, "c")
    loaded = BM25Index.load(path, "c")
    assert loaded is not None and loaded._delta.size == index._delta.size > 0
    for query in QUERIES:
        assert loaded.search(query, 20) == index.search(query, 20)
        assert loaded.search(query, 20, budget=50) == index.search(query, 20, budget=50)


def test_a_snapshot_from_before_the_catalog_stamp_is_rebuilt(tmp_path: Path) -> None:
    """Version 5 carried no catalog identity: nothing says which catalog it was built from, so it is
    not read (the index is rebuilt once, then saved stamped)."""
    index = BM25Index()
    index.add(_corpus(60, seed=5))
    path = tmp_path / "lexical-index.npz"
    index.save(path, "c")
    assert BM25Index.load(path, "c") is not None
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "catalog"}
    arrays["version"] = np.array([5])
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    assert BM25Index.load(path, "c") is None


# ------------------------------------------------------------------ in step with the catalog


def _lexical_ids(svc: Factdesk, query: str) -> set[str]:
    """Chunk ids of the in-memory index's hits (it returns keys: chunk id@revision)."""
    return {key.split("@")[0] for key, _ in svc.searcher.lexical_index.search(query_terms(query), 50)}


def test_index_follows_ingest_update_and_delete(make_service: MakeService) -> None:
    svc = make_service()
    svc.ingest_documents([DocumentIn(text="The zebracorn parade crossed the bridge at noon.", id="p")])
    assert _lexical_ids(svc, "zebracorn parade") == {"p#0"}
    svc.ingest_documents([DocumentIn(text="The quasarfish market opened early on Monday.", id="p")])
    assert _lexical_ids(svc, "zebracorn") == set()
    assert _lexical_ids(svc, "quasarfish") == {"p#0"}
    svc.delete_document("p")
    assert _lexical_ids(svc, "quasarfish") == set()


def test_index_sees_another_process_writes(make_service: MakeService, tmp_path: Path) -> None:
    """Two services on one data dir stand for two processes: one's commit changes SQLite's
    data_version on the other's connection, and its next search catches up."""
    reader = make_service("shared")
    reader.ingest_documents([DocumentIn(text="Only the reader wrote this sentence about owls.", id="r")])
    assert _lexical_ids(reader, "owls") == {"r#0"}
    writer = make_service("shared")
    writer.ingest_documents([DocumentIn(text="The writer reports that owls nested in the tower.", id="w")])
    assert _lexical_ids(reader, "owls") == {"r#0", "w#0"}
    assert _lexical_ids(reader, "nested tower") == {"w#0"}
    writer.delete_document("r")
    assert _lexical_ids(reader, "owls") == {"w#0"}


def test_a_new_process_starts_from_the_snapshot(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bm25_module, "SNAPSHOT_AFTER", 1)
    first = make_service("snap")
    first.ingest_documents(
        [DocumentIn(text=f"Report {i} on the lighthouse keeper.", id=f"d{i}") for i in range(5)]
    )
    assert len(_lexical_ids(first, "lighthouse")) == 5
    snapshot = Path(first.settings.data_dir) / "lexical-index.npz"
    assert snapshot.exists()
    loads = []
    real_load = BM25Index.load
    monkeypatch.setattr(BM25Index, "load", classmethod(lambda cls, p, c: loads.append(p) or real_load(p, c)))
    second = make_service("snap")
    first.delete_document("d0")  # written after the snapshot: the new process must catch up
    assert _lexical_ids(second, "lighthouse") == {f"d{i}#0" for i in range(1, 5)}
    assert loads == [snapshot]


def test_in_memory_and_fts5_rankings_agree(seeded: Factdesk) -> None:
    """The two lexical paths (unfiltered: in memory; filtered: FTS5) rank alike on the seed articles."""
    queries = [
        "suicide orders NIS",
        "how many North Korean soldiers were wounded",
        "Zelenskyy prisoner exchange",
        "Kursk region captured soldiers",
        "ballistic missiles ammunition Russia",
    ]
    every_doc = tuple(d.id for d in seeded.list_documents())
    from retrieval.search import Filters

    for q in queries:
        memory = [cid for cid, _ in seeded.searcher._lexical(q, 10, Filters())]
        fts5 = [cid for cid, _ in seeded.searcher._lexical(q, 10, Filters(document_ids=every_doc))]
        assert memory and fts5 and memory[0] == fts5[0], (q, memory, fts5)
        shorter = min(len(memory), len(fts5), 5)
        assert len(set(memory[:5]) & set(fts5[:5])) >= 0.6 * shorter, (q, memory, fts5)
        assert np.isfinite([s for _, s in seeded.searcher._lexical(q, 10, Filters())]).all()


def test_term_rows_are_the_catalogs(seeded: Factdesk) -> None:
    """The in-memory index counts a stem's chunks as the catalog's keyword index does (the wording
    check, answers/wording.py, reads either)."""
    terms = ["soldier", "kursk", "captur", "pyongyang", "nosuchstem"]
    memory = seeded.searcher.term_rows(terms)
    assert seeded.searcher.lexical_index is not None
    catalog_rows, catalog_total = seeded.catalog.term_rows(terms)
    assert memory == ({t: catalog_rows[t] for t in terms}, catalog_total)
    assert memory[0]["soldier"] > 0 and memory[0]["nosuchstem"] == 0


def test_stems_are_the_stemmed_content_words() -> None:
    """The re-ranker's sentence stems: stopwords, lone letters and punctuation dropped, suffixes
    stripped, each stem once; the same set as stemming query_terms one by one."""
    from retrieval.lexical import stem, stems

    text = "The soldiers were captured, and a captured soldier said: 'Strikes!' in 2024."
    assert stems(text) == frozenset({"soldier", "captur", "strike", "2024"})
    assert stems(text) == frozenset(stem(t) for t in query_terms(text))
    assert stems("the of and a") == frozenset()


def test_one_analyzer_for_filtered_and_unfiltered_search(seeded) -> None:  # type: ignore[no-untyped-def]
    """Snowball stems on both keyword paths: "capture" finds the chunks that say "captured", with or
    without a filter, and both paths return the same chunks for it."""
    from retrieval.lexical import analyze
    from retrieval.search import Filters

    assert analyze("Captured soldiers capture") == "captur soldier captur"
    doc_ids = tuple(d.id for d in seeded.list_documents())
    unfiltered = seeded.searcher._lexical("capture", 50, Filters())
    filtered = seeded.searcher._lexical("capture", 50, Filters(document_ids=doc_ids))
    assert unfiltered and {c for c, _ in unfiltered} == {c for c, _ in filtered}
    texts = {h.chunk_id: h.text for h in seeded.search("capture", top_k=50)}
    assert any("captured" in t.lower() for t in texts.values())


def test_a_catalog_indexed_with_the_old_stemmer_is_rebuilt(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A catalog from before the shared analyzer (FTS5's porter tokenizer over raw text) gets its
    keyword rows rebuilt as analyzed terms when opened."""
    import sqlite3

    from retrieval.catalog import Catalog

    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE chunks_fts")
    db.execute(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "INSERT INTO documents (id, title, text, content_hash, state, created_at) VALUES ('d', 't', 'Soldiers were captured.', 'h', 'committed', 0)"
    )
    db.execute(
        "INSERT INTO chunks (id, document_id, idx, start, \"end\", tokens) VALUES ('d:0', 'd', 0, 0, 23, 4)"
    )
    db.execute("INSERT INTO chunks_fts (rowid, text) SELECT rowid, 'Soldiers were captured.' FROM chunks")
    db.commit()
    db.close()
    catalog = Catalog(path)
    assert catalog._query("SELECT text FROM chunks_fts") == [("soldier captur",)]
    assert catalog.lexical_search('"captur"', 5)[0][0] == "d:0"
    catalog.close()
