"""A reader's quality on a question set without its threshold: does it rank gold evidence first, and
does its best probability separate answerable questions from unanswerable ones?

`factdesk eval` scores answers, which mixes the model's ranking with its calibrated threshold; a
threshold chosen on SQuAD can hide a ranking that improved (or flatter one that did not). This reads
exactly the reader engine's candidates for each question (the same retrieval, sentence pool and
context) and reports, threshold-free:
- gold@1 / gold@3: among answerable questions whose evidence reached the pool, how often a top
  sentence overlaps gold evidence; beside them, the same for the pool's own order (search's
  sentence scores), the baseline a reader has to beat;
- AUC: the chance that an answerable question's best probability beats an unanswerable one's
  (0.5: abstention by threshold cannot work on this set, whatever the threshold).

    python -m evals.reader_check [--weights DIR] [--out FILE] SET.yaml [SET.yaml ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from evals import metrics as m


@dataclass(frozen=True)
class Row:
    """One question: the reader's best probability, and where gold evidence ranked in the pool."""

    id: str
    answerable: bool
    best: float  # highest probability in the pool (0 when the pool is empty)
    gold_rank: int | None  # 1-based rank of the best-ranked gold sentence; None: no gold in the pool
    gold_probability: float | None
    retrieval_gold_rank: int | None = None  # the same rank in the pool's own (search) order


def rank_row(qid: str, answerable: bool, probabilities: Sequence[float], is_gold: Sequence[bool]) -> Row:
    """Pure: one question's row from its candidates' probabilities and gold flags, both in the pool's
    order (best search score first)."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p, kind="stable")
    ranks = [r + 1 for r, i in enumerate(order) if is_gold[i]]
    in_pool_order = [i + 1 for i, g in enumerate(is_gold) if g]
    gold_p = [float(p[i]) for i in range(len(p)) if is_gold[i]]
    return Row(
        qid,
        answerable,
        float(p.max(initial=0.0)),
        ranks[0] if ranks else None,
        max(gold_p) if gold_p else None,
        in_pool_order[0] if in_pool_order else None,
    )


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Pure: P(a positive scores above a negative), ties count half; None without both kinds."""
    if not positives or not negatives:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in positives for b in negatives)
    return wins / (len(positives) * len(negatives))


def summarize(rows: Sequence[Row]) -> dict:
    """Pure: the set's threshold-free figures."""
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    pool = [r for r in ans if r.gold_rank is not None]

    def median(xs: list[float]) -> float | None:
        return round(statistics.median(xs), 3) if xs else None

    a = auc([r.best for r in ans], [r.best for r in una])
    return {
        "answerable": len(ans),
        "unanswerable": len(una),
        "gold_in_pool": len(pool),
        "gold@1": sum(r.gold_rank == 1 for r in pool),
        "gold@3": sum(r.gold_rank is not None and r.gold_rank <= 3 for r in pool),
        "retrieval_gold@1": sum(r.retrieval_gold_rank == 1 for r in pool),
        "retrieval_gold@3": sum(
            r.retrieval_gold_rank is not None and r.retrieval_gold_rank <= 3 for r in pool
        ),
        "auc_best": None if a is None else round(a, 3),
        "median_best_answerable": median([r.best for r in ans]),
        "median_best_unanswerable": median([r.best for r in una]),
        "median_gold_probability": median(
            [r.gold_probability for r in pool if r.gold_probability is not None]
        ),
    }


def check_set(engine, questions: list[dict]) -> list[Row]:  # type: ignore[no-untyped-def]
    """Each question through a ReaderEngine's own retrieval and candidates (`ReaderEngine.read`)."""
    svc = engine.service
    texts = {d.id: d.text for d in svc.list_documents()}
    rows = []
    for q in questions:
        gold = [g for g in m.evidence_spans(q.get("evidence", []), texts) if g]
        _, query, hits = engine.retrieve(
            q["question"], svc.settings.default_top_k, None, q.get("history") or []
        )
        cands = engine.read(query, hits)
        is_gold = [
            any(g.document_id == c.document_id and min(g.end, c.end) > max(g.start, c.start) for g in gold)
            for c in cands
        ]
        rows.append(
            rank_row(str(q["id"]), bool(q.get("answerable", True)), [c.probability for c in cands], is_gold)
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+", type=Path, help="question sets (evals/*.yaml)")
    ap.add_argument("--weights", type=Path, default=None, help="reader weights (default: the shipped ones)")
    ap.add_argument("--out", type=Path, default=None, help="write every row and summary as JSON here")
    args = ap.parse_args(argv)

    from answers.engine import ReaderEngine
    from answers.reader import Reader
    from evals.run import eval_service, load_questions
    from factdesk.settings import load_settings

    settings = load_settings()
    svc = eval_service(settings)
    reader = Reader(weights_dir=args.weights, threads=settings.torch_threads, cache_dir=svc.model_cache_dir)
    engine = ReaderEngine(svc, svc.prompts, reader=reader)
    report = {}
    for path in args.sets:
        rows = check_set(engine, load_questions(path))
        summary = summarize(rows)
        report[str(path)] = {"summary": summary, "rows": [asdict(r) for r in rows]}
        print(path, json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
