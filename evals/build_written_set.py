"""Build an eval set (OUT/articles/ and OUT/<OUT's name>.yaml) from held-out written news QA.

    python evals/build_written_set.py training/data/news/h5.json evals/news 5:10
    python evals/build_written_set.py training/data/news/h19.json evals/wire

evals/news: articles 5-9 of h5.json, on topics far from the seed articles (articles 0-4 of the same
file pick the reader's threshold). evals/wire: all of h19.json, three events each told by two outlets
and by a machine-reworded copy of the first, with page residue left in. Helpers wrote them with their
questions; none is trained on, and these are never used to pick anything. Each answer span becomes
both an expected fact and an evidence quote; unanswerable questions expect a decline.
"""

import json
import re
import sys
from pathlib import Path


def q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def slug(title: str) -> str:
    """A file-name part from a title: lower-case words joined by "-", at most 40 characters."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower())[:40].strip("-")


def build(src: Path, out: Path, first: int = 0, last: int | None = None) -> None:
    articles = json.loads(src.read_text(encoding="utf-8"))["articles"]
    last = len(articles) if last is None else last
    articles, tag = articles[first:last], out.name[0]
    (out / "articles").mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Built by evals/build_written_set.py from {src.name} articles {first}-{last - 1}: written news QA",
        "# held out from training and from every threshold. Do not edit; rebuild.",
        "questions:",
    ]
    for i, art in enumerate(articles):
        stem = f"{tag}{i}_" + slug(art["title"])
        (out / "articles" / f"{stem}.txt").write_text(f"{art['title']}\n\n{art['text']}\n", encoding="utf-8")
        for j, item in enumerate(art["questions"]):
            lines += [f"  - id: {tag}{i}q{j}", f"    question: {q(item['q'])}"]
            if item.get("unanswerable"):
                lines += ["    answerable: false", "    tags: [unanswerable]", "    history: []"]
                lines += ["    expected_facts: []", "    evidence: []"]
                continue
            lines += [
                "    answerable: true",
                "    tags: [paraphrase]",
                "    history: []",
                "    expected_facts:",
            ]
            lines += [f"      - [{q(s)}]" for s in item["answers"]]
            lines.append("    evidence:")
            for s in item["answers"]:
                lines += [f"      - document_id: {q(stem)}", f"        quote: {q(s)}"]
    (out / f"{out.name}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    first, last = (int(x) for x in sys.argv[3].split(":")) if len(sys.argv) > 3 else (0, None)
    build(Path(sys.argv[1]), Path(sys.argv[2]), first, last)
