"""Embedding backends and the content-hash cache.

The `openai:<model>` backend runs against the scripted OpenAI-compatible server that these tests
start (tests/scripted_openai.py), not a real endpoint: no model can be reached from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES
from scripted_openai import ScriptedOpenAI, status

from retrieval.embed import SMALL_CALL, CachedEmbedder, EmbeddingCache, LocalEmbedder, build_embedder
from retrieval.errors import EmbedderError

TEXTS = [
    "North Korean soldiers were captured in Kursk.",
    "The Kremlin declined to comment.",
    "Seoul's spy agency briefed lawmakers on Monday.",
]


class CountingEmbedder:
    name = "test:counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_cache_skips_text_it_has_seen(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    emb = CachedEmbedder(inner, EmbeddingCache(tmp_path / "e.sqlite"))
    first = emb.embed(TEXTS)
    again = emb.embed([TEXTS[1], TEXTS[0], "new text"])
    assert inner.calls == [sorted(TEXTS, key=lambda t: EmbeddingCache.key(inner.name, t)), ["new text"]]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])
    assert (emb.hits, emb.misses) == (2, 4)


def test_chunk_sentences_one_row_a_chunk(tmp_path: Path) -> None:
    """Search's re-ranker reads a chunk's sentence spans and vectors in one row; a chunk without a
    row (stored before the table existed) is filled from the sentence vectors on first use."""
    from retrieval.sentences import sentence_texts

    text = "Title line\n" + " ".join(TEXTS) + " Rep. Lee spoke. It ended."
    chunks = [(text, 0, len(text)), (text, 11, 11 + len(TEXTS[0]))]
    inner = CountingEmbedder()
    emb = CachedEmbedder(inner, EmbeddingCache(tmp_path / "e.sqlite"))
    first = emb.chunk_sentences(chunks)
    for (doc, start, end), (pairs, vecs) in zip(chunks, first):
        # the spans are the sentences ingest embeds, relative to the chunk; each vector is that sentence's
        assert [doc[start + a : start + b] for a, b in pairs] == sentence_texts(doc, start, end)
        assert np.array_equal(vecs, emb.embed(sentence_texts(doc, start, end)))
    calls = len(inner.calls)
    again = emb.chunk_sentences(list(reversed(chunks)))
    assert len(inner.calls) == calls  # one row a chunk: no model, no per-sentence lookups
    assert np.array_equal(again[1][1], first[0][1]) and np.array_equal(again[0][0], first[1][0])
    emb.cache.close()
    reopened = CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path / "e.sqlite"))
    assert np.array_equal(reopened.chunk_sentences(chunks[:1])[0][1], first[0][1])
    assert reopened.inner.calls == []  # type: ignore[attr-defined]


def test_cache_survives_a_reopen_and_is_keyed_by_vector_space(tmp_path: Path) -> None:
    emb = CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path / "e.sqlite"))
    emb.embed(TEXTS)
    emb.cache.close()
    reopened = CachedEmbedder(CountingEmbedder(), EmbeddingCache(tmp_path / "e.sqlite"))
    reopened.embed(TEXTS)
    assert reopened.inner.calls == []  # type: ignore[attr-defined]
    other = CountingEmbedder()
    other.name = "test:another-space"
    CachedEmbedder(other, EmbeddingCache(tmp_path / "e.sqlite")).embed(TEXTS)
    assert len(other.calls) == 1  # another model's vectors are never reused


BULK = [f"{t} (part {i})" for i in range(4) for t in TEXTS]  # more than SMALL_CALL: the bulk path


@pytest.mark.parametrize("bulk_encoder", ["openvino", "torch"])
def test_local_bf16_matches_fp32(warm_model: None, bulk_encoder: str) -> None:
    """bf16 is the default for speed; it must give the fp32 vectors to cosine >= 0.999."""
    assert len(BULK) > SMALL_CALL
    fast = LocalEmbedder(precision="bf16", bulk_encoder=bulk_encoder).embed(BULK)
    exact = LocalEmbedder(precision="fp32", bulk_encoder=bulk_encoder).embed(BULK)
    assert fast.shape == (len(BULK), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float((fast * exact).sum(axis=1).min()) >= 0.999


def test_query_path_and_bulk_path_agree(warm_model: None) -> None:
    """Questions go one at a time, ingest in padded batches, to the same OpenVINO graph (one compiled
    model); the fp32 query encoders (ONNX runtime, numpy) give the same vector space. Whichever path a
    text took, its vector is the same to cosine >= 0.9999."""
    embedder = LocalEmbedder()
    assert embedder._query_model() is embedder._bulk_model()
    one_by_one = np.stack([embedder.embed([t])[0] for t in BULK])  # OpenVINO, bf16, a text a call
    bulk = embedder.embed(BULK)  # OpenVINO, bf16, batched
    assert float((one_by_one * bulk).sum(axis=1).min()) >= 0.9999
    exact = LocalEmbedder(precision="fp32").embed(BULK)
    assert float((one_by_one * exact).sum(axis=1).min()) >= 0.9999
    for encoder in ("onnx", "numpy"):
        fp32 = LocalEmbedder(query_encoder=encoder)
        assert fp32._query_model() is not fp32._bulk_model()
        one = np.stack([fp32.embed([t])[0] for t in BULK])
        assert float((one * exact).sum(axis=1).min()) >= 0.99999, encoder


def test_unknown_embedder_spec_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="local"):
        build_embedder("word2vec", cache_path=tmp_path / "e.sqlite")
    with pytest.raises(EmbedderError, match="FACTDESK_BULK_ENCODER"):
        build_embedder("local", cache_path=tmp_path / "e.sqlite", bulk_encoder="tensorflow")


def test_openai_embedder_ingests_searches_and_caches(make_service) -> None:  # type: ignore[no-untyped-def]
    """FACTDESK_EMBEDDER=openai:<model> through the real `openai` client against the scripted server."""
    with ScriptedOpenAI() as srv:
        svc = make_service(
            "openai-embed",
            embedder="openai:test-embedding",
            openai_base_url=srv.base_url,
            openai_api_key="test-key",
        )
        results = svc.ingest_paths([ARTICLES])
        assert [r.status for r in results] == ["created"] * 5
        assert svc.embedder.name == "openai:test-embedding"
        assert "openai-test-embedding" in svc.vectors.name  # its own collection: no mixed dimensions
        calls = len(srv.embedding_requests)
        assert calls > 0 and all(r.json["model"] == "test-embedding" for r in srv.embedding_requests)
        hits = svc.search("suicide orders", top_k=3)
        assert hits and all(svc.get_document(h.document_id).text[h.start : h.end] == h.text for h in hits)
        again = svc.ingest_paths([ARTICLES])
        assert [r.status for r in again] == ["unchanged"] * 5
        svc.search("suicide orders", top_k=3)  # the query vector is cached too
        assert len(srv.embedding_requests) == calls + 1  # only the first search's query was embedded


def test_an_embedding_endpoint_that_fails_keeps_the_service_unready(make_service) -> None:  # type: ignore[no-untyped-def]
    """A remote embedder has no model to load: it is asked once at start, and while it fails /readyz
    says so (a load balancer must not send searches there); it is asked again, and then ready."""
    with ScriptedOpenAI() as srv:
        srv.queue_embeddings(*[status(503)] * 3)  # the first call and the client's two retries
        svc = make_service(
            "embed-down", embedder="openai:test-embedding", openai_base_url=srv.base_url, openai_api_key="k"
        )
        svc.embedder.load()
        problems, _ = svc.readiness()
        assert any("embedding endpoint failed" in p for p in problems), problems
        assert svc.embedder.inner.problem(retry_after_s=0) is None  # asked again: it answers now
        assert not any("embedding" in p for p in svc.readiness()[0])


def test_local_model_questions_are_not_written_to_the_embedding_cache(seeded) -> None:  # type: ignore[no-untyped-def]
    """The local model embeds a question faster than the cache file's lookup and write cost a search
    (CachedEmbedder.embed_query); the searcher keeps recent questions in memory instead."""
    question = "Which quasarfish did the spy agency count this week?"
    hits = seeded.search(question, top_k=3)
    assert hits
    assert seeded.embedder.cache.get_many([EmbeddingCache.key(seeded.embedder.name, question)]) == {}
    vector = seeded.searcher.embed_query(question)
    assert float(vector @ seeded.embedder.inner.embed([question])[0]) > 0.99999
