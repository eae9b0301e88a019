"""Key-fact coverage of summaries of written news (evals/summaries_news.yaml).

    python -m evals.summary_facts [--set evals/summaries_news.yaml] [--files h6,h7] [--json OUT]

Each entry names a file of training/data/news, the indexes of one event's articles in it, an optional
query and a word budget. Every file's articles are ingested into a fresh data dir of their own; each
entry is summarised over its event's articles, and scores the share of its key-fact groups found in
the summary (evals.metrics.fact_recall). h6-h11 entries are for tuning, h12-h17 held out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from evals import metrics as m

if TYPE_CHECKING:  # the service is imported when a file is scored, not by importing this module
    from factdesk.service import Factdesk

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = ROOT / "evals" / "summaries_news.yaml"
NEWS = ROOT / "training" / "data" / "news"


def entries_by_file(
    path: Path, files: str | None = None, focused_only: bool = False
) -> dict[str, list[dict]]:
    """The set's entries grouped by their news file (only `files`, comma-separated, when given)."""
    wanted = set(files.split(",")) if files else None
    by_file: dict[str, list[dict]] = {}
    for e in yaml.safe_load(path.read_text(encoding="utf-8"))["summaries"]:
        if (wanted is None or e["file"] in wanted) and ("query" in e or not focused_only):
            by_file.setdefault(e["file"], []).append(e)
    return by_file


@contextmanager
def file_service(name: str) -> Iterator[Factdesk]:
    """A service over a fresh data dir holding the news file's articles, as `<name>-<index>`."""
    from factdesk.service import Factdesk
    from factdesk.settings import isolated_settings
    from retrieval.models import DocumentIn

    articles = json.loads((NEWS / f"{name}.json").read_text(encoding="utf-8"))["articles"]
    with tempfile.TemporaryDirectory() as tmp:
        svc = Factdesk(isolated_settings(Path(tmp)))
        try:
            svc.ingest_documents(
                [
                    DocumentIn(text=a["text"], title=a["title"], id=f"{name}-{i}")
                    for i, a in enumerate(articles)
                ]
            )
            yield svc
        finally:
            svc.close()


def score_file(name: str, entries: list[dict]) -> list[dict]:
    """Summaries of `entries` (all of one file) over a fresh data dir holding that file's articles."""
    rows = []
    with file_service(name) as svc:
        for e in entries:
            ids = [f"{name}-{i}" for i in e["articles"]]
            t0 = time.perf_counter()
            summary = svc.summarize(document_ids=ids, query=e.get("query"), max_words=e["max_words"])
            seconds = time.perf_counter() - t0
            coverage, missed = m.fact_recall(summary.summary, e["key_facts"])
            rows.append(
                {
                    "id": e["id"],
                    "focused": "query" in e,
                    "coverage": coverage,
                    "missed": missed,
                    "within_max_words": len(summary.summary.split()) <= e["max_words"],
                    "summary": summary.summary,
                    "seconds": seconds,
                }
            )
    return rows


def aggregate(rows: list[dict]) -> dict[str, float]:
    def mean(xs: list[float]) -> float:
        return round(m.mean(xs), 4) if xs else 0.0

    return {
        "entries": len(rows),
        "coverage": mean([r["coverage"] for r in rows]),
        "coverage_focused": mean([r["coverage"] for r in rows if r["focused"]]),
        "coverage_unfocused": mean([r["coverage"] for r in rows if not r["focused"]]),
        "within_max_words": mean([float(r["within_max_words"]) for r in rows]),
        "seconds_p50_focused": round(m.percentile([r["seconds"] for r in rows if r["focused"]], 50), 4),
        "seconds_p50_unfocused": round(m.percentile([r["seconds"] for r in rows if not r["focused"]], 50), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--files", help="only these files, comma-separated (e.g. h6,h7)")
    ap.add_argument("--json", type=Path, help="write the rows and the aggregate here")
    args = ap.parse_args(argv)
    by_file = entries_by_file(args.set, args.files)
    rows = [r for name, es in by_file.items() for r in score_file(name, es)]
    result = aggregate(rows)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"aggregate": result, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
