"""Train the reader (answers/reader.py) on SQuAD 2.0 and write the weights the service ships.

    pip install -e '.[train]'
    python -m training.train_reader --squad ../shared/data/squad2/squad2-dev-half.json

Starts from the bundled all-MiniLM-L6-v2, adds a one-unit head on the mean-pooled last layer and
fine-tunes with binary cross-entropy on (question, sentence in context) pairs (training/squad.py).
The word-piece table stays frozen, so the output file holds only what training changed. Articles are
split by title: training, validation (picks the threshold) and test (reported only, never tuned on).
Run time and the figures it prints are recorded in BENCHMARKS.md; everything is seeded.

On a GPU (`--device auto` picks CUDA when torch sees one) it trains under bf16 autocast with larger
batches; `--max-minutes` ends training early and still validates and exports. `--base` points at the
MiniLM folder when the package is not installed (a device machine: training/device_train.sh).
`--teacher DIR` (repeatable) mixes each pair's label with those readers' mean probability
(`--teacher-weight`): one reader taught what several agree on. On a CPU with AMX (bf16 matrix units)
`--bf16` trains about twice as fast.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from answers.reader import MAX_TOKENS, WEIGHTS_DIR, encode_pair
from training import base_weights
from training.encoder import Encoder, load_base, pick_device
from training.squad import Example, Question, examples, foreign_negatives, load, questions, split_titles


def _model(base: Path):  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig, BertModel

    class ReaderNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # not from_pretrained: transformers 5 keeps a file's dtype where 4 made float32, and a
            # slim base (training/base_weights.py) is no standard checkpoint
            config = BertConfig.from_json_file(str(base / "config.json"))
            self.bert = BertModel(config, add_pooling_layer=False)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
            self.drop = torch.nn.Dropout(0.1)

        def forward(self, ids, types, mask):  # type: ignore[no-untyped-def]
            x = self.bert(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(self.drop(pooled)).squeeze(-1)

    net = ReaderNet()
    load_base(net.bert, base)
    net.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    return net


def seed_all(seed: int) -> None:
    """Python's, numpy's and torch's generators, so a run is repeatable."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _tensors(pairs: list[tuple[list[int], list[int]]], device="cpu"):  # type: ignore[no-untyped-def]
    import torch

    n, seq = len(pairs), max(len(p[0]) for p in pairs)
    ids = torch.zeros((n, seq), dtype=torch.long)
    types = torch.zeros((n, seq), dtype=torch.long)
    mask = torch.zeros((n, seq), dtype=torch.long)
    for i, (a, t) in enumerate(pairs):
        ids[i, : len(a)] = torch.tensor(a)
        types[i, : len(t)] = torch.tensor(t)
        mask[i, : len(a)] = 1
    return ids.to(device), types.to(device), mask.to(device)  # on the CPU: the same tensors


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _predict(net, pairs: list[tuple[list[int], list[int]]]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Probabilities in float32 (no autocast) on the device the net is on."""
    import torch

    device = next(net.parameters()).device
    size = 64 if device.type == "cpu" else 512
    net.eval()
    out = np.zeros(len(pairs), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    with torch.inference_mode():
        for lo in range(0, len(order), size):
            b = order[lo : lo + size]
            out[b] = net(*_tensors([pairs[i] for i in b], device)).float().cpu().numpy()
    return 1.0 / (1.0 + np.exp(-out))


def question_scores(net, tok, qs: list[Question], max_tokens: int) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Each question's probabilities over every sentence of its paragraph."""
    flat = [encode_pair(tok, q.question, p, max_tokens) for q in qs for p in q.passages]
    probs = _predict(net, flat)
    out, at = [], 0
    for q in qs:
        out.append(probs[at : at + len(q.passages)])
        at += len(q.passages)
    return out


def metrics(qs: list[Question], scores: list[np.ndarray], threshold: float) -> dict[str, float]:
    """Sentence accuracy (the best sentence holds the answer), and "no answer" precision/recall when a
    question is declined because no sentence reaches the threshold."""
    ans = [(q, s) for q, s in zip(qs, scores) if q.answerable and len(s)]
    top1 = sum(int(np.argmax(s)) in q.gold for q, s in ans) / max(1, len(ans))
    declined = [float(s.max(initial=0.0)) < threshold for s in scores]
    una = [not q.answerable for q in qs]
    tp = sum(d and u for d, u in zip(declined, una))
    correct = sum(
        (d and u) or (not d and not u and int(np.argmax(s)) in q.gold)
        for q, s, d, u in zip(qs, scores, declined, una)
    )
    return {
        "questions": len(qs),
        "sentence_accuracy": round(top1, 4),
        "no_answer_precision": round(tp / max(1, sum(declined)), 4),
        "no_answer_recall": round(tp / max(1, sum(una)), 4),
        "false_declines": round(sum(d and not u for d, u in zip(declined, una)) / max(1, len(ans)), 4),
        "exact": round(correct / max(1, len(qs)), 4),
    }


def pick_threshold(qs: list[Question], scores: list[np.ndarray]) -> float:
    """The cut that gets most questions right on validation: the best sentence when answerable,
    declined when not (SQuAD 2.0's has-answer/no-answer accuracy)."""
    grid = [round(t, 3) for t in np.arange(0.05, 0.96, 0.01)]
    return max(grid, key=lambda t: metrics(qs, scores, t)["exact"])


def export(net, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Float16 tensors of everything training changed, under BertModel's names; the head as head.*."""
    out.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, t in net.bert.state_dict().items():
        if name != "embeddings.word_embeddings.weight" and not name.endswith("position_ids"):
            arrays[name] = t.detach().float().cpu().numpy().astype(np.float16)
    arrays["head.weight"] = net.head.weight.detach().float().cpu().numpy().astype(np.float16)
    arrays["head.bias"] = net.head.bias.detach().float().cpu().numpy().astype(np.float16)
    np.savez_compressed(out / "reader.npz", **arrays)


def keep_layers(net, keep: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Only these encoder layers, renumbered from 0: a smaller reader reads in a fraction of the time."""
    import torch

    net.bert.encoder.layer = torch.nn.ModuleList([net.bert.encoder.layer[i] for i in keep])
    net.bert.config.num_hidden_layers = len(keep)


def spread_layers(have: int, want: int) -> list[int]:
    """want of have layers, evenly spaced from the first (6 -> 3: 0, 2, 4), as DistilBERT was made."""
    if not 0 < want <= have:
        raise SystemExit(f"--layers {want}: the reader has {have}")
    return [i * have // want for i in range(want)]


def load_exported(net, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Put the exported (float16-rounded) weights back, so reference scores are what ships (copied
    onto whatever device the net is on). Weights with fewer layers than the net shrink it to them."""
    import torch

    with np.load(out / "reader.npz") as z:
        state = {k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files}
    n = len({k.split(".")[2] for k in state if k.startswith("encoder.layer.")})
    if 0 < n < len(net.bert.encoder.layer):
        keep_layers(net, list(range(n)))
    net.head.weight.data.copy_(state.pop("head.weight"))
    net.head.bias.data.copy_(state.pop("head.bias"))
    net.bert.load_state_dict(state, strict=False)


def lr_factor(step: int, total: int, elapsed: float, budget: float) -> float:
    """Linear warm-up over the first tenth of the steps, then linear decay to zero at the planned
    steps or at the time budget, whichever comes first: a run cut by --max-minutes still ends on a
    small learning rate instead of mid-schedule."""
    warm = max(1, total // 10)
    done = max(step / total, elapsed / budget if budget > 0 else 0.0)
    tail = max(1e-9, 1.0 - warm / total)
    return max(0.0, min((step + 1) / warm, (1.0 - done) / tail))


def optimizer_step(loss, opt, sched, params) -> None:  # type: ignore[no-untyped-def]
    """One step on loss: gradients clipped to norm 1, then the schedule's next learning rate."""
    import torch

    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()


def _train(net, pairs, labels, args, device, rng: random.Random) -> dict:  # type: ignore[no-untyped-def]
    """Fine-tune in place; stops at the planned steps or when --max-minutes is spent."""
    import torch

    params = [p for p in net.parameters() if p.requires_grad]
    # on a GPU one fused kernel a step, not one per tensor; a CPU keeps the default it always had
    opt = torch.optim.AdamW(
        params, lr=args.lr, weight_decay=0.01, fused=True if device.type == "cuda" else None
    )
    steps_per_epoch = math.ceil(len(pairs) / args.batch)
    total = max(1, int(steps_per_epoch * args.epochs))
    budget = 60 * args.max_minutes if args.max_minutes else math.inf
    step, t0 = 0, time.time()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, time.time() - t0, budget))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    labels = labels.to(device)
    lengths = [len(p[0]) for p in pairs]
    deadline = t0 + budget
    running = torch.zeros((), device=device)  # kept on the device: reading it each step would sync
    out_of_time = False  # checked after each step, so even a spent budget trains one
    while step < total and not out_of_time:
        net.train()
        for b in _batches(lengths, args.batch, rng):
            ids, types, mask = _tensors([pairs[i] for i in b], device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                logits = net(ids, types, mask)
            loss = loss_fn(logits.float(), labels[b])
            optimizer_step(loss, opt, sched, params)
            step += 1
            running = 0.98 * running + 0.02 * loss.detach() if step > 1 else loss.detach()
            if step % 50 == 0 or step == total:
                print(f"step {step}/{total} loss {float(running):.4f} {time.time() - t0:.0f}s", flush=True)
            out_of_time = time.time() >= deadline
            if step >= total or out_of_time:
                break
    if step < total:
        print(f"stopped at step {step}/{total}: --max-minutes {args.max_minutes} spent", flush=True)
    return {"steps": step, "planned_steps": total, "train_seconds": round(time.time() - t0)}


def _settle(args: argparse.Namespace, device) -> None:  # type: ignore[no-untyped-def]
    """Defaults that depend on the device: bf16 autocast and bigger batches on a GPU."""
    if args.bf16 is None:
        args.bf16 = device.type == "cuda"
    if not args.batch:
        args.batch = 64 if device.type == "cuda" else 32
    args.device = device.type


def _write_reference(net, tok, val_q: list[Question], max_tokens: int, out: Path) -> None:  # type: ignore[no-untyped-def]
    """What the service must reproduce from the shipped file (tests/test_reader.py), computed on the
    CPU in float32 like the test's OpenVINO fp32 path."""
    net.cpu()
    sample = [(q.question, p) for q in val_q[:4] for p in q.passages[:2]]
    ref = _predict(net, [encode_pair(tok, q, p, max_tokens) for q, p in sample])
    rows = [
        {"question": q, "passage": vars(p), "probability": round(float(r), 6)}
        for (q, p), r in zip(sample, ref)
    ]
    (out / "reference.json").write_text(json.dumps(rows, indent=1))


def _device_name(device) -> str:  # type: ignore[no-untyped-def]
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _origin(init: Path | None) -> dict | str:
    """What a run started from: the base, or the reader weights (their folder and how they were made)."""
    if init is None:
        return "all-MiniLM-L6-v2"
    made = json.loads((init / "config.json").read_text()) if (init / "config.json").exists() else {}
    keep = ("training_data", "started_from", "threshold_from", "train_questions")
    return {"folder": init.name, "epochs": made.get("args", {}).get("epochs")} | {
        k: made[k] for k in keep if k in made
    }


def extra_articles(paths: list[Path], held_out: list[dict]) -> list[dict]:
    """The articles of each extra file, refused when one shares a title with a held-out article
    (validation, test or the threshold file): its wording would leak into the figures that choose
    the threshold and the weights."""
    held = {a["title"] for a in held_out}
    out: list[dict] = []
    for path in paths:
        articles = load(path)
        clash = sorted(held & {a["title"] for a in articles})
        if clash:
            raise SystemExit(f"{path}: validation/test titles {', '.join(clash[:3])} are held out")
        out.extend(articles)
    return out


def base_embedder(base: Path, tok, device) -> Callable[[list[str]], np.ndarray]:  # type: ignore[no-untyped-def]
    """all-MiniLM-L6-v2's sentence vectors from the base weights on the training device: where the
    service's embedder (OpenVINO, the installed package) is absent, as on a device machine."""
    encoder = Encoder(base, tok, device)
    return lambda texts: encoder.vectors(texts, 256)  # the embedder's max_seq_length


def service_embedder() -> Callable[[list[str]], np.ndarray]:
    from retrieval.embed import LocalEmbedder

    return LocalEmbedder().embed_bulk


def teacher_targets(train: list[Example], teachers: list[Path], weight: float) -> list[float]:
    """Each pair's target: its label mixed with the teachers' mean probability, each teacher read as
    the service reads it (answers/reader.py on OpenVINO, its own input length). Readers trained on
    different data disagree where one of them is wrong; their mean, averaged into the labels, is
    what one reader can learn of both (knowledge distillation, Hinton et al. 2015)."""
    from answers.reader import Reader

    by_question: dict[str, list[int]] = {}
    for i, e in enumerate(train):
        by_question.setdefault(e.question, []).append(i)
    mean = np.zeros(len(train))
    for folder in teachers:
        reader = Reader(folder)
        for question, idx in by_question.items():
            mean[idx] += reader.score(question, [train[i].passage for i in idx]) / len(teachers)
    return [(1.0 - weight) * float(e.label) + weight * float(m) for e, m in zip(train, mean)]


def _foreign(
    qs: list[Question], rng: random.Random, n: int, embed: Callable[[list[str]], np.ndarray]
) -> list[Example]:
    """foreign_negatives over the training questions' own sentences."""
    pool = list(dict.fromkeys((p, q.group) for q in qs for p in q.passages))
    passage_vecs = embed([p.sentence for p, _ in pool])
    question_vecs = embed([q.question for q in qs])
    groups = [g for _, g in pool]
    return foreign_negatives(qs, question_vecs, [p for p, _ in pool], passage_vecs, groups, rng, n)


def question_kind(text: str) -> str:
    words = text.lower().split()
    return words[0].strip("?,.") if words else ""


def even_kinds(qs: list[Question], rng: random.Random, least: int = 20) -> list[Question]:
    """The questions, less enough unanswerable ones of each kind (a first word asked at least `least`
    times) that has a larger unanswerable share than all of them together, to bring it down to that
    share. Written news made most of its unanswerable "who", "when" and "which" questions, and a
    reader trained on them learns to doubt a plain "who" question whatever its sentence says."""
    share = sum(not q.answerable for q in qs) / max(len(qs), 1)
    by_kind: dict[str, list[Question]] = {}
    for q in qs:
        by_kind.setdefault(question_kind(q.question), []).append(q)
    dropped: set[str] = set()
    for kind_qs in by_kind.values():
        unanswerable = [q for q in kind_qs if not q.answerable]
        answerable = len(kind_qs) - len(unanswerable)
        if len(kind_qs) < least or len(unanswerable) <= share * len(kind_qs):
            continue
        keep = int(round(share / (1 - share) * answerable))
        dropped.update(q.question_id for q in rng.sample(unanswerable, len(unanswerable) - keep))
    return [q for q in qs if q.question_id not in dropped]


def drop_context(train: list[Example], rng: random.Random, p: float) -> list[Example]:
    """Each pair with its sentence before blanked with probability p, and apart from that its
    sentence after: a one-sentence article, or an article's first or last sentence, has none, and a
    reader that never saw a blank side learns that a missing neighbour means no answer."""
    out = []
    for e in train:
        before = "" if rng.random() < p else e.passage.before
        after = "" if rng.random() < p else e.passage.after
        out.append(replace(e, passage=replace(e.passage, before=before, after=after)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", required=True, type=Path, help="SQuAD 2.0 JSON")
    ap.add_argument(
        "--extra-train",
        type=Path,
        action="append",
        default=[],
        help="more SQuAD-format JSON, every article for training only (repeatable)",
    )
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--base", type=Path, default=None, help="MiniLM folder (default: the bundled package's)")
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from these exported reader weights (reader.npz's folder)",
    )
    ap.add_argument(
        "--threshold-from",
        type=Path,
        default=None,
        help="SQuAD-format JSON whose questions pick the threshold instead of the validation titles",
    )
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch", type=int, default=0, help="default: 32 on a CPU, 64 on a GPU")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument(
        "--extra-questions", type=int, default=0, help="draw at most this many from --extra-train"
    )
    ap.add_argument("--negatives", type=int, default=3, help="other sentences per question")
    ap.add_argument(
        "--article-negatives", type=int, default=0, help="sentences of other paragraphs per question"
    )
    ap.add_argument(
        "--foreign-negatives",
        type=int,
        default=0,
        help="sentences of other stories per question, among the 10 nearest the question",
    )
    ap.add_argument(
        "--foreign-embedder",
        choices=("service", "base"),
        default="service",
        help="what finds them: the service's embedder, or the base MiniLM on the training device",
    )
    ap.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help="word pieces an input holds")
    ap.add_argument("--val-titles", type=int, default=3)
    ap.add_argument("--test-titles", type=int, default=2)
    ap.add_argument("--max-questions", type=int, default=0, help="train on at most this many (smoke runs)")
    ap.add_argument("--max-eval", type=int, default=0, help="validate/test on at most this many")
    ap.add_argument("--max-minutes", type=float, default=0, help="end training after this long (0: no limit)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="autocast to bfloat16 (default: on a GPU; on a CPU only with AVX-512 BF16)",
    )
    ap.add_argument(
        "--layers",
        type=int,
        default=0,
        help="keep this many encoder layers, evenly spaced, of the starting weights (0: all)",
    )
    ap.add_argument(
        "--context-dropout",
        type=float,
        default=0.0,
        help="blank a pair's sentence before, and (apart) its sentence after, with this probability",
    )
    ap.add_argument(
        "--even-kinds",
        action="store_true",
        help="drop --extra-train unanswerable questions of a kind (first word) that has more of them "
        "than the whole, down to the whole's share",
    )
    ap.add_argument(
        "--teacher",
        type=Path,
        action="append",
        default=[],
        help="a reader's weights folder whose probabilities join the labels (repeatable: their mean)",
    )
    ap.add_argument(
        "--teacher-weight", type=float, default=0.5, help="the teachers' share of each target (0..1)"
    )
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)

    import torch

    t_start = time.time()
    seed_all(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    _settle(args, device)
    base = args.base or base_weights.default_base()
    tok = base_weights.tokenizer(base)

    train_art, val_art, test_art = split_titles(
        load(args.squad), args.seed, args.val_titles, args.test_titles
    )
    pick_art = load(args.threshold_from) if args.threshold_from else []
    extra_art = extra_articles(args.extra_train, held_out=val_art + test_art + pick_art)
    rng = random.Random(args.seed)
    train_q = questions(train_art)
    extra_q = questions(extra_art)
    if args.even_kinds:
        extra_q = even_kinds(extra_q, rng)
    rng.shuffle(extra_q)
    train_q += extra_q[: args.extra_questions or None]
    rng.shuffle(train_q)
    if args.max_questions:
        train_q = train_q[: args.max_questions]
    extra_ids = {q.question_id for q in extra_q}
    val_q, test_q, pick_q = questions(val_art), questions(test_art), questions(pick_art)
    if args.max_eval:
        val_q, test_q, pick_q = val_q[: args.max_eval], test_q[: args.max_eval], pick_q[: args.max_eval]
    missing = base_weights.uncovered(base, tok, train_q + val_q + test_q + pick_q)
    if missing:
        raise SystemExit(
            f"{base} lacks {len(missing)} word pieces this data needs: rebuild it from this file"
        )
    train = examples(train_q, rng, args.negatives, args.article_negatives)
    if args.foreign_negatives:
        # the embedding model is let go once the negatives are found, before training
        train += _foreign(
            train_q,
            rng,
            args.foreign_negatives,
            base_embedder(base, tok, device) if args.foreign_embedder == "base" else service_embedder(),
        )
    if args.context_dropout:
        train = drop_context(train, rng, args.context_dropout)
    pairs = [encode_pair(tok, e.question, e.passage, args.max_tokens) for e in train]
    targets = (
        teacher_targets(train, args.teacher, args.teacher_weight)
        if args.teacher
        else [float(e.label) for e in train]
    )
    labels = torch.tensor(targets)
    print(
        f"train: {len(train_q)} questions, {len(train)} pairs ({sum(e.label for e in train)} positive, "
        f"{sum(e.hard for e in train)} hard negatives); validation {len(val_q)}, test {len(test_q)} questions; "
        f"{_device_name(device)}, batch {args.batch}, bf16 {args.bf16}",
        flush=True,
    )

    net = _model(base)
    if args.init:
        load_exported(net, args.init)
    if args.layers:
        keep_layers(net, spread_layers(len(net.bert.encoder.layer), args.layers))
    net = net.to(device)
    run = _train(net, pairs, labels, args, device, rng)

    export(net, args.out)
    load_exported(net, args.out)
    val_scores = question_scores(net, tok, val_q, args.max_tokens)
    # the threshold file's questions choose the cut when given, else the validation titles'
    pick_scores = question_scores(net, tok, pick_q, args.max_tokens) if pick_q else val_scores
    threshold = pick_threshold(pick_q or val_q, pick_scores)
    report = {
        "validation": metrics(val_q, val_scores, threshold),
        "test": metrics(test_q, question_scores(net, tok, test_q, args.max_tokens), threshold),
    }
    if pick_q:
        report["threshold_set"] = metrics(pick_q, pick_scores, threshold)
    _write_reference(net, tok, val_q, args.max_tokens, args.out)
    config = {
        "threshold": threshold,
        "max_tokens": args.max_tokens,
        "num_hidden_layers": len(net.bert.encoder.layer),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), word-piece table frozen",
        "training_data": f"SQuAD 2.0 (CC BY-SA 4.0): {args.squad.name}"
        + "".join(f"; also {name}" for name in dict.fromkeys(p.name for p in args.extra_train)),
        "titles": {
            "validation": [a["title"] for a in val_art],
            "test": [a["title"] for a in test_art],
        },
        "started_from": _origin(args.init),
        "threshold_from": args.threshold_from.name if args.threshold_from else "validation titles",
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("out", "squad", "base", "extra_train", "init", "threshold_from", "teacher")
        },
        "teachers": [_origin(t) for t in args.teacher],
        "train_questions": len(train_q),
        "extra_train_questions": sum(q.question_id in extra_ids for q in train_q),
        "train_pairs": len(pairs),
        **run,
        "total_seconds": round(time.time() - t_start),
        "device": _device_name(device),
        "threads": torch.get_num_threads(),
        **report,
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    print(json.dumps({"threshold": threshold, **report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
