"""Calibrate the reader's int8 graph: each dense layer's input range, from fp32 runs over real pairs,
then its own threshold.

    python -m training.calibrate_reader QUESTIONS.json [--weights DIR] [--pairs N]

QUESTIONS.json is SQuAD-format (training.squad), the threshold data (thr3.json for the shipped
weights); each question is paired with every sentence of its paragraph, encoded exactly as the
reader encodes them. The ranges (min, max over real tokens) and the threshold the int8 reader's own
scores pick on the same questions (train_reader's rule) go into the weights' config.json as "int8",
which `Reader(precision="int8")` reads.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

from answers.reader import MAX_TOKENS, WEIGHTS_DIR, Reader, encode_pair
from training.squad import load, questions
from training.train_reader import metrics, pick_threshold


def dense_input_ranges(
    reader: Reader, pairs: list[tuple[list[int], list[int]]], batch: int = 32
) -> list[list[float]]:
    """[min, max] of each dense layer's input over the pairs' real tokens, in graph order: the
    reader's own graph in fp32, with those inputs as its outputs."""
    import openvino as ov
    import openvino.properties.hint as hints

    reader.load()
    reader._build_layers(reader._read())
    reader._dense_inputs = []
    model = reader._graph()
    taps, reader._dense_inputs = reader._dense_inputs, None  # four a layer
    calib = ov.Core().compile_model(
        ov.Model([t.output(0) for t in taps], model.get_parameters()),
        "CPU",
        {hints.inference_precision: ov.Type.f32},  # the CPU plugin would pick bf16 where it has it
    )
    lo = np.full(len(taps), np.inf)
    hi = np.full(len(taps), -np.inf)
    for at in range(0, len(pairs), batch):
        emb, mask = reader.embed_pairs(pairs[at : at + batch])
        outs = calib.infer_new_request({"embeddings": emb, "mask": mask})
        for k in range(len(taps)):
            x = outs[k][mask.astype(bool)]  # real tokens only: padding is never read
            lo[k], hi[k] = min(lo[k], float(x.min())), max(hi[k], float(x.max()))
    return [[round(float(a), 5), round(float(b), 5)] for a, b in zip(lo, hi)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path)
    ap.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    reader = Reader(weights_dir=args.weights, precision="f32")
    reader.load()
    qs = questions(load(args.questions))
    pairs = [
        encode_pair(reader._tok, q.question, p, reader._max_len or MAX_TOKENS) for q in qs for p in q.passages
    ]
    random.Random(args.seed).shuffle(pairs)
    ranges = dense_input_ranges(reader, pairs[: args.pairs])
    path = args.weights / "config.json"
    config = json.loads(path.read_text())
    # the int8 reader reads its ranges from the file; its threshold is picked from its own scores
    config["int8"] = {"ranges": ranges, "threshold": config["threshold"]}
    path.write_text(json.dumps(config, indent=1) + "\n")
    int8 = Reader(weights_dir=args.weights, precision="int8")
    scores = [int8.score(q.question, q.passages) for q in qs]
    threshold = pick_threshold(qs, scores)
    config["int8"] = {
        "ranges": ranges,
        "threshold": threshold,
        "calibrated_on": {"questions": args.questions.name, "pairs": min(args.pairs, len(pairs))},
        "threshold_set": metrics(qs, scores, threshold),
    }
    path.write_text(json.dumps(config, indent=1) + "\n")
    print(f"{len(ranges)} ranges from {min(args.pairs, len(pairs))} pairs, threshold {threshold} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
