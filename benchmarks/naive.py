"""A naive pipeline side by side with factdesk: ingest speed and evidence hit@5 on evals/questions.yaml.

Naive: the raw file text (no cleaning), cut into consecutive 1000-character windows, embedded with
sentence-transformers fp32 (default batch 32, default threads), upserted to a dense-only Chroma
collection; a query is embedded the same way and the top 5 windows are the hits.
factdesk: `Factdesk.search(query, top_k=5)` over the seeds ingested with `ingest_documents`.
Both are scored by evals.metrics (evidence_spans located in each pipeline's own text, then
retrieval_metrics), on the answerable questions, with the same query string (follow-ups rewritten
by answers.rewrite, as `factdesk eval` does).

This section also leaves `<work>/seeds-data` (the five seeds ingested) for the cold-start section.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.common import Timer, loadavg, make_settings, questions, run_section
from benchmarks.corpus import fixed_chunk_set, seed_documents

if TYPE_CHECKING:
    from chromadb.api.types import Metadata

WINDOW = 1000


def windows(text: str, size: int = WINDOW) -> list[tuple[int, int]]:
    return [(i, min(i + size, len(text))) for i in range(0, len(text), size) if text[i : i + size].strip()]


class NaivePipeline:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        from benchmarks.embedders import sentence_transformer

        self.model = sentence_transformer()
        self.client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.col = self.client.get_or_create_collection(
            "naive", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
        )

    def ingest(self, docs: list[tuple[str, str]]) -> int:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[Metadata] = []
        for doc_id, text in docs:
            for k, (s, e) in enumerate(windows(text)):
                ids.append(f"{doc_id}#{k}")
                texts.append(text[s:e])
                metas.append({"document_id": doc_id, "start": s, "end": e})
        vecs = self.embed(texts)
        for i in range(0, len(ids), 1000):
            self.col.upsert(
                ids=ids[i : i + 1000],
                embeddings=vecs[i : i + 1000],
                metadatas=metas[i : i + 1000],
            )
        return len(ids)

    def search(self, query: str, k: int = 5) -> list[dict]:
        res = self.col.query(query_embeddings=[self.embed([query])[0]], n_results=k, include=["metadatas"])
        return [dict(m) for m in (res["metadatas"] or [[]])[0]]


def body(args: argparse.Namespace) -> dict:
    from answers.rewrite import rewrite_follow_up
    from evals import metrics as m
    from factdesk.service import Factdesk

    n = int(args.params.get("chunks", 64 if args.quick else 256))
    docs, _ = fixed_chunk_set(n)
    out: dict = {"window_chars": WINDOW}

    # ingest speed, the same articles as the ingest section
    path = args.work / "naive-chroma"
    shutil.rmtree(path, ignore_errors=True)
    naive = NaivePipeline(path)
    naive.embed(["warm-up"])
    with Timer() as t:
        n_chunks = naive.ingest([(d.id or f"d{i}", d.text) for i, d in enumerate(docs)])
    chars = sum(len(d.text) for d in docs)
    out["ingest"] = {
        "documents": len(docs),
        "chunks": n_chunks,
        "characters": chars,
        "wall_s": round(t.wall, 2),
        "chunks_per_s": round(n_chunks / t.wall, 2),
        "docs_per_s": round(len(docs) / t.wall, 2),
        "kchars_per_s": round(chars / t.wall / 1000, 2),
        "load_avg": [t.load_before, t.load_after],
    }

    # retrieval quality on the seeds
    seeds = seed_documents()
    shutil.rmtree(args.work / "naive-seeds", ignore_errors=True)
    naive_q = NaivePipeline(args.work / "naive-seeds")
    naive_q.ingest([(d.id or "", d.text) for d in seeds])
    raw_texts = {d.id or "": d.text for d in seeds}

    data = args.work / "seeds-data"
    shutil.rmtree(data, ignore_errors=True)
    svc = Factdesk(make_settings(data))
    t0 = time.perf_counter()
    svc.ingest_documents(seeds)
    out["factdesk_seed_ingest_seconds"] = round(time.perf_counter() - t0, 2)
    clean_texts = {d.id: d.text for d in svc.list_documents()}

    import torch

    torch.set_num_threads(1)  # quality does not depend on it; one thread is far faster on a shared box
    rows: dict[str, list[dict]] = {"naive": [], "factdesk": []}
    missing = {"naive": 0, "factdesk": 0}
    for q in questions(include_unanswerable=False):
        query = rewrite_follow_up(q["question"], q.get("history") or [])
        gold_naive = m.evidence_spans(q.get("evidence", []), raw_texts)
        gold_fd = m.evidence_spans(q.get("evidence", []), clean_texts)
        missing["naive"] += sum(g is None for g in gold_naive)
        missing["factdesk"] += sum(g is None for g in gold_fd)
        hits_naive = [m.Span(h["document_id"], h["start"], h["end"]) for h in naive_q.search(query)]
        hits_fd = [m.Span(h.document_id, h.start, h.end) for h in svc.search(query, top_k=5)]
        rows["naive"].append(m.retrieval_metrics(hits_naive, gold_naive))
        rows["factdesk"].append(m.retrieval_metrics(hits_fd, gold_fd))
    for name, rs in rows.items():
        out[name] = {
            k: round(m.mean([r[k] for r in rs]), 4) for k in ("hit@1", "hit@5", "mrr", "evidence_recall")
        }
        out[name]["gold_quotes_not_found"] = missing[name]
    out["questions"] = len(rows["naive"])
    out["naive_chunks_on_seeds"] = naive_q.col.count()
    out["factdesk_chunks_on_seeds"] = svc.catalog.count()[1]
    svc.close()
    out["seeds_data_dir"] = str(data)
    out["load_avg_end"] = loadavg()
    return out


if __name__ == "__main__":
    run_section("naive", body)
