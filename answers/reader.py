"""The reader: a trained cross-encoder that says how likely a sentence answers a question.

It reads the question beside one candidate sentence, that sentence's neighbours and its article's
title, and returns a probability. all-MiniLM-L6-v2 fine-tuned on SQuAD 2.0 (training/train_reader.py),
whose unanswerable questions come with the sentence a careless reader would pick: the model learns
to tell a sentence that answers from one that is merely about the same thing.

At serve time the model runs as the embedder's OpenVINO graph (retrieval/minilm.py), no torch: the
shipped file holds only what fine-tuning changed (the word-piece table is the bundled embedder's,
frozen during training), in float16, plus the head.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from answers.rewrite import as_question
from retrieval.minilm import LazyWeights, OpenVinoMiniLM, _as_float32, _padded
from retrieval.npz import NpzArchive

WEIGHTS_DIR = Path(__file__).resolve().parent / "reader_model"

# word-piece budget of one input, and of its parts (the rest goes to the neighbouring sentences)
MAX_TOKENS = 128
QUESTION_TOKENS = 40
SENTENCE_TOKENS = 64
TITLE_TOKENS = 12


@dataclass(frozen=True)
class Passage:
    """One candidate as the reader sees it."""

    sentence: str
    before: str = ""  # the sentence(s) right before it in its article
    after: str = ""  # and right after it
    title: str = ""


def encode_pair(
    tok: Any, question: str, passage: Passage, max_tokens: int = MAX_TOKENS
) -> tuple[list[int], list[int]]:
    """(word-piece ids, token types) for `[CLS] question [SEP] sentence [SEP] title: before … after [SEP]`.

    The sentence comes first in the second segment, so truncation only ever cuts its context: the
    earlier neighbour from its start, the later one from its end. Shared by training and serving, so
    the model sees at serve time exactly the layout it learned, the question ending as it learned."""
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")

    def ids(text: str) -> list[int]:
        return list(tok.encode(text, add_special_tokens=False).ids) if text.strip() else []

    q = ids(as_question(question))[:QUESTION_TOKENS]
    s = ids(passage.sentence)[:SENTENCE_TOKENS]
    t = ids(passage.title)[:TITLE_TOKENS]
    colon = ids(":") if t else []
    room = max(0, max_tokens - len(q) - len(s) - len(t) - len(colon) - 4)
    b, a = ids(passage.before), ids(passage.after)
    # share the room; what one neighbour leaves unused goes to the other
    keep_b = min(len(b), max(room // 2, room - len(a)))
    keep_a = min(len(a), room - keep_b)
    b = b[len(b) - keep_b :] if keep_b else []
    a = a[:keep_a]
    first = [cls, *q, sep]
    second = [*s, sep, *t, *colon, *b, *a, sep]
    return first + second, [0] * len(first) + [1] * len(second)


# (question, passage) probabilities a reader keeps: a follow-up about "he" reads the turn before it
# again (answers/engine.py answer_named), a summary request re-asks the question it summarises, and
# chat clients resend the same question; each costs a whole read otherwise
SCORE_CACHE = 4096

WINDOW_OVERLAP = 16  # word pieces a sentence's next window repeats of the one before


def windows(tok: Any, passage: Passage) -> list[Passage]:
    """The passage, then, when its sentence is longer than the reader reads of it (SENTENCE_TOKENS),
    the rest of the sentence as further windows of that many pieces, each overlapping the last by
    WINDOW_OVERLAP: the sentence's earlier words become its context before, its later ones its context
    after. A fact in a long sentence's tail is read, and a sentence that fits is read as before."""
    enc = tok.encode(passage.sentence, add_special_tokens=False)
    # the tokenizer truncates at the reader's length and hands back the rest as overflowing pieces
    spans = [*enc.offsets, *(o for rest in enc.overflowing for o in rest.offsets)]
    out, text = [passage], passage.sentence
    step = SENTENCE_TOKENS - WINDOW_OVERLAP
    for first in range(step, max(0, len(spans) - WINDOW_OVERLAP), step):
        last = min(first + SENTENCE_TOKENS, len(spans)) - 1
        a, b = spans[first][0], spans[last][1]
        out.append(
            Passage(
                text[a:b],
                f"{passage.before} {text[:a]}".strip(),
                f"{text[b:]} {passage.after}".strip(),
                passage.title,
            )
        )
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Reader(OpenVinoMiniLM):
    """The trained reader on OpenVINO. `score` gives one probability a passage; `threshold` is the
    calibrated "answers" cut (reader_model/config.json: chosen on held-out written news, thr3.json).
    precision="int8" runs the dense layers in int8 with the ranges and threshold calibrated for it
    (config.json's "int8")."""

    def __init__(
        self,
        weights_dir: str | Path | None = None,
        precision: str = "bf16",
        threads: int = 0,
        cache_dir: Path | None = None,
        score_cache: int = SCORE_CACHE,
    ) -> None:
        super().__init__(None, precision=precision, threads=threads, cache_dir=cache_dir)
        self._scores: OrderedDict[tuple[str, Passage], float] = OrderedDict()
        self._scores_size = score_cache
        self._scores_lock = threading.Lock()
        self._weights_dir = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
        self.config: dict = json.loads((self._weights_dir / "config.json").read_text())
        self.threshold = float(self.config["threshold"])
        self._max_len = int(self.config.get("max_tokens", MAX_TOKENS))
        if precision == "int8":  # its own ranges and threshold (training/calibrate_reader.py)
            int8 = self.config["int8"]
            self._int8_ranges = [(float(lo), float(hi)) for lo, hi in int8["ranges"]]
            self.threshold = float(int8["threshold"])

    def _weight_files(self) -> list[Path]:
        files = [*super()._weight_files(), self._weights_dir / "reader.npz"]
        # the int8 graph is built from config.json's ranges too; the bf16 one is not
        return files + [self._weights_dir / "config.json"] if self._int8_ranges is not None else files

    def _weights(self, path: Path) -> LazyWeights:
        base = super()._weights(path)
        delta = NpzArchive(self._weights_dir / "reader.npz")  # each array is read when first asked for
        self._head_w = delta["head.weight"].astype(np.float32).reshape(-1)
        self._head_b = float(delta["head.bias"].astype(np.float32).reshape(-1)[0])
        pre = "bert." if any(k.startswith("bert.") for k in base) else ""
        tuned = [k for k in delta.files if k not in ("head.weight", "head.bias")]
        base.overlay({pre + k: partial(_as_float32, delta, k) for k in tuned})
        return base

    def _read(self) -> LazyWeights:
        w = super()._read()
        # a reader trained with fewer layers than its base (train_reader --layers) says how many
        self._n_layers = int(self.config.get("num_hidden_layers", self._n_layers))
        return w

    def _load(self) -> None:
        super()._load()
        # token type 0 is folded into the position table (NumpyMiniLM); type 1 adds this difference
        self._type_delta = self._types[1] - self._types[0]

    def score(self, question: str, passages: Sequence[Passage], batch_size: int = 32) -> np.ndarray:
        """Probability that each passage's sentence answers the question, in input order: a long
        sentence's is its best window's (windows). A pair read lately is not read again (SCORE_CACHE)."""
        self.load()
        keys = [(question, p) for p in passages]
        with self._scores_lock:
            known = {k: self._scores[k] for k in keys if k in self._scores}
            for k in known:
                self._scores.move_to_end(k)
        new = list(dict.fromkeys(k for k in keys if k not in known))
        if new:
            fresh = dict(zip(new, self._read_pairs(question, [p for _, p in new], batch_size).tolist()))
            known |= fresh
            with self._scores_lock:
                self._scores.update(fresh)
                while len(self._scores) > self._scores_size:
                    self._scores.popitem(last=False)
        return np.array([known[k] for k in keys], dtype=np.float32)

    def forget(self) -> None:
        """Drop the remembered probabilities: the next score reads every pair (benchmarks time reads)."""
        with self._scores_lock:
            self._scores.clear()

    def _read_pairs(self, question: str, passages: Sequence[Passage], batch_size: int) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        owner, pairs = [], []
        for i, passage in enumerate(passages):
            for w in windows(self._tok, passage):
                owner.append(i)
                pairs.append(encode_pair(self._tok, question, w, self._max_len or MAX_TOKENS))
        logits = np.zeros(len(pairs), dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
        for lo in range(0, len(order), batch_size):
            batch = order[lo : lo + batch_size]
            logits[batch] = self._logits([pairs[i] for i in batch])
        out = np.full(len(passages), -np.inf, dtype=np.float32)
        np.maximum.at(out, np.array(owner), logits)
        return _sigmoid(out)

    def embed_pairs(self, pairs: list[tuple[list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray]:
        """(the graph's input embeddings, the 0/1 mask) of encoded pairs, padded to the longest."""
        ids, mask = _padded([p[0] for p in pairs])
        types, _ = _padded([p[1] for p in pairs])
        emb = (
            self._word[ids]
            + self._pos[: ids.shape[1]]
            + types[:, :, None].astype(np.float32) * self._type_delta
        )
        return emb, mask

    def _logits(self, pairs: list[tuple[list[int], list[int]]]) -> np.ndarray:
        emb, mask = self.embed_pairs(pairs)
        x = self.infer(emb, mask)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled @ self._head_w + self._head_b
