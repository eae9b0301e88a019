"""Train the ranker (answers/ranker.py) on SQuAD 2.0: `python -m training.train_ranker`.

Each question is asked of its whole article, as a search would: the article's paragraphs best for the
question (by the embedder's cosine and word cover) are the pool, every sentence a candidate. Three
kinds of pools teach three things:
- answerable: the sentences holding the answer are positives, every other sentence a negative;
- answer withheld: the same question over the article without its answer's paragraph, all negative
  (the question is on topic, its answer is not there: what a news archive mostly gets wrong);
- unanswerable (SQuAD's own): all negative, the plausible-answer sentence among them.
The model is a small MLP over answers/features.py's measurements, trained in seconds on CPU with a
fixed seed; the decline threshold is picked on the validation titles, the test titles only reported.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from answers.features import FEATURE_NAMES, Unit, features, question_terms
from answers.ranker import WEIGHTS_PATH, Ranker
from retrieval.lexical import stems
from retrieval.sentences import split_sentences
from training.squad import load, split_titles

DEFAULT_SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad2" / "squad2-dev-half.json"


@dataclass
class Pool:
    kind: str  # "answerable", "withheld" or "unanswerable"
    x: np.ndarray
    y: np.ndarray  # 1 for a sentence holding the answer


@dataclass
class Paragraph:
    sentences: list[str]
    spans: list[tuple[int, int]]
    vectors: np.ndarray


def _holding(spans: list[tuple[int, int]], answers: list[dict]) -> set[int]:
    found: set[int] = set()
    for a in answers:
        lo, hi = a["answer_start"], a["answer_start"] + max(1, len(a["text"]))
        found.update(i for i, (s, e) in enumerate(spans) if s < hi and lo < e)
    return found


def _paragraphs(article: dict, embed) -> list[Paragraph]:  # type: ignore[no-untyped-def]
    out = []
    for para in article["paragraphs"]:
        ctx = para["context"]
        spans = [(s.start, s.end) for s in split_sentences(ctx)] or [(0, len(ctx))]
        out.append(Paragraph([ctx[a:b] for a, b in spans], spans, np.zeros((0, 384), np.float32)))
    vecs = embed([s for p in out for s in p.sentences])
    pos = 0
    for p in out:
        p.vectors = vecs[pos : pos + len(p.sentences)]
        pos += len(p.sentences)
    return out


def _best(question: str, q_vec: np.ndarray, paras: list[Paragraph], keep: list[int], n: int) -> list[int]:
    """The n paragraphs a hybrid search would return first: best sentence cosine plus word cover."""
    terms = question_terms(question)
    total = sum(terms.weights.values()) or 1.0

    def score(i: int) -> float:
        p = paras[i]
        cover = max(sum(w for t, w in terms.weights.items() if t in stems(s)) / total for s in p.sentences)
        return float((p.vectors @ q_vec).max()) + 0.5 * cover

    return sorted(keep, key=score, reverse=True)[:n]


def pools(articles: list[dict], embed, pool_units: int) -> list[Pool]:  # type: ignore[no-untyped-def]
    out = []
    for art in articles:
        paras = _paragraphs(art, embed)
        qas = [(pi, qa) for pi, para in enumerate(art["paragraphs"]) for qa in para["qas"]]
        q_vecs = embed([qa["question"] for _, qa in qas])
        everything = list(range(len(paras)))
        for (pi, qa), q_vec in zip(qas, q_vecs):
            question = qa["question"]
            impossible = bool(qa.get("is_impossible"))
            gold = set() if impossible else _holding(paras[pi].spans, qa["answers"])
            variants = (
                [("unanswerable", everything)]
                if impossible
                else [
                    ("answerable", everything),
                    ("withheld", [i for i in everything if i != pi]),
                ]
            )
            for kind, keep in variants:
                chosen = _best(question, q_vec, paras, keep, pool_units)
                units = [Unit(paras[i].sentences, paras[i].vectors) for i in chosen]
                x, index = features(question, q_vec, units)
                y = np.array(
                    [float(kind == "answerable" and chosen[u] == pi and s in gold) for u, s in index],
                    dtype=np.float32,
                )
                out.append(
                    Pool("answerable" if y.any() else ("withheld" if kind != "unanswerable" else kind), x, y)
                )
    return out


def train(pools_: list[Pool], args: argparse.Namespace) -> dict:
    import torch

    torch.manual_seed(args.seed)
    dropped = [FEATURE_NAMES.index(n) for n in args.drop]
    x = np.concatenate([p.x for p in pools_])
    x[:, dropped] = 0.0
    y = np.concatenate([p.y for p in pools_])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    std[dropped] = 1.0
    xt = torch.tensor((x - mean) / std)
    yt = torch.tensor(y)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], args.hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(args.hidden, args.hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(args.hidden, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(args.batch):
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(-1), yt[idx])
            loss.backward()
            opt.step()
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        layers[0].weight[:, dropped] = 0.0  # a dropped feature is read by nothing
    return {
        "features": list(FEATURE_NAMES),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "layers": [
            {"w": m.weight.detach().numpy().T.tolist(), "b": m.bias.detach().numpy().tolist()} for m in layers
        ],
    }


def evaluate(ranker: Ranker, pools_: list[Pool], threshold: float) -> dict:
    """Question-level: answerable pools answered with a right top sentence; the rest declined."""
    right = answered = declined_neg = neg = pos = 0
    for p in pools_:
        probs = ranker.probabilities(p.x)
        top = int(np.argmax(probs)) if len(probs) else -1
        accept = len(probs) > 0 and probs[top] >= threshold
        if p.kind == "answerable":
            pos += 1
            answered += accept
            right += accept and bool(p.y[top])
        else:
            neg += 1
            declined_neg += not accept
    return {
        "answerable": pos,
        "without_answer": neg,
        "top_right_and_answered": round(right / max(pos, 1), 4),
        "false_declines": round(1 - answered / max(pos, 1), 4),
        "declined_without_answer": round(declined_neg / max(neg, 1), 4),
        "balanced": round((right / max(pos, 1) + declined_neg / max(neg, 1)) / 2, 4),
    }


def top_accuracy(ranker: Ranker | None, pools_: list[Pool]) -> float:
    """Answerable pools whose best sentence holds the answer (ranker None: the cosine alone)."""
    ok = [
        bool(p.y[int(np.argmax(ranker.probabilities(p.x) if ranker else p.x[:, 0]))])
        for p in pools_
        if p.kind == "answerable"
    ]
    return round(sum(ok) / max(len(ok), 1), 4)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    ap.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    ap.add_argument("--pool-units", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--val-titles", type=int, default=3)
    ap.add_argument("--test-titles", type=int, default=2)
    ap.add_argument("--max-articles", type=int, default=0, help="0: all (a smoke test uses a few)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--drop", nargs="*", default=[], choices=FEATURE_NAMES, help="features the model ignores")
    ap.add_argument("--pools-cache", type=Path, help="keep the featurised pools here (a rerun reads them)")
    args = ap.parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    started = time.time()

    from retrieval.embed import LocalEmbedder

    embedder = LocalEmbedder()
    data = load(args.squad)
    if args.max_articles:
        data = data[: args.max_articles]
    train_a, val_a, test_a = split_titles(data, args.seed, args.val_titles, args.test_titles)
    if args.pools_cache and args.pools_cache.exists():
        train_p, val_p, test_p = pickle.loads(args.pools_cache.read_bytes())
    else:
        train_p, val_p, test_p = (
            pools(a, embedder.embed_bulk, args.pool_units) for a in (train_a, val_a, test_a)
        )
        if args.pools_cache:
            args.pools_cache.write_bytes(pickle.dumps((train_p, val_p, test_p)))
    featured = time.time()
    model = train(train_p, args)
    trained = time.time()
    ranker = Ranker.from_dict({**model, "threshold": 0.5})
    # the decline threshold: best balance of right answers and declines on the validation titles
    grid = [round(t, 2) for t in np.arange(0.05, 0.96, 0.01)]
    threshold = max(grid, key=lambda t: evaluate(ranker, val_p, t)["balanced"])
    ranker.threshold = threshold
    report = {
        "threshold": threshold,
        "training_data": "SQuAD 2.0 (CC BY-SA 4.0): " + args.squad.name,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "titles": {"validation": [a["title"] for a in val_a], "test": [a["title"] for a in test_a]},
        "pools": {"train": len(train_p), "validation": len(val_p), "test": len(test_p)},
        "rows": int(sum(len(p.y) for p in train_p)),
        "feature_seconds": round(featured - started),
        "train_seconds": round(trained - featured),
        "validation": {**evaluate(ranker, val_p, threshold), "top_sentence": top_accuracy(ranker, val_p)},
        "test": {
            **evaluate(ranker, test_p, threshold),
            "top_sentence": top_accuracy(ranker, test_p),
            "top_sentence_by_cosine": top_accuracy(None, test_p),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**model, "threshold": threshold, "report": report}) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
