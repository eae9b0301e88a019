"""Summaries of long documents: how `summarize()` grows with a document's length (BENCHMARKS.md,
"Summaries of long documents").

    python -m benchmarks.long_summaries [--sizes 50000,200000] [--one-paragraph] [--out FILE]

Each document is the written training articles (training/data/news) run together up to the size in
characters, as paragraphs (one a line), or with --one-paragraph as one line, as a report pasted
without its breaks; each is stored in a fresh data dir and summarised once (120 words), after one
warm-up summary of a short document. Seconds of each summary, and the sentences it weighed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import make_settings

NEWS = Path(__file__).resolve().parent.parent / "training" / "data" / "news"
SIZES = (50_000, 100_000, 200_000, 400_000, 1_000_000, 1_990_000)


def long_text(size: int, one_paragraph: bool) -> str:
    """The training articles' paragraphs, in file order, run together to `size` characters."""
    paragraphs: list[str] = []
    for f in sorted(NEWS.glob("h*.json"), key=lambda p: int(p.stem[1:])):
        for article in json.loads(f.read_text(encoding="utf-8"))["articles"]:
            paragraphs += [p.strip() for p in article["text"].split("\n") if p.strip()]
    out, n, i = [], 0, 0
    while n < size:
        p = paragraphs[i % len(paragraphs)]
        out.append(p)
        n += len(p) + 1
        i += 1
    return ("Long report\n\n" + (" " if one_paragraph else "\n").join(out))[:size]


def time_size(size: int, one_paragraph: bool) -> dict:
    from factdesk.service import Factdesk
    from retrieval.models import DocumentIn

    with tempfile.TemporaryDirectory() as tmp:
        svc = Factdesk(make_settings(Path(tmp) / "data"))
        try:
            svc.ingest_documents(
                [
                    DocumentIn(
                        text="Warm up\n\nThe ferry to Corran resumed on Tuesday, its operator said.", id="w"
                    ),
                    DocumentIn(text=long_text(size, one_paragraph), id="long"),
                ]
            )
            svc.summarize(document_ids=["w"], max_words=60)
            t0 = time.perf_counter()
            summary = svc.summarize(document_ids=["long"], max_words=120)
            seconds = time.perf_counter() - t0
            return {
                "chars": size,
                "chunks": svc.catalog.count()[1] - 1,
                "seconds": round(seconds, 2),
                "citations": len(summary.citations),
                "warnings": summary.warnings,
            }
        finally:
            svc.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", help="document sizes in characters, comma-separated")
    ap.add_argument("--one-paragraph", action="store_true", help="the document as one line")
    ap.add_argument("--out", type=Path, help="write the result as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    rows = []
    for size in sizes:
        rows.append(time_size(size, args.one_paragraph))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
