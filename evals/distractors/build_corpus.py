"""Build a corpus of distractor articles around a question set's own articles.

    python evals/distractors/build_corpus.py OUT_DIR --squad ../shared/data/squad2/squad2-dev-half.json \
        [--with evals/wire/articles ...]

OUT_DIR gets every training news article (training/data/news, except the files that hold evaluation
or threshold articles), every paragraph of the SQuAD file as an article of its own, and a copy of each
--with folder's articles. A set's questions asked over OUT_DIR measure what a corpus of other stories
does to its answers: retrieval must find the story among hundreds on neighbouring topics, and the
reader must decline a sentence from the wrong story (docs/evals.md, "Distractors").
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from evals.build_written_set import slug

NEWS_DIR = Path(__file__).resolve().parents[2] / "training" / "data" / "news"
# h5: the news-val threshold articles and evals/news; h18: threshold articles; h19: evals/wire
HELD_OUT = {"h5.json", "h18.json", "h19.json"}


def news_articles() -> list[tuple[str, str]]:
    """(file stem, text) of every training article: its title line, a blank line, its text."""
    out = []
    for f in sorted(NEWS_DIR.glob("h*.json")):
        if f.name in HELD_OUT:
            continue
        for i, a in enumerate(json.loads(f.read_text(encoding="utf-8"))["articles"]):
            out.append((f"d{f.stem}_{i}_{slug(a['title'])}", f"{a['title']}\n\n{a['text']}\n"))
    return out


def squad_articles(path: Path) -> list[tuple[str, str]]:
    """(file stem, text) of every SQuAD paragraph, titled by its Wikipedia article and number."""
    out = []
    for a in json.loads(path.read_text(encoding="utf-8"))["data"]:
        title = a["title"].replace("_", " ")
        for j, p in enumerate(a["paragraphs"]):
            out.append((f"sq_{slug(title)}_{j}", f"{title} ({j + 1})\n\n{p['context']}\n"))
    return out


def build(out: Path, squad: Path | None, with_dirs: list[Path]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    articles = news_articles() + (squad_articles(squad) if squad else [])
    for stem, text in articles:
        (out / f"{stem}.txt").write_text(text, encoding="utf-8")
    for d in with_dirs:
        for f in sorted(d.iterdir()):
            if f.is_file():
                shutil.copyfile(f, out / f.name)
    return len(articles)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--squad", type=Path, help="a SQuAD-format JSON file; each paragraph becomes an article")
    ap.add_argument("--with", dest="with_dirs", type=Path, action="append", default=[])
    args = ap.parse_args()
    n = build(args.out, args.squad, args.with_dirs)
    print(f"{n} distractor articles in {args.out}")


if __name__ == "__main__":
    main()
