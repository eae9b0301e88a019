"""Build evals/news/ (articles/ and news.yaml) from the held-out part of the written news QA.

    python evals/news/build_set.py training/data/news/h5.json evals/news

Articles 5-9 of h5.json: a helper wrote them with their questions, on topics far from the seed
articles. Articles 0-4 of the same file pick the reader's threshold (training/newsqa.py); none of
h5.json is trained on, and these five are never used to pick anything. Each answer span becomes
both an expected fact and an evidence quote; unanswerable questions expect a decline.
"""

import json
import re
import sys
from pathlib import Path

FIRST, LAST = 5, 10


def q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def build(src: Path, out: Path) -> None:
    articles = json.loads(src.read_text(encoding="utf-8"))["articles"][FIRST:LAST]
    (out / "articles").mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Built by evals/news/build_set.py from {src.name} articles {FIRST}-{LAST - 1}: written news QA",
        "# held out from training and from every threshold. Do not edit; rebuild.",
        "questions:",
    ]
    for i, art in enumerate(articles):
        stem = f"n{i}_" + re.sub(r"[^a-z0-9]+", "-", art["title"].lower())[:40].strip("-")
        (out / "articles" / f"{stem}.txt").write_text(f"{art['title']}\n\n{art['text']}\n", encoding="utf-8")
        for j, item in enumerate(art["questions"]):
            lines += [f"  - id: n{i}q{j}", f"    question: {q(item['q'])}"]
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
    (out / "news.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
