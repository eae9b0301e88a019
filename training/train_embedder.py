"""Fine-tune the embedder so that a question lands near the sentence that answers it.

    pip install -e '.[train]'
    python -m training.train_embedder --squad ../shared/data/squad2/squad2-dev-half.json \
        --extra-train news-train.json --keep 100 --out embedder.npz
    FACTDESK_EMBEDDER_WEIGHTS=embedder.npz factdesk doctor --repair   # re-embeds an existing store

Why: among many articles on neighbouring subjects, the chunk that answers a question worded in other
words than its article is often not among the ones search hands the reader (docs/evals.md, "stop
55"). all-MiniLM-L6-v2 was trained to put similar sentences together, not a question beside its
answer.

Pairs are (question, the sentence its answer starts in) from the answerable questions of the SQuAD
training titles (training/squad.py's split: validation and test titles are never trained on) and of
the extra files. A batch's sentences are every pair's answer, one other sentence of each question's
paragraph and, with --foreign-negatives, the sentence of another article nearest the question by the
base model; each question must come nearest its own answer among them (cross-entropy over cosines
times SCALE). --keep adds that many times the mean squared change of the batch's sentence-to-sentence
cosines from the base model's, so the cuts the service draws between sentences (two that say the same
thing at 0.8: answers/compose.py) keep their meaning. The word-piece table stays frozen.

Writes OUT (every tuned tensor in float16, .npz) and OUT with .json: arguments, data, run time, the
validation titles' recall of the answer sentence among all their sentences (base and tuned), and
reference vectors that the service's embedder must reproduce from OUT (tests/test_embedder_weights.py).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from retrieval.sentences import split_sentences
from training import base_weights
from training.squad import load, split_titles
from training.encoder import Encoder, pick_device
from training.train_reader import extra_articles, lr_factor, optimizer_step, seed_all

SCALE = 20.0  # cosines times this are the logits: a softmax over cosines alone is too flat to learn from
QUESTION_TOKENS = 64
SENTENCE_TOKENS = 128


def answer_pairs(articles: list[dict], rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(question, its answer's sentence, another sentence of its paragraph or "", article title) for
    every answerable question; the sentence is the one the first answer starts in."""
    out = []
    for art in articles:
        for para in art["paragraphs"]:
            context = para["context"]
            spans = [(s.start, s.end) for s in split_sentences(context)]
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                at = qa["answers"][0]["answer_start"]
                pos = next((i for i, (a, b) in enumerate(spans) if a <= at < b), None)
                if pos is None:
                    continue
                others = [i for i in range(len(spans)) if i != pos]
                neg = context[slice(*spans[rng.choice(others)])] if others else ""
                out.append((qa["question"], context[slice(*spans[pos])], neg, art["title"]))
    return out


def article_sentences(articles: list[dict]) -> tuple[list[str], list[str]]:
    """(sentences of four words or more, the title of each one's article)."""
    texts, titles = [], []
    for art in articles:
        for para in art["paragraphs"]:
            for s in split_sentences(para["context"]):
                text = para["context"][s.start : s.end]
                if len(text.split()) >= 4:
                    texts.append(text)
                    titles.append(art["title"])
    return texts, titles


def nearest_foreign(
    questions: np.ndarray, asked_in: list[str], sentences: np.ndarray, titles: list[str]
) -> list[int]:
    """For each question vector, the sentence nearest it (unit vectors) that is not of its own article."""
    owner = np.asarray(titles)
    out = []
    for lo in range(0, len(questions), 512):
        sims = questions[lo : lo + 512] @ sentences.T
        for row, title in zip(sims, asked_in[lo : lo + 512]):
            row[owner == title] = -np.inf
            out.append(int(np.argmax(row)))
    return out


def recall(enc: Encoder, pairs: list[tuple[str, str, str, str]], pool: list[str], bf16: bool) -> dict:
    """How often a question's answer sentence is the nearest, or among the five nearest, of pool."""
    if not pairs:
        return {"questions": 0}
    index = {s: i for i, s in enumerate(pool)}
    keep = [p for p in pairs if p[1] in index]
    q = enc.vectors([p[0] for p in keep], QUESTION_TOKENS, bf16)
    s = enc.vectors(pool, SENTENCE_TOKENS, bf16)
    rank = [int((row > row[index[p[1]]]).sum()) for row, p in zip(q @ s.T, keep)]
    return {
        "questions": len(keep),
        "sentences": len(pool),
        "recall@1": round(sum(r < 1 for r in rank) / len(keep), 4),
        "recall@5": round(sum(r < 5 for r in rank) / len(keep), 4),
    }


