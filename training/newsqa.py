"""News-style QA written for training (training/data/news/) as SQuAD 2.0 JSON (pure, plus a CLI).

    python -m training.newsqa training/data/news/h1.json ... --out news-train.json
    python -m training.newsqa training/data/news/h5.json --articles 0:5 --out news-val.json

The files hold whole articles, each with questions in the writers' words: answerable ones list the
exact substrings that answer (one per part of a multi-part question), unanswerable ones the substring
a careless reader would cite. SQuAD's paragraphs become the article (one context), so every other
sentence of the article is an on-topic negative, as in a news search's pool. The title is the
article's headline, as the reader sees a title at serve time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.squad import save, unique_span


def _span(text: str, part: str, where: str) -> dict:
    span = unique_span(text, part) if len(part) >= 2 else None
    if span is None:
        raise ValueError(f"{where}: {part!r} must occur exactly once in its article")
    return span


def to_squad(articles: list[dict], prefix: str) -> list[dict]:
    """SQuAD 2.0 articles; a span that is missing or not unique is an error, not a guess."""
    out = []
    for i, art in enumerate(articles):
        text, qas = art["text"], []
        for j, q in enumerate(art["questions"]):
            where = f"{prefix} article {i} question {j}"
            qa: dict = {"id": f"{prefix}-{i}-{j}", "question": q["q"]}
            if q.get("unanswerable"):
                qa |= {
                    "is_impossible": True,
                    "answers": [],
                    "plausible_answers": [_span(text, q["plausible"], where)],
                }
            else:
                if not q.get("answers"):
                    raise ValueError(f"{where}: no answers")
                qa |= {"is_impossible": False, "answers": [_span(text, a, where) for a in q["answers"]]}
            qas.append(qa)
        # group: the file's events, so that no other report of one event counts as another story
        out.append({"title": art["title"], "group": prefix, "paragraphs": [{"context": text, "qas": qas}]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--articles", default=":", help="a slice A:B of each file's articles (default: all)")
    args = ap.parse_args(argv)
    lo, _, hi = args.articles.partition(":")
    part = slice(int(lo) if lo else None, int(hi) if hi else None)
    data = []
    for path in args.files:
        articles = json.loads(path.read_text(encoding="utf-8"))["articles"]
        data += to_squad(articles[part], path.stem)
    print(save(args.out, data, "news"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
