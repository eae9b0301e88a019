"""Tests for retrieval.search through the service: hybrid ranking, top_k, filters, offsets."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEED_IDS, MakeService

from factdesk.service import Factdesk
from retrieval.errors import InvalidInput, NotFound
from retrieval.lexical import prune_terms
from retrieval.models import DocumentIn

# --------------------------------------------------------------------------- #
# Over the seed articles
# --------------------------------------------------------------------------- #


def test_suicide_orders_top_hit(seeded: Factdesk) -> None:
    hits = seeded.search("suicide orders")
    assert hits
    top = hits[0].text.lower()
    assert "suicide" in top or "kill themselves" in top


def test_hits_are_exact_slices_of_the_documents(seeded: Factdesk) -> None:
    queries = ("suicide orders", "How many North Korean soldiers were killed?", "Zelenskyy video prisoners")
    for query in queries:
        for h in seeded.search(query, top_k=10):
            doc = seeded.get_document(h.document_id)
            assert h.text == doc.text[h.start : h.end]
            assert h.title == doc.title
            assert h.chunk_id.startswith(h.document_id + "#")
            assert set(h.public()) == {"chunk_id", "document_id", "title", "text", "start", "end", "score"}


def test_sentence_vectors_are_the_embedders_vectors_of_those_spans(seeded: Factdesk) -> None:
    """The engines take candidate vectors from the hits' sentences (in memory after the re-ranker):
    each must be the vector the embedder gives that exact span of the document."""
    hits = seeded.search("How many North Korean soldiers were captured?", top_k=5)
    found = seeded.searcher.sentence_vectors(hits)
    assert len(found) >= len(hits)
    texts = {h.document_id: h.document_text for h in hits}
    spans = sorted(found)
    assert all(any(h.start <= a < b <= h.end for h in hits if h.document_id == d) for d, a, b in spans)
    direct = seeded.embedder.embed([texts[d][a:b] for d, a, b in spans])
    assert np.allclose(np.stack([found[k] for k in spans]), direct, atol=1e-6)


def test_an_answer_reads_no_sentence_vectors_from_the_cache_file(seeded: Factdesk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The extractive engine's candidates are the hits' sentences, whose vectors search's re-ranker
    has in memory: asking reads none per sentence from the embedding cache file (the default engine)."""
    reads: list[int] = []
    real = seeded.embedder.cache.get_many

    def counted(keys):  # type: ignore[no-untyped-def]
        reads.append(len(keys))
        return real(keys)

    monkeypatch.setattr(seeded.embedder.cache, "get_many", counted)
    answer = seeded.ask("How many North Korean soldiers were captured?")
    assert answer.citations and not answer.abstained
    assert reads == []


def test_scores_are_ordered_and_ids_unique(seeded: Factdesk) -> None:
    hits = seeded.search("captured North Korean soldiers in Ukraine", top_k=10)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk_id for h in hits}) == len(hits)


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_top_k_is_respected(seeded: Factdesk, k: int) -> None:
    assert len(seeded.search("North Korean troops", top_k=k)) == k


def test_top_k_larger_than_the_corpus_returns_everything_once(seeded: Factdesk) -> None:
    total = seeded.catalog.count()[1]
    hits = seeded.search("North Korean troops in Kursk", top_k=50)
    assert 0 < len(hits) <= total
    assert len({h.chunk_id for h in hits}) == len(hits)


def test_default_top_k(seeded: Factdesk) -> None:
    assert len(seeded.search("soldiers")) == seeded.settings.default_top_k


def test_bad_top_k_and_query_are_rejected(seeded: Factdesk) -> None:
    for k in (0, -1, seeded.settings.max_top_k + 1):
        with pytest.raises(InvalidInput):
            seeded.search("soldiers", top_k=k)
    for q in ("", "   ", "x" * (seeded.settings.max_question_chars + 1)):
        with pytest.raises(InvalidInput):
            seeded.search(q)


def test_stopword_only_query_still_returns_dense_results(seeded: Factdesk) -> None:
    hits = seeded.search("what is the of and to", top_k=3)
    assert len(hits) == 3  # the lexical side has nothing to match; the dense side still answers


def test_punctuation_and_fts_syntax_do_not_crash(seeded: Factdesk) -> None:
    queries = (
        '"unbalanced quote',
        "NEAR(a b) OR AND NOT",
        "soldiers* -capture ^kim",
        "Kim Jong-un's „order“ 😀",
    )
    for q in queries:
        assert seeded.search(q, top_k=2)


def test_document_ids_filter(seeded: Factdesk) -> None:
    wanted = [SEED_IDS[1], SEED_IDS[3]]
    hits = seeded.search("suicide orders", top_k=10, filters=seeded.filters(document_ids=wanted))
    assert hits and {h.document_id for h in hits} <= set(wanted)
    (one,) = {
        h.document_id
        for h in seeded.search("soldiers", top_k=5, filters=seeded.filters(document_ids=[SEED_IDS[0]]))
    }
    assert one == SEED_IDS[0]


