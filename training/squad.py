"""Reader training pairs from SQuAD 2.0 JSON (pure).

Each question is paired with sentences of its paragraph, split by the service's own splitter:
- answerable: the sentence(s) holding an answer span are positives, a few other sentences of the
  paragraph negatives;
- unanswerable: the sentence holding a `plausible_answers` span (what a careless reader would pick)
  is a hard negative, with a few other sentences;
- optionally, sentences of the article's other paragraphs, negatives for every question: at serve
  time the reader's pool spans many passages on the question's topic, not one paragraph;
- optionally, the sentences of other stories nearest the question (`foreign_negatives`): over a
  corpus of many articles, the pool also holds other stories' sentences on the same kind of fact.
Splits are by article title, so no paragraph's wording leaks from training into validation.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from answers.reader import Passage
from retrieval.sentences import split_sentences


@dataclass(frozen=True)
class Example:
    question_id: str
    question: str
    passage: Passage
    label: int  # 1: the sentence answers the question
    hard: bool = False  # a plausible-answer negative


@dataclass(frozen=True)
class Question:
    """A question with every sentence of its paragraph as a candidate (for validation)."""

    question_id: str
    question: str
    answerable: bool
    passages: list[Passage]
    gold: frozenset[int]  # indexes of passages holding an answer (or the plausible answer)
    elsewhere: tuple[Passage, ...] = ()  # the sentences of the article's other paragraphs
    group: str = ""  # where its story comes from: the written file (news) or the article's title


def load(path: Path) -> list[dict]:
    """The articles of a SQuAD JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def save(path: Path, data: list[dict], version: str) -> str:
    """Write articles as a SQuAD JSON file; returns a line saying what was written."""
    path.write_text(json.dumps({"version": version, "data": data}, ensure_ascii=False), encoding="utf-8")
    n = sum(len(p["qas"]) for a in data for p in a["paragraphs"])
    return f"{path}: {len(data)} articles, {n} questions"


def unique_span(context: str, text: str) -> dict | None:
    """A SQuAD answer for `text`, placed only where it occurs exactly once in `context` (otherwise
    which sentence holds it is unknown)."""
    return {"text": text, "answer_start": context.index(text)} if context.count(text) == 1 else None


def split_titles(
    data: list[dict], seed: int, val: int, test: int
) -> tuple[list[dict], list[dict], list[dict]]:
    """(train, validation, test) articles, chosen by title with a fixed seed."""
    articles = sorted(data, key=lambda a: a["title"])
    random.Random(seed).shuffle(articles)
    return articles[val + test :], articles[:val], articles[val : val + test]


def _passages(context: str, title: str) -> tuple[list[Passage], list[tuple[int, int]]]:
    spans = [(s.start, s.end) for s in split_sentences(context)]
    texts = [context[a:b] for a, b in spans]
    out = [
        Passage(
            sentence=texts[i],
            before=texts[i - 1] if i > 0 else "",
            after=texts[i + 1] if i + 1 < len(texts) else "",
            title=title.replace("_", " "),
        )
        for i in range(len(texts))
    ]
    return out, spans


def _holding(spans: list[tuple[int, int]], answers: list[dict]) -> frozenset[int]:
    """Sentences that an answer span starts in or overlaps."""
    found: set[int] = set()
    for a in answers:
        lo, hi = a["answer_start"], a["answer_start"] + max(1, len(a["text"]))
        found.update(i for i, (s, e) in enumerate(spans) if s < hi and lo < e)
    return frozenset(found)


def questions(articles: list[dict]) -> list[Question]:
    out = []
    for art in articles:
        paras = [_passages(para["context"], art["title"]) for para in art["paragraphs"]]
        for k, para in enumerate(art["paragraphs"]):
            passages, spans = paras[k]
            elsewhere = tuple(p for j, (ps, _) in enumerate(paras) if j != k for p in ps)
            for qa in para["qas"]:
                impossible = bool(qa.get("is_impossible"))
                gold = _holding(spans, qa.get("plausible_answers", []) if impossible else qa["answers"])
                out.append(
                    Question(
                        qa["id"],
                        qa["question"],
                        not impossible,
                        passages,
                        gold,
                        elsewhere,
                        art.get("group", art["title"]),
                    )
                )
    return out


def examples(
    qs: list[Question], rng: random.Random, negatives: int = 3, article_negatives: int = 0
) -> list[Example]:
    """Training pairs: every gold sentence (a positive, or a hard negative when the question has no
    answer), up to `negatives` other sentences of the paragraph and `article_negatives` sentences of
    the article's other paragraphs, drawn with rng. (SQuAD articles seldom repeat an answer in
    another paragraph; where one does, that pair is a wrong negative: noise the count keeps small.)"""
    out = []
    for q in qs:
        others = [i for i in range(len(q.passages)) if i not in q.gold]
        rng.shuffle(others)
        for i in sorted(q.gold):
            out.append(
                Example(q.question_id, q.question, q.passages[i], int(q.answerable), hard=not q.answerable)
            )
        out.extend(Example(q.question_id, q.question, q.passages[i], 0) for i in others[:negatives])
        if article_negatives and q.elsewhere:
            picked = rng.sample(q.elsewhere, min(article_negatives, len(q.elsewhere)))
            out.extend(Example(q.question_id, q.question, p, 0) for p in picked)
    return out


def foreign_negatives(
    qs: list[Question],
    question_vecs: np.ndarray,
    passages: list[Passage],
    passage_vecs: np.ndarray,
    groups: list[str],
    rng: random.Random,
    n: int,
    nearest: int = 10,
) -> list[Example]:
    """Negatives from other stories: for each question, n of the `nearest` sentences (by cosine of
    unit vectors) among passages of another group, as a search over many articles would put them in
    the reader's pool ("another strike's job cuts"). Another group's sentence never tells the
    question's story: each file of written news invents its own events, and SQuAD's articles are
    separate pages."""
    out: list[Example] = []
    group_of = np.array(groups)
    for lo in range(0, len(qs), 512):
        sims = question_vecs[lo : lo + 512] @ passage_vecs.T
        for row, q in zip(sims, qs[lo : lo + 512]):
            row = np.where(group_of == q.group, -np.inf, row)
            top = np.argpartition(-row, nearest)[:nearest]
            for i in rng.sample(sorted(int(t) for t in top), min(n, nearest)):
                out.append(Example(q.question_id, q.question, passages[i], 0))
    return out
