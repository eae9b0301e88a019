"""SQuAD 1.1 training articles rebuilt from the SQuAD-explorer browse pages: an offline route to more
training titles where the official train-v1.1.json cannot be downloaded (the data is CC BY-SA 4.0).

    git clone https://github.com/rajpurkar/SQuAD-explorer
    git -C SQuAD-explorer checkout 0b3c8e824b9fd05ad69e9b6b590966e4aade2baf -- explore/1.1/train
    python -m training.squad_explorer SQuAD-explorer/explore/1.1/train --out squad11-train.json \
        --skip-titles-of other-squad.json

A page shows each paragraph with its questions and their answer texts, but not where an answer
starts. An answer whose text occurs once in its paragraph is placed there; a question whose answer
text occurs more than once is left out, since which sentence holds it is unknown. Where the
official file is at hand, pass it to training.train_reader directly instead.
"""

from __future__ import annotations

import argparse
from html.parser import HTMLParser
from pathlib import Path

from training.squad import load, save, unique_span


class _Page(HTMLParser):
    """Collects the title (h1#title), paragraphs (pre), questions (strong.question) and answer
    texts (span.answer) in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[tuple[str, list[tuple[str, list[str]]]]] = []
        self._field: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "h1" and a.get("id") == "title":
            self._field = "title"
        elif tag == "pre":
            self._field = "context"
        elif tag == "strong" and "question" in classes and self.paragraphs:
            self._field = "question"
        elif tag == "span" and "answer" in classes and self.paragraphs and self.paragraphs[-1][1]:
            self._field = "answer"
        else:
            return
        self._text = ""

    def handle_endtag(self, tag: str) -> None:
        ends = {"title": "h1", "context": "pre", "question": "strong", "answer": "span"}
        if self._field is None or ends[self._field] != tag:
            return
        if self._field == "title":
            self.title = self._text.strip()
        elif self._field == "context":
            self.paragraphs.append((self._text, []))
        elif self._field == "question":
            self.paragraphs[-1][1].append((self._text, []))
        else:
            self.paragraphs[-1][1][-1][1].append(self._text)
        self._field = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text += data


def article(page: str) -> dict:
    """One SQuAD-format article from a browse page; ids are made from the title and positions."""
    p = _Page()
    p.feed(page)
    paragraphs = []
    for i, (context, qas) in enumerate(p.paragraphs):
        kept = []
        for j, (question, texts) in enumerate(qas):
            answers = [unique_span(context, t) for t in texts]
            if not answers or None in answers:
                continue
            kept.append({"id": f"explorer11/{p.title}/{i}/{j}", "question": question, "answers": answers})
        if kept:
            paragraphs.append({"context": context, "qas": kept})
    return {"title": p.title, "paragraphs": paragraphs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", type=Path, help="the explore/1.1/train folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--skip-titles-of", type=Path, action="append", default=[], help="SQuAD JSON")
    args = ap.parse_args(argv)

    skip = {a["title"] for f in args.skip_titles_of for a in load(f)}
    data = []
    for path in sorted(args.pages.glob("*.html")):
        art = article(path.read_text(encoding="utf-8"))
        if art["title"] and art["title"] not in skip and art["paragraphs"]:
            data.append(art)
    print(save(args.out, data, "1.1-explorer"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