def _train(enc: Encoder, ref: Encoder | None, pairs, args) -> dict:  # type: ignore[no-untyped-def]
    import torch

    params = [p for p in enc.bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    total = max(1, int(math.ceil(len(pairs) / args.batch) * args.epochs))
    budget = 60 * args.max_minutes if args.max_minutes else math.inf
    t0, step = time.time(), 0
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, time.time() - t0, budget))
    rng = random.Random(args.seed)
    while step < total and time.time() - t0 < budget:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        enc.bert.train()
        for lo in range(0, len(order), args.batch):
            batch = [pairs[i] for i in order[lo : lo + args.batch]]
            sentences = [p[1] for p in batch] + [x for p in batch for x in p[2:] if x]
            with torch.autocast(enc.device.type, dtype=torch.bfloat16, enabled=args.bf16):
                q = enc([p[0] for p in batch], QUESTION_TOKENS)
                s = enc(sentences, SENTENCE_TOKENS)
            loss = torch.nn.functional.cross_entropy(
                SCALE * q @ s.T, torch.arange(len(batch), device=q.device)
            )
            if ref is not None:
                with (
                    torch.no_grad(),
                    torch.autocast(enc.device.type, dtype=torch.bfloat16, enabled=args.bf16),
                ):
                    r = ref(sentences, SENTENCE_TOKENS)
                loss = loss + args.keep * torch.mean((s @ s.T - r @ r.T) ** 2)
            optimizer_step(loss, opt, sched, params)
            step += 1
            if step % 20 == 0 or step == total:
                print(
                    f"step {step}/{total} loss {float(loss.detach()):.4f} {time.time() - t0:.0f}s", flush=True
                )
            if step >= total or time.time() - t0 >= budget:
                break
    return {"steps": step, "planned_steps": total, "train_seconds": round(time.time() - t0)}


def export(enc: Encoder, out: Path) -> None:
    """Every tensor but the frozen word-piece table, in float16, under BertModel's names."""
    arrays = {
        k: v.detach().float().cpu().numpy().astype(np.float16)
        for k, v in enc.bert.state_dict().items()
        if "word_embeddings" not in k
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        np.savez(f, **arrays)


def load_exported(enc: Encoder, path: Path) -> None:
    """The exported (float16) tensors back into the model: the reference is what the file gives."""
    import torch

    with np.load(path) as arrays:
        state = {k: torch.from_numpy(arrays[k].astype(np.float32)) for k in arrays.files}
    enc.bert.load_state_dict(state, strict=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", required=True, type=Path, help="SQuAD 2.0 JSON")
    ap.add_argument("--extra-train", type=Path, action="append", default=[], help="more SQuAD-format JSON")
    ap.add_argument("--out", required=True, type=Path, help="the .npz to write (its .json beside it)")
    ap.add_argument("--base", type=Path, default=None, help="MiniLM folder (default: the bundled package's)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--keep", type=float, default=0.0, help="weight of the sentence-cosine drift penalty")
    ap.add_argument(
        "--foreign-negatives", action="store_true", help="add each question's nearest other-article sentence"
    )
    ap.add_argument("--val-titles", type=int, default=3)
    ap.add_argument("--test-titles", type=int, default=2)
    ap.add_argument("--max-questions", type=int, default=0, help="train on at most this many (smoke runs)")
    ap.add_argument("--max-eval", type=int, default=0, help="validate on at most this many questions")
    ap.add_argument("--max-minutes", type=float, default=0, help="end training after this long (0: no limit)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=False, help="autocast to bfloat16"
    )
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)

    import torch

    t_start = time.time()
    seed_all(args.seed)
    device = pick_device(args.device)
    base = args.base or base_weights.default_base()
    tok = base_weights.tokenizer(base)
    rng = random.Random(args.seed)

    train_art, val_art, test_art = split_titles(
        load(args.squad), args.seed, args.val_titles, args.test_titles
    )
    train_art += extra_articles(args.extra_train, held_out=val_art + test_art)
    pairs = answer_pairs(train_art, rng)
    rng.shuffle(pairs)
    if args.max_questions:
        pairs = pairs[: args.max_questions]
    val_pairs = answer_pairs(val_art, random.Random(args.seed))[: args.max_eval or None]
    val_pool = article_sentences(val_art)[0]

    enc = Encoder(base, tok, device)
    before = recall(enc, val_pairs, val_pool, args.bf16)
    if args.foreign_negatives:  # mined once, by the base model, before training
        texts, titles = article_sentences(train_art)
        near = nearest_foreign(
            enc.vectors([p[0] for p in pairs], QUESTION_TOKENS, args.bf16),
            [p[3] for p in pairs],
            enc.vectors(texts, SENTENCE_TOKENS, args.bf16),
            titles,
        )
        pairs = [(q, s, n, texts[i]) for (q, s, n, _), i in zip(pairs, near)]
    else:
        pairs = [(q, s, n, "") for q, s, n, _ in pairs]
    print(
        f"train: {len(pairs)} questions; validation {len(val_pairs)} over {len(val_pool)} sentences",
        flush=True,
    )
    ref = Encoder(base, tok, device) if args.keep else None
    run = _train(enc, ref, pairs, args)

    export(enc, args.out)
    enc.bert.cpu()
    enc.device = torch.device("cpu")
    load_exported(enc, args.out)
    after = recall(enc, val_pairs, val_pool, False)
    sample = [p[0] for p in val_pairs[:2]] + [p[1] for p in val_pairs[:2]]
    reference = enc.vectors(sample, SENTENCE_TOKENS, False) if sample else np.zeros((0, 384))
    config = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), word-piece table frozen",
        "training_data": f"SQuAD 2.0 (CC BY-SA 4.0): {args.squad.name}"
        + "".join(f"; also {name}" for name in dict.fromkeys(p.name for p in args.extra_train)),
        "validation_titles": [a["title"] for a in val_art],
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("out", "squad", "base", "extra_train")
        },
        "train_questions": len(pairs),
        **run,
        "total_seconds": round(time.time() - t_start),
        "validation_before": before,
        "validation": after,
        "reference": [
            {"text": t, "vector": [round(float(x), 6) for x in v]} for t, v in zip(sample, reference)
        ],
    }
    args.out.with_suffix(".json").write_text(json.dumps(config, indent=1) + "\n")
    print(json.dumps({"before": before, "after": after, **run}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