def test_empty_document_ids_returns_nothing(seeded: Factdesk) -> None:
    assert seeded.search("suicide orders", filters=seeded.filters(document_ids=[])) == []


def test_unknown_document_id_is_not_found(seeded: Factdesk) -> None:
    """A typo'd id is said as summarize says it, not answered from an empty selection."""
    with pytest.raises(NotFound, match="no document with id 'no-such-doc'"):
        seeded.filters(document_ids=[SEED_IDS[0], "no-such-doc"])


def test_invalid_filter_values_are_rejected(seeded: Factdesk) -> None:
    with pytest.raises(InvalidInput):
        seeded.filters(document_ids=["../../etc/passwd"])
    with pytest.raises(InvalidInput):
        seeded.filters(published_after="last tuesday")


# --------------------------------------------------------------------------- #
# Source and date filters (two small documents of our own)
# --------------------------------------------------------------------------- #


@pytest.fixture
def dated(make_service: MakeService) -> Factdesk:
    svc = make_service()
    results = svc.ingest_documents(
        [
            DocumentIn(
                id="december",
                source="wire-a",
                published_at="2024-12-01T09:00:00Z",
                text="Ferry services across the lagoon were suspended after the storm damaged the pier.",
            ),
            DocumentIn(
                id="january",
                source="wire-b",
                published_at="2025-01-15",
                text="Ferry services across the lagoon resumed once engineers repaired the pier.",
            ),
            DocumentIn(id="undated", text="Ferry services across the lagoon are popular with tourists."),
        ]
    )
    assert [r.status for r in results] == ["created"] * 3
    return svc


def _ids(svc: Factdesk, **filters: object) -> set[str]:
    hits = svc.search("ferry lagoon pier", top_k=10, filters=svc.filters(**filters))  # type: ignore[arg-type]
    return {h.document_id for h in hits}


def test_no_filter_sees_all(dated: Factdesk) -> None:
    assert _ids(dated) == {"december", "january", "undated"}


def test_source_filter(dated: Factdesk) -> None:
    assert _ids(dated, sources=["wire-a"]) == {"december"}
    assert _ids(dated, sources=["wire-a", "wire-b"]) == {"december", "january"}
    assert _ids(dated, sources=["nobody"]) == set()


def test_published_filters(dated: Factdesk) -> None:
    assert _ids(dated, published_after="2025-01-01") == {"january"}
    assert _ids(dated, published_before="2025-01-01") == {"december"}
    assert _ids(dated, published_after="2024-11-01", published_before="2025-02-01") == {"december", "january"}
    assert _ids(dated, published_after="2025-02-01") == set()
    # bounds are inclusive, and a date without a zone is UTC
    assert _ids(dated, published_after="2025-01-15") == {"january"}
    assert _ids(dated, published_before="2024-12-01T09:00:00+00:00") == {"december"}
    # a date alone as the end takes in that whole day; an end before the start selects nothing
    assert _ids(dated, published_after="2024-12-01", published_before="2024-12-01") == {"december"}
    assert _ids(dated, published_before="2024-12-01T08:59:59+00:00") == set()
    assert _ids(dated, published_after="2025-01-02", published_before="2025-01-01") == set()


def test_filters_combine(dated: Factdesk) -> None:
    assert _ids(dated, document_ids=["december", "january"], sources=["wire-b"]) == {"january"}
    assert _ids(dated, document_ids=["december"], published_after="2025-01-01") == set()


def test_filters_apply_to_both_sides(dated: Factdesk) -> None:
    # a query the lexical side matches in every document: the filter must hold there too
    hits = dated.search("lagoon", top_k=10, filters=dated.filters(sources=["wire-b"]))
    assert {h.document_id for h in hits} == {"january"}
    assert all(h.lexical_rank is not None or h.dense_rank is not None for h in hits)


def test_prune_terms_keeps_rare_terms_within_the_budget() -> None:
    rows = {"zelenskyy": 120, "predict": 0, "soldiers": 660, "north": 290, "numbers": 76}
    terms = ["zelenskyy", "predict", "soldiers", "north", "numbers"]
    # no budget pressure: only the zero-weight terms go (no row has "predict"; "soldiers" is in most rows)
    assert prune_terms(terms, rows, total=1000, budget=10**9) == ["zelenskyy", "north", "numbers"]
    # rarest first while the postings fit, in query order
    assert prune_terms(terms, rows, total=1000, budget=200) == ["zelenskyy", "numbers"]
    # the rarest matching term survives any budget, and a query of common words keeps its rarest
    assert prune_terms(terms, rows, total=1000, budget=1) == ["numbers"]
    assert prune_terms(["soldiers"], rows, total=1000) == ["soldiers"]
    assert prune_terms(["predict"], rows, total=1000) == []
