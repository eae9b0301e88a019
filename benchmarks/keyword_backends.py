"""Keyword ranking with each catalog backend, on the eval sets: hit@k of the filtered keyword path
(the one each backend computes itself: FTS5's bm25() in SQLite; in PostgreSQL the same BM25 from the
tsvector's positions, or PostgreSQL's own ts_rank / ts_rank_cd for comparison), of the in-memory BM25
(the unfiltered path, one code for both), and of the full hybrid search over each backend.

    python -m benchmarks.keyword_backends --database-url postgresql://postgres@127.0.0.1:5432/db

The database should be empty (the seed articles are ingested into it and into a SQLite data dir).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from evals import metrics as m
from factdesk.service import Factdesk
from factdesk.settings import PROJECT_ROOT, isolated_settings
from retrieval.lexical import query_terms, stem

EVAL_SETS = ("questions.yaml", "heldout.yaml", "heldout2.yaml", "blind3.yaml")
K = 5

Ranker = Callable[[str], list[m.Span]]


def _terms(question: str) -> list[str]:
    return list(dict.fromkeys(stem(t) for t in query_terms(question)))


def _spans(svc: Factdesk, keys: list[str]) -> list[m.Span]:
    visible = svc.catalog.visible_chunks(keys)
    return [m.Span(visible[k][1], visible[k][2], visible[k][3]) for k in keys if k in visible]


def catalog_keyword(svc: Factdesk) -> Ranker:
    """The backend's own filtered keyword search, filtered to every document (so it answers)."""
    ids = [d.id for d in svc.list_documents()]
    mark = svc.catalog.param_mark
    where = f"AND d.id IN ({','.join([mark] * len(ids))})"

    def rank(question: str) -> list[m.Span]:
        rows = svc.catalog.keyword_search(_terms(question), K, where, ids)
        return [m.Span(r[1], r[2], r[3]) for r in rows]

    return rank


def postgres_ts_rank(svc: Factdesk, function: str) -> Ranker:
    """PostgreSQL's own ranking (ts_rank or ts_rank_cd) over the same tsvector column."""
    from retrieval.catalog_postgres import tsquery_any

    def rank(question: str) -> list[m.Span]:
        terms = _terms(question)
        if not terms:
            return []
        rows = svc.catalog._query(  # type: ignore[union-attr]
            f'SELECT c.document_id, c.start, c."end" FROM chunks c, CAST(%s AS tsquery) q '
            f"WHERE c.terms @@ q ORDER BY {function}(c.terms, q) DESC, c.id LIMIT %s",
            [tsquery_any(terms), K],
        )
        return [m.Span(r[0], r[1], r[2]) for r in rows]

    return rank


def in_memory_bm25(svc: Factdesk) -> Ranker:
    def rank(question: str) -> list[m.Span]:
        assert svc.searcher.lexical_index is not None
        keys = [k for k, _ in svc.searcher.lexical_index.search(query_terms(question), K)]
        return _spans(svc, keys)

    return rank


def hybrid(svc: Factdesk) -> Ranker:
    def rank(question: str) -> list[m.Span]:
        return [m.Span(h.document_id, h.start, h.end) for h in svc.search(question, top_k=K)]

    return rank


def evaluate(rank: Ranker, questions: list[dict], texts: dict[str, str]) -> dict[str, float]:
    rows = []
    for q in questions:
        if not q.get("answerable", True) or not q.get("evidence"):
            continue
        rows.append(m.retrieval_metrics(rank(q["question"]), m.evidence_spans(q["evidence"], texts)))
    out = {k: round(m.mean([r[k] for r in rows]), 3) for k in ("hit@1", "hit@3", "hit@5", "mrr")}
    out["questions"] = len(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Factdesk(isolated_settings(Path(tmp) / "sqlite"))
        postgres = Factdesk(isolated_settings(Path(tmp) / "postgres", database_url=args.database_url))
        articles = PROJECT_ROOT / "data" / "articles"
        for svc in (sqlite, postgres):
            svc.ingest_paths([articles])
        texts = {d.id: d.text for d in sqlite.list_documents()}
        rankers = {
            "sqlite: FTS5 bm25 (filtered path)": catalog_keyword(sqlite),
            "postgres: BM25 from tsvector (filtered path)": catalog_keyword(postgres),
            "postgres: ts_rank": postgres_ts_rank(postgres, "ts_rank"),
            "postgres: ts_rank_cd": postgres_ts_rank(postgres, "ts_rank_cd"),
            "sqlite: in-memory BM25 (unfiltered path)": in_memory_bm25(sqlite),
            "postgres: in-memory BM25 (unfiltered path)": in_memory_bm25(postgres),
            "sqlite: hybrid search": hybrid(sqlite),
            "postgres: hybrid search": hybrid(postgres),
        }
        report: dict[str, dict[str, dict[str, float]]] = {}
        for name in EVAL_SETS:
            questions = yaml.safe_load((PROJECT_ROOT / "evals" / name).read_text(encoding="utf-8"))[
                "questions"
            ]
            report[name] = {label: evaluate(rank, questions, texts) for label, rank in rankers.items()}
        print(json.dumps(report, indent=2))
        for svc in (sqlite, postgres):
            svc.close()


if __name__ == "__main__":
    main()
