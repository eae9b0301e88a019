"""What the question shapes that read beyond the retrieved sentences cost: "What did <name> say?"
(every sentence of a retrieved article attributed to them), "What did the <role> say?" (the holder
found, then a second search and read), "How old is <name>?" (ages read from whole articles), "What
does <acronym> stand for?", "Who said ...?", against every other question, on the attribution
sets' articles (evals/said, evals/sayabout, evals/updates, evals/attrib) and the seed articles
(evals/blind3.yaml, evals/blind4.yaml).

    python -m benchmarks.shapes --out FILE [--work DIR]
    python -m benchmarks.shapes --compare BEFORE.json AFTER.json

Per question: wall ms, the reader's calls and padded word pieces (the reader is almost all of an
ask's cost, and word pieces do not depend on the machine's load). Rows are written without shapes,
so an older checkout can be timed with this file copied into it; --compare sorts both runs' rows
into shapes with the current code, over the questions both asked.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the `factdesk` command sets it

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
E = ROOT / "evals"
SETS = [
    (E / "said" / "news.yaml", E / "news" / "articles"),
    (E / "said" / "wire.yaml", E / "wire" / "articles"),
    (E / "said" / "followups.yaml", E / "followups" / "articles"),
    (E / "sayabout" / "news.yaml", E / "news" / "articles"),
    (E / "sayabout" / "wire.yaml", E / "wire" / "articles"),
    (E / "sayabout" / "followups.yaml", E / "followups" / "articles"),
    (E / "updates" / "updates.yaml", E / "updates" / "articles"),
    (E / "attrib" / "attrib.yaml", E / "attrib" / "articles"),
    (E / "blind3.yaml", ROOT / "data" / "articles"),
    (E / "blind4.yaml", ROOT / "data" / "articles"),
]


def timed_rows(work: Path) -> list[dict]:
    """Every question of SETS asked once over its own articles, with what the ask cost."""
    import yaml

    from benchmarks.common import count_word_pieces
    from factdesk.service import Factdesk
    from factdesk.settings import isolated_settings

    rows: list[dict] = []
    for qfile, articles in SETS:
        if not qfile.exists():
            continue
        svc = Factdesk(isolated_settings(work / articles.parent.name, articles_dir=articles))
        svc.ingest_paths([articles])
        reader = svc.engine.reader  # type: ignore[attr-defined]
        pieces = count_word_pieces(reader)
        svc.engine.warm()
        svc.ask("What happened?")  # the graphs' first shapes
        for q in yaml.safe_load(qfile.read_text())["questions"]:
            reader.forget()
            pieces.clear()
            t0 = time.perf_counter()
            ans = svc.ask(q["question"], history=q.get("history") or [])
            ms = 1000 * (time.perf_counter() - t0)
            rows.append(
                {
                    "set": f"{qfile.parent.name}/{qfile.stem}",  # "evals/blind4" for the seed sets
                    "question": q["question"],
                    "history": q.get("history") or [],
                    "ms": round(ms, 1),
                    "reader_batches": len(pieces),
                    "word_pieces": sum(pieces),
                    "abstained": ans.abstained,
                }
            )
        svc.close()
    return rows


def shape(question: str) -> str:
    from answers.compose import statement_asked, who_said_asked
    from answers.definitions import acronyms_asked
    from answers.people import age_asked, role_asked, role_said_asked

    if role_said_asked(question) is not None:
        return "statement of a role"
    if age_asked(question) is not None:
        return "age"
    if role_asked(question) is not None:
        return "holder of a role"
    if (asked := statement_asked(question)) is not None:
        return "statement of a name, by verb" if asked.verb else "statement of a name"
    if acronyms_asked(question):
        return "acronym"
    if who_said_asked(question):
        return "who said"
    return "other"


def summary(rows: list[dict]) -> dict[str, dict]:
    from benchmarks.common import latency_summary

    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(shape(r["question"]), []).append(r)
    return {
        k: {
            "questions": len(v),
            "ask": latency_summary([r["ms"] for r in v]),
            "word_pieces_mean": round(sum(r["word_pieces"] for r in v) / len(v)),
            "reader_batches_mean": round(sum(r["reader_batches"] for r in v) / len(v), 2),
        }
        for k, v in sorted(by.items())
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--work", type=Path, default=None, help="data dirs (default: a temporary one)")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text())["rows"] for p in args.compare)
        both = {(r["set"], r["question"]) for r in before} & {(r["set"], r["question"]) for r in after}
        before, after = ([r for r in rows if (r["set"], r["question"]) in both] for rows in (before, after))
        print(json.dumps({"before": summary(before), "after": summary(after)}, indent=1))
        return 0
    if args.out is None:
        ap.error("--out FILE (or --compare BEFORE AFTER)")
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        rows = timed_rows(args.work or Path(tmp))
        out = {
            "cpu": os.cpu_count(),
            "load_avg": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "rows": rows,
        }
    args.out.write_text(json.dumps(out, indent=1))
    print(f"{len(rows)} questions; load {out['load_avg']}; {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
